#if canImport(Glibc)
/// A virtio 9P transport device (virtio 1.2 §5.16 is the console; 9P is device ID 9, specified
/// by QEMU's virtio-9p and Linux's `net/9p/trans_virtio.c`): one request queue whose chains
/// carry a T-message in their readable buffers and room for the R-message in their writable
/// ones, and a mount tag in configuration space (VIRTIO_9P_MOUNT_TAG) for
/// `mount -t 9p -o trans=virtio TAG /mnt`.
public final class Virtio9P: VirtioDeviceModel {
    /// VIRTIO_9P_MOUNT_TAG: the configuration holds tag_len (16 bits) and the tag.
    public static let featureMountTag: UInt64 = 1
    public let tag: String
    public let server: NinePServer
    public var deviceType: UInt16 { 9 }
    /// "Other" class, as QEMU uses for virtio-9p.
    public var classCode: UInt32 { 0x000200 }
    public var deviceFeatures: UInt64 { Virtio9P.featureMountTag }
    public var queueCount: Int { 1 }
    private let configBytes: [UInt8]
    /// Requests refused for their framing (no room for the reply, oversized, truncated).
    public private(set) var malformedRequests = 0

    /// - Parameters:
    ///   - root: the host directory the guest sees; nothing outside it is reachable.
    ///   - tag: the mount tag the guest names in `mount`, 1-31 bytes.
    public init(root: String, tag: String = "share") throws {
        guard !tag.isEmpty, tag.utf8.count <= 31 else { throw NinePError(description: "9p mount tag '\(tag)' must be 1-31 bytes") }
        self.tag = tag
        server = try NinePServer(root: root)
        var bytes = [UInt8(tag.utf8.count & 0xff), UInt8(tag.utf8.count >> 8)]
        bytes += Array(tag.utf8)
        configBytes = bytes
    }

    public func readConfig(offset: Int, size: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<size where offset >= 0 && offset + index < configBytes.count {
            value |= UInt64(configBytes[offset + index]) << UInt64(8 * index)
        }
        return value
    }

    public func writeConfig(offset: Int, size: Int, value: UInt64) {}
    /// A device reset ends the client's session: its fids go with it.
    public func reset() { _ = server.handle(Virtio9P.resetVersion) }

    /// Tversion with NOTAG and the largest msize: what a reset amounts to for the server.
    static let resetVersion: [UInt8] = {
        var w = NineWriter()
        w.u8(100); w.u16(0xffff); w.u32(NinePServer.maximumMessageSize); w.string("9P2000.L")
        return NinePServer.reply(tag: 0xffff, type: 100, body: Array(w.bytes[3...]))
    }()

    public func process(_ chain: DescriptorChain, queue: Int) -> UInt32? {
        let length = chain.readableLength
        let limit = UInt64(NinePServer.maximumMessageSize)
        guard length >= 7, length <= limit, chain.writableLength >= 11 else {
            malformedRequests += 1
            return 0
        }
        var request = [UInt8](repeating: 0, count: Int(length))
        guard case .success = request.withUnsafeMutableBytes({ chain.read(at: 0, into: $0) }) else {
            malformedRequests += 1
            return 0
        }
        // The size field may claim less than the buffers hold (Linux pads); trust it if smaller.
        let declared = Int(UInt32(request[0]) | UInt32(request[1]) << 8 | UInt32(request[2]) << 16 | UInt32(request[3]) << 24)
        if declared >= 7 && declared < request.count { request.removeLast(request.count - declared) }
        var reply = server.handle(request)
        if UInt64(reply.count) > chain.writableLength {
            // No room for the answer: tell the client so instead (Rlerror EMSGSIZE fits in 11 bytes).
            let tag = UInt16(request[5]) | UInt16(request[6]) << 8
            reply = NinePServer.reply(tag: tag, type: 7, body: NineWriter.errno(90))
        }
        guard case .success = reply.withUnsafeBytes({ chain.write(at: 0, from: $0) }) else { return 0 }
        return UInt32(reply.count)
    }
}
#endif
