/// Where a virtio-net device's frames go and come from: user-mode networking (libslirp), a
/// test's fake, a TAP device. Frames are whole Ethernet frames without a virtio header.
public protocol NetworkBackend: AnyObject {
    /// Set by the device: where the backend delivers frames for the guest.
    var receiver: NetworkFrameReceiver? { get set }
    /// Takes one frame the guest sent.
    func send(_ frame: UnsafeRawBufferPointer)
    /// Runs the backend's host side (sockets, timers); may deliver frames to `receiver`.
    func poll()
}

/// Takes frames a backend has for the guest.
public protocol NetworkFrameReceiver: AnyObject {
    func receive(_ frame: UnsafeRawBufferPointer)
}

/// A virtio network device (virtio 1.2 §5.1) with one receive and one transmit queue, a MAC
/// address and link status, no offloads and no control queue. Transmitted frames go to the
/// backend as they are notified; frames from the backend wait in a bounded queue until the
/// driver offers a receive buffer, and are dropped (as a full NIC drops) past it.
public final class VirtioNet: VirtioDeviceModel, NetworkFrameReceiver {
    /// Feature bits (§5.1.3).
    public enum Feature {
        public static let mac: UInt64 = 1 << 5
        public static let status: UInt64 = 1 << 16
    }
    /// Queue indices (§5.1.2).
    public static let receiveQueue = 0
    public static let transmitQueue = 1
    /// struct virtio_net_hdr with num_buffers: always 12 bytes under VERSION_1 (§5.1.6).
    public static let headerSize = 12
    /// Largest frame either way: a 1500-byte MTU Ethernet frame with a VLAN tag, rounded up.
    /// Longer transmit chains are dropped; the device offers no TSO/GSO.
    public static let maximumFrame = 1536 + 64
    /// Frames waiting for receive buffers before newer ones are dropped.
    public static let receiveBacklog = 256

    public let mac: [UInt8]
    public let backend: NetworkBackend
    public var deviceType: UInt16 { 1 }
    /// Ethernet controller class, as QEMU uses.
    public var classCode: UInt32 { 0x020000 }
    public var deviceFeatures: UInt64 { Feature.mac | Feature.status }
    public var queueCount: Int { 2 }
    private weak var transport: VirtioQueueAccess?
    private var backlog: [[UInt8]] = []
    /// Frames dropped because the backlog was full or a buffer too small; frames dropped on
    /// transmit because they were malformed.
    public private(set) var droppedReceive = 0
    public private(set) var droppedTransmit = 0

    /// - Parameter mac: six bytes; QEMU's default 52:54:00:12:34:56 if nil.
    public init(backend: NetworkBackend, mac: [UInt8]? = nil) {
        self.backend = backend
        self.mac = mac ?? [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
        precondition(self.mac.count == 6, "a MAC address has six bytes")
        backend.receiver = self
    }

    public func attach(_ access: VirtioQueueAccess) { transport = access }

    /// struct virtio_net_config (§5.1.4): mac[6], status (VIRTIO_NET_S_LINK_UP).
    public func readConfig(offset: Int, size: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<size {
            let at = offset + index
            let byte: UInt8 = at < 6 ? mac[at] : at == 6 ? 1 : 0
            value |= UInt64(byte) << UInt64(8 * index)
        }
        return value
    }

    public func writeConfig(offset: Int, size: Int, value: UInt64) {}

    public func reset() { backlog.removeAll() }

    public func servesOnNotify(queue: Int) -> Bool { queue != VirtioNet.receiveQueue }

    public func queueNotified(_ queue: Int) { deliverBacklog() }

    public func poll() {
        backend.poll()
        deliverBacklog()
    }

    /// A transmit request: the header, then the frame, in the readable stream (§5.1.6.2).
    public func process(_ chain: DescriptorChain, queue: Int) -> UInt32? {
        guard queue == VirtioNet.transmitQueue else { return 0 }
        let total = chain.readableLength
        guard total > UInt64(VirtioNet.headerSize), total - UInt64(VirtioNet.headerSize) <= UInt64(VirtioNet.maximumFrame) else {
            droppedTransmit += 1
            return 0
        }
        let length = Int(total) - VirtioNet.headerSize
        let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 8)
        defer { frame.deallocate() }
        guard case .success = chain.read(at: UInt64(VirtioNet.headerSize), into: frame) else {
            droppedTransmit += 1
            return 0
        }
        backend.send(UnsafeRawBufferPointer(frame))
        return 0
    }

    /// A frame from the backend: queued, then put in receive buffers as the driver offers them.
    public func receive(_ frame: UnsafeRawBufferPointer) {
        guard frame.count <= VirtioNet.maximumFrame, backlog.count < VirtioNet.receiveBacklog,
              transport?.isLive == true else {
            droppedReceive += 1
            return
        }
        backlog.append([UInt8](frame))
        deliverBacklog()
    }

    /// Moves waiting frames into receive buffers (§5.1.6.3): a zero header with num_buffers 1,
    /// then the frame; a buffer too small for its frame takes nothing and the frame is dropped.
    private func deliverBacklog() {
        guard let transport, !backlog.isEmpty else { return }
        var delivered = false
        var taken = 0
        while taken < backlog.count, let chain = transport.takeChain(queue: VirtioNet.receiveQueue) {
            let frame = backlog[taken]
            taken += 1
            var header = [UInt8](repeating: 0, count: VirtioNet.headerSize)
            header[10] = 1
            let needed = UInt64(VirtioNet.headerSize + frame.count)
            var written: UInt32 = 0
            if chain.writableLength >= needed {
                let ok = header.withUnsafeBytes { chain.write(at: 0, from: $0) }
                let body = frame.withUnsafeBytes { chain.write(at: UInt64(VirtioNet.headerSize), from: $0) }
                if case .success = ok, case .success = body { written = UInt32(needed) } else { droppedReceive += 1 }
            } else {
                droppedReceive += 1
            }
            transport.complete(queue: VirtioNet.receiveQueue, head: chain.head, written: written)
            delivered = true
        }
        backlog.removeFirst(taken)
        if delivered { transport.signalUsed(queue: VirtioNet.receiveQueue) }
    }
}
