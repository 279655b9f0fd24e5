import Memory
import PCI

/// Why a virtqueue cannot be processed. Any of these means the driver broke the ring format;
/// the device then sets DEVICE_NEEDS_RESET (virtio 1.2 §2.1.2) rather than guess.
public enum VirtqueueError: Error, Equatable, CustomStringConvertible {
    /// A ring or descriptor-table access failed on the bus.
    case dma(PCIDMAError)
    /// A descriptor index (head from the available ring, or a `next` field) is ≥ the queue size.
    case descriptorIndex(UInt16, queueSize: UInt16)
    /// A chain is longer than the queue (it must loop, §2.7.5.1).
    case chainLoop(head: UInt16)
    /// VIRTQ_DESC_F_INDIRECT in a descriptor, but the feature was not offered.
    case indirectDescriptor(head: UInt16)
    /// More new entries in the available ring than the queue holds.
    case availableIndex(UInt16, lastSeen: UInt16)

    public var description: String {
        switch self {
        case .dma(let error): return "virtqueue ring access failed: \(error)"
        case let .descriptorIndex(index, size): return "descriptor index \(index) is outside the queue of \(size)"
        case .chainLoop(let head): return "descriptor chain from \(head) loops"
        case .indirectDescriptor(let head): return "descriptor chain from \(head) uses indirect descriptors, which were not offered"
        case let .availableIndex(index, last): return "available index \(index) is more than a queue ahead of \(last)"
        }
    }
}

/// One guest buffer of a descriptor chain.
public struct VirtqueueSegment: Equatable, Sendable {
    public let address: UInt64
    public let length: UInt32
    /// Device-writable (VIRTQ_DESC_F_WRITE); otherwise device-readable.
    public let writable: Bool
}

/// A descriptor chain taken from the available ring: its head (to return in the used ring)
/// and its buffers. The device-readable buffers form one byte stream and the device-writable
/// ones another, whatever the split into descriptors (virtio 1.2 §2.6.4 "Message Framing").
public struct DescriptorChain {
    public let head: UInt16
    public let segments: [VirtqueueSegment]
    unowned let bus: PCIBusInterface

    public var readableLength: UInt64 { segments.filter { !$0.writable }.reduce(0) { $0 + UInt64($1.length) } }
    public var writableLength: UInt64 { segments.filter(\.writable).reduce(0) { $0 + UInt64($1.length) } }

    /// Reads `buffer.count` bytes of the readable stream starting at `offset`.
    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Result<Void, PCIDMAError> {
        transfer(writable: false, offset: offset, count: buffer.count) { address, done, count in
            bus.dmaRead(address, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + count)]))
        }
    }

    /// Writes `bytes` into the writable stream starting at `offset`.
    public func write(at offset: UInt64, from bytes: UnsafeRawBufferPointer) -> Result<Void, PCIDMAError> {
        transfer(writable: true, offset: offset, count: bytes.count) { address, done, count in
            bus.dmaWrite(address, from: UnsafeRawBufferPointer(rebasing: bytes[done..<(done + count)]))
        }
    }

    private func transfer(writable: Bool, offset: UInt64, count: Int,
                          _ move: (UInt64, Int, Int) -> Result<Void, PCIDMAError>) -> Result<Void, PCIDMAError> {
        var skip = offset
        var done = 0
        for segment in segments where segment.writable == writable && done < count {
            let length = UInt64(segment.length)
            if skip >= length { skip -= length; continue }
            let piece = Int(min(length - skip, UInt64(count - done)))
            if case .failure(let error) = move(segment.address &+ skip, done, piece) { return .failure(error) }
            done += piece
            skip = 0
        }
        guard done == count else { return .failure(.masterAbort(address: 0, length: count - done)) }
        return .success(())
    }
}

/// A split virtqueue (virtio 1.2 §2.7): descriptor table, available (driver) ring and used
/// (device) ring in guest memory, reached by bus-master DMA. Every address comes from the guest,
/// so address arithmetic wraps (`&+`) and the bus refuses what does not land in RAM.
public final class SplitVirtqueue {
    /// Descriptor flags (§2.7.5).
    enum DescriptorFlag {
        static let next: UInt16 = 1
        static let write: UInt16 = 2
        static let indirect: UInt16 = 4
    }
    /// VIRTQ_AVAIL_F_NO_INTERRUPT (§2.7.7).
    static let noInterrupt: UInt16 = 1

    /// Largest size the device offers (queue_size reads this after reset).
    public let maximumSize: UInt16
    public var size: UInt16
    public var enabled = false
    public var msixVector: UInt16 = VirtioPCI.noVector
    public var descriptorTable: UInt64 = 0
    public var driverRing: UInt64 = 0
    public var deviceRing: UInt64 = 0
    /// Next available-ring entry to take, and next used-ring entry to fill.
    private(set) var lastAvailable: UInt16 = 0
    private(set) var usedIndex: UInt16 = 0

    public init(maximumSize: UInt16) {
        self.maximumSize = maximumSize
        size = maximumSize
    }

    public func reset() {
        size = maximumSize
        enabled = false
        msixVector = VirtioPCI.noVector
        descriptorTable = 0
        driverRing = 0
        deviceRing = 0
        lastAvailable = 0
        usedIndex = 0
    }

    private func load16(_ bus: PCIBusInterface, _ address: UInt64) -> Result<UInt16, VirtqueueError> {
        var value: UInt16 = 0
        let result = withUnsafeMutableBytes(of: &value) { bus.dmaRead(address, into: $0) }
        if case .failure(let error) = result { return .failure(.dma(error)) }
        return .success(UInt16(littleEndian: value))
    }

    /// The next chain the driver made available, or nil when the ring is empty.
    public func next(_ bus: PCIBusInterface) -> Result<DescriptorChain?, VirtqueueError> {
        let availableIndex: UInt16
        switch load16(bus, driverRing &+ 2) {
        case .success(let index): availableIndex = index
        case .failure(let error): return .failure(error)
        }
        if availableIndex == lastAvailable { return .success(nil) }
        if availableIndex &- lastAvailable > size { return .failure(.availableIndex(availableIndex, lastSeen: lastAvailable)) }
        let head: UInt16
        switch load16(bus, driverRing &+ 4 &+ 2 * UInt64(lastAvailable % size)) {
        case .success(let value): head = value
        case .failure(let error): return .failure(error)
        }
        lastAvailable &+= 1
        var segments: [VirtqueueSegment] = []
        var index = head
        while true {
            guard index < size else { return .failure(.descriptorIndex(index, queueSize: size)) }
            guard segments.count < Int(size) else { return .failure(.chainLoop(head: head)) }
            var raw = (UInt64(0), UInt64(0))
            let read = withUnsafeMutableBytes(of: &raw) { bus.dmaRead(descriptorTable &+ 16 * UInt64(index), into: $0) }
            if case .failure(let error) = read { return .failure(.dma(error)) }
            let address = UInt64(littleEndian: raw.0)
            let length = UInt32(truncatingIfNeeded: UInt64(littleEndian: raw.1))
            let flags = UInt16(truncatingIfNeeded: UInt64(littleEndian: raw.1) >> 32)
            let next = UInt16(truncatingIfNeeded: UInt64(littleEndian: raw.1) >> 48)
            if flags & DescriptorFlag.indirect != 0 { return .failure(.indirectDescriptor(head: head)) }
            segments.append(VirtqueueSegment(address: address, length: length, writable: flags & DescriptorFlag.write != 0))
            guard flags & DescriptorFlag.next != 0 else { break }
            index = next
        }
        return .success(DescriptorChain(head: head, segments: segments, bus: bus))
    }

    /// Returns a chain to the driver with `written` bytes written into its buffers (§2.7.8).
    public func complete(_ bus: PCIBusInterface, head: UInt16, written: UInt32) -> Result<Void, VirtqueueError> {
        var element = (UInt32(head).littleEndian, written.littleEndian)
        let slot = deviceRing &+ 4 &+ 8 * UInt64(usedIndex % size)
        let result = withUnsafeBytes(of: &element) { bus.dmaWrite(slot, from: $0) }
        if case .failure(let error) = result { return .failure(.dma(error)) }
        usedIndex &+= 1
        var index = usedIndex.littleEndian
        // The index is written after the element, so the driver never sees a stale entry.
        let indexWrite = withUnsafeBytes(of: &index) { bus.dmaWrite(deviceRing &+ 2, from: $0) }
        if case .failure(let error) = indexWrite { return .failure(.dma(error)) }
        return .success(())
    }

    /// Whether the driver asked not to be interrupted (VIRTQ_AVAIL_F_NO_INTERRUPT).
    public func interruptSuppressed(_ bus: PCIBusInterface) -> Bool {
        if case .success(let flags) = load16(bus, driverRing) { return flags & SplitVirtqueue.noInterrupt != 0 }
        return false
    }
}

/// Snapshots (docs/snapshots.md): the queue's registers and the device's positions in its rings
/// (the rings themselves are guest RAM, saved with it).
extension SplitVirtqueue {
    func save(to state: inout DeviceStateWriter) {
        state.put(size)
        state.put(enabled)
        state.put(msixVector)
        state.put(descriptorTable)
        state.put(driverRing)
        state.put(deviceRing)
        state.put(lastAvailable)
        state.put(usedIndex)
    }

    func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let size = try state.uint16("queue size")
        guard size <= maximumSize else { throw .mismatch("queue size \(size) above the maximum \(maximumSize)") }
        let enabled = try state.bool()
        let vector = try state.uint16("queue MSI-X vector")
        let rings = (try state.uint64(), try state.uint64(), try state.uint64())
        let positions = (try state.uint16("last available"), try state.uint16("used index"))
        self.size = size
        self.enabled = enabled
        msixVector = vector
        (descriptorTable, driverRing, deviceRing) = rings
        (lastAvailable, usedIndex) = positions
    }
}
