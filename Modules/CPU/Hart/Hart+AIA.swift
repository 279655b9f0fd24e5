import CHartState
import IRQ

/// CSR numbers of Smaia and Ssaia (RISC-V AIA 1.0 §2.1–2.3, tables 2.1 and 2.2).
enum AIACSRNumber {
    static let miselect: UInt32 = 0x350, mireg: UInt32 = 0x351, mtopei: UInt32 = 0x35C, mtopi: UInt32 = 0xFB0
    static let mvien: UInt32 = 0x308, mvip: UInt32 = 0x309
    static let siselect: UInt32 = 0x150, sireg: UInt32 = 0x151, stopei: UInt32 = 0x15C, stopi: UInt32 = 0xDB0
}

/// `*iselect` ranges (AIA §2.1, table 2.3).
private enum IndirectSelect {
    /// Major interrupt priorities `iprio0`…`iprio15` (§5.2.1); even numbers only on RV64.
    static let priorities: ClosedRange<UInt64> = 0x30...0x3F
    /// The IMSIC interrupt file's registers (§3.8).
    static let interruptFile: ClosedRange<UInt64> = 0x70...0xFF
    /// `*iselect` is WARL; 12 bits hold every standard value and the custom range's start.
    static let writable: UInt64 = 0xFFF
}

/// Major interrupts in default priority order (AIA §5.1, table 5.1, for the causes this hart
/// has): MEI, MSI, MTI, SEI, SSI, STI.
private let defaultInterruptOrder: [UInt64] = [11, 3, 7, 9, 1, 5]

/// The software-writable mip bits `mvip` aliases while `mvien` is zero (§5.3): SSIP, STIP, SEIP.
private let virtualInterruptBits: UInt64 = 0x222

extension Hart {
    /// Reads an AIA CSR. Each is illegal when the hart has no interrupt file (a PLIC board);
    /// any other number is not a CSR at all.
    func readAIACSR(_ csr: UInt32, raw: UInt32) throws(Trap) -> UInt64 {
        guard let file = interruptFile else { throw .illegalInstruction(raw) }
        let s = state
        switch csr {
        case AIACSRNumber.miselect: return s.pointee.miselect
        case AIACSRNumber.siselect: return s.pointee.siselect
        case AIACSRNumber.mireg: return try readIndirect(file, level: .machine, select: s.pointee.miselect, raw: raw)
        case AIACSRNumber.sireg: return try readIndirect(file, level: .supervisor, select: s.pointee.siselect, raw: raw)
        case AIACSRNumber.mtopei:
            guard file.hasFile(level: .machine) else { throw .illegalInstruction(raw) }
            return file.topExternalInterrupt(level: .machine)
        case AIACSRNumber.stopei:
            guard file.hasFile(level: .supervisor) else { throw .illegalInstruction(raw) }
            return file.topExternalInterrupt(level: .supervisor)
        case AIACSRNumber.mtopi: return machineTopInterrupt
        case AIACSRNumber.stopi: return supervisorTopInterrupt
        // mvien: every bit read-only zero, which §5.3 allows (no virtual interrupts for S-mode).
        case AIACSRNumber.mvien: return 0
        // Bit 5 aliases mip.STIP only while software may write it there; under Sstc with
        // menvcfg.STCE set it is read-only zero (§5.3).
        case AIACSRNumber.mvip: return s.pointee.mip & softwareWritableInterrupts & virtualInterruptBits
        default: throw .illegalInstruction(raw)
        }
    }

    /// Writes an AIA CSR (the caller has checked privilege and read-only numbers).
    func writeAIACSR(_ csr: UInt32, _ value: UInt64, raw: UInt32) throws(Trap) {
        guard let file = interruptFile else { throw .illegalInstruction(raw) }
        let s = state
        switch csr {
        case AIACSRNumber.miselect: s.pointee.miselect = value & IndirectSelect.writable
        case AIACSRNumber.siselect: s.pointee.siselect = value & IndirectSelect.writable
        case AIACSRNumber.mireg: try writeIndirect(file, level: .machine, select: s.pointee.miselect, value: value, raw: raw)
        case AIACSRNumber.sireg: try writeIndirect(file, level: .supervisor, select: s.pointee.siselect, value: value, raw: raw)
        case AIACSRNumber.mtopei:
            guard file.hasFile(level: .machine) else { throw .illegalInstruction(raw) }
            file.claimTopExternalInterrupt(level: .machine)
        case AIACSRNumber.stopei:
            guard file.hasFile(level: .supervisor) else { throw .illegalInstruction(raw) }
            file.claimTopExternalInterrupt(level: .supervisor)
        case AIACSRNumber.mvien: break
        case AIACSRNumber.mvip:
            let mask = softwareWritableInterrupts & virtualInterruptBits
            s.pointee.mip = s.pointee.mip & ~mask | value & mask
        default: throw .illegalInstruction(raw)
        }
    }

    /// `mireg`/`sireg` (§2.1): the priority array reads zero (§5.2.1 allows it to be read-only
    /// zero), the IMSIC range goes to the file; anything else, and the odd numbers RV64 lacks,
    /// is illegal.
    private func readIndirect(_ file: any HartInterruptFile, level: InterruptLevel, select: UInt64, raw: UInt32) throws(Trap) -> UInt64 {
        if IndirectSelect.priorities.contains(select) {
            guard select & 1 == 0 else { throw .illegalInstruction(raw) }
            return 0
        }
        guard IndirectSelect.interruptFile.contains(select),
              let value = file.readIndirect(level: level, select: select) else { throw .illegalInstruction(raw) }
        return value
    }

    private func writeIndirect(_ file: any HartInterruptFile, level: InterruptLevel, select: UInt64, value: UInt64, raw: UInt32) throws(Trap) {
        if IndirectSelect.priorities.contains(select) {
            guard select & 1 == 0 else { throw .illegalInstruction(raw) }
            return
        }
        guard IndirectSelect.interruptFile.contains(select),
              file.writeIndirect(level: level, select: select, value: value) else { throw .illegalInstruction(raw) }
    }

    /// `mtopi` (§5.2.2): the highest-priority interrupt pending and enabled in mip/mie and not
    /// delegated, as `IID << 16 | IPRIO`. The priority array is read-only zero, so IPRIO is 1
    /// (the simplification §5.2.2 allows). Independent of mstatus.MIE.
    var machineTopInterrupt: UInt64 {
        let s = state // not `state.pointee`: that would copy the whole state with its TLBs
        return topInterrupt((s.pointee.mip | s.pointee.mipExternal) & s.pointee.mie & ~s.pointee.mideleg)
    }

    /// `stopi` (§5.4.3): as `mtopi` for the interrupts delegated to S-mode (sip & sie).
    var supervisorTopInterrupt: UInt64 {
        let s = state
        return topInterrupt((s.pointee.mip | s.pointee.mipExternal) & s.pointee.mie & s.pointee.mideleg)
    }

    private func topInterrupt(_ pending: UInt64) -> UInt64 {
        guard pending != 0 else { return 0 }
        for cause in defaultInterruptOrder where (pending >> cause) & 1 != 0 { return cause << 16 | 1 }
        return 0
    }
}
