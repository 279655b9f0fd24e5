import Memory

/// ACLINT machine-level software interrupt device, MSWI (RISC-V ACLINT specification 1.0, §3):
/// one 32-bit `msip` register per hart at `4 * hart`; bit 0 drives the hart's MSIP, the other
/// bits are read-only zero.
public final class ACLINTMSWI: MMIODevice {
    /// Bytes the MSWI occupies (ACLINT spec §3.1: room for 4095 harts).
    public static let regionSize: UInt64 = 0x4000

    public var implementedSizes: AccessSizes { .word }

    private let harts: [any HartInterruptInputs]
    private var msip: [Bool]

    public init(harts: [any HartInterruptInputs]) {
        self.harts = harts
        msip = Array(repeating: false, count: harts.count)
        for hart in harts { hart.setInterruptPending(bit: InterruptBit.machineSoftware, false) }
    }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        guard offset & 3 == 0, let hart = hartIndex(offset) else { return 0 }
        return msip[hart] ? 1 : 0
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        guard offset & 3 == 0, let hart = hartIndex(offset) else { return }
        let raised = value & 1 != 0
        guard raised != msip[hart] else { return }
        msip[hart] = raised
        harts[hart].setInterruptPending(bit: InterruptBit.machineSoftware, raised)
    }

    private func hartIndex(_ offset: UInt64) -> Int? {
        let hart = offset >> 2
        return hart < UInt64(harts.count) ? Int(hart) : nil
    }
}

/// ACLINT machine-level timer device, MTIMER (RISC-V ACLINT specification 1.0, §2): one 64-bit
/// `mtimecmp` per hart at `8 * hart` and the shared `mtime` at 0x7ff8. MTIP of hart h is
/// `mtime >= mtimecmp[h]` (privileged spec §3.2.1).
///
/// Registers take 4- and 8-byte accesses; a 4-byte write replaces one half of a 64-bit register,
/// as OpenSBI and U-Boot do on 32-bit paths. `mtime` reads the machine's `Timebase`.
public final class ACLINTMTimer: MMIODevice {
    /// Register offsets within the MTIMER (ACLINT spec §2.1).
    public enum Layout {
        public static let timeCompareBase: UInt64 = 0x0
        public static let time: UInt64 = 0x7ff8
        public static let regionSize: UInt64 = 0x8000
    }

    public var implementedSizes: AccessSizes { [.word, .doubleword] }

    public let timebase: Timebase
    private let harts: [any HartInterruptInputs]
    /// Reset to all ones so no timer interrupt is pending before software programs one (the
    /// ACLINT spec leaves the reset value unspecified; OpenSBI writes it before enabling MTIE).
    private var timeCompare: [UInt64]
    private var timerPending: [Bool]

    public init(harts: [any HartInterruptInputs], timebase: Timebase) {
        self.harts = harts
        self.timebase = timebase
        timeCompare = Array(repeating: .max, count: harts.count)
        timerPending = Array(repeating: false, count: harts.count)
        for hart in harts { hart.setInterruptPending(bit: InterruptBit.machineTimer, false) }
    }

    /// `mtimecmp` of `hart`.
    public func timeCompare(hart: Int) -> UInt64 { timeCompare[hart] }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        guard offset & UInt64(size - 1) == 0, let (register, high) = decode(offset) else { return 0 }
        let value: UInt64
        switch register {
        case .time: value = timebase.now()
        case .timeCompare(let hart): value = timeCompare[hart]
        }
        if size == 8 { return value }
        return high ? value >> 32 : value & 0xffff_ffff
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        guard offset & UInt64(size - 1) == 0, let (register, high) = decode(offset) else { return }
        switch register {
        case .time:
            timebase.set(merge(timebase.now(), value, size: size, high: high))
            updateTimers()
        case .timeCompare(let hart):
            timeCompare[hart] = merge(timeCompare[hart], value, size: size, high: high)
            update(hart: hart, now: timebase.now())
            // Met at its first instruction even when it falls inside the running slice.
            harts[hart].timerDeadlineChanged()
        }
    }

    /// The earliest `mtimecmp` that `mtime` has not reached yet, in timebase ticks, or nil when
    /// no hart waits for a timer: the machine can sleep until then.
    public func nextDeadline() -> UInt64? {
        let now = timebase.now()
        var earliest: UInt64? = nil
        for compare in timeCompare where compare > now && compare != .max {
            if earliest == nil || compare < earliest! { earliest = compare }
        }
        return earliest
    }

    /// Re-evaluates every hart's MTIP against the current time (the machine calls it regularly).
    public func updateTimers() {
        let now = timebase.now()
        for hart in 0..<harts.count { update(hart: hart, now: now) }
    }

    @inline(__always) private func update(hart: Int, now: UInt64) {
        let pending = now >= timeCompare[hart]
        guard pending != timerPending[hart] else { return }
        timerPending[hart] = pending
        harts[hart].setInterruptPending(bit: InterruptBit.machineTimer, pending)
    }

    private enum Register { case time, timeCompare(Int) }

    /// The register at `offset` and whether the offset names its upper 32-bit half.
    private func decode(_ offset: UInt64) -> (Register, high: Bool)? {
        let high = offset & 4 != 0
        let aligned = offset & ~7
        if aligned == Layout.time { return (.time, high) }
        let hart = (aligned - Layout.timeCompareBase) >> 3
        guard aligned < Layout.time, hart < UInt64(harts.count) else { return nil }
        return (.timeCompare(Int(hart)), high)
    }

    private func merge(_ old: UInt64, _ value: UInt64, size: Int, high: Bool) -> UInt64 {
        if size == 8 { return value }
        let half = value & 0xffff_ffff
        return high ? (old & 0xffff_ffff) | (half << 32) : (old & 0xffff_ffff_0000_0000) | half
    }
}

/// The SiFive CLINT layout QEMU's `virt` board maps at 0x2000000 (size 0x10000): an ACLINT MSWI
/// at offset 0 (`msip`) followed by an ACLINT MTIMER at 0x4000 (`mtimecmp` at 0x4000, `mtime`
/// at 0xbff8). Board files name it `aclint`.
public final class CLINT: MMIODevice {
    public enum Layout {
        public static let softwareBase: UInt64 = 0x0
        public static let timerBase: UInt64 = 0x4000
        public static let regionSize: UInt64 = 0x10000
    }

    public let software: ACLINTMSWI
    public let timer: ACLINTMTimer

    public var implementedSizes: AccessSizes { [.word, .doubleword] }

    public init(harts: [any HartInterruptInputs], timebase: Timebase) {
        software = ACLINTMSWI(harts: harts)
        timer = ACLINTMTimer(harts: harts, timebase: timebase)
    }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        if offset >= Layout.timerBase { return timer.read(offset: offset - Layout.timerBase, size: size) }
        if size == 4 { return software.read(offset: offset, size: 4) }
        // An 8-byte access to the MSWI covers two harts' registers, low word first.
        return software.read(offset: offset, size: 4) | software.read(offset: offset + 4, size: 4) << 32
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        if offset >= Layout.timerBase { timer.write(offset: offset - Layout.timerBase, size: size, value: value); return }
        software.write(offset: offset, size: 4, value: value & 0xffff_ffff)
        if size == 8 { software.write(offset: offset + 4, size: 4, value: value >> 32) }
    }

    /// See `ACLINTMTimer.nextDeadline()`.
    public func nextDeadline() -> UInt64? { timer.nextDeadline() }

    /// See `ACLINTMTimer.updateTimers()`.
    public func updateTimers() { timer.updateTimers() }
}

extension ACLINTMSWI {
    /// Every `msip` cleared (ACLINT 1.0 §3.2: the MSIP bits reset to zero), MSIP lowered.
    public func reset() {
        for hart in harts.indices where msip[hart] {
            msip[hart] = false
            harts[hart].setInterruptPending(bit: InterruptBit.machineSoftware, false)
        }
    }
}

extension ACLINTMTimer {
    /// `mtime` cleared to zero (ACLINT 1.0 §2.1: "On MTIMER device reset, the MTIME register is
    /// cleared to zero"; QEMU `riscv_aclint_mtimer_reset_enter`) and every `mtimecmp` back to all
    /// ones (the spec leaves it unknown; see `timeCompare`), so no timer interrupt is pending.
    public func reset() {
        timebase.set(0)
        for hart in harts.indices { timeCompare[hart] = .max }
        updateTimers()
    }
}

/// The machine re-evaluates MTIP between slices and sleeps no longer than the next `mtimecmp`;
/// a machine reset resets both halves.
extension CLINT: DeviceLifecycle {
    public func reset() {
        software.reset()
        timer.reset()
    }

    public func poll() { updateTimers() }

    public func nanosecondsUntilNextEvent() -> UInt64? {
        nextDeadline().map { timer.timebase.nanoseconds(until: $0) }
    }
}

/// Snapshots (docs/snapshots.md): `msip` and `mtimecmp` of every hart. `mtime` is the
/// machine's clock, saved with it; the restore drives MSIP and MTIP to their restored levels
/// (the clock is restored before the devices, so MTIP compares against the saved time).
extension CLINT {
    public func save(to state: inout DeviceStateWriter) {
        software.save(to: &state)
        timer.save(to: &state)
    }

    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        try software.restore(from: &state)
        try timer.restore(from: &state)
    }
}

extension ACLINTMSWI {
    func save(to state: inout DeviceStateWriter) { state.put(flags: msip) }

    func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        msip = try state.flags(count: harts.count, "ACLINT msip registers")
        for hart in harts.indices { harts[hart].setInterruptPending(bit: InterruptBit.machineSoftware, msip[hart]) }
    }
}

extension ACLINTMTimer {
    func save(to state: inout DeviceStateWriter) { state.put(words: timeCompare) }

    func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        timeCompare = try state.words64(count: harts.count, "ACLINT mtimecmp registers")
        let now = timebase.now()
        for hart in harts.indices {
            timerPending[hart] = now >= timeCompare[hart]
            harts[hart].setInterruptPending(bit: InterruptBit.machineTimer, timerPending[hart])
        }
    }
}
