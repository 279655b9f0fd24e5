// Instruction decoding: 32-bit RV64IMA + Zicsr + Zifencei + privileged encodings and every RV64C
// compressed form (RISC-V unprivileged spec 20191213 §2, §5, §7, §8, §9, §16, §24; privileged
// spec 1.12 §3.3, §4.2.1). Decoding happens once per cached block, never per execution.

@inline(__always) private func bits(_ value: UInt32, _ high: UInt32, _ low: UInt32) -> UInt32 {
    (value >> low) & ((1 << (high - low + 1)) - 1)
}

/// Sign-extends the low `width` bits of `value` to 64 bits.
@inline(__always) func signExtend(_ value: UInt64, width: UInt64) -> UInt64 {
    let shift = 64 - width
    return UInt64(bitPattern: Int64(bitPattern: value << shift) >> shift)
}

// Operation tables indexed by funct3 (or funct2 for C.SUB…C.AND); nil marks reserved encodings.
private let branchOperations: [Operation?] = [.beq, .bne, nil, nil, .blt, .bge, .bltu, .bgeu]
private let loadOperations: [Operation?] = [.lb, .lh, .lw, .ld, .lbu, .lhu, .lwu, nil]
private let storeOperations: [Operation?] = [.sb, .sh, .sw, .sd, nil, nil, nil, nil]
private let multiplyOperations: [Operation] = [.mul, .mulh, .mulhsu, .mulhu, .div, .divu, .rem, .remu]
private let compressedArithmetic: [Operation?] = [.sub, .xor, .or, .and]
private let compressedWordArithmetic: [Operation?] = [.subw, .addw, nil, nil]

/// Decodes one 32-bit instruction (low two bits 11).
func decode32(_ inst: UInt32) -> DecodedInstruction {
    let rd = bits(inst, 11, 7), rs1 = bits(inst, 19, 15), rs2 = bits(inst, 24, 20)
    let funct3 = bits(inst, 14, 12), funct7 = bits(inst, 31, 25)
    let immI = signExtend(UInt64(inst >> 20), width: 12)
    let immS = signExtend(UInt64(bits(inst, 31, 25) << 5 | bits(inst, 11, 7)), width: 12)
    let immB = signExtend(UInt64(bits(inst, 31, 31) << 12 | bits(inst, 7, 7) << 11
                                 | bits(inst, 30, 25) << 5 | bits(inst, 11, 8) << 1), width: 13)
    let immU = signExtend(UInt64(inst & 0xFFFF_F000), width: 32)
    let immJ = signExtend(UInt64(bits(inst, 31, 31) << 20 | bits(inst, 19, 12) << 12
                                 | bits(inst, 20, 20) << 11 | bits(inst, 30, 21) << 1), width: 21)
    func make(_ op: Operation, imm: UInt64 = 0) -> DecodedInstruction {
        DecodedInstruction(op, rd: rd, rs1: rs1, rs2: rs2, imm: imm, raw: inst, length: 4)
    }
    let illegal = DecodedInstruction.illegal(inst, length: 4)

    switch inst & 0x7F {
    case 0x37: return make(.lui, imm: immU)
    case 0x17: return make(.auipc, imm: immU)
    case 0x6F: return make(.jal, imm: immJ)
    case 0x67: return funct3 == 0 ? make(.jalr, imm: immI) : illegal
    case 0x63:
        guard let op = branchOperations[Int(funct3)] else { return illegal }
        return make(op, imm: immB)
    case 0x03:
        guard let op = loadOperations[Int(funct3)] else { return illegal }
        return make(op, imm: immI)
    case 0x23:
        guard let op = storeOperations[Int(funct3)] else { return illegal }
        return make(op, imm: immS)
    case 0x13:
        switch funct3 {
        case 0: return make(.addi, imm: immI)
        case 2: return make(.slti, imm: immI)
        case 3: return make(.sltiu, imm: immI)
        case 4: return make(.xori, imm: immI)
        case 6: return make(.ori, imm: immI)
        case 7: return make(.andi, imm: immI)
        case 1: return bits(inst, 31, 26) == 0 ? make(.slli, imm: UInt64(bits(inst, 25, 20))) : illegal
        default: // 5
            switch bits(inst, 31, 26) {
            case 0x00: return make(.srli, imm: UInt64(bits(inst, 25, 20)))
            case 0x10: return make(.srai, imm: UInt64(bits(inst, 25, 20)))
            default: return illegal
            }
        }
    case 0x1B:
        switch (funct3, funct7) {
        case (0, _): return make(.addiw, imm: immI)
        case (1, 0x00): return make(.slliw, imm: UInt64(rs2))
        case (5, 0x00): return make(.srliw, imm: UInt64(rs2))
        case (5, 0x20): return make(.sraiw, imm: UInt64(rs2))
        default: return illegal
        }
    case 0x33:
        switch (funct7, funct3) {
        case (0x00, 0): return make(.add)
        case (0x20, 0): return make(.sub)
        case (0x00, 1): return make(.sll)
        case (0x00, 2): return make(.slt)
        case (0x00, 3): return make(.sltu)
        case (0x00, 4): return make(.xor)
        case (0x00, 5): return make(.srl)
        case (0x20, 5): return make(.sra)
        case (0x00, 6): return make(.or)
        case (0x00, 7): return make(.and)
        case (0x01, _):
            return make(multiplyOperations[Int(funct3)])
        default: return illegal
        }
    case 0x3B:
        switch (funct7, funct3) {
        case (0x00, 0): return make(.addw)
        case (0x20, 0): return make(.subw)
        case (0x00, 1): return make(.sllw)
        case (0x00, 5): return make(.srlw)
        case (0x20, 5): return make(.sraw)
        case (0x01, 0): return make(.mulw)
        case (0x01, 4): return make(.divw)
        case (0x01, 5): return make(.divuw)
        case (0x01, 6): return make(.remw)
        case (0x01, 7): return make(.remuw)
        default: return illegal
        }
    case 0x0F:
        switch funct3 {
        case 0: return make(.fence)
        case 1: return make(.fenceI)
        default: return illegal
        }
    case 0x2F:
        guard funct3 == 2 || funct3 == 3 else { return illegal }
        let size: UInt64 = funct3 == 2 ? 4 : 8
        let op: Operation
        switch bits(inst, 31, 27) {
        case 0x02:
            guard rs2 == 0 else { return illegal }
            op = .lr
        case 0x03: op = .sc
        case 0x01: op = .amoswap
        case 0x00: op = .amoadd
        case 0x04: op = .amoxor
        case 0x0C: op = .amoand
        case 0x08: op = .amoor
        case 0x10: op = .amomin
        case 0x14: op = .amomax
        case 0x18: op = .amominu
        case 0x1C: op = .amomaxu
        default: return illegal
        }
        return make(op, imm: size)
    case 0x73:
        let csr = UInt64(inst >> 20)
        switch funct3 {
        case 0:
            switch inst {
            case 0x0000_0073: return make(.ecall)
            case 0x0010_0073: return make(.ebreak)
            case 0x1020_0073: return make(.sret)
            case 0x3020_0073: return make(.mret)
            case 0x1050_0073: return make(.wfi)
            default:
                if funct7 == 0x09 && rd == 0 { return make(.sfenceVMA) }
                return illegal
            }
        case 1: return make(.csrrw, imm: csr)
        case 2: return make(.csrrs, imm: csr)
        case 3: return make(.csrrc, imm: csr)
        case 5: return make(.csrrwi, imm: csr)
        case 6: return make(.csrrsi, imm: csr)
        case 7: return make(.csrrci, imm: csr)
        default: return illegal
        }
    case 0x07, 0x27, 0x53, 0x43, 0x47, 0x4B, 0x4F:
        return make(.floatingPoint)
    default:
        return illegal
    }
}

/// Decodes one 16-bit compressed instruction (low two bits not 11) to the operation of its
/// 32-bit expansion (unprivileged spec §16.8 tables 16.5–16.7). Reserved encodings and the
/// all-zero instruction decode as illegal with the 16-bit pattern in `raw`.
func decodeCompressed(_ half: UInt16) -> DecodedInstruction {
    let inst = UInt32(half)
    let funct3 = bits(inst, 15, 13)
    let rdFull = bits(inst, 11, 7), rs2Full = bits(inst, 6, 2)
    let rdPrime = bits(inst, 4, 2) + 8, rs1Prime = bits(inst, 9, 7) + 8
    let illegal = DecodedInstruction.illegal(inst, length: 2)
    func make(_ op: Operation, rd: UInt32 = 0, rs1: UInt32 = 0, rs2: UInt32 = 0, imm: UInt64 = 0) -> DecodedInstruction {
        DecodedInstruction(op, rd: rd, rs1: rs1, rs2: rs2, imm: imm, raw: inst, length: 2)
    }
    /// FP loads/stores are handed over in their 32-bit form (the FP contract).
    func floatingPoint(_ expanded: UInt32) -> DecodedInstruction {
        DecodedInstruction(.floatingPoint, raw: expanded, length: 2)
    }
    // Immediates shared by several forms.
    let imm6 = signExtend(UInt64(bits(inst, 12, 12) << 5 | bits(inst, 6, 2)), width: 6)
    let shamt = UInt64(bits(inst, 12, 12) << 5 | bits(inst, 6, 2))
    // C.LD/C.SD/C.FLD/C.FSD offset: uimm[5:3] = inst[12:10], uimm[7:6] = inst[6:5].
    let offsetD = UInt64(bits(inst, 12, 10) << 3 | bits(inst, 6, 5) << 6)
    // C.LW/C.SW: uimm[5:3] = inst[12:10], uimm[2] = inst[6], uimm[6] = inst[5].
    let offsetW = UInt64(bits(inst, 12, 10) << 3 | bits(inst, 6, 6) << 2 | bits(inst, 5, 5) << 6)
    // C.LDSP/C.FLDSP: uimm[5] = inst[12], uimm[4:3] = inst[6:5], uimm[8:6] = inst[4:2].
    let offsetLDSP = UInt64(bits(inst, 12, 12) << 5 | bits(inst, 6, 5) << 3 | bits(inst, 4, 2) << 6)
    // C.SDSP/C.FSDSP: uimm[5:3] = inst[12:10], uimm[8:6] = inst[9:7].
    let offsetSDSP = UInt64(bits(inst, 12, 10) << 3 | bits(inst, 9, 7) << 6)

    switch (inst & 3, funct3) {
    // Quadrant 0
    case (0, 0): // C.ADDI4SPN: nzuimm[5:4|9:6|2|3] = inst[12:5]; zero is reserved (and all-zero is illegal).
        let imm = bits(inst, 12, 11) << 4 | bits(inst, 10, 7) << 6 | bits(inst, 6, 6) << 2 | bits(inst, 5, 5) << 3
        guard imm != 0 else { return illegal }
        return make(.addi, rd: rdPrime, rs1: 2, imm: UInt64(imm))
    case (0, 1): // C.FLD → fld rd', offset(rs1')
        return floatingPoint(UInt32(offsetD) << 20 | rs1Prime << 15 | 3 << 12 | rdPrime << 7 | 0x07)
    case (0, 2): return make(.lw, rd: rdPrime, rs1: rs1Prime, imm: offsetW)
    case (0, 3): return make(.ld, rd: rdPrime, rs1: rs1Prime, imm: offsetD)
    case (0, 5): // C.FSD → fsd rs2', offset(rs1')
        return floatingPoint(encodeStore(offset: UInt32(offsetD), rs2: rdPrime, rs1: rs1Prime, funct3: 3, opcode: 0x27))
    case (0, 6): return make(.sw, rs1: rs1Prime, rs2: rdPrime, imm: offsetW)
    case (0, 7): return make(.sd, rs1: rs1Prime, rs2: rdPrime, imm: offsetD)
    case (0, _): return illegal

    // Quadrant 1
    case (1, 0): // C.ADDI (rd=0 is C.NOP or a hint)
        return rdFull == 0 ? make(.nop) : make(.addi, rd: rdFull, rs1: rdFull, imm: imm6)
    case (1, 1): // C.ADDIW; rd=0 reserved
        guard rdFull != 0 else { return illegal }
        return make(.addiw, rd: rdFull, rs1: rdFull, imm: imm6)
    case (1, 2): // C.LI (rd=0 hint)
        return rdFull == 0 ? make(.nop) : make(.addi, rd: rdFull, rs1: 0, imm: imm6)
    case (1, 3):
        if rdFull == 2 { // C.ADDI16SP: nzimm[9] = inst[12], nzimm[4|6|8:7|5] = inst[6:2]
            let raw = bits(inst, 12, 12) << 9 | bits(inst, 6, 6) << 4 | bits(inst, 5, 5) << 6
                | bits(inst, 4, 3) << 7 | bits(inst, 2, 2) << 5
            guard raw != 0 else { return illegal }
            return make(.addi, rd: 2, rs1: 2, imm: signExtend(UInt64(raw), width: 10))
        }
        // C.LUI: nzimm[17] = inst[12], nzimm[16:12] = inst[6:2]; zero reserved, rd=0 hint.
        guard imm6 != 0 else { return illegal }
        return rdFull == 0 ? make(.nop) : make(.lui, rd: rdFull, imm: imm6 << 12)
    case (1, 4):
        switch bits(inst, 11, 10) {
        case 0: return make(.srli, rd: rs1Prime, rs1: rs1Prime, imm: shamt)
        case 1: return make(.srai, rd: rs1Prime, rs1: rs1Prime, imm: shamt)
        case 2: return make(.andi, rd: rs1Prime, rs1: rs1Prime, imm: imm6)
        default:
            let ops = bits(inst, 12, 12) == 0 ? compressedArithmetic : compressedWordArithmetic
            guard let op = ops[Int(bits(inst, 6, 5))] else { return illegal }
            return make(op, rd: rs1Prime, rs1: rs1Prime, rs2: rdPrime)
        }
    case (1, 5): // C.J: offset[11|4|9:8|10|6|7|3:1|5] = inst[12:2]
        let raw = bits(inst, 12, 12) << 11 | bits(inst, 11, 11) << 4 | bits(inst, 10, 9) << 8
            | bits(inst, 8, 8) << 10 | bits(inst, 7, 7) << 6 | bits(inst, 6, 6) << 7
            | bits(inst, 5, 3) << 1 | bits(inst, 2, 2) << 5
        return make(.jal, rd: 0, imm: signExtend(UInt64(raw), width: 12))
    case (1, 6), (1, 7): // C.BEQZ / C.BNEZ: offset[8|4:3] = inst[12:10], offset[7:6|2:1|5] = inst[6:2]
        let raw = bits(inst, 12, 12) << 8 | bits(inst, 11, 10) << 3 | bits(inst, 6, 5) << 6
            | bits(inst, 4, 3) << 1 | bits(inst, 2, 2) << 5
        return make(funct3 == 6 ? .beq : .bne, rs1: rs1Prime, rs2: 0, imm: signExtend(UInt64(raw), width: 9))

    // Quadrant 2
    case (2, 0): // C.SLLI (rd=0 hint)
        return rdFull == 0 ? make(.nop) : make(.slli, rd: rdFull, rs1: rdFull, imm: shamt)
    case (2, 1): // C.FLDSP → fld rd, offset(x2)
        return floatingPoint(UInt32(offsetLDSP) << 20 | 2 << 15 | 3 << 12 | rdFull << 7 | 0x07)
    case (2, 2): // C.LWSP: uimm[5] = inst[12], uimm[4:2] = inst[6:4], uimm[7:6] = inst[3:2]; rd=0 reserved
        guard rdFull != 0 else { return illegal }
        let offset = bits(inst, 12, 12) << 5 | bits(inst, 6, 4) << 2 | bits(inst, 3, 2) << 6
        return make(.lw, rd: rdFull, rs1: 2, imm: UInt64(offset))
    case (2, 3): // C.LDSP; rd=0 reserved
        guard rdFull != 0 else { return illegal }
        return make(.ld, rd: rdFull, rs1: 2, imm: offsetLDSP)
    case (2, 4):
        if bits(inst, 12, 12) == 0 {
            if rs2Full == 0 { // C.JR; rs1=0 reserved
                guard rdFull != 0 else { return illegal }
                return make(.jalr, rd: 0, rs1: rdFull, imm: 0)
            }
            return rdFull == 0 ? make(.nop) : make(.add, rd: rdFull, rs1: 0, rs2: rs2Full) // C.MV
        }
        if rs2Full == 0 {
            if rdFull == 0 { return make(.ebreak) } // C.EBREAK
            return make(.jalr, rd: 1, rs1: rdFull, imm: 0) // C.JALR
        }
        return rdFull == 0 ? make(.nop) : make(.add, rd: rdFull, rs1: rdFull, rs2: rs2Full) // C.ADD
    case (2, 5): // C.FSDSP → fsd rs2, offset(x2)
        return floatingPoint(encodeStore(offset: UInt32(offsetSDSP), rs2: rs2Full, rs1: 2, funct3: 3, opcode: 0x27))
    case (2, 6): // C.SWSP: uimm[5:2] = inst[12:9], uimm[7:6] = inst[8:7]
        let offset = bits(inst, 12, 9) << 2 | bits(inst, 8, 7) << 6
        return make(.sw, rs1: 2, rs2: rs2Full, imm: UInt64(offset))
    case (2, 7): return make(.sd, rs1: 2, rs2: rs2Full, imm: offsetSDSP)
    default:
        return illegal
    }
}

/// An S-type encoding (for expanding compressed FP stores).
private func encodeStore(offset: UInt32, rs2: UInt32, rs1: UInt32, funct3: UInt32, opcode: UInt32) -> UInt32 {
    (offset >> 5) << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | (offset & 0x1F) << 7 | opcode
}

/// Decodes the instruction whose first halfword is `low` (and, for 32-bit instructions, whose
/// second halfword is `high`). Encodings of 48 bits and longer (low bits 11111) are illegal here.
func decodeInstruction(low: UInt16, high: UInt16) -> DecodedInstruction {
    if low & 3 != 3 { return decodeCompressed(low) }
    let inst = UInt32(low) | UInt32(high) << 16
    if low & 0x1C == 0x1C { return .illegal(inst, length: 4) }
    return decode32(inst)
}
