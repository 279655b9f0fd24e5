import CHartState
import IRQ

/// mstatus fields (RISC-V privileged spec 1.12 §3.1.6, figure 3.7).
enum MStatus {
    static let sie: UInt64 = 1 << 1
    static let mie: UInt64 = 1 << 3
    static let spie: UInt64 = 1 << 5
    static let mpie: UInt64 = 1 << 7
    static let spp: UInt64 = 1 << 8
    static let mppShift: UInt64 = 11
    static let mpp: UInt64 = 3 << 11
    static let fs: UInt64 = 3 << 13
    static let mprv: UInt64 = 1 << 17
    static let sum: UInt64 = 1 << 18
    static let mxr: UInt64 = 1 << 19
    static let tvm: UInt64 = 1 << 20
    static let tw: UInt64 = 1 << 21
    static let tsr: UInt64 = 1 << 22
    /// UXL = SXL = 2 (64-bit), fixed.
    static let xlFields: UInt64 = 2 << 32 | 2 << 34
    static let sd: UInt64 = 1 << 63
}

let privilegeUser = UInt64(BP_PRIV_U)
let privilegeSupervisor = UInt64(BP_PRIV_S)
let privilegeMachine = UInt64(BP_PRIV_M)

/// Interrupt causes in the order they are taken when several are pending and enabled
/// (privileged spec 1.12 §3.1.9: MEI, MSI, MTI, SEI, SSI, STI).
private let interruptPriority: [UInt64] = [
    UInt64(InterruptBit.machineExternal), UInt64(InterruptBit.machineSoftware), UInt64(InterruptBit.machineTimer),
    UInt64(InterruptBit.supervisorExternal), UInt64(InterruptBit.supervisorSoftware), UInt64(InterruptBit.supervisorTimer),
]

extension Hart {
    /// mip & mie: what the machine's WFI sleep waits for (any enabled pending interrupt wakes
    /// WFI regardless of mstatus.MIE/SIE, privileged spec §3.3.3).
    public var pendingAndEnabledInterrupts: UInt64 {
        (state.pointee.mip | state.pointee.mipExternal) & state.pointee.mie
    }

    /// Enters the trap handler for exception or interrupt `cause` raised at `state.pc`
    /// (privileged spec §3.1.6–3.1.8, §4.1.1): delegation via medeleg/mideleg for traps from
    /// S and U mode, xEPC/xCAUSE/xTVAL, the xIE/xPIE/xPP stack and direct or vectored xtvec.
    func enterTrap(cause: UInt64, value: UInt64, isInterrupt: Bool) {
        if instrumentedEvents.contains(.trap) { noteTrap(cause: isInterrupt ? cause | 1 << 63 : cause, value: value) }
        let privilege = state.pointee.privilege
        let delegation = isInterrupt ? state.pointee.mideleg : state.pointee.medeleg
        let pc = state.pointee.pc
        let causeValue = isInterrupt ? cause | 1 << 63 : cause
        state.pointee.reservationValid = 0
        var status = state.pointee.mstatus
        if privilege <= privilegeSupervisor && (delegation >> cause) & 1 != 0 {
            state.pointee.scause = causeValue
            state.pointee.sepc = pc
            state.pointee.stval = value
            status = status & ~(MStatus.spie | MStatus.spp | MStatus.sie)
                | (status & MStatus.sie != 0 ? MStatus.spie : 0)
                | (privilege == privilegeSupervisor ? MStatus.spp : 0)
            state.pointee.privilege = privilegeSupervisor
            state.pointee.pc = vectorAddress(state.pointee.stvec, cause: cause, isInterrupt: isInterrupt)
        } else {
            state.pointee.mcause = causeValue
            state.pointee.mepc = pc
            state.pointee.mtval = value
            status = status & ~(MStatus.mpie | MStatus.mpp | MStatus.mie)
                | (status & MStatus.mie != 0 ? MStatus.mpie : 0)
                | privilege << MStatus.mppShift
            state.pointee.privilege = privilegeMachine
            state.pointee.pc = vectorAddress(state.pointee.mtvec, cause: cause, isInterrupt: isInterrupt)
        }
        state.pointee.mstatus = status
        noteTranslationContextChange()
    }

    /// xtvec MODE 1 (vectored) sends interrupts to BASE + 4×cause; everything else to BASE.
    @inline(__always) private func vectorAddress(_ tvec: UInt64, cause: UInt64, isInterrupt: Bool) -> UInt64 {
        let base = tvec & ~3
        return tvec & 3 == 1 && isInterrupt ? base &+ 4 &* cause : base
    }

    func enterTrap(_ trap: Trap) {
        enterTrap(cause: trap.cause, value: trap.value, isInterrupt: false)
    }

    /// The interrupt to take now, if any (privileged spec §3.1.6.1, §3.1.9): an interrupt not
    /// delegated is taken when running below M or with mstatus.MIE set; a delegated one when
    /// running in U, or in S with mstatus.SIE set, never in M.
    func interruptToTake() -> UInt64? {
        let pending = pendingAndEnabledInterrupts
        guard pending != 0 else { return nil }
        let privilege = state.pointee.privilege
        let status = state.pointee.mstatus
        let delegated = state.pointee.mideleg
        var takeable: UInt64 = 0
        if privilege < privilegeMachine || status & MStatus.mie != 0 {
            takeable = pending & ~delegated
        }
        if takeable == 0 && (privilege < privilegeSupervisor
                             || (privilege == privilegeSupervisor && status & MStatus.sie != 0)) {
            takeable = pending & delegated
        }
        guard takeable != 0 else { return nil }
        for cause in interruptPriority where (takeable >> cause) & 1 != 0 { return cause }
        return nil
    }

    /// Takes the highest-priority takeable interrupt at `state.pc`. Returns whether it did.
    @discardableResult
    func takePendingInterrupt() -> Bool {
        guard let cause = interruptToTake() else { return false }
        enterTrap(cause: cause, value: 0, isInterrupt: true)
        return true
    }

    // MARK: Trap-return and wait instructions (privileged spec §3.3.2, §3.3.3)

    /// MRET: returns to mstatus.MPP with MIE ← MPIE, MPIE ← 1, MPP ← U; MPRV cleared when
    /// leaving to a mode below M. Returns the new PC (mepc).
    func executeMRET(_ raw: UInt32) throws(Trap) -> UInt64 {
        guard state.pointee.privilege == privilegeMachine else { throw .illegalInstruction(raw) }
        var status = state.pointee.mstatus
        let target = (status & MStatus.mpp) >> MStatus.mppShift
        status = status & ~(MStatus.mie | MStatus.mpp) | (status & MStatus.mpie != 0 ? MStatus.mie : 0) | MStatus.mpie
        if target != privilegeMachine { status &= ~MStatus.mprv }
        state.pointee.mstatus = status
        state.pointee.privilege = target
        state.pointee.reservationValid = 0
        noteTranslationContextChange()
        return state.pointee.mepc
    }

    /// SRET: illegal in U, and in S when mstatus.TSR is set; returns to SPP with SIE ← SPIE.
    func executeSRET(_ raw: UInt32) throws(Trap) -> UInt64 {
        let privilege = state.pointee.privilege
        var status = state.pointee.mstatus
        guard privilege == privilegeMachine || (privilege == privilegeSupervisor && status & MStatus.tsr == 0) else {
            throw .illegalInstruction(raw)
        }
        let target = status & MStatus.spp != 0 ? privilegeSupervisor : privilegeUser
        status = status & ~(MStatus.sie | MStatus.spp) | (status & MStatus.spie != 0 ? MStatus.sie : 0) | MStatus.spie
        status &= ~MStatus.mprv // target is never M
        state.pointee.mstatus = status
        state.pointee.privilege = target
        state.pointee.reservationValid = 0
        noteTranslationContextChange()
        return state.pointee.sepc
    }

    /// WFI: illegal in U mode, and below M when mstatus.TW is set (§3.1.6.5). Otherwise, with
    /// nothing pending and enabled, marks the hart as waiting so `run` returns.
    func executeWFI(_ raw: UInt32) throws(Trap) {
        let privilege = state.pointee.privilege
        if privilege == privilegeUser || (privilege < privilegeMachine && state.pointee.mstatus & MStatus.tw != 0) {
            throw .illegalInstruction(raw)
        }
        if pendingAndEnabledInterrupts == 0 { state.pointee.waitingForInterrupt = 1 }
    }
}
