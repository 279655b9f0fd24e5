import Memory
/// The host end of a byte stream (a console's line): bytes from the guest go out through
/// `send`, bytes for the guest come in through `receive`.
public protocol ByteStreamBackend: AnyObject {
    /// Takes bytes the guest wrote.
    func send(_ bytes: UnsafeRawBufferPointer)
    /// Up to `maximum` bytes waiting for the guest (empty when none).
    func receive(maximum: Int) -> [UInt8]
}

/// A virtio console (virtio 1.2 §5.3) with one port and no features: receiveq0 (0) and
/// transmitq0 (1). Linux makes it `/dev/hvc0`. What the guest transmits goes to the backend as
/// each request is served; the backend's bytes go into receive buffers when the driver offers
/// them, checked at every poll.
public final class VirtioConsole: VirtioDeviceModel {
    public static let receiveQueue = 0
    public static let transmitQueue = 1
    /// Most bytes one transmit request hands the backend (the rest of a longer chain is dropped,
    /// so a huge chain costs a bounded amount of work).
    public static let maximumRequestBytes: UInt64 = 64 * 1024
    /// Receive chains filled per poll or notification, at most.
    static let chainsPerDelivery = 256

    public let backend: ByteStreamBackend
    public var deviceType: UInt16 { 3 }
    /// Simple communication controller, as QEMU uses for virtio-serial.
    public var classCode: UInt32 { 0x078000 }
    public var deviceFeatures: UInt64 { 0 }
    public var queueCount: Int { 2 }
    private weak var transport: VirtioQueueAccess?
    /// Bytes taken from the backend that no receive buffer has held yet.
    private var pending: [UInt8] = []

    public init(backend: ByteStreamBackend) {
        self.backend = backend
    }

    public func attach(_ access: VirtioQueueAccess) { transport = access }

    /// struct virtio_console_config (§5.3.4): cols, rows, max_nr_ports, emerg_wr; none of
    /// their features is offered, so they read as zero.
    public func readConfig(offset: Int, size: Int) -> UInt64 { 0 }
    public func writeConfig(offset: Int, size: Int, value: UInt64) {}
    public func reset() { pending.removeAll() }

    public func servesOnNotify(queue: Int) -> Bool { queue != VirtioConsole.receiveQueue }
    public func queueNotified(_ queue: Int) { deliver() }
    public func poll() { deliver() }

    public func process(_ chain: DescriptorChain, queue: Int) -> UInt32? {
        guard queue == VirtioConsole.transmitQueue else { return 0 }
        let count = Int(min(chain.readableLength, VirtioConsole.maximumRequestBytes))
        guard count > 0 else { return 0 }
        var bytes = [UInt8](repeating: 0, count: count)
        guard case .success = bytes.withUnsafeMutableBytes({ chain.read(at: 0, into: $0) }) else { return 0 }
        bytes.withUnsafeBytes { backend.send($0) }
        return 0
    }

    /// Fills offered receive buffers with the backend's bytes (§5.3.6.1).
    private func deliver() {
        guard let transport, transport.isLive else { return }
        if pending.isEmpty { pending = backend.receive(maximum: 4096) }
        var delivered = false
        // At most a queue's worth of chains per call: a zero-length buffer takes no byte, and a
        // ring the device's own writes rewrite could otherwise keep this loop going.
        var chains = 0
        while !pending.isEmpty, chains < VirtioConsole.chainsPerDelivery, let chain = transport.takeChain(queue: VirtioConsole.receiveQueue) {
            chains += 1
            let count = Int(min(UInt64(pending.count), chain.writableLength))
            var written: UInt32 = 0
            if count > 0, case .success = pending.withUnsafeBytes({ chain.write(at: 0, from: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }) {
                written = UInt32(count)
                pending.removeFirst(count)
            }
            transport.complete(queue: VirtioConsole.receiveQueue, head: chain.head, written: written)
            delivered = true
            if pending.isEmpty { pending = backend.receive(maximum: 4096) }
        }
        if delivered { transport.signalUsed(queue: VirtioConsole.receiveQueue) }
    }
}

/// Snapshots (docs/snapshots.md): the input bytes taken from the backend that no receive buffer
/// has held yet.
extension VirtioConsole: VirtioDeviceSnapshot {
    public func saveModel(to state: inout DeviceStateWriter) { state.put(pending) }
    public func restoreModel(from state: inout DeviceStateReader) throws(DeviceStateError) { pending = try state.data() }
}
