import Memory
import Storage

/// A USB mass-storage device speaking Bulk-Only Transport (USB Mass Storage Class BOT 1.0) with
/// the SCSI transparent command set over a raw image: a Command Block Wrapper on bulk OUT, an
/// optional data phase, then a Command Status Wrapper on bulk IN.
public final class USBMassStorage: USBDevice {
    public static let vendorID: UInt16 = 0x1209
    public static let productID: UInt16 = 0x0003
    public static let productName = "Backplane USB Storage"

    /// BOT class requests (BOT §3.1-§3.2).
    public enum Request {
        public static let reset: UInt8 = 0xff
        public static let getMaxLUN: UInt8 = 0xfe
    }

    public static let cbwSignature: UInt32 = 0x4342_5355
    public static let cswSignature: UInt32 = 0x5342_5355

    public let speeds: Set<USBSpeed> = [.high, .superSpeed]
    public let descriptors: USBDescriptorSet
    public let disk: SCSIDisk

    /// Where the transport is (BOT §5, §6).
    enum Phase {
        case command
        /// Data for the host, and what the host said it would take.
        case dataIn(data: [UInt8], offset: Int, expected: Int, good: Bool)
        case dataOut(received: [UInt8], expected: Int, needed: Int, lba: UInt64)
        case status(good: Bool, residue: Int)
    }

    private var phase = Phase.command
    private var tag: UInt32 = 0

    public init(image: DiskImage, serial: String = "BP0001") {
        disk = SCSIDisk(image: image, serial: serial)
        descriptors = USBDescriptorSet(
            device: USBDeviceDescriptor(vendorID: USBMassStorage.vendorID, productID: USBMassStorage.productID,
                                        manufacturerString: 1, productString: 2, serialNumberString: 3),
            configurations: [USBConfigurationDescriptor(attributes: 0xc0, maxPower: 50, interfaces: [
                // Class 8 (mass storage), subclass 6 (SCSI transparent), protocol 0x50 (BOT).
                USBInterfaceDescriptor(number: 0, interfaceClass: 0x08, interfaceSubClass: 0x06, interfaceProtocol: 0x50, endpoints: [
                    USBEndpointDescriptor(address: 0x81, type: .bulk, maxPacketSize: 64, maxBurst: 15),
                    USBEndpointDescriptor(address: 0x02, type: .bulk, maxPacketSize: 64, maxBurst: 15),
                ]),
            ])],
            strings: ["Backplane", USBMassStorage.productName, serial.isEmpty ? "BP0001" : serial], speeds: speeds)
    }

    public func handleControl(_ packet: USBPacket) {
        guard let setup = packet.setup, setup.kind == .class else { return packet.complete(.stall) }
        switch setup.request {
        case Request.reset:
            phase = .command
            packet.complete()
        case Request.getMaxLUN:
            packet.complete(with: [0])
        default:
            packet.complete(.stall)
        }
    }

    public func reset() { phase = .command }

    public func handleData(_ packet: USBPacket) {
        switch (packet.endpoint, phase) {
        case (0x02, .command):
            command(packet)
        case (0x02, .dataOut(var received, let expected, let needed, let lba)):
            received += packet.data
            if received.count < expected {
                phase = .dataOut(received: received, expected: expected, needed: needed, lba: lba)
            } else {
                // Everything the host sends past what the command needs is dropped (BOT §6.7.3 case 9).
                let good = disk.finishWrite(lba: lba, data: Array(received.prefix(needed)))
                phase = .status(good: good, residue: good ? max(0, expected - needed) : expected)
            }
            packet.complete()
        case (0x81, .dataIn(let data, let offset, let expected, let good)):
            let count = min(packet.length, data.count - offset)
            // The usual case hands the whole buffer over without a copy.
            let chunk = offset == 0 && count == data.count ? data : Array(data[offset..<(offset + count)])
            let sent = offset + count
            if sent >= data.count || count < packet.length {
                // Short or complete: the data phase ends; residue is what the host expected but
                // did not get (BOT §6.7.2).
                phase = .status(good: good, residue: max(0, expected - sent))
            } else {
                phase = .dataIn(data: data, offset: sent, expected: expected, good: good)
            }
            packet.complete(with: chunk)
        case (0x81, .status(let good, let residue)):
            var csw = le32(USBMassStorage.cswSignature) + le32(tag) + le32(UInt32(residue))
            csw.append(good ? 0 : 1)
            phase = .command
            packet.complete(with: csw)
        default:
            // Out of sequence: a phase error; stall so the host resets recovery (BOT §6.6.1).
            phase = .command
            packet.complete(.stall)
        }
    }

    /// Parses a CBW (BOT §5.1) and starts its command.
    private func command(_ packet: USBPacket) {
        let cbw = packet.data
        guard cbw.count == 31, le32(cbw, 0) == USBMassStorage.cbwSignature else {
            return packet.complete(.stall)
        }
        tag = le32(cbw, 4)
        let expected = Int(le32(cbw, 8))
        let toHost = cbw[12] & 0x80 != 0
        let length = Int(cbw[14] & 0x1f)
        let cdb = Array(cbw[15..<(15 + min(16, max(1, length)))])
        switch disk.start(cdb) {
        case let .dataIn(data, good):
            if expected == 0 {
                phase = .status(good: good, residue: 0)
            } else if toHost {
                phase = .dataIn(data: data.count > expected ? Array(data.prefix(expected)) : data, offset: 0, expected: expected, good: good)
            } else {
                // The host sends data the command does not take: accept and drop it.
                phase = .dataOut(received: [], expected: expected, needed: 0, lba: UInt64.max)
            }
        case let .dataOut(count, lba):
            if expected == 0 || toHost {
                phase = .status(good: false, residue: expected)
            } else {
                phase = .dataOut(received: [], expected: expected, needed: min(count, expected), lba: lba)
            }
        case let .status(good):
            phase = expected > 0 && !toHost
                ? .dataOut(received: [], expected: expected, needed: 0, lba: UInt64.max)
                : (expected > 0 ? .dataIn(data: [], offset: 0, expected: expected, good: good) : .status(good: good, residue: 0))
        }
        packet.complete()
    }
}

@inline(__always) func le32(_ value: UInt32) -> [UInt8] {
    [UInt8(value & 0xff), UInt8((value >> 8) & 0xff), UInt8((value >> 16) & 0xff), UInt8(value >> 24)]
}
@inline(__always) func le32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
}

/// Snapshots: the Bulk-Only transport's phase with its buffered data, the command tag and the
/// disk's sense data.
extension USBMassStorage: USBDeviceSnapshot {
    public func saveDevice(to state: inout DeviceStateWriter) {
        switch phase {
        case .command:
            state.put(UInt64(0))
        case let .dataIn(data, offset, expected, good):
            state.put(UInt64(1)); state.put(data); state.put(offset); state.put(expected); state.put(good)
        case let .dataOut(received, expected, needed, lba):
            state.put(UInt64(2)); state.put(received); state.put(expected); state.put(needed); state.put(lba)
        case let .status(good, residue):
            state.put(UInt64(3)); state.put(good); state.put(residue)
        }
        state.put(tag)
        disk.save(to: &state)
    }

    public func restoreDevice(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let phase: Phase
        switch try state.uint64() {
        case 0: phase = .command
        case 1:
            let data = try state.data()
            phase = .dataIn(data: data, offset: try state.int(in: 0...data.count, "data offset"),
                            expected: try state.int(in: 0...Int(UInt32.max), "expected length"), good: try state.bool())
        case 2:
            phase = .dataOut(received: try state.data(), expected: try state.int(in: 0...Int(UInt32.max), "expected length"),
                             needed: try state.int(in: 0...Int(UInt32.max), "needed length"), lba: try state.uint64())
        case 3: phase = .status(good: try state.bool(), residue: try state.int(in: Int(Int32.min)...Int(UInt32.max), "residue"))
        case let other: throw .mismatch("mass storage phase \(other)")
        }
        let tag = try state.uint32("tag")
        try disk.restore(from: &state)
        self.phase = phase
        self.tag = tag
    }
}
