import CHartState
import Trace

// The executor: one `switch` over `Operation` per pre-decoded instruction
// (RISC-V unprivileged spec 20191213 §2, §5, §7, §8; privileged spec 1.12 §3.3).

@inline(__always) private func signExtendWord(_ value: UInt64) -> UInt64 {
    UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: value)))
}

@inline(__always) private func signed(_ value: UInt64) -> Int64 { Int64(bitPattern: value) }

/// Whether the interpreter loop stores each instruction's pc before executing it; a type, not a
/// Bool argument, so the loop is specialized once per policy and the untraced copy has no test.
private protocol PCPolicy { static var exact: Bool { get } }
/// Device tracing is on: trace events read the hart's pc field (Trace.swift).
private enum ExactPC: PCPolicy { static var exact: Bool { true } }
/// The pc field holds the block's start until the block ends or calls out (CSRs, FP, traps).
private enum BlockPC: PCPolicy { static var exact: Bool { false } }

extension Hart {
    /// Adds `count` retired instructions to minstret and mcycle (one cycle per instruction),
    /// unless mcountinhibit stops them.
    @inline(__always) func retire(_ count: Int) {
        let inhibit = state.pointee.mcountinhibit
        if inhibit == 0 {
            state.pointee.instret &+= UInt64(count)
            state.pointee.cycle &+= UInt64(count)
        } else {
            if inhibit & 4 == 0 { state.pointee.instret &+= UInt64(count) }
            if inhibit & 1 == 0 { state.pointee.cycle &+= UInt64(count) }
        }
    }

    /// Executes the first `count` instructions of a block starting at `state.pc`. Returns the
    /// budget used: instructions retired, plus one if a trap was taken.
    func execute(_ code: UnsafeMutablePointer<DecodedInstruction>, count: Int) -> Int {
        // Device trace events name the pc of the instruction that caused them (Trace.swift), so a
        // traced run takes the copy of the loop that stores each instruction's pc first.
        if Trace.mask != 0 { return interpret(code, count: count, ExactPC.self) }
        return interpret(code, count: count, BlockPC.self)
    }

    private func interpret<Policy: PCPolicy>(_ code: UnsafeMutablePointer<DecodedInstruction>, count: Int, _: Policy.Type) -> Int {
        let x = registers
        let s = state
        var pc = s.pointee.pc
        var index = 0
        var counted = 0 // instructions already added to instret (before a CSR instruction)
        // The caller left the budget before the block's first instruction here; the virtual
        // clock reads it per instruction (HartState.clockBudget).
        let clockBudget = s.pointee.clockBudget
        do throws(Trap) {
            block: while index < count {
                let inst = code[index]
                s.pointee.clockBudget = clockBudget &- Int64(index)
                let rd = Int(inst.rd), rs1 = Int(inst.rs1), rs2 = Int(inst.rs2)
                let imm = inst.imm
                var next = pc &+ UInt64(inst.length)
                if Policy.exact { s.pointee.pc = pc }
                switch inst.op {
                case .lui: x[rd] = imm
                case .auipc: x[rd] = pc &+ imm
                case .jal:
                    x[rd] = next
                    next = pc &+ imm
                case .jalr:
                    let target = (x[rs1] &+ imm) & ~1
                    x[rd] = next
                    next = target
                case .beq: if x[rs1] == x[rs2] { next = pc &+ imm }
                case .bne: if x[rs1] != x[rs2] { next = pc &+ imm }
                case .blt: if signed(x[rs1]) < signed(x[rs2]) { next = pc &+ imm }
                case .bge: if signed(x[rs1]) >= signed(x[rs2]) { next = pc &+ imm }
                case .bltu: if x[rs1] < x[rs2] { next = pc &+ imm }
                case .bgeu: if x[rs1] >= x[rs2] { next = pc &+ imm }

                case .lb, .lh, .lw, .ld, .lbu, .lhu, .lwu:
                    x[rd] = try loadExtended(inst.op, x[rs1] &+ imm)
                    // A device read may have raised an interrupt, armed a timer that is due
                    // before the slice ends, or asked for a stop: leave right after it, as the
                    // JIT does (docs/architecture.md, "Virtual time").
                    if s.pointee.exitRequest != 0 {
                        x[0] = 0
                        pc = next
                        index += 1
                        break block
                    }
                case .sb, .sh, .sw, .sd:
                    let size = 1 << Int(inst.op.rawValue - Operation.sb.rawValue)
                    try storeData(x[rs1] &+ imm, size: size, value: x[rs2])
                    // A device write may have raised an interrupt or a stop request.
                    if s.pointee.exitRequest != 0 {
                        x[0] = 0
                        pc = next
                        index += 1
                        break block
                    }

                case .addi: x[rd] = x[rs1] &+ imm
                case .slti: x[rd] = signed(x[rs1]) < signed(imm) ? 1 : 0
                case .sltiu: x[rd] = x[rs1] < imm ? 1 : 0
                case .xori: x[rd] = x[rs1] ^ imm
                case .ori: x[rd] = x[rs1] | imm
                case .andi: x[rd] = x[rs1] & imm
                case .slli: x[rd] = x[rs1] << imm
                case .srli: x[rd] = x[rs1] >> imm
                case .srai: x[rd] = UInt64(bitPattern: signed(x[rs1]) >> Int64(imm))
                case .add: x[rd] = x[rs1] &+ x[rs2]
                case .sub: x[rd] = x[rs1] &- x[rs2]
                case .sll: x[rd] = x[rs1] << (x[rs2] & 63)
                case .slt: x[rd] = signed(x[rs1]) < signed(x[rs2]) ? 1 : 0
                case .sltu: x[rd] = x[rs1] < x[rs2] ? 1 : 0
                case .xor: x[rd] = x[rs1] ^ x[rs2]
                case .srl: x[rd] = x[rs1] >> (x[rs2] & 63)
                case .sra: x[rd] = UInt64(bitPattern: signed(x[rs1]) >> Int64(x[rs2] & 63))
                case .or: x[rd] = x[rs1] | x[rs2]
                case .and: x[rd] = x[rs1] & x[rs2]
                case .addiw: x[rd] = signExtendWord(x[rs1] &+ imm)
                case .slliw: x[rd] = signExtendWord(x[rs1] << imm)
                case .srliw: x[rd] = signExtendWord(UInt64(UInt32(truncatingIfNeeded: x[rs1]) >> UInt32(imm)))
                case .sraiw: x[rd] = UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: x[rs1]) >> Int32(imm)))
                case .addw: x[rd] = signExtendWord(x[rs1] &+ x[rs2])
                case .subw: x[rd] = signExtendWord(x[rs1] &- x[rs2])
                case .sllw: x[rd] = signExtendWord(x[rs1] << (x[rs2] & 31))
                case .srlw: x[rd] = signExtendWord(UInt64(UInt32(truncatingIfNeeded: x[rs1]) >> UInt32(x[rs2] & 31)))
                case .sraw: x[rd] = UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: x[rs1]) >> Int32(x[rs2] & 31)))

                case .mul: x[rd] = x[rs1] &* x[rs2]
                case .mulh: x[rd] = UInt64(bitPattern: signed(x[rs1]).multipliedFullWidth(by: signed(x[rs2])).high)
                case .mulhsu:
                    // signed × unsigned: the unsigned high word, corrected when rs1 is negative.
                    let a = x[rs1], b = x[rs2]
                    let high = a.multipliedFullWidth(by: b).high
                    x[rd] = signed(a) < 0 ? high &- b : high
                case .mulhu: x[rd] = x[rs1].multipliedFullWidth(by: x[rs2]).high
                case .div: x[rd] = divideSigned(x[rs1], x[rs2])
                case .divu: x[rd] = x[rs2] == 0 ? ~0 : x[rs1] / x[rs2]
                case .rem: x[rd] = remainderSigned(x[rs1], x[rs2])
                case .remu: x[rd] = x[rs2] == 0 ? x[rs1] : x[rs1] % x[rs2]
                case .mulw: x[rd] = signExtendWord(x[rs1] &* x[rs2])
                case .divw:
                    x[rd] = signExtendWord(divideSigned(signExtendWord(x[rs1]), signExtendWord(x[rs2])))
                case .divuw:
                    let a = UInt32(truncatingIfNeeded: x[rs1]), b = UInt32(truncatingIfNeeded: x[rs2])
                    x[rd] = signExtendWord(UInt64(b == 0 ? ~0 : a / b))
                case .remw:
                    x[rd] = signExtendWord(remainderSigned(signExtendWord(x[rs1]), signExtendWord(x[rs2])))
                case .remuw:
                    let a = UInt32(truncatingIfNeeded: x[rs1]), b = UInt32(truncatingIfNeeded: x[rs2])
                    x[rd] = signExtendWord(UInt64(b == 0 ? a : a % b))

                case .lr:
                    let value = try loadReserved(x[rs1], size: Int(imm))
                    x[rd] = imm == 4 ? signExtendWord(value) : value
                case .sc:
                    x[rd] = try storeConditional(x[rs1], size: Int(imm), value: x[rs2])
                case .amoswap, .amoadd, .amoxor, .amoand, .amoor, .amomin, .amomax, .amominu, .amomaxu:
                    x[rd] = try executeAMO(inst.op, address: x[rs1], size: Int(imm), operand: x[rs2])
                    if s.pointee.exitRequest != 0 {
                        x[0] = 0
                        pc = next
                        index += 1
                        break block
                    }

                case .fence, .nop: break
                case .fenceI:
                    // Decoded blocks are dropped; writes to code pages were already noticed.
                    blocks.invalidateAll()
                case .ecall: throw Trap.environmentCall(from: s.pointee.privilege)
                case .ebreak: throw Trap.breakpoint(pc)
                case .mret: next = try executeMRET(inst.raw)
                case .sret: next = try executeSRET(inst.raw)
                case .wfi: try executeWFI(inst.raw)
                case .sfenceVMA:
                    // Illegal in U-mode, and in S-mode when mstatus.TVM is set (§3.1.6.5).
                    let privilege = s.pointee.privilege
                    if privilege == privilegeUser
                        || (privilege == privilegeSupervisor && s.pointee.mstatus & MStatus.tvm != 0) {
                        throw Trap.illegalInstruction(inst.raw)
                    }
                    // Blocks are keyed by physical address, so only translations go.
                    flushTLBs()
                case .csrrw, .csrrs, .csrrc, .csrrwi, .csrrsi, .csrrci:
                    retire(index - counted)
                    counted = index
                    s.pointee.pc = pc
                    try executeCSR(inst)
                case .floatingPoint:
                    s.pointee.pc = pc
                    try executeFloatingPoint(inst.raw)
                    // An F/D load or store that reached a device, as for integer accesses.
                    if s.pointee.exitRequest != 0 {
                        pc = next
                        index += 1
                        break block
                    }
                case .illegal: throw Trap.illegalInstruction(inst.raw)
                }
                x[0] = 0
                pc = next
                index += 1
            }
        } catch {
            x[0] = 0
            retire(index - counted)
            s.pointee.pc = pc
            enterTrap(error)
            return index + 1
        }
        retire(index - counted)
        s.pointee.pc = pc
        return index
    }

    /// An integer load (§2.6): the value at `address`, sign- or zero-extended by `op`.
    @inline(__always)
    private func loadExtended(_ op: Operation, _ address: UInt64) throws(Trap) -> UInt64 {
        switch op {
        case .lb: return signExtend(try loadData(address, size: 1), width: 8)
        case .lh: return signExtend(try loadData(address, size: 2), width: 16)
        case .lw: return signExtendWord(try loadData(address, size: 4))
        case .lbu: return try loadData(address, size: 1)
        case .lhu: return try loadData(address, size: 2)
        case .lwu: return try loadData(address, size: 4)
        default: return try loadData(address, size: 8)
        }
    }

    /// One AMO (§8.4): returns the old memory value, sign-extended for .W.
    @inline(__always)
    private func executeAMO(_ op: Operation, address: UInt64, size: Int, operand: UInt64) throws(Trap) -> UInt64 {
        let word = size == 4
        // Compare as the access width: .W operands are the low 32 bits, sign- or zero-extended.
        let value = word ? signExtendWord(operand) : operand
        let old = try atomicMemoryOperation(address, size: size) { raw in
            let current = word ? signExtendWord(raw) : raw
            switch op {
            case .amoswap: return value
            case .amoadd: return current &+ value
            case .amoxor: return current ^ value
            case .amoand: return current & value
            case .amoor: return current | value
            case .amomin: return signed(current) < signed(value) ? current : value
            case .amomax: return signed(current) > signed(value) ? current : value
            case .amominu:
                let a = word ? current & 0xFFFF_FFFF : current, b = word ? value & 0xFFFF_FFFF : value
                return a < b ? a : b
            default: // .amomaxu
                let a = word ? current & 0xFFFF_FFFF : current, b = word ? value & 0xFFFF_FFFF : value
                return a > b ? a : b
            }
        }
        return word ? signExtendWord(old) : old
    }
}

/// Signed division with RISC-V's results for division by zero (all ones) and overflow
/// (the dividend) (unprivileged spec §7.2, table 7.1).
@inline(__always) private func divideSigned(_ a: UInt64, _ b: UInt64) -> UInt64 {
    if b == 0 { return ~0 }
    if a == 1 << 63 && b == ~0 { return a }
    return UInt64(bitPattern: signed(a) / signed(b))
}

@inline(__always) private func remainderSigned(_ a: UInt64, _ b: UInt64) -> UInt64 {
    if b == 0 { return a }
    if a == 1 << 63 && b == ~0 { return 0 }
    return UInt64(bitPattern: signed(a) % signed(b))
}
