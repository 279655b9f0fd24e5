import Foundation
import Memory
import USB

/// Record and replay of `usb.host` (docs/architecture.md "Record and replay", docs/passthrough.md
/// "Record and replay"). Under `--record` the device is the host's and the journal gets, under
/// the source prefix `usb:NAME/`:
///
/// - `input … usb:NAME/attach JSON`: what was read at open (link speed, IDs, device and
///   configuration descriptors, strings, BOS), at time 0;
/// - `sent … usb:NAME/submit DIGEST`: every transfer the guest's packets became (sequence
///   number, type, endpoint, setup packet, length, OUT data), at the instruction that submitted it;
/// - `input … usb:NAME/done BYTES`: every completion, when the machine thread took it (sequence
///   number, status, data, isochronous packets);
/// - `input … usb:NAME/unplug -`: the host unplug, likewise.
///
/// Under `--replay` the host device is never opened: `USBHostPassthrough(replaying:)` is built
/// from the attach record, completions come from the journal at their recorded times, and each
/// submission is checked against the recorded one (another one is a divergence). Nothing here
/// runs per instruction; all of it is per transfer.
public struct USBHostDescription: Codable, Equatable, Sendable {
    public var speed: String
    public var bus: UInt8
    public var ports: [UInt8]
    public var address: UInt8
    public var device: String
    public var configurations: [String]
    public var strings: [String]
    public var bos: String?

    init(info: HostUSBDeviceInfo, descriptors: USB.USBDescriptorSet) {
        speed = info.speed.rawValue
        bus = info.bus
        ports = info.ports
        address = info.address
        device = USBHostDescription.hex(descriptors.device)
        configurations = descriptors.configurations.values.first?.map(USBHostDescription.hex) ?? []
        strings = descriptors.strings
        bos = descriptors.bos.map(USBHostDescription.hex)
    }

    /// The attach record's bytes: compact JSON with sorted keys, so one device always journals
    /// the same bytes.
    public var journalBytes: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(self)) ?? Data())
    }

    /// Reads an attach record; nil when it is not one.
    public init?(journalBytes: [UInt8]) {
        guard let description = try? JSONDecoder().decode(USBHostDescription.self, from: Data(journalBytes)) else { return nil }
        self = description
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    static func bytes(_ hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}

extension USBHostPassthrough {
    /// The replayed device: what the recording read at open, with no host device behind it.
    /// - Throws: `.recording` when the attach record does not describe a device.
    public convenience init(replaying description: USBHostDescription) throws(HostUSBError) {
        guard let deviceBytes = USBHostDescription.bytes(description.device), let device = USBDeviceDescriptor(bytes: deviceBytes) else {
            throw .recording("the journal's attach record has no valid device descriptor")
        }
        var configurations: [USBConfigurationDescriptor] = []
        for text in description.configurations {
            guard let bytes = USBHostDescription.bytes(text), let configuration = USBConfigurationDescriptor(bytes: bytes) else {
                throw .recording("the journal's attach record has a configuration descriptor that does not parse")
            }
            configurations.append(configuration)
        }
        guard let speed = USBSpeed(rawValue: description.speed) else {
            throw .recording("the journal's attach record has speed '\(description.speed)'")
        }
        let info = HostUSBDeviceInfo(bus: description.bus, ports: description.ports, address: description.address,
                                     vendorID: device.vendorID, productID: device.productID, deviceClass: device.deviceClass, speed: speed)
        let stand = JournalUSBDevice(info: info, device: device, configurations: configurations, strings: description.strings,
                                     bos: description.bos.flatMap(USBHostDescription.bytes))
        try self.init(host: stand)
    }

    /// Makes the device journal to `journal` as `name` (source prefix `usb:NAME/`). Recording,
    /// the attach record is written now; replaying, the device must have been built with
    /// `init(replaying:)` from the attach record (`USBHostPassthrough.replayAttach`).
    public func journal(to journal: any ExternalInputJournal, name: String) {
        self.journal = journal
        journalPrefix = "usb:\(name)/"
        if !journal.isReplaying { journal.recordInput(source: journalPrefix + "attach", bytes: hostDescription.journalBytes) }
    }

    /// Replaying: the attach record of device `name`, which the recording has first for it.
    public static func replayAttach(from journal: any ExternalInputJournal, name: String) throws(HostUSBError) -> USBHostDescription {
        guard let (source, bytes) = journal.replayInput(prefix: "usb:\(name)/") else {
            throw .recording("the journal has no attach record for usb.host '\(name)' at time 0 (recorded on another board?)")
        }
        guard source == "usb:\(name)/attach", let description = USBHostDescription(journalBytes: bytes) else {
            throw .recording("the journal's first record for usb.host '\(name)' is \(source), not a readable attach record")
        }
        return description
    }

    /// Replaying, on the machine thread: completions and the unplug the recording has for now.
    func replayDue() {
        guard let journal else { return }
        while let (source, bytes) = journal.replayInput(prefix: journalPrefix) {
            switch source.dropFirst(journalPrefix.count) {
            case "done":
                guard let (sequence, completion) = USBHostJournalCoding.decodeCompletion(bytes) else {
                    return journal.diverge("the recording's completion for \(source) cannot be read")
                }
                guard let packet = inFlight.removeValue(forKey: sequence) else {
                    return journal.diverge("the recording completes transfer \(sequence) of \(journalPrefix.dropLast()), which the guest has not submitted or no longer waits for")
                }
                USBHostPassthrough.complete(packet, completion)
            case "unplug":
                if !isUnplugged { unplugged() }
            default:
                return journal.diverge("the recording has \(source), which a usb.host device does not take while it runs")
            }
        }
    }
}

/// The replayed device's stand-in for a host device: the descriptors of the recording, no
/// transfers (the journal completes them), no host calls.
final class JournalUSBDevice: HostUSBDevice {
    let info: HostUSBDeviceInfo
    let deviceDescriptor: USBDeviceDescriptor
    private let configurations: [USBConfigurationDescriptor]
    private let strings: [String]
    private let bos: [UInt8]?
    var onDisconnect: (@Sendable () -> Void)?

    init(info: HostUSBDeviceInfo, device: USBDeviceDescriptor, configurations: [USBConfigurationDescriptor], strings: [String], bos: [UInt8]?) {
        self.info = info
        deviceDescriptor = device
        self.configurations = configurations
        self.strings = strings
        self.bos = bos
    }

    func configuration(index: Int) throws(HostUSBError) -> USBConfigurationDescriptor {
        guard index < configurations.count else { throw .recording("configuration \(index) was not recorded") }
        return configurations[index]
    }

    func setConfiguration(_ value: UInt8) throws(HostUSBError) {}
    func setAlternateSetting(interface: UInt8, alternate: UInt8) throws(HostUSBError) {}
    func clearHalt(endpoint: UInt8) throws(HostUSBError) {}

    /// Only the descriptor reads of `USBHostPassthrough.init` come here (transfers of a replay
    /// never reach the host): answered from the recorded strings and BOS, at once.
    func submit(_ request: USBTransferRequest, completion: @escaping USBCompletionHandler) -> UInt64 {
        var data: [UInt8]?
        if let setup = request.setup, setup.requestType == 0x80, setup.request == 6 {
            let type = UInt8(setup.value >> 8), index = Int(setup.value & 0xff)
            if type == USBDescriptorType.string {
                if index == 0 {
                    data = [4, USBDescriptorType.string, 0x09, 0x04]  // English (US), the one asked for
                } else if index <= strings.count {
                    let units = Array(strings[index - 1].utf16)
                    data = [UInt8(2 + 2 * units.count), USBDescriptorType.string] + units.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
                }
            } else if type == USB.USBDescriptorType.bos, let bos {
                data = Array(bos.prefix(Int(setup.length)))
            }
        }
        completion(USBTransferCompletion(id: 0, status: data == nil ? .stall : .completed, data: data ?? []))
        return 0
    }

    func cancel(_ id: UInt64) {}
    func close() {}
}

/// The journal's binary forms of a submission and a completion (little-endian).
enum USBHostJournalCoding {
    static func encode(sequence: UInt64, _ request: USBTransferRequest) -> [UInt8] {
        var bytes = le(sequence, 8)
        bytes.append(request.type.rawValue)
        bytes.append(request.endpoint)
        if let setup = request.setup {
            bytes += [setup.requestType, setup.request] + le(UInt64(setup.value), 2) + le(UInt64(setup.index), 2) + le(UInt64(setup.length), 2)
        }
        bytes += le(UInt64(request.length), 4)
        bytes += le(UInt64(request.isochronousPackets.count), 2)
        for length in request.isochronousPackets { bytes += le(UInt64(length), 4) }
        bytes += request.data
        return bytes
    }

    static func encode(sequence: UInt64, _ completion: USBTransferCompletion) -> [UInt8] {
        var bytes = le(sequence, 8)
        bytes.append(code(completion.status))
        bytes += le(UInt64(completion.actualLength), 4)
        bytes += le(UInt64(completion.data.count), 4)
        bytes += completion.data
        bytes += le(UInt64(completion.isochronousPackets.count), 2)
        for packet in completion.isochronousPackets {
            bytes.append(code(packet.status))
            bytes += le(UInt64(packet.data.count), 4)
            bytes += packet.data
        }
        return bytes
    }

    static func decodeCompletion(_ bytes: [UInt8]) -> (sequence: UInt64, completion: USBTransferCompletion)? {
        var reader = Reader(bytes: bytes)
        guard let sequence = reader.integer(8), let status = reader.byte().flatMap(status), let actual = reader.integer(4),
              let length = reader.integer(4), let data = reader.take(Int(length)), let count = reader.integer(2) else { return nil }
        var packets: [USBIsochronousPacketResult] = []
        for _ in 0..<count {
            guard let packetStatus = reader.byte().flatMap(Self.status), let packetLength = reader.integer(4),
                  let packetData = reader.take(Int(packetLength)) else { return nil }
            packets.append(USBIsochronousPacketResult(status: packetStatus, data: packetData))
        }
        guard reader.isAtEnd else { return nil }
        return (sequence, USBTransferCompletion(id: sequence, status: status, data: data, actualLength: Int(actual), isochronousPackets: packets))
    }

    /// Status codes; an error's text is the host library's and not journaled.
    static func code(_ status: USBTransferStatus) -> UInt8 {
        switch status {
        case .completed: return 0
        case .stall: return 1
        case .timeout: return 2
        case .cancelled: return 3
        case .noDevice: return 4
        case .overflow: return 5
        case .error: return 6
        }
    }

    static func status(_ code: UInt8) -> USBTransferStatus? {
        switch code {
        case 0: return .completed
        case 1: return .stall
        case 2: return .timeout
        case 3: return .cancelled
        case 4: return .noDevice
        case 5: return .overflow
        case 6: return .error("recorded error")
        default: return nil
        }
    }

    private static func le(_ value: UInt64, _ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0
        var isAtEnd: Bool { offset == bytes.count }
        mutating func take(_ count: Int) -> [UInt8]? {
            guard count >= 0, count <= bytes.count - offset else { return nil }
            defer { offset += count }
            return Array(bytes[offset..<offset + count])
        }
        mutating func byte() -> UInt8? { take(1)?[0] }
        mutating func integer(_ count: Int) -> UInt64? {
            take(count).map { $0.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) } }
        }
    }
}
