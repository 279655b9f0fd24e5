import Memory
import PCI

/// One interrupter (xHCI 1.2 §4.17, §5.5.2): its event ring and the registers that decide when
/// it interrupts. IMAN.IP is set when an event is posted while the Event Handler Busy flag is
/// clear; ERDP writes with EHB set (software finished a batch) allow the next interrupt.
///
/// Moderation (IMOD) is accepted but not timed: the emulated controller interrupts at once,
/// and EHB already keeps it from interrupting again before software has caught up (§4.17.2).
public final class XHCIInterrupter {
    public let index: Int
    public private(set) var ring = XHCIEventRing()
    /// IMAN bit 1: interrupt enable.
    public private(set) var enabled = false
    /// IMAN bit 0: interrupt pending.
    public private(set) var pending = false
    /// IMOD: interval (15:0) and counter (31:16), kept for read-back.
    public private(set) var moderation: UInt32 = 4000
    public private(set) var tableSize: UInt32 = 0
    public private(set) var tableBase: UInt64 = 0
    /// ERDP bit 3.
    public private(set) var eventHandlerBusy = false
    /// ERDP bits 2:0 (Dequeue ERST Segment Index), kept for read-back.
    private var segmentIndex: UInt64 = 0

    public init(index: Int) { self.index = index }

    public func reset() {
        ring.clear()
        enabled = false
        pending = false
        moderation = 4000
        tableSize = 0
        tableBase = 0
        eventHandlerBusy = false
        segmentIndex = 0
    }

    // MARK: Registers

    public var management: UInt32 { (pending ? 1 : 0) | (enabled ? 2 : 0) }

    public var dequeuePointer: UInt64 { ring.dequeue | (eventHandlerBusy ? 8 : 0) | segmentIndex }

    /// IMAN write: IP is write-1-to-clear, IE read/write.
    public func writeManagement(_ value: UInt32) {
        if value & 1 != 0 { pending = false }
        enabled = value & 2 != 0
    }

    public func writeModeration(_ value: UInt32) { moderation = value }

    /// ERST Max as HCSPARAMS2 advertises it (2^4 entries).
    public static let segmentTableMaximum = 16

    /// ERSTSZ write; 0 disables the event ring (§5.5.2.3.1).
    public func writeTableSize(_ value: UInt32) {
        tableSize = value & 0xffff
        if tableSize == 0 { ring.clear() }
    }

    /// ERSTBA low dword: latched until the high dword arrives.
    public func latchTableBaseLow(_ value: UInt32) -> UInt64 {
        tableBase = (tableBase & ~0xffff_ffff) | UInt64(value & ~0x3f)
        return tableBase
    }

    /// ERSTBA write: the controller reads the segment table now (§4.9.4: writing ERSTBA starts
    /// the event ring).
    public func writeTableBase(_ value: UInt64, _ bus: PCIBusInterface) -> Result<Void, XHCIRingError> {
        tableBase = value & ~0x3f
        guard tableSize > 0 else { return .success(()) }
        // ERSTSZ must not exceed ERST Max (HCSPARAMS2 bits 7:4 = 4: 16 entries, §5.3.4); a larger
        // value is read as ERST Max, so one ERSTBA write reads at most 16 guest entries.
        return ring.configure(bus, tableBase: tableBase, count: min(Int(tableSize), XHCIInterrupter.segmentTableMaximum))
    }

    /// ERDP write: the new dequeue pointer; writing 1 to EHB clears it. Returns whether
    /// software should be interrupted again (events are still waiting).
    public func writeDequeuePointer(_ value: UInt64) -> Bool {
        segmentIndex = value & 7
        ring.setDequeue(value & ~0xf)
        if value & 8 != 0 { eventHandlerBusy = false }
        return !eventHandlerBusy && ring.hasUnconsumedEvents
    }

    /// Writes an event on this interrupter's ring; `signal`/`raise` decide about the interrupt.
    public func post(_ event: XHCITRB, _ bus: PCIBusInterface) -> Result<XHCIEventRing.Outcome, XHCIRingError> {
        ring.enqueue(event, bus)
    }

    /// Marks an interrupt as raised: IP and EHB set (§4.17.2). Returns false when EHB was
    /// already set (software is still handling the previous batch).
    public func raise() -> Bool {
        guard !eventHandlerBusy, ring.hasUnconsumedEvents else { return false }
        eventHandlerBusy = true
        pending = true
        return true
    }

    /// MSI/MSI-X messages clear IP once sent (§5.5.2.1).
    public func messageSent() { pending = false }
}

/// Snapshots: IMAN, IMOD, ERSTSZ, ERSTBA, ERDP and the event ring's position.
extension XHCIInterrupter {
    func save(to state: inout DeviceStateWriter) {
        state.put(enabled)
        state.put(pending)
        state.put(moderation)
        state.put(tableSize)
        state.put(tableBase)
        state.put(eventHandlerBusy)
        state.put(segmentIndex)
        ring.save(to: &state)
    }

    func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let flags = (try state.bool(), try state.bool())
        let registers = (try state.uint32("IMOD"), try state.uint32("ERSTSZ"), try state.uint64())
        let busy = try state.bool()
        let segment = try state.uint64()
        var ring = XHCIEventRing()
        try ring.restore(from: &state)
        (enabled, pending) = flags
        (moderation, tableSize, tableBase) = registers
        eventHandlerBusy = busy
        segmentIndex = segment & 7
        self.ring = ring
    }
}
