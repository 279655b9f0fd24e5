import CHartState
import IRQ
import Memory

// Sstc, the supervisor timer compare extension (RISC-V privileged spec 1.12 with the ratified
// Sstc 1.0 chapter; "Supervisor Timer Register (stimecmp)" and "Machine Environment
// Configuration Register (menvcfg)"). S-mode programs its own timer through the `stimecmp` CSR
// instead of asking M-mode (the SBI `set_timer` call, which OpenSBI turns into an ACLINT
// `mtimecmp` write and an MTIP-to-STIP hand-off). The timer compares against the same `time`
// the ACLINT's `mtime` reads: the machine's `Timebase`, so under the virtual clock it is a
// deadline like any `mtimecmp` (docs/architecture.md, "Virtual time").

/// `menvcfg` fields this hart implements (privileged spec 1.12 §3.1.18).
enum EnvironmentConfig {
    /// FIOM: fence of I/O implies memory.
    static let fiom: UInt64 = 1 << 0
    /// STCE (Sstc): `stimecmp` accessible below M and STIP driven by it.
    static let stce: UInt64 = 1 << 63
}

extension Hart {
    /// mip.STIP.
    private static let supervisorTimerBit: UInt64 = 1 << UInt64(InterruptBit.supervisorTimer)

    /// Whether `stimecmp` drives mip.STIP now: the hart implements Sstc and M-mode enabled it
    /// (menvcfg.STCE). While it does, STIP is read-only in `mip` (and `mvip`, AIA 1.0 §5.3),
    /// "reflecting the result of the comparison"; while it does not, STIP is the bit M-mode
    /// software writes, as without Sstc.
    @inline(__always) var supervisorTimerEnabled: Bool {
        implementsSstc && state.pointee.menvcfg & EnvironmentConfig.stce != 0
    }

    /// mip.STIP as Sstc defines it at this moment: "a supervisor timer interrupt becomes
    /// pending whenever time contains a value greater than or equal to stimecmp, treating the
    /// values as unsigned integers"; the stored bit when Sstc is off. Reads of `mip`, `sip`
    /// see this, so they agree with `time` even between polls (under the host clock).
    func supervisorTimerPendingNow() -> UInt64 {
        guard supervisorTimerEnabled else { return state.pointee.mip & Self.supervisorTimerBit }
        return timebase.now() >= state.pointee.stimecmp ? Self.supervisorTimerBit : 0
    }

    /// Drives mip.STIP from `stimecmp` (when Sstc is enabled) and, if it changed, asks the run
    /// loop to look at interrupts again. The machine calls it between slices
    /// (`SupervisorTimers.poll`), exactly at the deadline under the virtual clock; the hart
    /// calls it when software writes `stimecmp` or `menvcfg`.
    public func updateSupervisorTimer() {
        guard supervisorTimerEnabled else { return }
        let pending = supervisorTimerPendingNow()
        guard pending != state.pointee.mip & Self.supervisorTimerBit else { return }
        state.pointee.mip = state.pointee.mip & ~Self.supervisorTimerBit | pending
        state.pointee.exitRequest = 1
    }

    /// Nanoseconds of machine time until STIP becomes pending, rounded up; nil when it never
    /// will by time alone (Sstc off, already pending, or `stimecmp` all ones, which Linux
    /// writes to stop the timer).
    public func nanosecondsUntilSupervisorTimer() -> UInt64? {
        guard supervisorTimerEnabled else { return nil }
        let compare = state.pointee.stimecmp
        guard compare != .max, compare > timebase.now() else { return nil }
        return timebase.nanoseconds(until: compare)
    }

    /// A write to `stimecmp`: STIP follows at once ("the interrupt remains posted until
    /// stimecmp becomes greater than time, typically as a result of writing stimecmp"). The
    /// machine budgeted this slice up to the earliest deadline it knew when the slice began,
    /// and the new compare value may be earlier: the slice ends after this instruction, so
    /// the next one is budgeted with it and the interrupt is taken at exactly the instruction
    /// the compare value names, the same under both engines and any number of harts.
    func writeSupervisorTimeCompare(_ value: UInt64) {
        state.pointee.stimecmp = value
        updateSupervisorTimer()
        state.pointee.exitRequest = 1
    }

    /// A write to `menvcfg`: only the implemented fields change. Setting or clearing STCE
    /// hands STIP to the timer or back to software, and starts or stops a deadline, so the
    /// slice ends here as after a `stimecmp` write.
    func writeEnvironmentConfig(_ value: UInt64) {
        let writable = EnvironmentConfig.fiom | (implementsSstc ? EnvironmentConfig.stce : 0)
        state.pointee.menvcfg = value & writable
        updateSupervisorTimer()
        if implementsSstc { state.pointee.exitRequest = 1 }
    }

    /// The `mip` bits M-mode software may write now: SSIP, STIP, SEIP, without STIP while
    /// `stimecmp` drives it.
    var softwareWritableInterrupts: UInt64 {
        supervisorTimerEnabled ? CSRMask.supervisorInterrupts & ~Self.supervisorTimerBit : CSRMask.supervisorInterrupts
    }

    /// The software-writable `mip` bits as `mip`/`sip` reads show them (STIP live under Sstc).
    var softwareInterruptsNow: UInt64 {
        state.pointee.mip & ~Self.supervisorTimerBit | supervisorTimerPendingNow()
    }

    /// Access rules for `stimecmp` (Sstc chapter): M-mode always; S-mode only when
    /// mcounteren.TM and menvcfg.STCE are both set; U-mode never (its number is an S-level
    /// CSR's, which the generic privilege check already refuses).
    func checkSupervisorTimeCompareAccess(raw: UInt32) throws(Trap) {
        guard implementsSstc else { throw .illegalInstruction(raw) }
        guard state.pointee.privilege < privilegeMachine else { return }
        let timeEnabled: UInt64 = 1 << 1 // mcounteren.TM
        if state.pointee.mcounteren & timeEnabled == 0 || state.pointee.menvcfg & EnvironmentConfig.stce == 0 {
            throw .illegalInstruction(raw)
        }
    }
}

/// The harts' Sstc timers as one participant in the machine lifecycle (docs/architecture.md,
/// "Virtual time"), beside the ACLINT's `mtimecmp`: `nanosecondsUntilNextEvent` gives the
/// earliest `stimecmp` any hart waits for, so the machine cuts slices at it and idle skipping
/// jumps to it; `poll` drives each hart's STIP. Nothing to reset (a hart reset clears
/// `stimecmp` and menvcfg.STCE) or save (`stimecmp` is hart state, saved with the hart).
public final class SupervisorTimers: DeviceLifecycle {
    private let harts: [Hart]

    /// The timers of `harts`, which must implement Sstc (`Hart.implementsSstc`).
    public init(harts: [Hart]) {
        self.harts = harts
    }

    public func poll() {
        for hart in harts { hart.updateSupervisorTimer() }
    }

    public func nanosecondsUntilNextEvent() -> UInt64? {
        var earliest: UInt64? = nil
        for hart in harts {
            if let next = hart.nanosecondsUntilSupervisorTimer() { earliest = min(earliest ?? .max, next) }
        }
        return earliest
    }
}
