#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Control
import Foundation
import Synchronization

/// Where the stub listens: `--gdb tcp::PORT` (loopback), `tcp:HOST:PORT`, or a unix socket path.
public enum GDBEndpoint: Equatable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: UInt16)
    case unix(path: String)

    /// Parses the `--gdb` option's value. A bare `tcp::PORT` listens on 127.0.0.1 only: a debugger
    /// can read and write all guest memory, so reaching it from the network must be asked for.
    public init(parsing text: String) throws {
        if text.hasPrefix("tcp:") {
            let rest = text.dropFirst(4)
            guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]), port > 0 else {
                throw GDBServerError.badEndpoint(text)
            }
            let host = String(rest[..<colon])
            self = .tcp(host: host.isEmpty ? "127.0.0.1" : host, port: port)
        } else if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw GDBServerError.badEndpoint(text) }
            self = .unix(path: path)
        } else if text.hasPrefix("/") || text.hasPrefix(".") {
            self = .unix(path: text)
        } else {
            throw GDBServerError.badEndpoint(text)
        }
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): return "tcp:\(host):\(port)"
        case .unix(let path): return "unix:\(path)"
        }
    }
}

public enum GDBServerError: Error, Equatable, CustomStringConvertible {
    case badEndpoint(String)
    case cannotListen(String, reason: String)

    public var description: String {
        switch self {
        case .badEndpoint(let text):
            return "--gdb '\(text)': expected tcp::PORT, tcp:HOST:PORT, unix:PATH or a socket path"
        case .cannotListen(let endpoint, let reason):
            return "--gdb: cannot listen on \(endpoint): \(reason)"
        }
    }
}

/// The socket side of the stub: one client at a time. A reader thread parses what the client
/// sends; packets queue for the machine thread, which handles them only while the machine is
/// stopped, and an interrupt (Ctrl-C) raises `interruptRequested`, which the run loop polls at
/// slice boundaries.
public final class GDBServer: @unchecked Sendable {
    public let endpoint: GDBEndpoint
    /// Set by the reader thread when the client sends 0x03 or disconnects; the machine clears it.
    public let interruptRequested = Atomic<Bool>(false)

    private let listener: Int32
    private var client: Int32 = -1
    private let condition = NSCondition()
    private var queue: [GDBInput] = []
    private var disconnected = false
    /// Counts connections; `served` is the one the last input came from. A detach or kill
    /// closes that connection only: the client may already have left and a new one connected
    /// between the reply and the close (found by Fuzz/sockets.py).
    private var connection = 0
    private var served = 0
    private var lastSent: [UInt8] = []
    private var closed = false

    /// Binds and listens; the client is accepted by `waitForClient`.
    public init(endpoint: GDBEndpoint) throws {
        self.endpoint = endpoint
        switch endpoint {
        case .tcp(let host, let port):
            listener = try Self.listenTCP(host: host, port: port, endpoint: endpoint.description)
        case .unix(let path):
            listener = try Self.listenUnix(path: path, endpoint: endpoint.description)
        }
    }

    /// Stops listening and drops the client; the socket file of a unix endpoint is removed (we
    /// created it). The accept and reader threads end on their own.
    public func close() {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return }
        closed = true
        // shutdown() wakes a thread blocked in accept() or recv(); the reader closes its fd.
        shutdown(listener, Int32(SHUT_RDWR))
        if client >= 0 { shutdown(client, Int32(SHUT_RDWR)) }
        if case .unix(let path) = endpoint { unlink(path) }
    }

    /// Starts accepting clients on a background thread, one at a time: while one is connected
    /// others are refused. A client that connects stops the machine (as QEMU's stub does) by
    /// raising `interruptRequested`, so its first packets are answered by a stopped machine.
    public func startAccepting() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "gdb-accept"
        thread.start()
    }

    /// Blocks until a client is connected (`--gdb-wait`), or `deadline` (uptime ns) passes;
    /// whether one is.
    public func waitForClient(deadline: UInt64? = nil) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while client < 0 {
            if !wait(deadline) { return false }
        }
        return true
    }

    public var isConnected: Bool {
        condition.lock()
        defer { condition.unlock() }
        return client >= 0
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                Glibc.close(listener)
                return  // The listener was shut down.
            }
            condition.lock()
            // A client that reconnects right after a detach can arrive before the reader has let
            // the old connection go (found by Fuzz/sockets.py): give it a second to do so.
            let patience = Date(timeIntervalSinceNow: 1)
            while client >= 0 && !closed && condition.wait(until: patience) {}
            if client >= 0 || closed {
                condition.unlock()
                Glibc.close(fd)  // One debugger at a time.
                continue
            }
            // Raise the stop request before anyone can see the client: a machine waiting in
            // waitForClient then serves it with the request already taken into account.
            interruptRequested.store(true, ordering: .releasing)
            client = fd
            connection += 1
            disconnected = false
            queue.removeAll()
            condition.broadcast()
            condition.unlock()
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let connection = fd
            let reader = Thread { [self] in readLoop(connection) }
            reader.name = "gdb-reader"
            reader.start()
        }
    }

    /// Waits on the condition (locked by the caller) until signalled or `deadline`; false on timeout.
    private func wait(_ deadline: UInt64?) -> Bool {
        guard let deadline else { condition.wait(); return true }
        let now = DispatchTime.now().uptimeNanoseconds
        guard now < deadline else { return false }
        return condition.wait(until: Date(timeIntervalSinceNow: Double(deadline - now) / 1e9))
    }

    /// The next input from the client, blocking; nil once the client is gone or `deadline`
    /// (uptime ns) passed.
    public func next(deadline: UInt64? = nil) -> GDBInput? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !disconnected {
            if !wait(deadline) { return nil }
        }
        served = connection
        return queue.isEmpty ? nil : queue.removeFirst()
    }

    /// Frames and sends `payload`, remembering it for a resend on `-`.
    public func send(_ payload: [UInt8]) {
        lastSent = GDBPacket.frame(payload)
        write(lastSent)
    }

    public func sendAck(_ good: Bool) { write([UInt8(ascii: good ? "+" : "-")]) }

    public func resendLast() { if !lastSent.isEmpty { write(lastSent) } }

    /// Closes the connection the last input came from (detach or kill); the reader thread ends
    /// on its own.
    public func disconnect() {
        condition.lock()
        if client >= 0 && connection == served { shutdown(client, Int32(SHUT_RDWR)) }
        condition.unlock()
    }

    private func write(_ bytes: [UInt8]) {
        condition.lock()
        let fd = client
        condition.unlock()
        guard fd >= 0 else { return }
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                // MSG_NOSIGNAL: a vanished client must not kill the machine with SIGPIPE.
                let sent = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if sent < 0 && errno == EINTR { continue }
                if sent <= 0 { return }
                offset += sent
            }
        }
    }

    private func readLoop(_ fd: Int32) {
        var reader = GDBPacketReader()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            let inputs = reader.feed(buffer[0..<count])
            guard !inputs.isEmpty else { continue }
            if inputs.contains(.interrupt) { interruptRequested.store(true, ordering: .releasing) }
            condition.lock()
            queue += inputs
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        disconnected = true
        Glibc.close(fd)
        client = -1
        condition.broadcast()
        condition.unlock()
        // A vanished client stops the machine like Ctrl-C would, so its state can be looked at
        // again by the next client instead of running away unobserved.
        interruptRequested.store(true, ordering: .releasing)
    }

    private static func listenTCP(host: String, port: UInt16, endpoint: String) throws -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
            throw GDBServerError.cannotListen(endpoint, reason: "'\(host)' is not an IPv4 address")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw GDBServerError.cannotListen(endpoint, reason: String(cString: strerror(errno))) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw GDBServerError.cannotListen(endpoint, reason: reason)
        }
        return fd
    }

    private static func listenUnix(path: String, endpoint: String) throws -> Int32 {
        do throws(UnixSocket.Failure) { return try UnixSocket.listen(path: path, backlog: 1) }
        catch { throw GDBServerError.cannotListen(endpoint, reason: error.reason) }
    }
}

/// Drives a `GDBSession` over a `GDBServer` while the machine is stopped. Used by one thread at a
/// time (the machine thread), hence unchecked.
public final class GDBStub: @unchecked Sendable {
    public let server: GDBServer
    public let session: GDBSession

    public init(server: GDBServer, session: GDBSession) {
        self.server = server
        self.session = session
    }

    /// How often a stopped machine looks up from the client for its other work (`whileStopped`).
    static let stoppedPollNanoseconds: UInt64 = 20_000_000

    /// Reports `reason` (nil: the client just attached and asks with `?` itself) and answers
    /// packets until the client lets the machine run, detaches or kills it. A client that
    /// disconnects counts as a detach.
    ///
    /// While it waits for the client, `whileStopped` runs every 20 ms on this (the machine's)
    /// thread, so the machine answers its other clients (the control socket) while a debugger
    /// holds it; when it returns true the machine is going away (a `quit`) and the client is
    /// disconnected (a stop reply now would answer no request of the all-stop protocol; GDB
    /// finds the connection closed at its next command).
    public func stopped(_ reason: GDBStopReason?, deadline: UInt64? = nil,
                        whileStopped: (() -> Bool)? = nil) -> GDBSession.Action {
        // Whatever interrupt was pending has done its job: the machine is stopped.
        server.interruptRequested.store(false, ordering: .relaxed)
        if let reason { server.send(session.stopReply(for: reason)) }
        while true {
            var wait = deadline
            if whileStopped != nil {
                let poll = DispatchTime.now().uptimeNanoseconds + Self.stoppedPollNanoseconds
                wait = min(deadline ?? poll, poll)
            }
            guard let input = server.next(deadline: wait) else {
                // The poll interval passed with the client still there (not the run's deadline).
                let now = DispatchTime.now().uptimeNanoseconds
                guard let whileStopped, server.isConnected, deadline.map({ now < $0 }) ?? true else { break }
                if whileStopped() {
                    server.disconnect()
                    return .detach
                }
                continue
            }
            switch input {
            case .packet(let payload):
                if session.acknowledging { server.sendAck(true) }
                let outcome = session.handle(payload)
                if let reply = outcome.reply { server.send(reply) }
                switch outcome.action {
                case .none: continue
                case .detach, .kill:
                    server.disconnect()
                    return outcome.action
                case .resume:
                    return outcome.action
                }
            case .corrupt:
                if session.acknowledging { server.sendAck(false) }
            case .nack:
                server.resendLast()
            case .ack, .interrupt:
                continue  // Already stopped: an interrupt now has nothing to stop.
            }
        }
        // The client left, or the run's --timeout passed while it held the machine.
        return .detach
    }
}
