import CHartState

/// The CSRs this hart implements by name: one table of numbers and names (RISC-V privileged spec
/// 1.12 §2.2, tables 2.2–2.5). A case's name is the CSR's assembler name. CSR access switches on
/// the numbers (`case CSRNumber.mstatus.rawValue:`), and the names serve
/// `Hart.readRegister(named:)` (instrumentation's `read_register`) and `Hart.debugCSRNames` (the
/// GDB stub's target description). The AIA CSRs are numbered in Hart+AIA.swift; CSRs that read as
/// zero through a range (hpmcounters, pmpaddr16-63) have no name. `stimecmp` exists only on a
/// hart that implements Sstc (Hart+Sstc.swift); elsewhere it is illegal like an unknown number.
enum CSRNumber: UInt32, CaseIterable {
    case fflags = 0x001, frm = 0x002, fcsr = 0x003
    case cycle = 0xC00, time = 0xC01, instret = 0xC02
    case sstatus = 0x100, sie = 0x104, stvec = 0x105, scounteren = 0x106, senvcfg = 0x10A
    case sscratch = 0x140, sepc = 0x141, scause = 0x142, stval = 0x143, sip = 0x144, stimecmp = 0x14D, satp = 0x180
    case mvendorid = 0xF11, marchid = 0xF12, mimpid = 0xF13, mhartid = 0xF14, mconfigptr = 0xF15
    case mstatus = 0x300, misa = 0x301, medeleg = 0x302, mideleg = 0x303, mie = 0x304, mtvec = 0x305
    case mcounteren = 0x306, menvcfg = 0x30A, mcountinhibit = 0x320
    case mscratch = 0x340, mepc = 0x341, mcause = 0x342, mtval = 0x343, mip = 0x344
    case pmpcfg0 = 0x3A0, pmpcfg2 = 0x3A2
    // Raw values count up from pmpaddr0 (0x3B0) to pmpaddr15 (0x3BF).
    case pmpaddr0 = 0x3B0, pmpaddr1, pmpaddr2, pmpaddr3, pmpaddr4, pmpaddr5, pmpaddr6, pmpaddr7
    case pmpaddr8, pmpaddr9, pmpaddr10, pmpaddr11, pmpaddr12, pmpaddr13, pmpaddr14, pmpaddr15
    case mseccfg = 0x747, mcycle = 0xB00, minstret = 0xB02

    /// The CSR's assembler name.
    var name: String { "\(self)" }

    /// Every CSR by name, built once from the cases.
    static let byName: [String: UInt32] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.name, $0.rawValue) })
}

/// Writable-bit masks (privileged spec §3.1.6–3.1.9, §4.1.1–4.1.3).
enum CSRMask {
    static let mstatusWritable: UInt64 = MStatus.sie | MStatus.mie | MStatus.spie | MStatus.mpie | MStatus.spp
        | MStatus.mpp | MStatus.fs | MStatus.mprv | MStatus.sum | MStatus.mxr | MStatus.tvm | MStatus.tw | MStatus.tsr
    /// The mstatus bits sstatus shows: SIE SPIE UBE SPP VS FS XS SUM MXR UXL SD.
    static let sstatusVisible: UInt64 = 0x8000_0003_000D_E762
    static let sstatusWritable: UInt64 = MStatus.sie | MStatus.spie | MStatus.spp | MStatus.fs | MStatus.sum | MStatus.mxr
    /// SSIE/SSIP, MSIE, STIE, MTIE, SEIE, MEIE.
    static let interrupts: UInt64 = 0xAAA
    /// Supervisor interrupts: the delegable ones and the mip bits M-mode software may write.
    static let supervisorInterrupts: UInt64 = 0x222
    /// Exceptions that may be delegated: all defined ones except ECALL from M (11).
    static let delegableExceptions: UInt64 = 0xB3FF
    /// satp MODE values: Bare, Sv39, Sv48 (Sv57 is not implemented).
    static let satpAddressAndASID: UInt64 = (1 << 60) - 1
    /// misa: MXL=2 (RV64), extensions A C D F I M S U.
    static let misa: UInt64 = 2 << 62 | 1 << 0 | 1 << 2 | 1 << 3 | 1 << 5 | 1 << 8 | 1 << 12 | 1 << 18 | 1 << 20
}

extension Hart {
    /// Executes CSRRW/CSRRS/CSRRC and their immediate forms (unprivileged spec §9.1): CSRRW
    /// always writes; CSRRS/CSRRC with rs1 = x0 (or uimm = 0) do not write, so they neither
    /// fault on read-only CSRs nor have write side effects.
    /// The caller has already counted the block's earlier instructions in instret/cycle, so
    /// counters read here are exact.
    func executeCSR(_ inst: DecodedInstruction) throws(Trap) {
        let csr = UInt32(truncatingIfNeeded: inst.imm)
        let immediate = inst.op == .csrrwi || inst.op == .csrrsi || inst.op == .csrrci
        let source = immediate ? UInt64(inst.rs1) : registers[Int(inst.rs1)]
        let isSwap = inst.op == .csrrw || inst.op == .csrrwi
        let writes = isSwap || inst.rs1 != 0
        try checkCSRAccess(csr, writes: writes, raw: inst.raw)
        let old = try readCSR(csr, raw: inst.raw)
        if writes {
            // mip/sip read-modify-writes use the software-written SEIP only (§3.1.9).
            let seip: UInt64 = 1 << 9
            let base = csr == CSRNumber.mip.rawValue ? old & ~seip | state.pointee.mip & seip : old
            let value: UInt64
            switch inst.op {
            case .csrrw, .csrrwi: value = source
            case .csrrs, .csrrsi: value = base | source
            default: value = base & ~source
            }
            try writeCSR(csr, value, raw: inst.raw)
        }
        registers[Int(inst.rd)] = old
        registers[0] = 0
    }

    /// Privilege, read-only, counter-enable, TVM and FS checks (privileged spec §2.1, §3.1.11,
    /// §3.1.6.5; unprivileged spec §11.2 for FS).
    private func checkCSRAccess(_ csr: UInt32, writes: Bool, raw: UInt32) throws(Trap) {
        let privilege = state.pointee.privilege
        if UInt64((csr >> 8) & 3) > privilege { throw .illegalInstruction(raw) }
        if writes && csr >> 10 == 3 { throw .illegalInstruction(raw) }
        switch csr {
        case CSRNumber.cycle.rawValue...0xC1F:
            let bit: UInt64 = 1 << UInt64(csr - CSRNumber.cycle.rawValue)
            if privilege < privilegeMachine && state.pointee.mcounteren & bit == 0 { throw .illegalInstruction(raw) }
            if privilege == privilegeUser && state.pointee.scounteren & bit == 0 { throw .illegalInstruction(raw) }
        case CSRNumber.satp.rawValue:
            if privilege == privilegeSupervisor && state.pointee.mstatus & MStatus.tvm != 0 { throw .illegalInstruction(raw) }
        case CSRNumber.stimecmp.rawValue:
            try checkSupervisorTimeCompareAccess(raw: raw)
        case CSRNumber.fflags.rawValue, CSRNumber.frm.rawValue, CSRNumber.fcsr.rawValue:
            if state.pointee.mstatus & MStatus.fs == 0 { throw .illegalInstruction(raw) }
        default:
            break
        }
    }

    /// mstatus as software reads it: fixed UXL/SXL, SD summarising FS (VS and XS are always 0).
    var mstatusValue: UInt64 {
        let status = state.pointee.mstatus & ~MStatus.sd | MStatus.xlFields
        return status & MStatus.fs == MStatus.fs ? status | MStatus.sd : status
    }

    /// Reads a CSR; unknown numbers raise illegal instruction.
    func readCSR(_ csr: UInt32, raw: UInt32) throws(Trap) -> UInt64 {
        let s = state
        switch csr {
        case CSRNumber.fflags.rawValue: return UInt64(s.pointee.fflags & 0x1F)
        case CSRNumber.frm.rawValue: return UInt64(s.pointee.frm & 7)
        case CSRNumber.fcsr.rawValue: return UInt64((s.pointee.frm & 7) << 5 | s.pointee.fflags & 0x1F)
        case CSRNumber.cycle.rawValue, CSRNumber.mcycle.rawValue: return s.pointee.cycle
        case CSRNumber.instret.rawValue, CSRNumber.minstret.rawValue: return s.pointee.instret
        case CSRNumber.time.rawValue: return timebase.now()
        case 0xC03...0xC1F, 0xB03...0xB1F, 0x323...0x33F: return 0 // hpmcounters/events: not implemented, read 0
        case CSRNumber.sstatus.rawValue: return mstatusValue & CSRMask.sstatusVisible
        case CSRNumber.sie.rawValue: return s.pointee.mie & s.pointee.mideleg
        case CSRNumber.stvec.rawValue: return s.pointee.stvec
        case CSRNumber.scounteren.rawValue: return s.pointee.scounteren
        case CSRNumber.senvcfg.rawValue: return s.pointee.senvcfg
        case CSRNumber.sscratch.rawValue: return s.pointee.sscratch
        case CSRNumber.sepc.rawValue: return s.pointee.sepc
        case CSRNumber.scause.rawValue: return s.pointee.scause
        case CSRNumber.stval.rawValue: return s.pointee.stval
        case CSRNumber.sip.rawValue: return (softwareInterruptsNow | s.pointee.mipExternal) & s.pointee.mideleg
        case CSRNumber.stimecmp.rawValue:
            guard implementsSstc else { throw .illegalInstruction(raw) }
            return s.pointee.stimecmp
        case CSRNumber.satp.rawValue: return s.pointee.satp
        case CSRNumber.mvendorid.rawValue, CSRNumber.marchid.rawValue, CSRNumber.mimpid.rawValue, CSRNumber.mconfigptr.rawValue: return 0
        case CSRNumber.mhartid.rawValue: return s.pointee.hartid
        case CSRNumber.mstatus.rawValue: return mstatusValue
        case CSRNumber.misa.rawValue: return CSRMask.misa
        case CSRNumber.medeleg.rawValue: return s.pointee.medeleg
        case CSRNumber.mideleg.rawValue: return s.pointee.mideleg
        case CSRNumber.mie.rawValue: return s.pointee.mie
        case CSRNumber.mtvec.rawValue: return s.pointee.mtvec
        case CSRNumber.mcounteren.rawValue: return s.pointee.mcounteren
        case CSRNumber.menvcfg.rawValue: return s.pointee.menvcfg
        case CSRNumber.mcountinhibit.rawValue: return s.pointee.mcountinhibit
        case CSRNumber.mscratch.rawValue: return s.pointee.mscratch
        case CSRNumber.mepc.rawValue: return s.pointee.mepc
        case CSRNumber.mcause.rawValue: return s.pointee.mcause
        case CSRNumber.mtval.rawValue: return s.pointee.mtval
        case CSRNumber.mip.rawValue: return softwareInterruptsNow | s.pointee.mipExternal
        case CSRNumber.pmpcfg0.rawValue: return s.pointee.pmpcfg.0
        case CSRNumber.pmpcfg2.rawValue: return s.pointee.pmpcfg.1
        case 0x3A4...0x3AF where csr & 1 == 0: return 0 // pmpcfg4..14: entries 16..63 not implemented
        case CSRNumber.pmpaddr0.rawValue...CSRNumber.pmpaddr15.rawValue: return pmpAddress(Int(csr - CSRNumber.pmpaddr0.rawValue))
        case 0x3C0...0x3EF: return 0 // pmpaddr16..63
        case CSRNumber.mseccfg.rawValue: return 0
        default: return try readAIACSR(csr, raw: raw)
        }
    }

    /// Writes a CSR with its WARL rules. Callers have checked privilege and read-only-ness.
    func writeCSR(_ csr: UInt32, _ value: UInt64, raw: UInt32) throws(Trap) {
        let s = state
        switch csr {
        case CSRNumber.fflags.rawValue:
            s.pointee.fflags = UInt32(value & 0x1F)
            markFloatingPointDirty()
        case CSRNumber.frm.rawValue:
            s.pointee.frm = UInt32(value & 7)
            markFloatingPointDirty()
        case CSRNumber.fcsr.rawValue:
            s.pointee.fflags = UInt32(value & 0x1F)
            s.pointee.frm = UInt32((value >> 5) & 7)
            markFloatingPointDirty()
        // "If a CSR access instruction writes such a CSR, the write is done instead of the
        // increment" (unprivileged spec §9.1): the block's retirement adds 1 back.
        case CSRNumber.mcycle.rawValue: s.pointee.cycle = value &- (s.pointee.mcountinhibit & 1 == 0 ? 1 : 0)
        case CSRNumber.minstret.rawValue: s.pointee.instret = value &- (s.pointee.mcountinhibit & 4 == 0 ? 1 : 0)
        case 0xB03...0xB1F, 0x323...0x33F: break
        case CSRNumber.sstatus.rawValue:
            writeMStatus(s.pointee.mstatus & ~CSRMask.sstatusWritable | value & CSRMask.sstatusWritable)
        case CSRNumber.sie.rawValue:
            let mask = s.pointee.mideleg & CSRMask.supervisorInterrupts
            s.pointee.mie = s.pointee.mie & ~mask | value & mask
        case CSRNumber.stvec.rawValue: writeTrapVector(&s.pointee.stvec, value)
        case CSRNumber.scounteren.rawValue: s.pointee.scounteren = value & 0xFFFF_FFFF
        case CSRNumber.senvcfg.rawValue: s.pointee.senvcfg = value & 1 // FIOM only
        case CSRNumber.sscratch.rawValue: s.pointee.sscratch = value
        case CSRNumber.sepc.rawValue: s.pointee.sepc = value & ~1
        case CSRNumber.scause.rawValue: s.pointee.scause = value
        case CSRNumber.stval.rawValue: s.pointee.stval = value
        case CSRNumber.sip.rawValue:
            // Only SSIP is writable through sip, and only when delegated (§4.1.3).
            let mask = s.pointee.mideleg & (1 << 1)
            s.pointee.mip = s.pointee.mip & ~mask | value & mask
        case CSRNumber.stimecmp.rawValue:
            guard implementsSstc else { throw .illegalInstruction(raw) }
            writeSupervisorTimeCompare(value)
        case CSRNumber.satp.rawValue:
            // A write with an unsupported MODE has no effect at all (§4.1.11); Linux relies on
            // this to probe Sv57, then Sv48, then Sv39.
            let mode = value >> 60
            guard mode == 0 || mode == 8 || mode == 9 else { break }
            s.pointee.satp = value
            noteTranslationContextChange()
        case CSRNumber.mstatus.rawValue: writeMStatus(value)
        case CSRNumber.misa.rawValue: break
        case CSRNumber.medeleg.rawValue: s.pointee.medeleg = value & CSRMask.delegableExceptions
        case CSRNumber.mideleg.rawValue: s.pointee.mideleg = value & CSRMask.supervisorInterrupts
        case CSRNumber.mie.rawValue: s.pointee.mie = value & CSRMask.interrupts
        case CSRNumber.mtvec.rawValue: writeTrapVector(&s.pointee.mtvec, value)
        case CSRNumber.mcounteren.rawValue: s.pointee.mcounteren = value & 0xFFFF_FFFF
        case CSRNumber.menvcfg.rawValue: writeEnvironmentConfig(value) // FIOM, and STCE with Sstc: no Svpbmt, Zicbo*
        case CSRNumber.mcountinhibit.rawValue: s.pointee.mcountinhibit = value & 0b101
        case CSRNumber.mscratch.rawValue: s.pointee.mscratch = value
        case CSRNumber.mepc.rawValue: s.pointee.mepc = value & ~1
        case CSRNumber.mcause.rawValue: s.pointee.mcause = value
        case CSRNumber.mtval.rawValue: s.pointee.mtval = value
        case CSRNumber.mip.rawValue:
            let mask = softwareWritableInterrupts
            s.pointee.mip = s.pointee.mip & ~mask | value & mask
        case CSRNumber.pmpcfg0.rawValue: writePMPConfiguration(register: 0, value)
        case CSRNumber.pmpcfg2.rawValue: writePMPConfiguration(register: 1, value)
        case 0x3A4...0x3AF where csr & 1 == 0: break
        case CSRNumber.pmpaddr0.rawValue...CSRNumber.pmpaddr15.rawValue: writePMPAddress(Int(csr - CSRNumber.pmpaddr0.rawValue), value)
        case 0x3C0...0x3EF, CSRNumber.mseccfg.rawValue: break
        default: try writeAIACSR(csr, value, raw: raw)
        }
    }

    /// mstatus WARL: only the implemented fields change; MPP keeps its value when the
    /// reserved encoding 2 is written.
    private func writeMStatus(_ value: UInt64) {
        var newValue = state.pointee.mstatus & ~CSRMask.mstatusWritable | value & CSRMask.mstatusWritable
        if (value & MStatus.mpp) >> MStatus.mppShift == 2 {
            newValue = newValue & ~MStatus.mpp | state.pointee.mstatus & MStatus.mpp
        }
        state.pointee.mstatus = newValue
        noteTranslationContextChange()
    }

    /// xtvec WARL: MODE ≥ 2 is reserved; such a write is ignored (as QEMU does).
    private func writeTrapVector(_ register: inout UInt64, _ value: UInt64) {
        if value & 3 < 2 { register = value }
    }

    /// Writing fflags/frm/fcsr makes the FP state dirty (unprivileged spec §11.2).
    private func markFloatingPointDirty() {
        state.pointee.mstatus |= MStatus.fs
    }
}
