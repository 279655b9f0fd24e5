// A small x86-64 code emitter for the JIT: the instructions the translator needs, with REX,
// ModRM and SIB encoding (Intel SDM vol. 2, §2.1–2.2), labels and patchable rel32 jumps.
//
// It writes straight into executable memory at its final address, so rel32 displacements to
// absolute targets (the shared epilogue, other blocks) are computed once, with no relocation pass.

/// The 16 general-purpose registers, numbered as in ModRM/SIB (REX.B/R/X supply bit 3).
enum X86Register: UInt8, CaseIterable {
    case rax = 0, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15

    var low: UInt8 { rawValue & 7 }
    var isExtended: Bool { rawValue >= 8 }
}

/// A memory operand `[base + index*scale + displacement]`.
struct X86Memory {
    var base: X86Register
    var index: X86Register?
    /// 1, 2, 4 or 8.
    var scale: UInt8
    var displacement: Int32

    init(_ base: X86Register, _ displacement: Int32 = 0, index: X86Register? = nil, scale: UInt8 = 1) {
        precondition(index != .rsp, "rsp cannot be an index register")
        self.base = base
        self.index = index
        self.scale = scale
        self.displacement = displacement
    }
}

/// A register or memory operand (the r/m field of ModRM).
enum X86Operand {
    case register(X86Register)
    case memory(X86Memory)
}

/// Condition codes (the low nibble of Jcc/SETcc opcodes).
enum X86Condition: UInt8 {
    case overflow = 0, noOverflow, below, aboveOrEqual, equal, notEqual, belowOrEqual, above
    case sign, noSign, parity, noParity, less, greaterOrEqual, lessOrEqual, greater
}

/// The eight classic ALU operations (opcode extension /0–/7 of 0x81/0x83, and 0x01+8·op forms).
enum X86ALU: UInt8 {
    case add = 0, or, adc, sbb, and, sub, xor, cmp
}

/// Shift and rotate operations (/4 shl, /5 shr, /7 sar of 0xC1/0xD3).
enum X86Shift: UInt8 {
    case shl = 4, shr = 5, sar = 7
}

/// Operand width of an integer instruction.
enum X86Width {
    case bits8, bits16, bits32, bits64
}

/// A position in the code that jumps may target before it is placed.
struct X86Label {
    fileprivate let id: Int
}

/// Emits x86-64 machine code into a caller-owned buffer at a fixed address.
///
/// Invariant: `position <= capacity`; emitting past the end sets `overflowed` and writes nothing,
/// so the translator can check once per block instead of per byte.
final class X86Assembler {
    let base: UnsafeMutablePointer<UInt8>
    let capacity: Int
    private(set) var position = 0
    private(set) var overflowed = false
    private var labelPositions: [Int] = []
    /// Sites of rel32 fields waiting for a label: (field offset, label id).
    private var pendingFixups: [(Int, Int)] = []

    init(base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    /// The address of the next byte.
    var address: UInt { UInt(bitPattern: base + position) }

    // MARK: Bytes

    @inline(__always) func byte(_ value: UInt8) {
        guard position < capacity else { overflowed = true; return }
        base[position] = value
        position += 1
    }

    func bytes(_ values: [UInt8]) { for value in values { byte(value) } }

    func int32(_ value: Int32) {
        let bits = UInt32(bitPattern: value)
        for shift in stride(from: 0, to: 32, by: 8) { byte(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
    }

    func int64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { byte(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    // MARK: Prefixes, ModRM, SIB

    /// REX prefix if needed: W for 64-bit operands, R/X/B extend reg, index, base.
    /// `forceForByte` adds an empty REX so that byte registers 4–7 mean spl/bpl/sil/dil.
    private func rex(w: Bool, reg: UInt8, operand: X86Operand, forceForByte: Bool = false) {
        var value: UInt8 = 0x40
        if w { value |= 8 }
        if reg & 8 != 0 { value |= 4 }
        switch operand {
        case .register(let r):
            if r.isExtended { value |= 1 }
        case .memory(let m):
            if let index = m.index, index.isExtended { value |= 2 }
            if m.base.isExtended { value |= 1 }
        }
        if value != 0x40 || forceForByte { byte(value) }
    }

    /// ModRM (+ SIB + displacement) for `reg` and the r/m operand (SDM vol. 2 tables 2-2, 2-3).
    private func modRM(reg: UInt8, operand: X86Operand) {
        switch operand {
        case .register(let r):
            byte(0xC0 | (reg & 7) << 3 | r.low)
        case .memory(let m):
            let displacement = m.displacement
            // rbp/r13 as base with mod 00 would mean RIP/disp32: use a zero disp8 instead.
            let mod: UInt8
            if displacement == 0 && m.base.low != 5 { mod = 0 }
            else if displacement >= -128 && displacement <= 127 { mod = 1 }
            else { mod = 2 }
            if m.index != nil || m.base.low == 4 {
                byte(mod << 6 | (reg & 7) << 3 | 4)
                let scaleBits: UInt8 = m.scale == 8 ? 3 : m.scale == 4 ? 2 : m.scale == 2 ? 1 : 0
                let index = m.index?.low ?? 4 // 100 = no index
                byte(scaleBits << 6 | index << 3 | m.base.low)
            } else {
                byte(mod << 6 | (reg & 7) << 3 | m.base.low)
            }
            if mod == 1 { byte(UInt8(bitPattern: Int8(displacement))) }
            if mod == 2 { int32(displacement) }
        }
    }

    /// Emits [0x66] [REX] opcode ModRM… for an instruction with a reg field and an r/m operand.
    private func instruction(_ opcode: [UInt8], width: X86Width, reg: UInt8, operand: X86Operand,
                             byteRegisters: Bool = false) {
        if width == .bits16 { byte(0x66) }
        var force = false
        if byteRegisters {
            if reg >= 4 && reg < 8 { force = true }
            if case .register(let r) = operand, r.rawValue >= 4 && r.rawValue < 8 { force = true }
        }
        rex(w: width == .bits64, reg: reg, operand: operand, forceForByte: force)
        bytes(opcode)
        modRM(reg: reg, operand: operand)
    }

    // MARK: Moves

    /// mov dst, src (32- or 64-bit; a 32-bit move zero-extends).
    func mov(_ dst: X86Register, _ src: X86Register, width: X86Width = .bits64) {
        instruction([0x89], width: width, reg: src.rawValue, operand: .register(dst))
    }

    /// mov dst, [m] (zero-extends for 32-bit; 8/16-bit loads use `movzx`/`movsx`).
    func load(_ dst: X86Register, _ m: X86Memory, width: X86Width = .bits64) {
        instruction([0x8B], width: width, reg: dst.rawValue, operand: .memory(m))
    }

    /// mov [m], src, storing the low `width` bits.
    func store(_ m: X86Memory, _ src: X86Register, width: X86Width = .bits64) {
        instruction([width == .bits8 ? 0x88 : 0x89], width: width, reg: src.rawValue, operand: .memory(m),
                    byteRegisters: width == .bits8)
    }

    /// mov qword/dword [m], imm32 (sign-extended to 64 bits for a qword).
    func store(_ m: X86Memory, immediate: Int32, width: X86Width = .bits64) {
        instruction([0xC7], width: width, reg: 0, operand: .memory(m))
        int32(immediate)
    }

    /// Loads a 64-bit constant in the shortest form: xor, mov r32 (zero-extended), mov r64
    /// sign-extended imm32, or movabs.
    func mov(_ dst: X86Register, immediate value: UInt64) {
        if value == 0 {
            alu(.xor, dst, dst, width: .bits32)
        } else if value <= UInt64(UInt32.max) {
            if dst.isExtended { byte(0x41) }
            byte(0xB8 + dst.low)
            int32(Int32(bitPattern: UInt32(value)))
        } else if Int64(bitPattern: value) >= Int64(Int32.min) && Int64(bitPattern: value) < 0 {
            instruction([0xC7], width: .bits64, reg: 0, operand: .register(dst))
            int32(Int32(truncatingIfNeeded: Int64(bitPattern: value)))
        } else {
            byte(0x48 | (dst.isExtended ? 1 : 0))
            byte(0xB8 + dst.low)
            int64(value)
        }
    }

    /// movzx dst32, byte/word [src] or register (zero-extends to 64 bits).
    func movzx(_ dst: X86Register, _ src: X86Operand, from width: X86Width) {
        instruction(width == .bits8 ? [0x0F, 0xB6] : [0x0F, 0xB7], width: .bits32, reg: dst.rawValue,
                    operand: src, byteRegisters: width == .bits8)
    }

    /// movsx dst64, byte/word/dword source.
    func movsx(_ dst: X86Register, _ src: X86Operand, from width: X86Width) {
        switch width {
        case .bits8: instruction([0x0F, 0xBE], width: .bits64, reg: dst.rawValue, operand: src, byteRegisters: true)
        case .bits16: instruction([0x0F, 0xBF], width: .bits64, reg: dst.rawValue, operand: src)
        default: instruction([0x63], width: .bits64, reg: dst.rawValue, operand: src) // movsxd
        }
    }

    /// lea dst, [m].
    func lea(_ dst: X86Register, _ m: X86Memory) {
        instruction([0x8D], width: .bits64, reg: dst.rawValue, operand: .memory(m))
    }

    // MARK: Arithmetic

    /// op dst, src (register or memory source).
    func alu(_ op: X86ALU, _ dst: X86Register, _ src: X86Register, width: X86Width = .bits64) {
        instruction([op.rawValue << 3 | 0x01], width: width, reg: src.rawValue, operand: .register(dst))
    }

    func alu(_ op: X86ALU, _ dst: X86Register, _ src: X86Memory, width: X86Width = .bits64) {
        instruction([op.rawValue << 3 | 0x03], width: width, reg: dst.rawValue, operand: .memory(src))
    }

    /// op [m], src.
    func alu(_ op: X86ALU, _ dst: X86Memory, _ src: X86Register, width: X86Width = .bits64) {
        instruction([op.rawValue << 3 | 0x01], width: width, reg: src.rawValue, operand: .memory(dst))
    }

    /// op r/m, imm (imm8 form when it fits; imm32 sign-extended for 64-bit operands).
    func alu(_ op: X86ALU, _ dst: X86Operand, immediate: Int32, width: X86Width = .bits64) {
        if immediate >= -128 && immediate <= 127 {
            instruction([0x83], width: width, reg: op.rawValue, operand: dst)
            byte(UInt8(bitPattern: Int8(immediate)))
        } else {
            instruction([0x81], width: width, reg: op.rawValue, operand: dst)
            int32(immediate)
        }
    }

    func alu(_ op: X86ALU, _ dst: X86Register, immediate: Int32, width: X86Width = .bits64) {
        alu(op, .register(dst), immediate: immediate, width: width)
    }

    /// test a, b.
    func test(_ a: X86Register, _ b: X86Register, width: X86Width = .bits64) {
        instruction([0x85], width: width, reg: b.rawValue, operand: .register(a))
    }

    /// shift dst, imm8 (imm 1 uses the same C1 form, which every assembler accepts).
    func shift(_ op: X86Shift, _ dst: X86Register, immediate: UInt8, width: X86Width = .bits64) {
        instruction([0xC1], width: width, reg: op.rawValue, operand: .register(dst))
        byte(immediate)
    }

    /// shift dst, cl (the count is masked to 5 or 6 bits by the CPU, as RISC-V requires).
    func shiftByCL(_ op: X86Shift, _ dst: X86Register, width: X86Width = .bits64) {
        instruction([0xD3], width: width, reg: op.rawValue, operand: .register(dst))
    }

    /// imul dst, src (two-operand, low half).
    func imul(_ dst: X86Register, _ src: X86Operand, width: X86Width = .bits64) {
        instruction([0x0F, 0xAF], width: width, reg: dst.rawValue, operand: src)
    }

    /// imul dst, src, imm32 (three-operand, low half; the immediate is sign-extended).
    func imul(_ dst: X86Register, _ src: X86Operand, immediate: Int32, width: X86Width = .bits64) {
        instruction([0x69], width: width, reg: dst.rawValue, operand: src)
        int32(immediate)
    }

    /// bsr dst, src: the index of src's highest set bit (dst undefined when src is 0).
    func bsr(_ dst: X86Register, _ src: X86Operand, width: X86Width = .bits64) {
        instruction([0x0F, 0xBD], width: width, reg: dst.rawValue, operand: src)
    }

    /// The one-operand group-3 forms on rdx:rax: /2 not, /3 neg, /4 mul, /5 imul, /6 div, /7 idiv.
    enum Group3: UInt8 { case not = 2, neg = 3, mul = 4, imul = 5, div = 6, idiv = 7 }

    func group3(_ op: Group3, _ operand: X86Operand, width: X86Width = .bits64) {
        instruction([0xF7], width: width, reg: op.rawValue, operand: operand)
    }

    /// cqo (64-bit) or cdq (32-bit): sign-extend rax into rdx.
    func signExtendAccumulator(width: X86Width = .bits64) {
        if width == .bits64 { byte(0x48) }
        byte(0x99)
    }

    /// cmovcc dst, src (64-bit): dst ← src if `condition` holds; flags are not changed.
    func cmov(_ condition: X86Condition, _ dst: X86Register, _ src: X86Operand) {
        instruction([0x0F, 0x40 | condition.rawValue], width: .bits64, reg: dst.rawValue, operand: src)
    }

    /// setcc dst8.
    func set(_ condition: X86Condition, _ dst: X86Register) {
        instruction([0x0F, 0x90 | condition.rawValue], width: .bits32, reg: 0, operand: .register(dst),
                    byteRegisters: true)
    }

    // MARK: Stack and calls

    func push(_ r: X86Register) {
        if r.isExtended { byte(0x41) }
        byte(0x50 + r.low)
    }

    func pop(_ r: X86Register) {
        if r.isExtended { byte(0x41) }
        byte(0x58 + r.low)
    }

    func ret() { byte(0xC3) }

    /// call r (absolute address in a register).
    func call(_ r: X86Register) {
        instruction([0xFF], width: .bits32, reg: 2, operand: .register(r))
    }

    /// jmp r/m (indirect).
    func jump(_ operand: X86Operand) {
        instruction([0xFF], width: .bits32, reg: 4, operand: operand)
    }

    // MARK: SSE and FMA (scalar double/single; xmm registers numbered 0–15)

    /// Scalar SSE arithmetic (SDM vol. 2: ADDSD/SUBSD/MULSD/DIVSD/SQRTSD and SS forms).
    enum SSEArithmetic: UInt8 { case sqrt = 0x51, add = 0x58, mul = 0x59, sub = 0x5C, div = 0x5E }

    /// `op{sd,ss} xmm, xmm/m`.
    func sse(_ op: SSEArithmetic, double: Bool, _ dst: UInt8, _ src: X86Operand) {
        byte(double ? 0xF2 : 0xF3)
        instruction([0x0F, op.rawValue], width: .bits32, reg: dst, operand: src)
    }

    /// movsd/movss xmm, [m] (loads 64/32 bits, clearing the rest of the register).
    func sseLoad(double: Bool, _ dst: UInt8, _ m: X86Memory) {
        byte(double ? 0xF2 : 0xF3)
        instruction([0x0F, 0x10], width: .bits32, reg: dst, operand: .memory(m))
    }

    /// movsd/movss [m], xmm.
    func sseStore(double: Bool, _ m: X86Memory, _ src: UInt8) {
        byte(double ? 0xF2 : 0xF3)
        instruction([0x0F, 0x11], width: .bits32, reg: src, operand: .memory(m))
    }

    /// ucomisd/ucomiss (quiet: only signaling NaNs raise invalid) or comisd/comiss (any NaN does).
    func sseCompare(double: Bool, signaling: Bool, _ a: UInt8, _ b: X86Operand) {
        if double { byte(0x66) }
        instruction([0x0F, signaling ? 0x2F : 0x2E], width: .bits32, reg: a, operand: b)
    }

    /// movq r64, xmm.
    func movq(_ dst: X86Register, xmm src: UInt8) {
        byte(0x66)
        instruction([0x0F, 0x7E], width: .bits64, reg: src, operand: .register(dst))
    }

    /// movq xmm, r64.
    func movq(xmm dst: UInt8, _ src: X86Register) {
        byte(0x66)
        instruction([0x0F, 0x6E], width: .bits64, reg: dst, operand: .register(src))
    }

    /// The FMA3 `…231` forms: dst = ±(a × b) ± dst, one rounding (VEX.LIG.66.0F38, W1 for double).
    enum FusedMultiplyAdd: UInt8 { case fmadd = 0xB9, fmsub = 0xBB, fnmadd = 0xBD, fnmsub = 0xBF }

    func fma231(_ op: FusedMultiplyAdd, double: Bool, _ dst: UInt8, _ a: UInt8, _ b: UInt8) {
        precondition(dst < 8 && b < 8, "fma231 encodes xmm0–7 in reg and r/m")
        byte(0xC4)
        byte(0xE0 | 0x02)                              // R̄ X̄ B̄ = 111, map 0F38
        byte((double ? 0x80 : 0) | ((~a & 15) << 3) | 0x01) // W, vvvv = ~a, L = 0, pp = 66
        byte(op.rawValue)
        byte(0xC0 | (dst & 7) << 3 | (b & 7))
    }

    /// stmxcsr [m] / ldmxcsr [m].
    func storeMXCSR(_ m: X86Memory) { instruction([0x0F, 0xAE], width: .bits32, reg: 3, operand: .memory(m)) }
    func loadMXCSR(_ m: X86Memory) { instruction([0x0F, 0xAE], width: .bits32, reg: 2, operand: .memory(m)) }

    /// test r8, imm8.
    func testByte(_ r: X86Register, immediate: UInt8) {
        instruction([0xF6], width: .bits32, reg: 0, operand: .register(r), byteRegisters: true)
        byte(immediate)
    }

    /// call rel32 to an absolute address (within ±2 GiB).
    func call(toAddress target: UInt) {
        byte(0xE8)
        rel32(toAddress: target)
    }

    // MARK: Jumps and labels

    func newLabel() -> X86Label {
        labelPositions.append(-1)
        return X86Label(id: labelPositions.count - 1)
    }

    /// Places `label` at the current position and resolves the jumps waiting for it.
    func bind(_ label: X86Label) {
        labelPositions[label.id] = position
        pendingFixups.removeAll { site, id in
            guard id == label.id else { return false }
            patchRel32(at: site, to: address(of: position))
            return true
        }
    }

    private func address(of offset: Int) -> UInt { UInt(bitPattern: base + offset) }

    /// jmp rel32 to `label`. Returns the offset of the jmp instruction (patchable later).
    @discardableResult
    func jump(_ label: X86Label) -> Int {
        let site = position
        byte(0xE9)
        rel32(label)
        return site
    }

    /// jcc rel32 to `label`.
    func jump(if condition: X86Condition, _ label: X86Label) {
        byte(0x0F)
        byte(0x80 | condition.rawValue)
        rel32(label)
    }

    /// jmp rel32 to an absolute address (within ±2 GiB). Returns the offset of the instruction.
    @discardableResult
    func jump(toAddress target: UInt) -> Int {
        let site = position
        byte(0xE9)
        rel32(toAddress: target)
        return site
    }

    /// jcc rel32 to an absolute address.
    func jump(if condition: X86Condition, toAddress target: UInt) {
        byte(0x0F)
        byte(0x80 | condition.rawValue)
        rel32(toAddress: target)
    }

    private func rel32(_ label: X86Label) {
        let target = labelPositions[label.id]
        if target >= 0 {
            rel32(toAddress: address(of: target))
        } else {
            pendingFixups.append((position, label.id))
            int32(0)
        }
    }

    private func rel32(toAddress target: UInt) {
        let next = Int64(bitPattern: UInt64(address)) &+ 4
        let delta = Int64(bitPattern: UInt64(target)) &- next
        precondition(delta >= Int64(Int32.min) && delta <= Int64(Int32.max), "rel32 jump out of range")
        int32(Int32(delta))
    }

    /// Rewrites the rel32 field at buffer offset `site` (the four bytes after an opcode) so the
    /// jump lands on `target`.
    private func patchRel32(at site: Int, to target: UInt) {
        guard site + 4 <= capacity else { return }
        X86Assembler.patchRel32(field: base + site, target: target)
    }

    /// Makes the rel32 field at `field` jump to `target` (used to chain blocks in place).
    static func patchRel32(field: UnsafeMutablePointer<UInt8>, target: UInt) {
        let next = Int64(bitPattern: UInt64(UInt(bitPattern: field))) &+ 4
        let delta = Int32(truncatingIfNeeded: Int64(bitPattern: UInt64(target)) &- next)
        UnsafeMutableRawPointer(field).storeBytes(of: delta.littleEndian, as: Int32.self)
    }

    /// Whether every label used by a jump was bound.
    var allLabelsBound: Bool { pendingFixups.isEmpty }

    /// Pads with int3 up to a multiple of `alignment` (between blocks; never executed).
    func align(_ alignment: Int) {
        while (Int(bitPattern: address)) % alignment != 0 && !overflowed { byte(0xCC) }
    }
}
