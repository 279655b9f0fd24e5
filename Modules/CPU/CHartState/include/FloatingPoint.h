// IEEE 754-2008 arithmetic with RISC-V semantics for the F and D extensions (RISC-V unprivileged
// spec 20191213, chapters 11 and 12).
//
// Every function takes and returns raw IEEE bits (binary32 in a uint32_t, binary64 in a uint64_t),
// so signaling NaNs pass through unchanged until an operation looks at them. NaN-boxing is the
// caller's business: these functions see bare binary32 values.
//
// `rm` is a *resolved* RISC-V rounding mode, 0..4 (BP_RM_*); the caller has already replaced the
// dynamic mode 7 by frm and rejected the reserved modes 5 and 6 as illegal instructions.
//
// `flags` points at an accumulator: each function ORs the RISC-V exception flags it raises
// (BP_FFLAG_*, the fflags bit layout) into `*flags` and never clears bits. Tininess is detected
// after rounding and underflow is raised only when the result is also inexact (spec §11.2, IEEE
// 754-2008 §7.5 with default exception handling).
//
// Every NaN an arithmetic operation produces is the canonical NaN (0x7fc00000 / 0x7ff8000000000000,
// spec §11.3); sign injection, moves, loads and stores are not arithmetic and live in Swift.
//
// How: finite operands go to an exact integer implementation (the `bp_soft_*` functions) in all
// five modes, including round-to-nearest-ties-to-max-magnitude (RMM), which host FPUs lack. NaN
// and infinite operands (exact results, only NV/DZ to find) and square roots use the host FPU
// with its rounding mode set for that one operation; the host's FPU state is restored after
// every call. No function allocates or touches global state.
#ifndef BACKPLANE_FLOATING_POINT_H
#define BACKPLANE_FLOATING_POINT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// RISC-V rounding modes (unprivileged spec Table 11.1).
enum {
    BP_RM_RNE = 0,   ///< Round to nearest, ties to even.
    BP_RM_RTZ = 1,   ///< Round towards zero.
    BP_RM_RDN = 2,   ///< Round down (towards -infinity).
    BP_RM_RUP = 3,   ///< Round up (towards +infinity).
    BP_RM_RMM = 4,   ///< Round to nearest, ties to max magnitude.
    BP_RM_DYN = 7,   ///< In an instruction's rm field: use frm.
};

/// fflags bits (unprivileged spec Table 11.2).
enum {
    BP_FFLAG_NX = 1u << 0,   ///< Inexact.
    BP_FFLAG_UF = 1u << 1,   ///< Underflow.
    BP_FFLAG_OF = 1u << 2,   ///< Overflow.
    BP_FFLAG_DZ = 1u << 3,   ///< Divide by zero.
    BP_FFLAG_NV = 1u << 4,   ///< Invalid operation.
};

/// Integer operand/result kinds of FCVT, numbered as the rs2 field encodes them.
enum {
    BP_INT_W = 0,    ///< Signed 32-bit.
    BP_INT_WU = 1,   ///< Unsigned 32-bit.
    BP_INT_L = 2,    ///< Signed 64-bit.
    BP_INT_LU = 3,   ///< Unsigned 64-bit.
};

// --- binary32 ------------------------------------------------------------------------------------

uint32_t bp_f32_add(uint32_t a, uint32_t b, uint32_t rm, uint32_t *flags);
uint32_t bp_f32_sub(uint32_t a, uint32_t b, uint32_t rm, uint32_t *flags);
uint32_t bp_f32_mul(uint32_t a, uint32_t b, uint32_t rm, uint32_t *flags);
uint32_t bp_f32_div(uint32_t a, uint32_t b, uint32_t rm, uint32_t *flags);
uint32_t bp_f32_sqrt(uint32_t a, uint32_t rm, uint32_t *flags);
/// a×b+c with a single rounding. Raises NV for ∞×0 even when c is a quiet NaN (spec §11.6).
/// FMSUB/FNMSUB/FNMADD are this with the sign bits of c and/or a flipped.
uint32_t bp_f32_fma(uint32_t a, uint32_t b, uint32_t c, uint32_t rm, uint32_t *flags);
/// FMIN.S / FMAX.S (spec §11.6, 2.2+ semantics): -0 < +0; one NaN operand gives the other operand;
/// two NaNs give the canonical NaN; a signaling NaN operand raises NV.
uint32_t bp_f32_min(uint32_t a, uint32_t b, uint32_t *flags);
uint32_t bp_f32_max(uint32_t a, uint32_t b, uint32_t *flags);
/// FEQ.S (quiet: NV only for signaling NaNs), FLT.S and FLE.S (signaling: NV for any NaN). 0 or 1.
uint64_t bp_f32_eq(uint32_t a, uint32_t b, uint32_t *flags);
uint64_t bp_f32_lt(uint32_t a, uint32_t b, uint32_t *flags);
uint64_t bp_f32_le(uint32_t a, uint32_t b, uint32_t *flags);
/// FCLASS.S: a one-hot mask (spec Table 11.5).
uint64_t bp_f32_class(uint32_t a);
/// FCVT.{W,WU,L,LU}.S: the value to write to rd (32-bit results sign-extended, spec §11.7).
/// NaN and out-of-range inputs give the saturated values of spec Table 11.4 and raise NV only.
uint64_t bp_f32_to_int(uint32_t a, uint32_t kind, uint32_t rm, uint32_t *flags);
/// FCVT.S.{W,WU,L,LU}: `x` is rs1's full 64-bit value; the 32-bit kinds use its low 32 bits.
uint32_t bp_int_to_f32(uint64_t x, uint32_t kind, uint32_t rm, uint32_t *flags);
/// FCVT.D.S (exact; NV for a signaling NaN).
uint64_t bp_f32_to_f64(uint32_t a, uint32_t *flags);

// --- binary64 ------------------------------------------------------------------------------------

uint64_t bp_f64_add(uint64_t a, uint64_t b, uint32_t rm, uint32_t *flags);
uint64_t bp_f64_sub(uint64_t a, uint64_t b, uint32_t rm, uint32_t *flags);
uint64_t bp_f64_mul(uint64_t a, uint64_t b, uint32_t rm, uint32_t *flags);
uint64_t bp_f64_div(uint64_t a, uint64_t b, uint32_t rm, uint32_t *flags);
uint64_t bp_f64_sqrt(uint64_t a, uint32_t rm, uint32_t *flags);
uint64_t bp_f64_fma(uint64_t a, uint64_t b, uint64_t c, uint32_t rm, uint32_t *flags);
uint64_t bp_f64_min(uint64_t a, uint64_t b, uint32_t *flags);
uint64_t bp_f64_max(uint64_t a, uint64_t b, uint32_t *flags);
uint64_t bp_f64_eq(uint64_t a, uint64_t b, uint32_t *flags);
uint64_t bp_f64_lt(uint64_t a, uint64_t b, uint32_t *flags);
uint64_t bp_f64_le(uint64_t a, uint64_t b, uint32_t *flags);
uint64_t bp_f64_class(uint64_t a);
uint64_t bp_f64_to_int(uint64_t a, uint32_t kind, uint32_t rm, uint32_t *flags);
uint64_t bp_int_to_f64(uint64_t x, uint32_t kind, uint32_t rm, uint32_t *flags);
/// FCVT.S.D.
uint32_t bp_f64_to_f32(uint64_t a, uint32_t rm, uint32_t *flags);

// --- Exact integer implementation ----------------------------------------------------------------
// What the functions above use for finite operands. Operands must be finite (zeros and
// subnormals allowed); the divisor of bp_soft_*_div must also be non-zero.

uint32_t bp_soft_f32_add(uint32_t a, uint32_t b, uint32_t rm, uint32_t *flags);
uint32_t bp_soft_f32_mul(uint32_t a, uint32_t b, uint32_t rm, uint32_t *flags);
uint32_t bp_soft_f32_div(uint32_t a, uint32_t b, uint32_t rm, uint32_t *flags);
uint32_t bp_soft_f32_fma(uint32_t a, uint32_t b, uint32_t c, uint32_t rm, uint32_t *flags);
uint64_t bp_soft_f64_add(uint64_t a, uint64_t b, uint32_t rm, uint32_t *flags);
uint64_t bp_soft_f64_mul(uint64_t a, uint64_t b, uint32_t rm, uint32_t *flags);
uint64_t bp_soft_f64_div(uint64_t a, uint64_t b, uint32_t rm, uint32_t *flags);
uint64_t bp_soft_f64_fma(uint64_t a, uint64_t b, uint64_t c, uint32_t rm, uint32_t *flags);
/// FCVT.S.D for a finite operand.
uint32_t bp_soft_f64_to_f32(uint64_t a, uint32_t rm, uint32_t *flags);

// --- Host FPU ------------------------------------------------------------------------------------
// The same operations on the host FPU, `rm` 0..3 only, with RISC-V NaN results. The functions
// above use them for NaN and infinite operands; tests use them as an independent reference for
// the integer implementation (valid on x86, whose FPU detects tininess after rounding).

uint32_t bp_host_f32_add(uint32_t a, uint32_t b, uint32_t rm, uint32_t *flags);
uint32_t bp_host_f32_mul(uint32_t a, uint32_t b, uint32_t rm, uint32_t *flags);
uint32_t bp_host_f32_div(uint32_t a, uint32_t b, uint32_t rm, uint32_t *flags);
uint32_t bp_host_f32_fma(uint32_t a, uint32_t b, uint32_t c, uint32_t rm, uint32_t *flags);
uint64_t bp_host_f64_add(uint64_t a, uint64_t b, uint32_t rm, uint32_t *flags);
uint64_t bp_host_f64_mul(uint64_t a, uint64_t b, uint32_t rm, uint32_t *flags);
uint64_t bp_host_f64_div(uint64_t a, uint64_t b, uint32_t rm, uint32_t *flags);
uint64_t bp_host_f64_fma(uint64_t a, uint64_t b, uint64_t c, uint32_t rm, uint32_t *flags);
uint32_t bp_host_f64_to_f32(uint64_t a, uint32_t rm, uint32_t *flags);

#ifdef __cplusplus
}
#endif

#endif
