import Memory
import Storage

/// SCSI sense keys and additional sense codes used here (SPC-4 §4.5.6, Annex D).
public struct SCSISense: Sendable, Equatable {
    public var key: UInt8
    public var asc: UInt8
    public var ascq: UInt8 = 0

    public static let none = SCSISense(key: 0, asc: 0)
    public static let invalidOpcode = SCSISense(key: 0x05, asc: 0x20)
    public static let lbaOutOfRange = SCSISense(key: 0x05, asc: 0x21)
    public static let invalidField = SCSISense(key: 0x05, asc: 0x24)
    public static let writeProtected = SCSISense(key: 0x07, asc: 0x27)
    public static let readError = SCSISense(key: 0x03, asc: 0x11)
    public static let writeError = SCSISense(key: 0x03, asc: 0x0c)
}

/// SCSI operation codes (SBC-3, SPC-4).
public enum SCSIOpcode {
    public static let testUnitReady: UInt8 = 0x00
    public static let requestSense: UInt8 = 0x03
    public static let read6: UInt8 = 0x08
    public static let write6: UInt8 = 0x0a
    public static let inquiry: UInt8 = 0x12
    public static let modeSense6: UInt8 = 0x1a
    public static let startStopUnit: UInt8 = 0x1b
    public static let preventAllowMediumRemoval: UInt8 = 0x1e
    public static let readCapacity10: UInt8 = 0x25
    public static let read10: UInt8 = 0x28
    public static let write10: UInt8 = 0x2a
    public static let verify10: UInt8 = 0x2f
    public static let synchronizeCache10: UInt8 = 0x35
    public static let modeSense10: UInt8 = 0x5a
    public static let read16: UInt8 = 0x88
    public static let write16: UInt8 = 0x8a
    public static let synchronizeCache16: UInt8 = 0x91
    /// SERVICE ACTION IN(16); service action 0x10 is READ CAPACITY(16).
    public static let serviceActionIn16: UInt8 = 0x9e
    public static let reportLUNs: UInt8 = 0xa0
}

/// A direct-access block device (SBC-3) with 512-byte blocks over a raw image: the commands
/// Linux's sd driver and usb-storage send. Writes go to the file before the command reports
/// GOOD; SYNCHRONIZE CACHE fsyncs it.
public final class SCSIDisk {
    public static let blockSize = 512
    public let image: DiskImage
    public let vendor: String
    public let product: String
    public let serial: String
    /// Sense data of the last failed command, returned (and cleared) by REQUEST SENSE.
    public private(set) var sense = SCSISense.none

    public init(image: DiskImage, vendor: String = "Backplne", product: String = "USB Disk", serial: String = "BP0001") {
        self.image = image
        self.vendor = vendor
        self.product = product
        self.serial = serial
    }

    public var blockCount: UInt64 { image.size / UInt64(SCSIDisk.blockSize) }

    /// What a command needs from the transport.
    public enum Plan {
        /// Done, with data for the host (possibly empty) and GOOD or CHECK CONDITION.
        case dataIn([UInt8], good: Bool)
        /// Needs `count` bytes from the host, then `finishWrite`.
        case dataOut(count: Int, lba: UInt64)
        /// Done without data.
        case status(good: Bool)
    }

    /// Starts command `cdb`.
    public func start(_ cdb: [UInt8]) -> Plan {
        guard let opcode = cdb.first else { return fail(.invalidOpcode) }
        switch opcode {
        case SCSIOpcode.testUnitReady, SCSIOpcode.startStopUnit, SCSIOpcode.preventAllowMediumRemoval, SCSIOpcode.verify10:
            return succeed()
        case SCSIOpcode.requestSense:
            // Fixed format sense data (SPC-4 §4.5.3).
            var data = [UInt8](repeating: 0, count: 18)
            data[0] = 0x70
            data[2] = sense.key
            data[7] = 10
            data[12] = sense.asc
            data[13] = sense.ascq
            sense = .none
            return .dataIn(truncate(data, allocation: cdb.count > 4 ? Int(cdb[4]) : 18), good: true)
        case SCSIOpcode.inquiry:
            return inquiry(cdb)
        case SCSIOpcode.readCapacity10:
            let last = blockCount == 0 ? 0 : blockCount - 1
            return succeedIn(be32(UInt32(min(last, 0xffff_ffff))) + be32(UInt32(SCSIDisk.blockSize)))
        case SCSIOpcode.serviceActionIn16 where cdb.count >= 14 && cdb[1] & 0x1f == 0x10:
            var data = be64(blockCount == 0 ? 0 : blockCount - 1) + be32(UInt32(SCSIDisk.blockSize))
            data += [UInt8](repeating: 0, count: 20)
            return .dataIn(truncate(data, allocation: Int(be32(cdb, 10))), good: succeedSense())
        case SCSIOpcode.modeSense6, SCSIOpcode.modeSense10:
            return modeSense(cdb)
        case SCSIOpcode.synchronizeCache10, SCSIOpcode.synchronizeCache16:
            return image.flush() ? succeed() : fail(.writeError)
        case SCSIOpcode.reportLUNs:
            // One LUN, number 0 (SPC-4 §6.27).
            let data = be32(8) + [UInt8](repeating: 0, count: 4) + [UInt8](repeating: 0, count: 8)
            return .dataIn(truncate(data, allocation: cdb.count >= 10 ? Int(be32(cdb, 6)) : 16), good: succeedSense())
        case SCSIOpcode.read6, SCSIOpcode.read10, SCSIOpcode.read16:
            guard let (lba, count) = range(cdb) else { return fail(.invalidField) }
            return read(lba: lba, count: count)
        case SCSIOpcode.write6, SCSIOpcode.write10, SCSIOpcode.write16:
            guard let (lba, count) = range(cdb) else { return fail(.invalidField) }
            guard lba + UInt64(count) <= blockCount else { return failWrite(.lbaOutOfRange, count) }
            guard !image.readOnly else { return failWrite(.writeProtected, count) }
            return .dataOut(count: count * SCSIDisk.blockSize, lba: lba)
        default:
            return fail(.invalidOpcode)
        }
    }

    /// A write whose data must still be taken (and dropped) before CHECK CONDITION.
    private func failWrite(_ sense: SCSISense, _ blocks: Int) -> Plan {
        self.sense = sense
        return .dataOut(count: blocks * SCSIDisk.blockSize, lba: UInt64.max)
    }

    /// Finishes a write planned with `.dataOut`: the bytes reach the file before GOOD.
    public func finishWrite(lba: UInt64, data: [UInt8]) -> Bool {
        guard lba != UInt64.max else { return false }
        let ok = data.withUnsafeBytes { image.write(at: lba * UInt64(SCSIDisk.blockSize), from: $0) }
        if !ok { sense = .writeError }
        return ok
    }

    /// LBA and block count of READ/WRITE (6), (10) and (16) (SBC-3 §5.15-§5.34).
    private func range(_ cdb: [UInt8]) -> (UInt64, Int)? {
        switch cdb[0] {
        case SCSIOpcode.read6, SCSIOpcode.write6:
            guard cdb.count >= 6 else { return nil }
            let lba = UInt64(cdb[1] & 0x1f) << 16 | UInt64(cdb[2]) << 8 | UInt64(cdb[3])
            // A transfer length of 0 means 256 blocks in the 6-byte commands.
            return (lba, cdb[4] == 0 ? 256 : Int(cdb[4]))
        case SCSIOpcode.read10, SCSIOpcode.write10:
            guard cdb.count >= 10 else { return nil }
            return (UInt64(be32(cdb, 2)), Int(cdb[7]) << 8 | Int(cdb[8]))
        default:
            guard cdb.count >= 16 else { return nil }
            return (UInt64(be32(cdb, 2)) << 32 | UInt64(be32(cdb, 6)), Int(be32(cdb, 10)))
        }
    }

    private func read(lba: UInt64, count: Int) -> Plan {
        guard lba + UInt64(count) <= blockCount else { return fail(.lbaOutOfRange) }
        var ok = false
        // Uninitialised capacity: pread fills every byte or the command fails.
        let data = [UInt8](unsafeUninitializedCapacity: count * SCSIDisk.blockSize) { buffer, initialized in
            ok = image.read(at: lba * UInt64(SCSIDisk.blockSize), into: UnsafeMutableRawBufferPointer(buffer))
            initialized = buffer.count
        }
        guard ok else { return fail(.readError) }
        return succeedIn(data)
    }

    private func inquiry(_ cdb: [UInt8]) -> Plan {
        guard cdb.count >= 5 else { return fail(.invalidField) }
        let allocation = Int(cdb[3]) << 8 | Int(cdb[4])
        if cdb[1] & 1 != 0 {
            // Vital product data: supported pages and the unit serial number (SPC-4 §7.8).
            switch cdb[2] {
            case 0x00: return .dataIn(truncate([0, 0, 0, 2, 0x00, 0x80], allocation: allocation), good: succeedSense())
            case 0x80:
                let text = Array(serial.utf8)
                return .dataIn(truncate([0, 0x80, 0, UInt8(text.count)] + text, allocation: allocation), good: succeedSense())
            default: return fail(.invalidField)
            }
        }
        guard cdb[2] == 0 else { return fail(.invalidField) }
        // Standard data (SPC-4 §6.4.2): direct access, not removable, SPC-3, response format 2.
        var data: [UInt8] = [0x00, 0x00, 0x05, 0x02, 31, 0, 0, 0]
        data += padded(vendor, 8) + padded(product, 16) + padded("1.0", 4)
        return .dataIn(truncate(data, allocation: allocation), good: succeedSense())
    }

    /// MODE SENSE(6)/(10) (SPC-4 §6.11-§6.12): the Caching page (WCE set, so Linux sends
    /// SYNCHRONIZE CACHE on flushes) and WP when the image is read-only.
    private func modeSense(_ cdb: [UInt8]) -> Plan {
        let six = cdb[0] == SCSIOpcode.modeSense6
        guard cdb.count >= (six ? 6 : 10) else { return fail(.invalidField) }
        let page = cdb[2] & 0x3f
        var pages: [UInt8] = []
        if page == 0x08 || page == 0x3f {
            pages += [0x08, 0x12, 0x04] + [UInt8](repeating: 0, count: 17)
        } else if page != 0x00 {
            return fail(.invalidField)
        }
        let deviceSpecific: UInt8 = image.readOnly ? 0x80 : 0
        let data: [UInt8]
        let allocation: Int
        if six {
            data = [UInt8(3 + pages.count), 0, deviceSpecific, 0] + pages
            allocation = Int(cdb[4])
        } else {
            data = be16(UInt16(6 + pages.count)) + [0, deviceSpecific, 0, 0, 0, 0] + pages
            allocation = Int(cdb[7]) << 8 | Int(cdb[8])
        }
        return .dataIn(truncate(data, allocation: allocation), good: succeedSense())
    }

    private func succeed() -> Plan {
        sense = .none
        return .status(good: true)
    }

    private func succeedSense() -> Bool {
        sense = .none
        return true
    }

    private func succeedIn(_ data: [UInt8]) -> Plan {
        sense = .none
        return .dataIn(data, good: true)
    }

    private func fail(_ sense: SCSISense) -> Plan {
        self.sense = sense
        return .dataIn([], good: false)
    }

    private func truncate(_ data: [UInt8], allocation: Int) -> [UInt8] {
        data.count > allocation ? Array(data.prefix(allocation)) : data
    }

    private func padded(_ text: String, _ width: Int) -> [UInt8] {
        let bytes = Array(text.utf8.prefix(width))
        return bytes + [UInt8](repeating: 0x20, count: width - bytes.count)
    }
}

@inline(__always) func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }
@inline(__always) func be32(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
}
@inline(__always) func be64(_ value: UInt64) -> [UInt8] { be32(UInt32(value >> 32)) + be32(UInt32(value & 0xffff_ffff)) }
@inline(__always) func be32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
}

/// Snapshots: the sense data the next REQUEST SENSE reports (the image is the host's).
extension SCSIDisk {
    func save(to state: inout DeviceStateWriter) {
        state.put(sense.key)
        state.put(sense.asc)
        state.put(sense.ascq)
    }

    func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        sense = SCSISense(key: try state.uint8("sense key"), asc: try state.uint8("ASC"), ascq: try state.uint8("ASCQ"))
    }
}
