/// What a pre-decoded instruction does. Compressed instructions decode to the operation of
/// their 32-bit expansion (RISC-V unprivileged spec 20191213 §16), so the executor has one
/// case per base operation.
enum Operation: UInt8 {
    // RV64I (unprivileged spec §2, §5)
    case lui, auipc, jal, jalr
    case beq, bne, blt, bge, bltu, bgeu
    case lb, lh, lw, ld, lbu, lhu, lwu
    case sb, sh, sw, sd
    case addi, slti, sltiu, xori, ori, andi, slli, srli, srai
    case add, sub, sll, slt, sltu, xor, srl, sra, or, and
    case addiw, slliw, srliw, sraiw, addw, subw, sllw, srlw, sraw
    // M (§7)
    case mul, mulh, mulhsu, mulhu, div, divu, rem, remu
    case mulw, divw, divuw, remw, remuw
    // A (§8): `size` of the access is in `rs2`-independent `imm` = 4 or 8 for these.
    case lr, sc, amoswap, amoadd, amoxor, amoand, amoor, amomin, amomax, amominu, amomaxu
    // Zifencei, Zicsr, privileged
    case fence, fenceI
    case ecall, ebreak, mret, sret, wfi, sfenceVMA
    case csrrw, csrrs, csrrc, csrrwi, csrrsi, csrrci
    /// F/D instruction handed whole (`raw`, 32-bit form) to `executeFloatingPoint`.
    case floatingPoint
    /// Raises illegal instruction with `raw` (the instruction's own bits) in tval.
    case illegal
    case nop
}

/// One instruction decoded once and cached in a block (see `BlockCache`).
///
/// 24 bytes; `imm` is the sign-extended immediate as a bit pattern (for CSR instructions, the
/// CSR number; for AMOs, the access size).
struct DecodedInstruction {
    var imm: UInt64
    var raw: UInt32
    var op: Operation
    var rd: UInt8
    var rs1: UInt8
    var rs2: UInt8
    /// 2 for a compressed instruction, else 4.
    var length: UInt8

    init(_ op: Operation, rd: UInt32 = 0, rs1: UInt32 = 0, rs2: UInt32 = 0, imm: UInt64 = 0,
         raw: UInt32, length: UInt8) {
        self.op = op
        self.rd = UInt8(truncatingIfNeeded: rd)
        self.rs1 = UInt8(truncatingIfNeeded: rs1)
        self.rs2 = UInt8(truncatingIfNeeded: rs2)
        self.imm = imm
        self.raw = raw
        self.length = length
    }

    static func illegal(_ raw: UInt32, length: UInt8) -> DecodedInstruction {
        DecodedInstruction(.illegal, raw: raw, length: length)
    }

    /// Whether the block must end after this instruction: it may change the PC, the privilege,
    /// translation, interrupt enables or the decoded code itself.
    var endsBlock: Bool {
        switch op {
        case .jal, .jalr, .beq, .bne, .blt, .bge, .bltu, .bgeu,
             .fenceI, .ecall, .ebreak, .mret, .sret, .wfi, .sfenceVMA,
             .csrrw, .csrrs, .csrrc, .csrrwi, .csrrsi, .csrrci, .illegal:
            return true
        default:
            return false
        }
    }
}
