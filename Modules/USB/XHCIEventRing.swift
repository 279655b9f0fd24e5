import Memory
import PCI

/// The producer side of an event ring (xHCI 1.2 §4.9.4): segments listed in the Event Ring
/// Segment Table, an enqueue pointer and the producer cycle state. Software consumes and moves
/// the dequeue pointer (ERDP) forward.
///
/// When one free TRB is left the controller writes an Event Ring Full Error there (§4.9.4) and
/// drops further events until software frees space; a real xHC would stall instead, but its
/// events would be stale by then anyway (QEMU drops them too).
public struct XHCIEventRing: Sendable, Equatable {
    public struct Segment: Sendable, Equatable {
        public var base: UInt64
        /// TRBs in the segment (16...4096, §6.5).
        public var size: Int
    }

    public private(set) var segments: [Segment] = []
    private var segment = 0
    private var index = 0
    public private(set) var cycle = true
    /// Where software has consumed up to (ERDP without its flag bits).
    public var dequeue: UInt64 = 0
    /// An Event Ring Full Error was written; events are dropped until the dequeue moves.
    public private(set) var isFull = false

    public init() {}

    /// Whether the ring has segments (software wrote ERSTBA with a non-empty table).
    public var isConfigured: Bool { !segments.isEmpty }

    /// Where the next event goes.
    public var enqueue: UInt64 {
        guard isConfigured else { return 0 }
        return segments[segment].base &+ UInt64(index * XHCITRB.size)
    }

    /// Reads the segment table (`count` entries at `base`, §6.5) and starts at its first TRB with
    /// cycle 1 (§4.9.4).
    public mutating func configure(_ bus: PCIBusInterface, tableBase: UInt64, count: Int) -> Result<Void, XHCIRingError> {
        var table: [Segment] = []
        for entry in 0..<count {
            switch bus.dmaRead(tableBase &+ UInt64(16 * entry), count: 16) {
            case .failure(let error): return .failure(.dma(error))
            case .success(let bytes):
                let base = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
                let size = Int(bytes[8]) | Int(bytes[9]) << 8
                guard size >= 16, size <= 4096 else { return .failure(.malformed(address: tableBase &+ UInt64(16 * entry))) }
                table.append(Segment(base: base & ~0x3f, size: size))
            }
        }
        segments = table
        segment = 0
        index = 0
        cycle = true
        isFull = false
        dequeue = segments.first?.base ?? 0
        return .success(())
    }

    /// Forgets the segments (ERSTSZ 0 or a controller reset).
    public mutating func clear() {
        segments = []
        segment = 0
        index = 0
        cycle = true
        isFull = false
        dequeue = 0
    }

    /// The position after the enqueue pointer.
    private func following() -> (segment: Int, index: Int, wraps: Bool) {
        if index + 1 < segments[segment].size { return (segment, index + 1, false) }
        let nextSegment = segment + 1 < segments.count ? segment + 1 : 0
        return (nextSegment, 0, nextSegment == 0)
    }

    private func address(_ position: (segment: Int, index: Int, wraps: Bool)) -> UInt64 {
        segments[position.segment].base &+ UInt64(position.index * XHCITRB.size)
    }

    /// Whether there are events software has not consumed.
    public var hasUnconsumedEvents: Bool { isConfigured && (enqueue != dequeue || isFull) }

    /// Software moved ERDP; space is free again if it moved at all.
    public mutating func setDequeue(_ pointer: UInt64) {
        if pointer != dequeue { isFull = false }
        dequeue = pointer
    }

    /// What happened to an event.
    public enum Outcome: Equatable, Sendable {
        case written
        /// The ring became full: an Event Ring Full Error took the last slot, this event is lost.
        case ringFull
        /// Dropped: the ring is full or has no segments.
        case dropped
    }

    /// Writes `event` with the producer cycle bit and advances (§4.9.4).
    public mutating func enqueue(_ event: XHCITRB, _ bus: PCIBusInterface) -> Result<Outcome, XHCIRingError> {
        guard isConfigured, !isFull else { return .success(.dropped) }
        let next = following()
        var outcome = Outcome.written
        var trb = event
        if address(next) == dequeue {
            trb = XHCIEvent.hostController(code: .eventRingFull)
            outcome = .ringFull
            isFull = true
        }
        trb.control = (trb.control & ~1) | (cycle ? 1 : 0)
        if case .failure(let error) = bus.dmaWrite(enqueue, bytes: trb.bytes) { return .failure(.dma(error)) }
        segment = next.segment
        index = next.index
        if next.wraps { cycle.toggle() }
        return .success(outcome)
    }
}

/// Snapshots: the segment table as read at configuration, the enqueue position and cycle, the
/// dequeue pointer and the full flag (the TRBs themselves are guest RAM).
extension XHCIEventRing {
    func save(to state: inout DeviceStateWriter) {
        state.put(UInt64(segments.count))
        for entry in segments { state.put(entry.base); state.put(entry.size) }
        state.put(segment)
        state.put(index)
        state.put(cycle)
        state.put(dequeue)
        state.put(isFull)
    }

    mutating func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let count = try state.int(in: 0...4096, "event ring segments")
        var table: [Segment] = []
        for _ in 0..<count { table.append(Segment(base: try state.uint64(), size: try state.int(in: 16...4096, "segment size"))) }
        let segment = try state.int(in: 0...max(0, count - 1), "event ring segment")
        let index = try state.int(in: 0...(table.isEmpty ? 0 : table[segment].size - 1), "event ring index")
        let flags = (try state.bool(), try state.uint64(), try state.bool())
        segments = table
        self.segment = segment
        self.index = index
        (cycle, dequeue, isFull) = flags
    }
}
