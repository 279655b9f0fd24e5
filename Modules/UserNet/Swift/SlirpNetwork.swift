import CSlirp
import Foundation
import Virtio

/// Why a `user` network could not be set up: the message names the option as the user wrote it.
public struct UserNetError: Error, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One `hostfwd` rule: connections to 127.0.0.1:`hostPort` on the host reach `guestPort` of
/// the guest (QEMU's `hostfwd=tcp::HOSTPORT-:GUESTPORT`).
public struct HostForward: Equatable, Sendable {
    public var udp: Bool
    public var hostPort: UInt16
    public var guestAddress: String
    public var guestPort: UInt16

    /// Parses `[tcp|udp]:[127.0.0.1]:HOSTPORT-[GUESTADDR]:GUESTPORT`. The host side binds
    /// the loopback address only: a forwarded guest service is never reachable from other
    /// machines, so any other host address is refused.
    public init(parsing text: String) throws {
        let halves = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard halves.count == 2 else { throw UserNetError("hostfwd '\(text)': expected [tcp|udp]:[127.0.0.1]:HOSTPORT-[GUESTADDR]:GUESTPORT") }
        let host = halves[0].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let guest = halves[1].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard host.count == 3, guest.count == 2 else {
            throw UserNetError("hostfwd '\(text)': expected [tcp|udp]:[127.0.0.1]:HOSTPORT-[GUESTADDR]:GUESTPORT")
        }
        switch host[0] {
        case "", "tcp": udp = false
        case "udp": udp = true
        default: throw UserNetError("hostfwd '\(text)': protocol '\(host[0])' is not tcp or udp")
        }
        guard host[1].isEmpty || host[1] == "127.0.0.1" else {
            throw UserNetError("hostfwd '\(text)': host address '\(host[1])' is not 127.0.0.1 (forwarded ports listen on the loopback only)")
        }
        guard let hostPort = UInt16(host[2]), hostPort > 0 else { throw UserNetError("hostfwd '\(text)': host port '\(host[2])' is not 1-65535") }
        guard let guestPort = UInt16(guest[1]), guestPort > 0 else { throw UserNetError("hostfwd '\(text)': guest port '\(guest[1])' is not 1-65535") }
        var address = in_addr()
        let guestAddress = guest[0].isEmpty ? SlirpNetwork.guestAddress : guest[0]
        guard inet_pton(AF_INET, guestAddress, &address) == 1 else {
            throw UserNetError("hostfwd '\(text)': guest address '\(guest[0])' is not an IPv4 address")
        }
        self.hostPort = hostPort
        self.guestAddress = guestAddress
        self.guestPort = guestPort
    }
}

/// User-mode networking through libslirp, as QEMU's `-netdev user`: the guest sits on
/// 10.0.2.0/24 behind a NAT at 10.0.2.2 that answers DHCP (leases from 10.0.2.15) and DNS
/// (10.0.2.3, relayed to the host's resolver), and its TCP/UDP connections become the host
/// process's own sockets. 10.0.2.2 reaches the host's loopback. Runs on the machine's
/// thread: `poll` services slirp's sockets without blocking and fires its timers.
public final class SlirpNetwork: NetworkBackend {
    public static let guestAddress = "10.0.2.15"
    public weak var receiver: NetworkFrameReceiver?
    private var slirp: OpaquePointer?
    /// The descriptors slirp asked for during the current poll, and their results.
    fileprivate var pollDescriptors: [pollfd] = []
    fileprivate var timers: [SlirpTimer] = []
    private var callbacks = SlirpCb()
    private var lastPoll: UInt64 = 0
    /// Frames the guest sent and frames slirp produced, for the status line and tests.
    public private(set) var framesSent = 0
    public private(set) var framesReceived = 0

    /// - Parameter forwards: host ports to open on 127.0.0.1 now; a port in use fails here.
    public init(forwards: [HostForward] = []) throws {
        callbacks.send_packet = { buffer, length, opaque in
            guard let buffer, let opaque else { return -1 }
            let network = Unmanaged<SlirpNetwork>.fromOpaque(opaque).takeUnretainedValue()
            network.framesReceived += 1
            network.receiver?.receive(UnsafeRawBufferPointer(start: buffer, count: length))
            return length
        }
        callbacks.guest_error = { _, _ in }
        callbacks.clock_get_ns = { _ in Int64(DispatchTime.now().uptimeNanoseconds) }
        callbacks.timer_new = { callback, callbackOpaque, opaque in
            guard let opaque else { return nil }
            let network = Unmanaged<SlirpNetwork>.fromOpaque(opaque).takeUnretainedValue()
            let timer = SlirpTimer(callback: callback, opaque: callbackOpaque)
            network.timers.append(timer)
            return Unmanaged.passUnretained(timer).toOpaque()
        }
        callbacks.timer_free = { timer, opaque in
            guard let timer, let opaque else { return }
            let network = Unmanaged<SlirpNetwork>.fromOpaque(opaque).takeUnretainedValue()
            network.timers.removeAll { Unmanaged.passUnretained($0).toOpaque() == timer }
        }
        callbacks.timer_mod = { timer, expireMilliseconds, _ in
            guard let timer else { return }
            Unmanaged<SlirpTimer>.fromOpaque(timer).takeUnretainedValue().expiresAt = expireMilliseconds
        }
        callbacks.register_poll_fd = { _, _ in }
        callbacks.unregister_poll_fd = { _, _ in }
        callbacks.notify = { _ in }

        var config = SlirpConfig()
        config.version = 4
        config.restricted = 0
        config.in_enabled = true
        config.vnetwork = SlirpNetwork.ipv4("10.0.2.0")
        config.vnetmask = SlirpNetwork.ipv4("255.255.255.0")
        config.vhost = SlirpNetwork.ipv4("10.0.2.2")
        config.in6_enabled = false
        config.vdhcp_start = SlirpNetwork.ipv4(SlirpNetwork.guestAddress)
        config.vnameserver = SlirpNetwork.ipv4("10.0.2.3")
        config.if_mtu = 1500
        config.if_mru = 1500
        slirp = slirp_new(&config, &callbacks, Unmanaged.passUnretained(self).toOpaque())
        guard slirp != nil else { throw UserNetError("libslirp could not start the user network") }
        for forward in forwards {
            let status = slirp_add_hostfwd(slirp, forward.udp ? 1 : 0, SlirpNetwork.ipv4("127.0.0.1"), Int32(forward.hostPort),
                                           SlirpNetwork.ipv4(forward.guestAddress), Int32(forward.guestPort))
            if status != 0 {
                throw UserNetError("hostfwd \(forward.udp ? "udp" : "tcp") 127.0.0.1:\(forward.hostPort): cannot listen (port in use?)")
            }
        }
    }

    deinit {
        if let slirp { slirp_cleanup(slirp) }
    }

    static func ipv4(_ text: String) -> in_addr {
        var address = in_addr()
        _ = inet_pton(AF_INET, text, &address)
        return address
    }

    public func send(_ frame: UnsafeRawBufferPointer) {
        guard let slirp, let base = frame.baseAddress, frame.count > 0 else { return }
        framesSent += 1
        slirp_input(slirp, base.assumingMemoryBound(to: UInt8.self), Int32(frame.count))
    }

    /// Services slirp's sockets (a zero-timeout poll(2)) and due timers, at most once per
    /// 200 µs of host time: the machine calls this between every slice.
    public func poll() {
        guard let slirp else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        guard now &- lastPoll >= 200_000 else { return }
        lastPoll = now
        let opaque = Unmanaged.passUnretained(self).toOpaque()
        pollDescriptors.removeAll(keepingCapacity: true)
        var timeout: UInt32 = 0
        slirp_pollfds_fill(slirp, &timeout, { fd, events, opaque in
            guard let opaque else { return -1 }
            let network = Unmanaged<SlirpNetwork>.fromOpaque(opaque).takeUnretainedValue()
            var wanted: Int16 = 0
            if events & Int32(SLIRP_POLL_IN) != 0 { wanted |= Int16(POLLIN) }
            if events & Int32(SLIRP_POLL_OUT) != 0 { wanted |= Int16(POLLOUT) }
            if events & Int32(SLIRP_POLL_PRI) != 0 { wanted |= Int16(POLLPRI) }
            network.pollDescriptors.append(pollfd(fd: fd, events: wanted, revents: 0))
            return Int32(network.pollDescriptors.count - 1)
        }, opaque)
        let result = pollDescriptors.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t($0.count), 0) }
        slirp_pollfds_poll(slirp, result < 0 ? 1 : 0, { index, opaque in
            guard let opaque else { return 0 }
            let network = Unmanaged<SlirpNetwork>.fromOpaque(opaque).takeUnretainedValue()
            guard index >= 0, Int(index) < network.pollDescriptors.count else { return 0 }
            let revents = Int32(network.pollDescriptors[Int(index)].revents)
            var events: Int32 = 0
            if revents & Int32(POLLIN) != 0 { events |= Int32(SLIRP_POLL_IN) }
            if revents & Int32(POLLOUT) != 0 { events |= Int32(SLIRP_POLL_OUT) }
            if revents & Int32(POLLPRI) != 0 { events |= Int32(SLIRP_POLL_PRI) }
            if revents & Int32(POLLERR) != 0 { events |= Int32(SLIRP_POLL_ERR) }
            if revents & Int32(POLLHUP) != 0 { events |= Int32(SLIRP_POLL_HUP) }
            return events
        }, opaque)
        let milliseconds = Int64(now / 1_000_000)
        for timer in timers where timer.expiresAt >= 0 && timer.expiresAt <= milliseconds {
            timer.expiresAt = -1
            timer.callback?(timer.opaque)
        }
    }
}

/// A timer slirp created; `expiresAt` is in ms of the clock `clock_get_ns` reports, -1 idle.
final class SlirpTimer {
    let callback: SlirpTimerCb?
    let opaque: UnsafeMutableRawPointer?
    var expiresAt: Int64 = -1
    init(callback: SlirpTimerCb?, opaque: UnsafeMutableRawPointer?) {
        self.callback = callback
        self.opaque = opaque
    }
}
