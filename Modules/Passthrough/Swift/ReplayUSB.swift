import Foundation

/// A recorded USB device: its descriptors and the transfers it answered, in order (JSON; see
/// Tests/PassthroughTests/Recordings/usb and docs/passthrough.md). Bytes are hex strings
/// ("12 01 00 02"), spaces optional.
public struct USBRecording: Sendable, Codable, Equatable {
    /// What was recorded and how.
    public var description: String
    public var bus: UInt8
    public var ports: [UInt8]
    public var address: UInt8
    public var speed: USBSpeed
    public var product: String?
    /// The 18-byte device descriptor.
    public var device: String
    /// Each configuration's full descriptor set (wTotalLength bytes).
    public var configurations: [String]
    public var transfers: [Transfer]

    /// One recorded transfer, or the unplug event (`unplug: true`, nothing else).
    public struct Transfer: Sendable, Codable, Equatable {
        /// "control" (default for endpoint 0), "bulk" (default otherwise), "interrupt", "isochronous".
        public var type: String?
        /// "0x81"; 0 (or absent) for the control pipe.
        public var endpoint: String?
        /// Control only: the 8 setup bytes.
        public var setup: String?
        /// OUT data the host sent (compared with what is submitted).
        public var out: String?
        /// IN data the device answered.
        public var `in`: String?
        /// "completed" (default), "stall", "timeout", "overflow", "no-device" or "error".
        public var status: String?
        /// Isochronous: each packet's IN data and status.
        public var packets: [Packet]?
        /// The device was unplugged here.
        public var unplug: Bool?

        public struct Packet: Sendable, Codable, Equatable {
            public var `in`: String?
            public var status: String?
        }
    }

    public init(description: String, bus: UInt8, ports: [UInt8], address: UInt8, speed: USBSpeed, product: String?,
                device: String, configurations: [String], transfers: [Transfer]) {
        self.description = description
        self.bus = bus
        self.ports = ports
        self.address = address
        self.speed = speed
        self.product = product
        self.device = device
        self.configurations = configurations
        self.transfers = transfers
    }

    /// Reads a recording file.
    public static func load(path: String) throws(HostUSBError) -> USBRecording {
        guard let data = FileManager.default.contents(atPath: path) else { throw .recording("cannot read \(path)") }
        do { return try JSONDecoder().decode(USBRecording.self, from: data) } catch {
            throw .recording("\(path): \(error)")
        }
    }

    /// "12 01 00 02" → bytes; nil if not hex.
    public static func bytes(_ text: String) -> [UInt8]? {
        let digits = text.filter { !$0.isWhitespace }
        guard digits.count % 2 == 0 else { return nil }
        var result: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let byte = UInt8(digits[index..<next], radix: 16) else { return nil }
            result.append(byte)
            index = next
        }
        return result
    }

    /// Bytes → "12 01 00 02".
    public static func text(_ bytes: [UInt8]) -> String {
        bytes.map { hex(UInt64($0), digits: 2) }.joined(separator: " ")
    }
}

/// A `HostUSBBackend` holding recorded devices. The guest-facing device model runs against it
/// exactly as against libusb, so enumeration, transfers, stalls and unplug are exercised
/// without hardware.
public final class ReplayUSBBackend: HostUSBBackend {
    public let name = "replay"
    public let recordings: [USBRecording]

    public init(_ recordings: [USBRecording]) {
        self.recordings = recordings
    }

    public func devices() throws(HostUSBError) -> [HostUSBDeviceInfo] {
        try recordings.map { recording throws(HostUSBError) in try ReplayUSBDevice.info(of: recording) }
    }

    public func open(_ selector: HostUSBSelector, options: HostUSBOpenOptions) throws(HostUSBError) -> any HostUSBDevice {
        for recording in recordings where selector.matches(try ReplayUSBDevice.info(of: recording)) {
            return try ReplayUSBDevice(recording)
        }
        throw .notFound(selector, present: recordings.count)
    }
}

/// One recorded device being replayed.
///
/// Matching: each submitted transfer takes the first unused recorded transfer of the same
/// endpoint (for the control pipe: with the same setup packet), so a model may interleave
/// endpoints differently from the recording. OUT data must equal the recording's, otherwise
/// the transfer ends with `.error`. An unrecorded control request is answered from the
/// descriptors (GET_DESCRIPTOR of the device or a configuration) or stalls. An IN transfer with no
/// recorded answer left stays pending (a device that NAKs), until cancelled or unplugged.
/// `unplug: true` fires once every transfer recorded before it was used; from then on
/// everything ends with `.noDevice`.
///
/// Completions run on a private serial queue, never inside `submit`, as with libusb's event
/// thread; `drain()` waits until those queued so far have run.
public final class ReplayUSBDevice: HostUSBDevice, @unchecked Sendable {
    public let info: HostUSBDeviceInfo
    public let deviceDescriptor: USBDeviceDescriptor
    private let configurations: [USBConfigurationDescriptor]
    private let script: [Step]
    private let unplugAt: Int?
    private let queue = DispatchQueue(label: "backplane.usb.replay")
    /// Guards everything below (submit may be called from any thread).
    private let lock = NSLock()
    private var used: [Bool]
    private var pending: [(id: UInt64, request: USBTransferRequest, completion: USBCompletionHandler)] = []
    private var nextID: UInt64 = 1
    private var unplugged = false
    private var closed = false
    private var disconnectHandler: (@Sendable () -> Void)?
    /// SET_CONFIGURATION value, 0 while unconfigured.
    public private(set) var activeConfiguration: UInt8 = 0
    public private(set) var halted: Set<UInt8> = []

    /// A recorded transfer, decoded.
    struct Step {
        let type: USBTransferType
        let endpoint: UInt8
        let setup: USBSetupPacket?
        let out: [UInt8]?
        let input: [UInt8]
        let status: USBTransferStatus
        let packets: [USBIsochronousPacketResult]
    }

    static func info(of recording: USBRecording) throws(HostUSBError) -> HostUSBDeviceInfo {
        guard let bytes = USBRecording.bytes(recording.device), let descriptor = USBDeviceDescriptor(bytes: bytes) else {
            throw .recording("the device descriptor is not 18 bytes of type 1: \(recording.device)")
        }
        return HostUSBDeviceInfo(bus: recording.bus, ports: recording.ports, address: recording.address,
                                 vendorID: descriptor.vendorID, productID: descriptor.productID,
                                 deviceClass: descriptor.deviceClass, speed: recording.speed, product: recording.product)
    }

    static func status(_ text: String?, at index: Int) throws(HostUSBError) -> USBTransferStatus {
        switch text ?? "completed" {
        case "completed": return .completed
        case "stall": return .stall
        case "timeout": return .timeout
        case "overflow": return .overflow
        case "no-device": return .noDevice
        case "error": return .error("recorded error")
        case let other: throw .recording("transfer \(index): unknown status '\(other)'")
        }
    }

    public init(_ recording: USBRecording) throws(HostUSBError) {
        info = try ReplayUSBDevice.info(of: recording)
        deviceDescriptor = USBDeviceDescriptor(bytes: USBRecording.bytes(recording.device)!)!
        var configurations: [USBConfigurationDescriptor] = []
        for (index, text) in recording.configurations.enumerated() {
            guard let bytes = USBRecording.bytes(text), let configuration = USBConfigurationDescriptor(bytes: bytes) else {
                throw .recording("configuration \(index) is not a consistent configuration descriptor set")
            }
            configurations.append(configuration)
        }
        self.configurations = configurations
        var steps: [Step] = []
        var unplugAt: Int?
        for (index, transfer) in recording.transfers.enumerated() {
            if transfer.unplug == true {
                if unplugAt == nil { unplugAt = steps.count }
                continue
            }
            func decode(_ text: String?, _ what: String) throws(HostUSBError) -> [UInt8]? {
                guard let text else { return nil }
                guard let bytes = USBRecording.bytes(text) else { throw .recording("transfer \(index): \(what) is not hex: \(text)") }
                return bytes
            }
            let endpointText = transfer.endpoint ?? "0"
            guard let endpoint = endpointText.hasPrefix("0x") ? UInt8(endpointText.dropFirst(2), radix: 16) : UInt8(endpointText) else {
                throw .recording("transfer \(index): endpoint '\(endpointText)' is not a number")
            }
            var setup: USBSetupPacket?
            if let bytes = try decode(transfer.setup, "setup") {
                guard let packet = USBSetupPacket(bytes: bytes) else { throw .recording("transfer \(index): setup is not 8 bytes") }
                setup = packet
            }
            let type: USBTransferType
            switch transfer.type ?? (endpoint & 0x7f == 0 ? "control" : "bulk") {
            case "control": type = .control
            case "bulk": type = .bulk
            case "interrupt": type = .interrupt
            case "isochronous": type = .isochronous
            case let other: throw .recording("transfer \(index): unknown type '\(other)'")
            }
            if type == .control && setup == nil { throw .recording("transfer \(index): a control transfer needs 'setup'") }
            var packets: [USBIsochronousPacketResult] = []
            for packet in transfer.packets ?? [] {
                packets.append(USBIsochronousPacketResult(status: try ReplayUSBDevice.status(packet.status, at: index),
                                                          data: try decode(packet.in, "packet in") ?? []))
            }
            steps.append(Step(type: type, endpoint: endpoint, setup: setup, out: try decode(transfer.out, "out"),
                              input: try decode(transfer.in, "in") ?? [], status: try ReplayUSBDevice.status(transfer.status, at: index),
                              packets: packets))
        }
        script = steps
        self.unplugAt = unplugAt
        used = [Bool](repeating: false, count: steps.count)
    }

    public func configuration(index: Int) throws(HostUSBError) -> USBConfigurationDescriptor {
        guard index >= 0, index < configurations.count else {
            throw .backend("configuration \(index) does not exist (the device has \(configurations.count))")
        }
        return configurations[index]
    }

    public func setConfiguration(_ value: UInt8) throws(HostUSBError) {
        lock.lock(); defer { lock.unlock() }
        if unplugged { throw .noDevice }
        guard value == 0 || configurations.contains(where: { $0.configurationValue == value }) else {
            throw .backend("configuration value \(value) does not exist")
        }
        activeConfiguration = value
    }

    public func setAlternateSetting(interface: UInt8, alternate: UInt8) throws(HostUSBError) {
        lock.lock(); defer { lock.unlock() }
        if unplugged { throw .noDevice }
        let configuration = configurations.first { $0.configurationValue == activeConfiguration }
        guard configuration?.interfaces.contains(where: { $0.number == interface && $0.alternateSetting == alternate }) == true else {
            throw .backend("interface \(interface) has no alternate setting \(alternate) in configuration \(activeConfiguration)")
        }
    }

    public func clearHalt(endpoint: UInt8) throws(HostUSBError) {
        lock.lock(); defer { lock.unlock() }
        if unplugged { throw .noDevice }
        halted.remove(endpoint)
    }

    public var onDisconnect: (@Sendable () -> Void)? {
        get { lock.lock(); defer { lock.unlock() }; return disconnectHandler }
        set { lock.lock(); disconnectHandler = newValue; lock.unlock() }
    }

    @discardableResult
    public func submit(_ request: USBTransferRequest, completion: @escaping USBCompletionHandler) -> UInt64 {
        lock.lock()
        let id = nextID
        nextID += 1
        pending.append((id, request, completion))
        let ready = matchPending()
        lock.unlock()
        deliver(ready)
        return id
    }

    public func cancel(_ id: UInt64) {
        lock.lock()
        var ready: [(USBCompletionHandler, USBTransferCompletion)] = []
        if let index = pending.firstIndex(where: { $0.id == id }) {
            ready.append((pending[index].completion, USBTransferCompletion(id: id, status: .cancelled)))
            pending.remove(at: index)
        }
        lock.unlock()
        deliver(ready)
    }

    public func close() {
        lock.lock()
        closed = true
        let ready = pending.map { ($0.completion, USBTransferCompletion(id: $0.id, status: .cancelled)) }
        pending.removeAll()
        lock.unlock()
        deliver(ready)
    }

    /// Waits until every completion queued so far has run (tests).
    public func drain() { queue.sync {} }

    /// Recorded transfers not used yet (a test can check a model did all it should).
    public var unusedTransfers: Int {
        lock.lock(); defer { lock.unlock() }
        return used.filter { !$0 }.count
    }

    // MARK: Matching (lock held)

    private func matchPending() -> [(USBCompletionHandler, USBTransferCompletion)] {
        var ready: [(USBCompletionHandler, USBTransferCompletion)] = []
        var progress = true
        while progress {
            progress = false
            if unplugged || closed {
                ready += pending.map { ($0.completion, USBTransferCompletion(id: $0.id, status: closed ? .cancelled : .noDevice)) }
                pending.removeAll()
                break
            }
            for (index, entry) in pending.enumerated() {
                if let completion = answer(entry.id, entry.request) {
                    ready.append((entry.completion, completion))
                    pending.remove(at: index)
                    progress = true
                    break
                }
            }
            if let unplugAt, !unplugged, !used[0..<unplugAt].contains(false) {
                unplugged = true
                if let handler = disconnectHandler { queue.async { handler() } }
                progress = true
            }
        }
        return ready
    }

    /// The completion for `request` if the recording has an answer now, else nil (pending).
    private func answer(_ id: UInt64, _ request: USBTransferRequest) -> USBTransferCompletion? {
        let limit = unplugAt ?? script.count
        let candidate = script.indices.first { index in
            guard index < limit, !used[index] else { return false }
            let step = script[index]
            guard step.endpoint == request.endpoint, step.type == request.type else { return false }
            return request.type != .control || step.setup == request.setup
        }
        guard let index = candidate else {
            if request.type == .control, let setup = request.setup { return standardAnswer(id, setup) }
            return nil
        }
        let step = script[index]
        used[index] = true
        if let expected = step.out, expected != request.data {
            return USBTransferCompletion(id: id, status: .error("replay: OUT data \(USBRecording.text(request.data)) differs from the recorded \(USBRecording.text(expected))"))
        }
        if step.status == .stall && request.type != .control { halted.insert(request.endpoint) }
        if request.type == .isochronous {
            let packets = step.packets.prefix(request.isochronousPackets.count).enumerated().map { offset, packet in
                USBIsochronousPacketResult(status: packet.status, data: Array(packet.data.prefix(request.isochronousPackets[offset])))
            }
            return USBTransferCompletion(id: id, status: step.status, data: packets.flatMap(\.data), isochronousPackets: Array(packets))
        }
        if request.isIn {
            if step.input.count > request.length {
                return USBTransferCompletion(id: id, status: .overflow, data: Array(step.input.prefix(request.length)))
            }
            return USBTransferCompletion(id: id, status: step.status, data: step.input)
        }
        return USBTransferCompletion(id: id, status: step.status, data: [], actualLength: step.status == .completed ? request.data.count : 0)
    }

    /// An unrecorded control request: GET_DESCRIPTOR(DEVICE / CONFIGURATION) is answered from
    /// the descriptors (the first `length` bytes, as a device answers a short request, USB 2.0
    /// §9.4.3); anything else stalls, as a device does for a request it does not support
    /// (§9.2.7).
    private func standardAnswer(_ id: UInt64, _ setup: USBSetupPacket) -> USBTransferCompletion {
        guard setup.requestType == 0x80, setup.request == USBSetupPacket.getDescriptor else {
            return USBTransferCompletion(id: id, status: .stall)
        }
        let type = UInt8(setup.value >> 8), index = Int(setup.value & 0xff)
        let bytes: [UInt8]
        switch type {
        case USBDescriptorType.device: bytes = deviceDescriptor.bytes
        case USBDescriptorType.configuration where index < configurations.count: bytes = configurations[index].bytes
        default: return USBTransferCompletion(id: id, status: .stall)
        }
        return USBTransferCompletion(id: id, status: .completed, data: Array(bytes.prefix(Int(setup.length))))
    }

    private func deliver(_ ready: [(USBCompletionHandler, USBTransferCompletion)]) {
        for (handler, completion) in ready { queue.async { handler(completion) } }
    }
}
