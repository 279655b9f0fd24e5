import CHartState

/// CSR numbers (RISC-V privileged spec 1.12 §2.2, tables 2.2–2.5).
enum CSRNumber {
    static let fflags: UInt32 = 0x001, frm: UInt32 = 0x002, fcsr: UInt32 = 0x003
    static let cycle: UInt32 = 0xC00, time: UInt32 = 0xC01, instret: UInt32 = 0xC02
    static let sstatus: UInt32 = 0x100, sie: UInt32 = 0x104, stvec: UInt32 = 0x105, scounteren: UInt32 = 0x106
    static let senvcfg: UInt32 = 0x10A, sscratch: UInt32 = 0x140, sepc: UInt32 = 0x141, scause: UInt32 = 0x142
    static let stval: UInt32 = 0x143, sip: UInt32 = 0x144, satp: UInt32 = 0x180
    static let mvendorid: UInt32 = 0xF11, marchid: UInt32 = 0xF12, mimpid: UInt32 = 0xF13
    static let mhartid: UInt32 = 0xF14, mconfigptr: UInt32 = 0xF15
    static let mstatus: UInt32 = 0x300, misa: UInt32 = 0x301, medeleg: UInt32 = 0x302, mideleg: UInt32 = 0x303
    static let mie: UInt32 = 0x304, mtvec: UInt32 = 0x305, mcounteren: UInt32 = 0x306, menvcfg: UInt32 = 0x30A
    static let mcountinhibit: UInt32 = 0x320, mscratch: UInt32 = 0x340, mepc: UInt32 = 0x341
    static let mcause: UInt32 = 0x342, mtval: UInt32 = 0x343, mip: UInt32 = 0x344
    static let pmpcfg0: UInt32 = 0x3A0, pmpaddr0: UInt32 = 0x3B0, mseccfg: UInt32 = 0x747
    static let mcycle: UInt32 = 0xB00, minstret: UInt32 = 0xB02
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
            let base = csr == CSRNumber.mip ? old & ~seip | state.pointee.mip & seip : old
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
        case CSRNumber.cycle...0xC1F:
            let bit: UInt64 = 1 << UInt64(csr - CSRNumber.cycle)
            if privilege < privilegeMachine && state.pointee.mcounteren & bit == 0 { throw .illegalInstruction(raw) }
            if privilege == privilegeUser && state.pointee.scounteren & bit == 0 { throw .illegalInstruction(raw) }
        case CSRNumber.satp:
            if privilege == privilegeSupervisor && state.pointee.mstatus & MStatus.tvm != 0 { throw .illegalInstruction(raw) }
        case CSRNumber.fflags, CSRNumber.frm, CSRNumber.fcsr:
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
        case CSRNumber.fflags: return UInt64(s.pointee.fflags & 0x1F)
        case CSRNumber.frm: return UInt64(s.pointee.frm & 7)
        case CSRNumber.fcsr: return UInt64((s.pointee.frm & 7) << 5 | s.pointee.fflags & 0x1F)
        case CSRNumber.cycle, CSRNumber.mcycle: return s.pointee.cycle
        case CSRNumber.instret, CSRNumber.minstret: return s.pointee.instret
        case CSRNumber.time: return timebase.now()
        case 0xC03...0xC1F, 0xB03...0xB1F, 0x323...0x33F: return 0 // hpmcounters/events: not implemented, read 0
        case CSRNumber.sstatus: return mstatusValue & CSRMask.sstatusVisible
        case CSRNumber.sie: return s.pointee.mie & s.pointee.mideleg
        case CSRNumber.stvec: return s.pointee.stvec
        case CSRNumber.scounteren: return s.pointee.scounteren
        case CSRNumber.senvcfg: return s.pointee.senvcfg
        case CSRNumber.sscratch: return s.pointee.sscratch
        case CSRNumber.sepc: return s.pointee.sepc
        case CSRNumber.scause: return s.pointee.scause
        case CSRNumber.stval: return s.pointee.stval
        case CSRNumber.sip: return (s.pointee.mip | s.pointee.mipExternal) & s.pointee.mideleg
        case CSRNumber.satp: return s.pointee.satp
        case CSRNumber.mvendorid, CSRNumber.marchid, CSRNumber.mimpid, CSRNumber.mconfigptr: return 0
        case CSRNumber.mhartid: return s.pointee.hartid
        case CSRNumber.mstatus: return mstatusValue
        case CSRNumber.misa: return CSRMask.misa
        case CSRNumber.medeleg: return s.pointee.medeleg
        case CSRNumber.mideleg: return s.pointee.mideleg
        case CSRNumber.mie: return s.pointee.mie
        case CSRNumber.mtvec: return s.pointee.mtvec
        case CSRNumber.mcounteren: return s.pointee.mcounteren
        case CSRNumber.menvcfg: return s.pointee.menvcfg
        case CSRNumber.mcountinhibit: return s.pointee.mcountinhibit
        case CSRNumber.mscratch: return s.pointee.mscratch
        case CSRNumber.mepc: return s.pointee.mepc
        case CSRNumber.mcause: return s.pointee.mcause
        case CSRNumber.mtval: return s.pointee.mtval
        case CSRNumber.mip: return s.pointee.mip | s.pointee.mipExternal
        case CSRNumber.pmpcfg0: return s.pointee.pmpcfg.0
        case CSRNumber.pmpcfg0 + 2: return s.pointee.pmpcfg.1
        case 0x3A4...0x3AF where csr & 1 == 0: return 0 // pmpcfg4..14: entries 16..63 not implemented
        case CSRNumber.pmpaddr0...(CSRNumber.pmpaddr0 + 15): return pmpAddress(Int(csr - CSRNumber.pmpaddr0))
        case 0x3C0...0x3EF: return 0 // pmpaddr16..63
        case CSRNumber.mseccfg: return 0
        default: return try readAIACSR(csr, raw: raw)
        }
    }

    /// Writes a CSR with its WARL rules. Callers have checked privilege and read-only-ness.
    func writeCSR(_ csr: UInt32, _ value: UInt64, raw: UInt32) throws(Trap) {
        let s = state
        switch csr {
        case CSRNumber.fflags:
            s.pointee.fflags = UInt32(value & 0x1F)
            markFloatingPointDirty()
        case CSRNumber.frm:
            s.pointee.frm = UInt32(value & 7)
            markFloatingPointDirty()
        case CSRNumber.fcsr:
            s.pointee.fflags = UInt32(value & 0x1F)
            s.pointee.frm = UInt32((value >> 5) & 7)
            markFloatingPointDirty()
        // "If a CSR access instruction writes such a CSR, the write is done instead of the
        // increment" (unprivileged spec §9.1): the block's retirement adds 1 back.
        case CSRNumber.mcycle: s.pointee.cycle = value &- (s.pointee.mcountinhibit & 1 == 0 ? 1 : 0)
        case CSRNumber.minstret: s.pointee.instret = value &- (s.pointee.mcountinhibit & 4 == 0 ? 1 : 0)
        case 0xB03...0xB1F, 0x323...0x33F: break
        case CSRNumber.sstatus:
            writeMStatus(s.pointee.mstatus & ~CSRMask.sstatusWritable | value & CSRMask.sstatusWritable)
        case CSRNumber.sie:
            let mask = s.pointee.mideleg & CSRMask.supervisorInterrupts
            s.pointee.mie = s.pointee.mie & ~mask | value & mask
        case CSRNumber.stvec: writeTrapVector(&s.pointee.stvec, value)
        case CSRNumber.scounteren: s.pointee.scounteren = value & 0xFFFF_FFFF
        case CSRNumber.senvcfg: s.pointee.senvcfg = value & 1 // FIOM only
        case CSRNumber.sscratch: s.pointee.sscratch = value
        case CSRNumber.sepc: s.pointee.sepc = value & ~1
        case CSRNumber.scause: s.pointee.scause = value
        case CSRNumber.stval: s.pointee.stval = value
        case CSRNumber.sip:
            // Only SSIP is writable through sip, and only when delegated (§4.1.3).
            let mask = s.pointee.mideleg & (1 << 1)
            s.pointee.mip = s.pointee.mip & ~mask | value & mask
        case CSRNumber.satp:
            // A write with an unsupported MODE has no effect at all (§4.1.11); Linux relies on
            // this to probe Sv57, then Sv48, then Sv39.
            let mode = value >> 60
            guard mode == 0 || mode == 8 || mode == 9 else { break }
            s.pointee.satp = value
            noteTranslationContextChange()
        case CSRNumber.mstatus: writeMStatus(value)
        case CSRNumber.misa: break
        case CSRNumber.medeleg: s.pointee.medeleg = value & CSRMask.delegableExceptions
        case CSRNumber.mideleg: s.pointee.mideleg = value & CSRMask.supervisorInterrupts
        case CSRNumber.mie: s.pointee.mie = value & CSRMask.interrupts
        case CSRNumber.mtvec: writeTrapVector(&s.pointee.mtvec, value)
        case CSRNumber.mcounteren: s.pointee.mcounteren = value & 0xFFFF_FFFF
        case CSRNumber.menvcfg: s.pointee.menvcfg = value & 1 // FIOM only: no Sstc, Svpbmt, Zicbo*
        case CSRNumber.mcountinhibit: s.pointee.mcountinhibit = value & 0b101
        case CSRNumber.mscratch: s.pointee.mscratch = value
        case CSRNumber.mepc: s.pointee.mepc = value & ~1
        case CSRNumber.mcause: s.pointee.mcause = value
        case CSRNumber.mtval: s.pointee.mtval = value
        case CSRNumber.mip:
            let mask = CSRMask.supervisorInterrupts
            s.pointee.mip = s.pointee.mip & ~mask | value & mask
        case CSRNumber.pmpcfg0: writePMPConfiguration(register: 0, value)
        case CSRNumber.pmpcfg0 + 2: writePMPConfiguration(register: 1, value)
        case 0x3A4...0x3AF where csr & 1 == 0: break
        case CSRNumber.pmpaddr0...(CSRNumber.pmpaddr0 + 15): writePMPAddress(Int(csr - CSRNumber.pmpaddr0), value)
        case 0x3C0...0x3EF, CSRNumber.mseccfg: break
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
