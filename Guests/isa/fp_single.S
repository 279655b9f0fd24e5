// F extension (unprivileged spec ch. 11, 13.2): arithmetic with every static rounding mode and the
// dynamic one, exact fflags per operation class, canonical NaN results, NaN-boxing of singles in
// 64-bit registers, FMIN/FMAX on signed zeros and NaNs, compares, FCLASS, fused multiply-add signs.
#include "test.h"
#include "fp.h"

#define ONE 0x3f800000
#define TWO 0x40000000
#define THREE 0x40400000
#define HALF 0x3f000000
#define M_ONE 0xbf800000
#define INF 0x7f800000
#define M_INF 0xff800000
#define QNAN 0x7fc00000
#define SNAN 0x7f800001
#define MAXF 0x7f7fffff
#define MIN_NORMAL 0x00800000
#define MIN_SUB 0x00000001
#define PZERO 0x00000000
#define MZERO 0x80000000

TEST_BEGIN
    TEST_FP(1, S(THREE), 0, S(ONE), S(TWO), 0, fadd.s fa3, fa0, fa1)
    TEST_FP(2, S(PZERO), 0, S(ONE), S(ONE), 0, fsub.s fa3, fa0, fa1)
    TEST_FP(3, S(MZERO), 0, S(ONE), S(ONE), 0, fsub.s fa3, fa0, fa1, rdn)   // exact zero sum is -0 in RDN
    TEST_FP(4, S(0x40c00000), 0, S(TWO), S(THREE), 0, fmul.s fa3, fa0, fa1)
    TEST_FP(5, S(0x3eaaaaab), NX, S(ONE), S(THREE), 0, fdiv.s fa3, fa0, fa1, rne)
    TEST_FP(6, S(0x3eaaaaaa), NX, S(ONE), S(THREE), 0, fdiv.s fa3, fa0, fa1, rtz)
    TEST_FP(7, S(0x3eaaaaaa), NX, S(ONE), S(THREE), 0, fdiv.s fa3, fa0, fa1, rdn)
    TEST_FP(8, S(0x3eaaaaab), NX, S(ONE), S(THREE), 0, fdiv.s fa3, fa0, fa1, rup)
    TEST_FP(9, S(0x3eaaaaab), NX, S(ONE), S(THREE), 0, fdiv.s fa3, fa0, fa1, rmm)
    TEST_FP(10, S(0xbeaaaaab), NX, S(M_ONE), S(THREE), 0, fdiv.s fa3, fa0, fa1, rdn)
    TEST_FP(11, S(INF), DZ, S(ONE), S(PZERO), 0, fdiv.s fa3, fa0, fa1)
    TEST_FP(12, S(M_INF), DZ, S(M_ONE), S(PZERO), 0, fdiv.s fa3, fa0, fa1)
    TEST_FP(13, S(QNAN), NV, S(PZERO), S(PZERO), 0, fdiv.s fa3, fa0, fa1)
    TEST_FP(14, S(TWO), 0, S(0x40800000), 0, 0, fsqrt.s fa3, fa0)
    TEST_FP(15, S(QNAN), NV, S(M_ONE), 0, 0, fsqrt.s fa3, fa0)
    TEST_FP(16, S(MZERO), 0, S(MZERO), 0, 0, fsqrt.s fa3, fa0)              // sqrt(-0) = -0
    TEST_FP(17, S(QNAN), NV, S(INF), S(M_INF), 0, fadd.s fa3, fa0, fa1)
    TEST_FP(18, S(INF), OF | NX, S(MAXF), S(MAXF), 0, fadd.s fa3, fa0, fa1, rne)
    TEST_FP(19, S(MAXF), OF | NX, S(MAXF), S(MAXF), 0, fadd.s fa3, fa0, fa1, rtz)
    TEST_FP(20, S(0x00400000), 0, S(MIN_NORMAL), S(HALF), 0, fmul.s fa3, fa0, fa1)  // exact subnormal: no UF
    TEST_FP(21, S(PZERO), UF | NX, S(MIN_SUB), S(HALF), 0, fmul.s fa3, fa0, fa1, rne) // tie to even (0)
    TEST_FP(22, S(MIN_SUB), UF | NX, S(MIN_SUB), S(HALF), 0, fmul.s fa3, fa0, fa1, rmm)
    TEST_FP(23, S(QNAN), 0, S(QNAN), S(ONE), 0, fadd.s fa3, fa0, fa1)      // quiet NaN: no flag
    TEST_FP(24, S(QNAN), NV, S(SNAN), S(ONE), 0, fadd.s fa3, fa0, fa1)     // signaling NaN: NV
    TEST_FP(25, S(QNAN), 0, S(0x7fc12345), S(ONE), 0, fmul.s fa3, fa0, fa1) // payload not propagated
    // FMIN/FMAX (2.2 semantics): -0 < +0, one NaN -> the other operand, both NaN -> canonical.
    TEST_FP(26, S(MZERO), 0, S(PZERO), S(MZERO), 0, fmin.s fa3, fa0, fa1)
    TEST_FP(27, S(PZERO), 0, S(MZERO), S(PZERO), 0, fmax.s fa3, fa0, fa1)
    TEST_FP(28, S(ONE), 0, S(QNAN), S(ONE), 0, fmin.s fa3, fa0, fa1)
    TEST_FP(29, S(ONE), NV, S(SNAN), S(ONE), 0, fmax.s fa3, fa0, fa1)
    TEST_FP(30, S(QNAN), 0, S(QNAN), S(0x7fc00001), 0, fmin.s fa3, fa0, fa1)
    TEST_FP(31, S(M_ONE), 0, S(M_ONE), S(INF), 0, fmin.s fa3, fa0, fa1)
    // NaN boxing: an improperly boxed single reads as the canonical NaN.
    TEST_FP(32, S(QNAN), 0, 0x000000003f800000, S(ONE), 0, fadd.s fa3, fa0, fa1)
    TEST_FP(33, S(TWO), 0, S(ONE), S(ONE), 0, fadd.s fa3, fa0, fa1)
    TEST_FP(34, S(0xffc00000), 0, 0x000000003f800000, S(M_ONE), 0, fsgnj.s fa3, fa0, fa1)
    TEST_FPX(35, 0x3f800000, 0, 0x000000003f800000, 0, 0, fmv.x.w a0, fa0)   // transfer ignores boxing
    TEST_FPX(36, 0xffffffff80000000, 0, S(MZERO), 0, 0, fmv.x.w a0, fa0)     // sign-extended
    TEST_FPI(37, 0xffffffff12345678, 0, 0x1234567812345678, fmv.w.x fa3, a2) // boxes the low 32 bits
    CASE(38)                                                             // flw boxes, fsw stores 32 bits
    la a1, fbuf
    li a2, 0xaaaaaaaa3fc00000
    sd a2, 0(a1)
    flw fa0, 0(a1)
    fmv.x.d a0, fa0
    CHECK(a0, S(0x3fc00000))
    li a2, 0x1111111122222222
    fmv.d.x fa0, a2
    fsw fa0, 8(a1)
    lwu a0, 8(a1)
    CHECK(a0, 0x22222222)
    // Sign injection.
    TEST_FP(39, S(M_ONE), 0, S(ONE), S(ONE), 0, fsgnjn.s fa3, fa0, fa1)
    TEST_FP(40, S(ONE), 0, S(M_ONE), S(M_ONE), 0, fsgnjx.s fa3, fa0, fa1)
    TEST_FP(41, S(0xffc00001), 0, S(0x7fc00001), S(M_ONE), 0, fsgnj.s fa3, fa0, fa1) // NaN payload kept, no flag
    // Compares: feq is quiet, flt/fle signal on any NaN.
    TEST_FPX(42, 0, 0, S(QNAN), S(QNAN), 0, feq.s a0, fa0, fa1)
    TEST_FPX(43, 0, NV, S(SNAN), S(ONE), 0, feq.s a0, fa0, fa1)
    TEST_FPX(44, 0, NV, S(QNAN), S(ONE), 0, flt.s a0, fa0, fa1)
    TEST_FPX(45, 1, 0, S(MZERO), S(PZERO), 0, fle.s a0, fa0, fa1)
    TEST_FPX(46, 0, 0, S(MZERO), S(PZERO), 0, flt.s a0, fa0, fa1)
    TEST_FPX(47, 1, 0, S(MZERO), S(PZERO), 0, feq.s a0, fa0, fa1)
    // FCLASS: one bit per class.
    TEST_FPX(48, 1 << 0, 0, S(M_INF), 0, 0, fclass.s a0, fa0)
    TEST_FPX(49, 1 << 1, 0, S(M_ONE), 0, 0, fclass.s a0, fa0)
    TEST_FPX(50, 1 << 2, 0, S(0x80000001), 0, 0, fclass.s a0, fa0)
    TEST_FPX(51, 1 << 3, 0, S(MZERO), 0, 0, fclass.s a0, fa0)
    TEST_FPX(52, 1 << 4, 0, S(PZERO), 0, 0, fclass.s a0, fa0)
    TEST_FPX(53, 1 << 5, 0, S(MIN_SUB), 0, 0, fclass.s a0, fa0)
    TEST_FPX(54, 1 << 6, 0, S(ONE), 0, 0, fclass.s a0, fa0)
    TEST_FPX(55, 1 << 7, 0, S(INF), 0, 0, fclass.s a0, fa0)
    TEST_FPX(56, 1 << 8, 0, S(SNAN), 0, 0, fclass.s a0, fa0)
    TEST_FPX(57, 1 << 9, 0, S(QNAN), 0, 0, fclass.s a0, fa0)
    TEST_FPX(58, 1 << 9, 0, 0x000000003f800000, 0, 0, fclass.s a0, fa0)     // unboxed: canonical NaN
    // Fused multiply-add: one rounding, signs of the four forms, inf*0 + qNaN is invalid.
    TEST_FP(59, S(0x40e00000), 0, S(TWO), S(THREE), S(ONE), fmadd.s fa3, fa0, fa1, fa2)
    TEST_FP(60, S(0x40a00000), 0, S(TWO), S(THREE), S(ONE), fmsub.s fa3, fa0, fa1, fa2)
    TEST_FP(61, S(0xc0a00000), 0, S(TWO), S(THREE), S(ONE), fnmsub.s fa3, fa0, fa1, fa2)
    TEST_FP(62, S(0xc0e00000), 0, S(TWO), S(THREE), S(ONE), fnmadd.s fa3, fa0, fa1, fa2)
    TEST_FP(63, S(QNAN), NV, S(INF), S(PZERO), S(QNAN), fmadd.s fa3, fa0, fa1, fa2)
    // (1 + 2^-23) * (1 - 2^-23) - 1 = -2^-46 exactly with one rounding (two roundings give 0).
    TEST_FP(64, S(0xa8800000), 0, S(0x3f800001), S(0x3f7ffffe), S(ONE), fmsub.s fa3, fa0, fa1, fa2)
    // Dynamic rounding mode.
    CASE(65)
    csrwi frm, 1                                                         // RTZ
    FP_SETUP(S(ONE), S(THREE), 0)
    fdiv.s fa3, fa0, fa1, dyn
    fmv.x.d a0, fa3
    CHECK(a0, S(0x3eaaaaaa))
    CASE(66)
    csrwi frm, 3                                                         // RUP
    fdiv.s fa3, fa0, fa1
    fmv.x.d a0, fa3
    CHECK(a0, S(0x3eaaaaab))
    CASE(67)                                                             // frm = 5..7 with dyn: illegal
    csrwi frm, 5
    EXPECT_TRAP(1f)
    fdiv.s fa3, fa0, fa1, dyn
    j fail
1:  CHECK_CAUSE(CAUSE_ILLEGAL)
    csrwi frm, 0
    CASE(68)                                                             // static rm = 5 is illegal too
    EXPECT_TRAP(2f)
    .word 0x18b5d6d3                                                     // fdiv.s fa3, fa1, fa1, rm=5
    j fail
2:  CHECK_CAUSE(CAUSE_ILLEGAL)
    CASE(69)                                                             // fflags accumulate
    csrwi fflags, 0
    FP_SETUP(S(ONE), S(THREE), S(PZERO))
    fdiv.s fa3, fa0, fa1
    fdiv.s fa3, fa0, fa2
    csrr a1, fflags
    CHECK(a1, NX | DZ)
    j pass
TEST_END
    .data
    .align 3
fbuf: .skip 64
