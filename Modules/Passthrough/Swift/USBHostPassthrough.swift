import Foundation
import Memory
import USB

/// `usb.host`: a host USB device shown to the guest as a `USB.USBDevice` (docs/passthrough.md).
///
/// The guest sees the host device's own descriptors (device, configurations, strings, BOS, all
/// read once at open). `USBDeviceCore` answers the standard requests from them; the ones that
/// change the device's state reach the host through the backend's dedicated calls
/// (SET_CONFIGURATION, SET_INTERFACE, CLEAR_FEATURE(ENDPOINT_HALT)); SET_ADDRESS stays here
/// (the host stack already addressed the device, USB 2.0 §9.4.6). Class and vendor requests and
/// every bulk, interrupt and isochronous packet are forwarded as asynchronous transfers.
///
/// Threads: the backend completes transfers on its event thread. The completion only goes into
/// `Mailbox` (a locked queue); `poll()`, on the machine thread, drains it and completes the
/// guest's packets, so guest memory and xHCI state are never touched from the event thread.
/// A host unplug arrives the same way and becomes `onUnplug` (the machine detaches the port).
public final class USBHostPassthrough: USB.USBDevice {
    public let host: any HostUSBDevice
    public let speeds: Set<USB.USBSpeed>
    public let descriptors: USB.USBDescriptorSet
    /// Called once, on the machine thread from `poll()`, after the host device went away.
    public var onUnplug: (() -> Void)?
    /// Failures of the host calls the guest cannot be told about synchronously (a
    /// SET_CONFIGURATION the host refused after the core accepted it), for the log.
    public var onHostError: ((HostUSBError) -> Void)?
    public private(set) var isUnplugged = false

    private let mailbox = Mailbox()
    /// Packets forwarded to the host and not completed yet, by transfer id.
    var inFlight: [UInt64: USB.USBPacket] = [:]
    /// Transfer type per endpoint address, index (number | (IN ? 16 : 0)); from the active
    /// configuration (USB 2.0 §9.6.6 bmAttributes).
    private var endpointTypes = [USBTransferType?](repeating: nil, count: 32)
    private let hostConfigurations: [USBConfigurationDescriptor]
    private var closed = false

    // Record and replay (USBHostJournal.swift).
    /// What was read at open, as the journal keeps it.
    public let hostDescription: USBHostDescription
    /// `--record` / `--replay`, with this device's prefix in it ("usb:NAME/").
    var journal: (any ExternalInputJournal)?
    var journalPrefix = ""
    /// Transfers forwarded since open: a transfer's sequence number names it in the journal.
    var submissions: UInt64 = 0
    /// Recording: the sequence number of each transfer in flight, by host transfer id.
    var sequences: [UInt64: UInt64] = [:]
    /// Replaying, there is no host device: transfers are named by sequence number alone.
    var isReplaying: Bool { journal?.isReplaying ?? false }

    /// Reads the descriptors (and the string descriptors, synchronously) from `host`.
    public init(host: any HostUSBDevice) throws(HostUSBError) {
        self.host = host
        var configurations: [USBConfigurationDescriptor] = []
        for index in 0..<Int(host.deviceDescriptor.configurationCount) {
            configurations.append(try host.configuration(index: index))
        }
        hostConfigurations = configurations
        let speed = USBHostPassthrough.speed(host.info.speed)
        speeds = [speed]
        descriptors = USB.USBDescriptorSet(device: host.deviceDescriptor.bytes, configurations: [speed: configurations.map(\.bytes)],
                                           strings: USBHostPassthrough.strings(of: host, configurations: configurations),
                                           bos: host.deviceDescriptor.usbVersion >= 0x0201 ? USBHostPassthrough.bos(of: host) : nil)
        hostDescription = USBHostDescription(info: host.info, descriptors: descriptors)
        let mailbox = self.mailbox
        host.onDisconnect = { mailbox.postDisconnect() }
        USBHostPassthrough.registry.add(self)
    }

    deinit { close() }

    /// Cancels what is in flight and closes the host device (which reattaches detached kernel
    /// drivers). Once; also run at process exit for every device still open.
    public func close() {
        guard !closed else { return }
        closed = true
        host.onDisconnect = nil
        host.close()
    }

    /// The emulated speed: the host link's (unknown and SuperSpeedPlus map to the nearest).
    static func speed(_ speed: USBSpeed) -> USB.USBSpeed {
        switch speed {
        case .low: return .low
        case .full, .unknown: return .full
        case .high: return .high
        case .super, .superPlus: return .superSpeed
        }
    }

    // MARK: Descriptors read at open

    /// GET_DESCRIPTOR through the host, waiting up to a second; nil on any failure (a stall: the
    /// device has no such descriptor).
    static func fetch(_ host: any HostUSBDevice, type: UInt8, index: UInt8, language: UInt16 = 0, length: UInt16 = 255) -> [UInt8]? {
        let done = DispatchSemaphore(value: 0)
        let result = Mailbox.Box()
        host.submit(.control(.getDescriptor(type: type, index: index, language: language, length: length))) { completion in
            result.set(completion)
            done.signal()
        }
        guard done.wait(timeout: .now() + 1) == .success, let completion = result.value, completion.status == .completed,
              completion.data.count >= 2, completion.data[1] == type else { return nil }
        return completion.data
    }

    /// The strings the descriptors name (device, configurations, interfaces) in the device's
    /// first language, as `USBDescriptorSet` keeps them: index 1 first. An index the device
    /// does not answer becomes an empty string (the core can only answer indices it has).
    static func strings(of host: any HostUSBDevice, configurations: [USBConfigurationDescriptor]) -> [String] {
        let device = host.deviceDescriptor
        var indices: [UInt8] = [device.manufacturerIndex, device.productIndex, device.serialNumberIndex]
        for configuration in configurations {
            indices.append(configuration.bytes[6])
            var offset = 9
            let bytes = configuration.bytes
            while offset + 9 <= bytes.count, bytes[offset] >= 2 {
                if bytes[offset + 1] == USBDescriptorType.interface { indices.append(bytes[offset + 8]) }
                offset += Int(bytes[offset])
            }
        }
        guard let highest = indices.max(), highest > 0 else { return [] }
        // String 0 lists the LANGIDs (USB 2.0 §9.6.7); the first is the one asked for.
        guard let languages = fetch(host, type: USBDescriptorType.string, index: 0), languages.count >= 4 else { return [] }
        let language = UInt16(languages[2]) | UInt16(languages[3]) << 8
        var strings = [String](repeating: "", count: Int(highest))
        for index in Set(indices) where index > 0 {
            guard let bytes = fetch(host, type: USBDescriptorType.string, index: index, language: language) else { continue }
            let length = min(Int(bytes[0]), bytes.count)
            let units = stride(from: 2, to: length - 1, by: 2).map { UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8 }
            strings[Int(index) - 1] = String(decoding: units, as: UTF16.self)
        }
        return strings
    }

    /// The BOS descriptor set (USB 3.2 §9.6.2), header first for its total length.
    static func bos(of host: any HostUSBDevice) -> [UInt8]? {
        guard let header = fetch(host, type: USB.USBDescriptorType.bos, index: 0, length: 5), header.count >= 5 else { return nil }
        let total = UInt16(header[2]) | UInt16(header[3]) << 8
        return fetch(host, type: USB.USBDescriptorType.bos, index: 0, length: total)
    }

    // MARK: USBDevice

    public func handleControl(_ packet: USB.USBPacket) {
        guard let setup = packet.setup else { return packet.complete(.stall) }
        let hostSetup = USBSetupPacket(requestType: setup.requestType, request: setup.request, value: setup.value,
                                       index: setup.index, length: setup.length)
        forward(packet, USBTransferRequest.control(hostSetup, data: packet.data))
    }

    public func handleData(_ packet: USB.USBPacket) {
        let slot = Int(packet.endpoint & 0x0f) | (packet.endpoint & 0x80 != 0 ? 16 : 0)
        guard let type = endpointTypes[slot] else { return packet.complete(.stall) }
        var request = USBTransferRequest(type: type, endpoint: packet.endpoint, data: packet.isIn ? [] : packet.data,
                                         length: packet.length)
        // The controller hands isochronous TDs over whole (docs/usb.md): one packet per TD.
        if type == .isochronous { request.isochronousPackets = [packet.length] }
        forward(packet, request)
    }

    public func cancel(_ packet: USB.USBPacket) {
        guard let id = inFlight.first(where: { $0.value === packet })?.key else { return }
        inFlight[id] = nil
        sequences[id] = nil
        if !isReplaying { host.cancel(id) }
    }

    /// Bus reset: what the guest had in flight is abandoned. The host device keeps its address
    /// and configuration; the guest's next SET_CONFIGURATION reaches it again.
    public func reset() {
        if !isReplaying { for (id, _) in inFlight { host.cancel(id) } }
        inFlight = [:]
        sequences = [:]
        endpointTypes = [USBTransferType?](repeating: nil, count: 32)
    }

    public func configurationChanged(_ value: UInt8) {
        endpointTypes = [USBTransferType?](repeating: nil, count: 32)
        if let configuration = hostConfigurations.first(where: { $0.configurationValue == value }) {
            for interface in configuration.interfaces {
                for endpoint in interface.endpoints {
                    let slot = Int(endpoint.address & 0x0f) | (endpoint.isIn ? 16 : 0)
                    if endpointTypes[slot] == nil { endpointTypes[slot] = endpoint.transferType }
                }
            }
        }
        hostCall { () throws(HostUSBError) in try host.setConfiguration(value) }
    }

    public func interfaceChanged(_ interface: UInt8, alternateSetting: UInt8) {
        hostCall { () throws(HostUSBError) in try host.setAlternateSetting(interface: interface, alternate: alternateSetting) }
    }

    public func endpointReset(_ endpoint: UInt8) {
        guard endpoint & 0x0f != 0 else { return }
        hostCall { () throws(HostUSBError) in try host.clearHalt(endpoint: endpoint) }
    }

    /// On the machine thread: completes the packets whose transfers ended, then reports an unplug.
    public func poll() {
        if isReplaying { return replayDue() }
        guard !mailbox.isEmpty else { return }
        let (completions, disconnected) = mailbox.take()
        for completion in completions {
            guard let packet = inFlight.removeValue(forKey: completion.id) else { continue }  // cancelled
            if let journal, let sequence = sequences.removeValue(forKey: completion.id) {
                journal.recordInput(source: journalPrefix + "done", bytes: USBHostJournalCoding.encode(sequence: sequence, completion))
            }
            USBHostPassthrough.complete(packet, completion)
        }
        if disconnected, !isUnplugged {
            journal?.recordInput(source: journalPrefix + "unplug", bytes: [])
            unplugged()
        }
    }

    /// The host device is gone: what is in flight fails, and the machine detaches the port.
    func unplugged() {
        isUnplugged = true
        for packet in inFlight.values { packet.complete(.transactionError) }
        inFlight = [:]
        sequences = [:]
        onUnplug?()
    }

    // MARK: Forwarding

    private func forward(_ packet: USB.USBPacket, _ request: USBTransferRequest) {
        guard !isUnplugged else { return packet.complete(.transactionError) }
        let sequence = submissions
        submissions += 1
        // Journaled or checked: what the guest submits (setup packet, OUT data, lengths).
        journal?.checkSent(source: journalPrefix + "submit", bytes: USBHostJournalCoding.encode(sequence: sequence, request))
        if isReplaying {
            inFlight[sequence] = packet
            return
        }
        let mailbox = self.mailbox
        let id = host.submit(request) { completion in mailbox.post(completion) }
        inFlight[id] = packet
        if journal != nil { sequences[id] = sequence }
    }

    /// A host transfer's outcome as the guest's packet status (USB 2.0 §8.4.5 handshakes).
    static func complete(_ packet: USB.USBPacket, _ completion: USBTransferCompletion) {
        switch completion.status {
        case .completed:
            if packet.isIn { packet.data = Array(completion.data.prefix(packet.length)) }
            packet.complete(.success)
        case .stall:
            packet.complete(.stall)
        case .overflow:
            packet.data = Array(completion.data.prefix(packet.length))
            packet.complete(.babble)
        case .cancelled:
            break
        case .timeout, .noDevice, .error:
            packet.complete(.transactionError)
        }
    }

    private func hostCall(_ body: () throws(HostUSBError) -> Void) {
        guard !isUnplugged, !isReplaying else { return }
        do { try body() } catch .noDevice { mailbox.postDisconnect() } catch { onHostError?(error) }
    }

    // MARK: Cross-thread queue

    /// Completions and the unplug, posted from the backend's event thread and taken on the
    /// machine thread; an idle `poll()` costs one uncontended lock.
    final class Mailbox: @unchecked Sendable {
        private let lock = NSLock()
        private var completions: [USBTransferCompletion] = []
        private var disconnected = false
        private var pending = false

        var isEmpty: Bool { lock.lock(); defer { lock.unlock() }; return !pending }

        func post(_ completion: USBTransferCompletion) {
            lock.lock(); completions.append(completion); pending = true; lock.unlock()
        }

        func postDisconnect() {
            lock.lock(); disconnected = true; pending = true; lock.unlock()
        }

        func take() -> ([USBTransferCompletion], Bool) {
            lock.lock(); defer { lock.unlock() }
            let taken = (completions, disconnected)
            completions = []
            pending = false
            return taken
        }

        /// One value handed from another thread (a synchronous fetch's completion).
        final class Box: @unchecked Sendable {
            private let lock = NSLock()
            private var stored: USBTransferCompletion?
            var value: USBTransferCompletion? { lock.lock(); defer { lock.unlock() }; return stored }
            func set(_ value: USBTransferCompletion) { lock.lock(); stored = value; lock.unlock() }
        }
    }

    // MARK: Closing at exit

    /// Devices still open when the process exits are closed then, so detached host drivers are
    /// reattached even when the machine is never deallocated.
    static let registry = Registry()

    final class Registry: @unchecked Sendable {
        private let lock = NSLock()
        private var devices: [Weak] = []
        private var installed = false
        private struct Weak { weak var device: USBHostPassthrough? }

        func add(_ device: USBHostPassthrough) {
            lock.lock(); defer { lock.unlock() }
            devices.removeAll { $0.device == nil }
            devices.append(Weak(device: device))
            if !installed {
                installed = true
                atexit { USBHostPassthrough.registry.closeAll() }
            }
        }

        func closeAll() {
            lock.lock()
            let open = devices.compactMap(\.device)
            devices = []
            lock.unlock()
            for device in open { device.close() }
        }
    }
}
