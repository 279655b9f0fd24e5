import CHartState

// The F and D extensions (RISC-V unprivileged spec 20191213, chapters 11 and 12): decoding,
// register access, NaN-boxing and mstatus.FS. The arithmetic itself, with IEEE rounding and
// exception flags, lives in C (`CHartState/FloatingPoint.c`) so it can drive the host FPU's
// rounding mode around each operation.

/// mstatus.FS (privileged spec §3.1.6.6): 0 Off, 1 Initial, 2 Clean, 3 Dirty. SD, which
/// summarises it, is derived when mstatus is read (`Hart.mstatusValue`), never stored: the raw
/// field is then the same whichever path made FS Dirty (the JIT's inline FP code, a CSR write,
/// this file), and so are snapshots.
private let floatingPointStatusMask: UInt64 = 3 << 13

private let singleSignBit: UInt32 = 0x8000_0000
private let doubleSignBit: UInt64 = 0x8000_0000_0000_0000
private let singleCanonicalNaN: UInt32 = 0x7fc0_0000

/// A single-precision operand read from an f register (§12.2): only a properly NaN-boxed value
/// (upper 32 bits all ones) is itself; anything else reads as the canonical NaN.
@inline(__always) private func unboxSingle(_ bits: UInt64) -> UInt32 {
    bits >> 32 == 0xffff_ffff ? UInt32(truncatingIfNeeded: bits) : singleCanonicalNaN
}

/// A single-precision value as written to an f register: NaN-boxed (§12.2).
@inline(__always) private func boxSingle(_ bits: UInt32) -> UInt64 {
    0xffff_ffff_0000_0000 | UInt64(bits)
}

@inline(__always) private func signExtend32(_ bits: UInt32) -> UInt64 {
    UInt64(bitPattern: Int64(Int32(bitPattern: bits)))
}

extension Hart {
    /// Executes one F or D instruction given as its 32-bit encoding (LOAD-FP, STORE-FP, OP-FP and
    /// the four fused multiply-add opcodes; the core expands C.FLD/C.FSD/C.FLDSP/C.FSDSP first).
    ///
    /// Raises an illegal-instruction trap when mstatus.FS is Off, for encodings outside F and D
    /// (including the H and Q formats), and for a reserved rounding mode: rm 5 or 6, or rm 7
    /// with frm ≥ 5 (§11.2). Memory faults come from `loadData`/`storeData`. Writing an f
    /// register or raising a flag sets mstatus.FS to Dirty (and SD).
    func executeFloatingPoint(_ instruction: UInt32) throws(Trap) {
        let s = state
        guard s.pointee.mstatus & floatingPointStatusMask != 0 else { throw .illegalInstruction(instruction) }
        let rd = Int((instruction >> 7) & 31)
        let rs1 = Int((instruction >> 15) & 31)
        let rs2 = Int((instruction >> 20) & 31)
        let funct3 = (instruction >> 12) & 7
        let f = floatingPointRegisters
        let x = floatingPointIntegerRegisters
        var flags: UInt32 = 0

        switch instruction & 0x7f {
        case 0x07:   // LOAD-FP (§11.5, §12.3): I-type immediate.
            let address = x[rs1] &+ UInt64(bitPattern: Int64(Int32(bitPattern: instruction) >> 20))
            switch funct3 {
            case 2: f[rd] = boxSingle(UInt32(truncatingIfNeeded: try loadData(address, size: 4)))
            case 3: f[rd] = try loadData(address, size: 8)
            default: throw .illegalInstruction(instruction)
            }
            markFloatingPointStateDirty()

        case 0x27:   // STORE-FP: S-type immediate. Stores move the low bits unmodified (§12.2).
            let immediate = (Int64(Int32(bitPattern: instruction) >> 25) << 5) | Int64((instruction >> 7) & 31)
            let address = x[rs1] &+ UInt64(bitPattern: immediate)
            switch funct3 {
            case 2: try storeData(address, size: 4, value: f[rs2] & 0xffff_ffff)
            case 3: try storeData(address, size: 8, value: f[rs2])
            default: throw .illegalInstruction(instruction)
            }

        case 0x43, 0x47, 0x4b, 0x4f:
            // FMADD, FMSUB, FNMSUB, FNMADD (§11.6): rs1×rs2±rs3 with the product and/or addend
            // negated; flipping sign bits first is exact, so one fused operation covers all four.
            let rm = try resolvedRoundingMode(instruction)
            let rs3 = Int(instruction >> 27)
            let opcode = instruction & 0x7f
            let negateProduct = opcode == 0x4b || opcode == 0x4f
            let negateAddend = opcode == 0x47 || opcode == 0x4f
            switch (instruction >> 25) & 3 {
            case 0:
                let a = unboxSingle(f[rs1]) ^ (negateProduct ? singleSignBit : 0)
                let c = unboxSingle(f[rs3]) ^ (negateAddend ? singleSignBit : 0)
                f[rd] = boxSingle(bp_f32_fma(a, unboxSingle(f[rs2]), c, rm, &flags))
            case 1:
                let a = f[rs1] ^ (negateProduct ? doubleSignBit : 0)
                let c = f[rs3] ^ (negateAddend ? doubleSignBit : 0)
                f[rd] = bp_f64_fma(a, f[rs2], c, rm, &flags)
            default: throw .illegalInstruction(instruction)
            }
            finishFloatingPoint(flags)

        case 0x53:
            try executeOpFP(instruction, rd: rd, rs1: rs1, rs2: rs2, funct3: funct3)

        default:
            throw .illegalInstruction(instruction)
        }
    }

    /// OP-FP (opcode 0x53): funct7 holds funct5 and fmt (0 S, 1 D; H and Q are not implemented).
    @inline(__always)
    private func executeOpFP(_ instruction: UInt32, rd: Int, rs1: Int, rs2: Int, funct3: UInt32) throws(Trap) {
        let f = floatingPointRegisters
        let x = floatingPointIntegerRegisters
        var flags: UInt32 = 0
        switch instruction >> 25 {
        // FADD/FSUB/FMUL/FDIV.S
        case 0x00, 0x04, 0x08, 0x0c:
            let rm = try resolvedRoundingMode(instruction)
            let a = unboxSingle(f[rs1]), b = unboxSingle(f[rs2])
            let result: UInt32
            switch instruction >> 27 {
            case 0: result = bp_f32_add(a, b, rm, &flags)
            case 1: result = bp_f32_sub(a, b, rm, &flags)
            case 2: result = bp_f32_mul(a, b, rm, &flags)
            default: result = bp_f32_div(a, b, rm, &flags)
            }
            f[rd] = boxSingle(result)
        // FADD/FSUB/FMUL/FDIV.D
        case 0x01, 0x05, 0x09, 0x0d:
            let rm = try resolvedRoundingMode(instruction)
            let a = f[rs1], b = f[rs2]
            switch instruction >> 27 {
            case 0: f[rd] = bp_f64_add(a, b, rm, &flags)
            case 1: f[rd] = bp_f64_sub(a, b, rm, &flags)
            case 2: f[rd] = bp_f64_mul(a, b, rm, &flags)
            default: f[rd] = bp_f64_div(a, b, rm, &flags)
            }
        case 0x2c where rs2 == 0:   // FSQRT.S
            let rm = try resolvedRoundingMode(instruction)
            f[rd] = boxSingle(bp_f32_sqrt(unboxSingle(f[rs1]), rm, &flags))
        case 0x2d where rs2 == 0:   // FSQRT.D
            let rm = try resolvedRoundingMode(instruction)
            f[rd] = bp_f64_sqrt(f[rs1], rm, &flags)

        // FSGNJ/FSGNJN/FSGNJX (§11.6): sign injection, no flags, canonical NaN for unboxed inputs.
        case 0x10 where funct3 <= 2:
            let a = unboxSingle(f[rs1]), b = unboxSingle(f[rs2])
            let sign: UInt32 = funct3 == 0 ? b & singleSignBit
                : funct3 == 1 ? ~b & singleSignBit : (a ^ b) & singleSignBit
            f[rd] = boxSingle(a & ~singleSignBit | sign)
        case 0x11 where funct3 <= 2:
            let a = f[rs1], b = f[rs2]
            let sign: UInt64 = funct3 == 0 ? b & doubleSignBit
                : funct3 == 1 ? ~b & doubleSignBit : (a ^ b) & doubleSignBit
            f[rd] = a & ~doubleSignBit | sign

        // FMIN/FMAX
        case 0x14 where funct3 <= 1:
            let a = unboxSingle(f[rs1]), b = unboxSingle(f[rs2])
            f[rd] = boxSingle(funct3 == 0 ? bp_f32_min(a, b, &flags) : bp_f32_max(a, b, &flags))
        case 0x15 where funct3 <= 1:
            f[rd] = funct3 == 0 ? bp_f64_min(f[rs1], f[rs2], &flags) : bp_f64_max(f[rs1], f[rs2], &flags)

        // FCVT.S.D and FCVT.D.S (§12.5). FCVT.D.S is exact but still has an rm field, which
        // must hold a valid mode.
        case 0x20 where rs2 == 1:
            let rm = try resolvedRoundingMode(instruction)
            f[rd] = boxSingle(bp_f64_to_f32(f[rs1], rm, &flags))
        case 0x21 where rs2 == 0:
            _ = try resolvedRoundingMode(instruction)
            f[rd] = bp_f32_to_f64(unboxSingle(f[rs1]), &flags)

        // FLE/FLT/FEQ: results go to an integer register.
        case 0x50 where funct3 <= 2:
            let a = unboxSingle(f[rs1]), b = unboxSingle(f[rs2])
            let result = funct3 == 0 ? bp_f32_le(a, b, &flags)
                : funct3 == 1 ? bp_f32_lt(a, b, &flags) : bp_f32_eq(a, b, &flags)
            writeIntegerResult(rd, result, flags: flags)
            return
        case 0x51 where funct3 <= 2:
            let a = f[rs1], b = f[rs2]
            let result = funct3 == 0 ? bp_f64_le(a, b, &flags)
                : funct3 == 1 ? bp_f64_lt(a, b, &flags) : bp_f64_eq(a, b, &flags)
            writeIntegerResult(rd, result, flags: flags)
            return

        // FCVT.{W,WU,L,LU}.{S,D}: rs2 selects the integer kind (BP_INT_*).
        case 0x60 where rs2 <= 3:
            let rm = try resolvedRoundingMode(instruction)
            let result = bp_f32_to_int(unboxSingle(f[rs1]), UInt32(rs2), rm, &flags)
            writeIntegerResult(rd, result, flags: flags)
            return
        case 0x61 where rs2 <= 3:
            let rm = try resolvedRoundingMode(instruction)
            let result = bp_f64_to_int(f[rs1], UInt32(rs2), rm, &flags)
            writeIntegerResult(rd, result, flags: flags)
            return
        // FCVT.{S,D}.{W,WU,L,LU}
        case 0x68 where rs2 <= 3:
            let rm = try resolvedRoundingMode(instruction)
            f[rd] = boxSingle(bp_int_to_f32(x[rs1], UInt32(rs2), rm, &flags))
        case 0x69 where rs2 <= 3:
            let rm = try resolvedRoundingMode(instruction)
            f[rd] = bp_int_to_f64(x[rs1], UInt32(rs2), rm, &flags)

        // FMV.X.W (sign-extends the low 32 bits, boxed or not) and FCLASS.S.
        case 0x70 where rs2 == 0 && funct3 == 0:
            writeIntegerResult(rd, signExtend32(UInt32(truncatingIfNeeded: f[rs1])), flags: 0)
            return
        case 0x70 where rs2 == 0 && funct3 == 1:
            writeIntegerResult(rd, bp_f32_class(unboxSingle(f[rs1])), flags: 0)
            return
        case 0x71 where rs2 == 0 && funct3 == 0:
            writeIntegerResult(rd, f[rs1], flags: 0)
            return
        case 0x71 where rs2 == 0 && funct3 == 1:
            writeIntegerResult(rd, bp_f64_class(f[rs1]), flags: 0)
            return

        // FMV.W.X and FMV.D.X: bits move unchanged (NaN-boxed for W).
        case 0x78 where rs2 == 0 && funct3 == 0:
            f[rd] = boxSingle(UInt32(truncatingIfNeeded: x[rs1]))
        case 0x79 where rs2 == 0 && funct3 == 0:
            f[rd] = x[rs1]

        default:
            throw .illegalInstruction(instruction)
        }
        finishFloatingPoint(flags)
    }

    // MARK: Helpers

    /// The rounding mode an instruction uses: its rm field, or frm for rm = 7 (DYN). Reserved
    /// values (rm 5 or 6, or DYN with frm 5–7) make the instruction illegal (§11.2).
    @inline(__always)
    private func resolvedRoundingMode(_ instruction: UInt32) throws(Trap) -> UInt32 {
        var rm = (instruction >> 12) & 7
        if rm == 7 { rm = state.pointee.frm }
        guard rm <= 4 else { throw .illegalInstruction(instruction) }
        return rm
    }

    /// Accrues `flags` into fflags and marks the FP state dirty. Called after every instruction
    /// that wrote an f register, and after integer-result instructions that raised a flag.
    @inline(__always)
    private func finishFloatingPoint(_ flags: UInt32) {
        state.pointee.fflags |= flags
        markFloatingPointStateDirty()
    }

    /// mstatus.FS = Dirty (and so SD = 1 as read, privileged spec §3.1.6.6).
    @inline(__always)
    private func markFloatingPointStateDirty() {
        state.pointee.mstatus |= floatingPointStatusMask
    }

    /// Writes an integer result (x0 stays zero); FP state becomes dirty only if a flag was raised.
    @inline(__always)
    private func writeIntegerResult(_ rd: Int, _ value: UInt64, flags: UInt32) {
        if rd != 0 { floatingPointIntegerRegisters[rd] = value }
        if flags != 0 { finishFloatingPoint(flags) }
    }

    /// `state.f` as 32 raw 64-bit registers.
    @inline(__always)
    private var floatingPointRegisters: UnsafeMutablePointer<UInt64> {
        // SAFETY: `state` points at the hart's HartState for the hart's lifetime; `f` is a
        // C array of 32 uint64_t, so its address is that of f[0].
        withUnsafeMutablePointer(to: &state.pointee.f) {
            UnsafeMutableRawPointer($0).assumingMemoryBound(to: UInt64.self)
        }
    }

    /// `state.x` as 32 raw 64-bit registers (x0 is never written here).
    @inline(__always)
    private var floatingPointIntegerRegisters: UnsafeMutablePointer<UInt64> {
        // SAFETY: as above, for `x`.
        withUnsafeMutablePointer(to: &state.pointee.x) {
            UnsafeMutableRawPointer($0).assumingMemoryBound(to: UInt64.self)
        }
    }
}
