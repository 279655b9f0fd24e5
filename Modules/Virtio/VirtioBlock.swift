import PCI
import Storage

/// A virtio block device (virtio 1.2 §5.2) on a raw image file: read, write, flush and get-ID
/// requests on one queue.
///
/// A request whose buffers the bus refuses, that reaches past the disk, that is not a whole
/// number of sectors or is larger than `maximumRequestBytes` completes with
/// VIRTIO_BLK_S_IOERR; a chain without room for the status byte makes the device ask for a
/// reset. Writes are on the file before the request completes; FLUSH is fsync.
public final class VirtioBlock: VirtioDeviceModel {
    /// Feature bits (§5.2.3).
    public enum Feature {
        public static let segMax: UInt64 = 1 << 2
        public static let readOnly: UInt64 = 1 << 5
        public static let blockSize: UInt64 = 1 << 6
        public static let flush: UInt64 = 1 << 9
    }

    /// Request types (§5.2.6).
    public enum RequestType {
        public static let read: UInt32 = 0
        public static let write: UInt32 = 1
        public static let flush: UInt32 = 4
        public static let getID: UInt32 = 8
    }

    /// Request status values (§5.2.6).
    public enum Status {
        public static let ok: UInt8 = 0
        public static let ioError: UInt8 = 1
        public static let unsupported: UInt8 = 2
    }

    /// Sectors are 512 bytes whatever blk_size says (§5.2.6).
    public static let sectorSize: UInt64 = 512
    /// Bytes of struct virtio_blk_req before the data: type, reserved, sector.
    static let headerSize = 16
    /// Data segments per request the driver may use (seg_max); the queue holds 256 descriptors,
    /// two of which carry the header and the status.
    public static let segmentLimit: UInt32 = 254
    /// Largest data transfer one request may ask for.
    public static let maximumRequestBytes: UInt64 = 32 << 20
    /// Bytes of the GET_ID answer (VIRTIO_BLK_ID_BYTES).
    static let idBytes = 20

    public let image: DiskImage
    /// The serial number GET_ID returns (at most 20 bytes, zero padded).
    public let serial: String
    public var deviceType: UInt16 { 2 }
    public var classCode: UInt32 { 0x010000 }
    public var queueCount: Int { 1 }
    public var deviceFeatures: UInt64 {
        Feature.segMax | Feature.blockSize | Feature.flush | (image.readOnly ? Feature.readOnly : 0)
    }
    /// Disk size in 512-byte sectors (a partial last sector is not visible).
    public var capacity: UInt64 { image.size / VirtioBlock.sectorSize }
    private let configBytes: [UInt8]

    public init(image: DiskImage, serial: String = "") {
        self.image = image
        self.serial = serial
        // struct virtio_blk_config (§5.2.4): capacity, size_max (not offered), seg_max,
        // geometry (not offered), blk_size.
        var bytes = [UInt8](repeating: 0, count: 0x40)
        func put(_ offset: Int, _ value: UInt64, _ size: Int) {
            for index in 0..<size { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> UInt64(8 * index)) }
        }
        put(0, image.size / VirtioBlock.sectorSize, 8)
        put(12, UInt64(VirtioBlock.segmentLimit), 4)
        put(20, VirtioBlock.sectorSize, 4)
        configBytes = bytes
    }

    public func readConfig(offset: Int, size: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<size where offset + index < configBytes.count {
            value |= UInt64(configBytes[offset + index]) << UInt64(8 * index)
        }
        return value
    }

    /// Every field is read-only without CONFIG_WCE.
    public func writeConfig(offset: Int, size: Int, value: UInt64) {}

    public func reset() {}

    public func process(_ chain: DescriptorChain, queue: Int) -> UInt32? {
        let writable = chain.writableLength
        // The status byte is the last writable byte; without one nothing can be reported.
        guard writable >= 1 else { return nil }
        let statusOffset = writable - 1
        let (status, dataWritten) = serve(chain, dataCapacity: statusOffset)
        var byte = status
        let wrote = withUnsafeBytes(of: &byte) { chain.write(at: statusOffset, from: $0) }
        guard case .success = wrote else { return nil }
        return UInt32(truncatingIfNeeded: dataWritten + 1)
    }

    /// Carries out the request; returns its status and the data bytes written to the guest.
    private func serve(_ chain: DescriptorChain, dataCapacity: UInt64) -> (UInt8, UInt64) {
        var header = (UInt32(0), UInt32(0), UInt64(0))
        guard chain.readableLength >= UInt64(VirtioBlock.headerSize),
              case .success = withUnsafeMutableBytes(of: &header, { chain.read(at: 0, into: $0) }) else {
            return (Status.ioError, 0)
        }
        let type = UInt32(littleEndian: header.0)
        let sector = UInt64(littleEndian: header.2)
        switch type {
        case RequestType.read:
            return read(chain, sector: sector, length: dataCapacity)
        case RequestType.write:
            return (write(chain, sector: sector, length: chain.readableLength - UInt64(VirtioBlock.headerSize)), 0)
        case RequestType.flush:
            return (image.flush() ? Status.ok : Status.ioError, 0)
        case RequestType.getID:
            var id = [UInt8](repeating: 0, count: VirtioBlock.idBytes)
            for (index, byte) in serial.utf8.prefix(VirtioBlock.idBytes).enumerated() { id[index] = byte }
            let count = Int(min(dataCapacity, UInt64(VirtioBlock.idBytes)))
            guard case .success = id.withUnsafeBytes({ chain.write(at: 0, from: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }) else {
                return (Status.ioError, 0)
            }
            return (Status.ok, UInt64(count))
        default:
            return (Status.unsupported, 0)
        }
    }

    /// The byte offset of a transfer of `length` bytes at `sector`, if it is whole sectors,
    /// not oversized and inside the disk.
    private func diskOffset(sector: UInt64, length: UInt64) -> UInt64? {
        guard length % VirtioBlock.sectorSize == 0, length <= VirtioBlock.maximumRequestBytes,
              sector <= capacity, length / VirtioBlock.sectorSize <= capacity - sector else { return nil }
        return sector * VirtioBlock.sectorSize
    }

    private func read(_ chain: DescriptorChain, sector: UInt64, length: UInt64) -> (UInt8, UInt64) {
        guard let offset = diskOffset(sector: sector, length: length) else { return (Status.ioError, 0) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(length), alignment: 16)
        defer { buffer.deallocate() }
        guard image.read(at: offset, into: buffer),
              case .success = chain.write(at: 0, from: UnsafeRawBufferPointer(buffer)) else { return (Status.ioError, 0) }
        return (Status.ok, length)
    }

    private func write(_ chain: DescriptorChain, sector: UInt64, length: UInt64) -> UInt8 {
        if image.readOnly { return Status.ioError }
        guard let offset = diskOffset(sector: sector, length: length) else { return Status.ioError }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(length), alignment: 16)
        defer { buffer.deallocate() }
        guard case .success = chain.read(at: UInt64(VirtioBlock.headerSize), into: buffer),
              image.write(at: offset, from: UnsafeRawBufferPointer(buffer)) else { return Status.ioError }
        return Status.ok
    }
}
