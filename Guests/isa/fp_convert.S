// Floating-point conversions (unprivileged spec 11.7, 12.5, table 11.4): float -> integer in every
// rounding mode including RMM ties, saturation and NV at the limits and for NaN/infinity, 32-bit
// results sign-extended, integer -> float rounding, single <-> double with NaN canonicalization.
#include "test.h"
#include "fp.h"

#define D_2_5 0x4004000000000000
#define D_M2_5 0xc004000000000000
#define D_0_5 0x3fe0000000000000
#define D_1_5 0x3ff8000000000000
#define D_M0_5 0xbfe0000000000000
#define D_QNAN 0x7ff8000000000000
#define D_INF 0x7ff0000000000000
#define D_M_INF 0xfff0000000000000
#define D_2P31 0x41e0000000000000
#define D_M2P31 0xc1e0000000000000
#define D_M2P31_M_HALF 0xc1e0000000100000     /* -2^31 - 0.5 */
#define D_2P32_M_HALF 0x41effffffff00000      /* 4294967295.5 */
#define D_2P63 0x43e0000000000000
#define D_M2P63 0xc3e0000000000000
#define D_2P64 0x43f0000000000000
#define D_M_ONE 0xbff0000000000000

TEST_BEGIN
    // Ties: 2.5 and -2.5 under all five rounding modes.
    TEST_FPX(1, 2, NX, D_2_5, 0, 0, fcvt.w.d a0, fa0, rne)
    TEST_FPX(2, 2, NX, D_2_5, 0, 0, fcvt.w.d a0, fa0, rtz)
    TEST_FPX(3, 2, NX, D_2_5, 0, 0, fcvt.w.d a0, fa0, rdn)
    TEST_FPX(4, 3, NX, D_2_5, 0, 0, fcvt.w.d a0, fa0, rup)
    TEST_FPX(5, 3, NX, D_2_5, 0, 0, fcvt.w.d a0, fa0, rmm)
    TEST_FPX(6, -2, NX, D_M2_5, 0, 0, fcvt.w.d a0, fa0, rne)
    TEST_FPX(7, -2, NX, D_M2_5, 0, 0, fcvt.w.d a0, fa0, rtz)
    TEST_FPX(8, -3, NX, D_M2_5, 0, 0, fcvt.w.d a0, fa0, rdn)
    TEST_FPX(9, -2, NX, D_M2_5, 0, 0, fcvt.w.d a0, fa0, rup)
    TEST_FPX(10, -3, NX, D_M2_5, 0, 0, fcvt.w.d a0, fa0, rmm)
    TEST_FPX(11, 0, NX, D_0_5, 0, 0, fcvt.l.d a0, fa0, rne)
    TEST_FPX(12, 1, NX, D_0_5, 0, 0, fcvt.l.d a0, fa0, rmm)
    TEST_FPX(13, 2, NX, D_1_5, 0, 0, fcvt.l.d a0, fa0, rne)
    TEST_FPX(14, -1, NX, D_M0_5, 0, 0, fcvt.l.d a0, fa0, rmm)
    // 32-bit signed limits.
    TEST_FPX(15, 0x7fffffff, NV, D_QNAN, 0, 0, fcvt.w.d a0, fa0)
    TEST_FPX(16, 0x7fffffff, NV, D_INF, 0, 0, fcvt.w.d a0, fa0)
    TEST_FPX(17, 0xffffffff80000000, NV, D_M_INF, 0, 0, fcvt.w.d a0, fa0)
    TEST_FPX(18, 0x7fffffff, NV, D_2P31, 0, 0, fcvt.w.d a0, fa0)
    TEST_FPX(19, 0xffffffff80000000, 0, D_M2P31, 0, 0, fcvt.w.d a0, fa0)
    TEST_FPX(20, 0xffffffff80000000, NX, D_M2P31_M_HALF, 0, 0, fcvt.w.d a0, fa0, rtz)
    TEST_FPX(21, 0xffffffff80000000, NV, D_M2P31_M_HALF, 0, 0, fcvt.w.d a0, fa0, rdn)
    // 32-bit unsigned: results are sign-extended from bit 31.
    TEST_FPX(22, 0, NV, D_M_ONE, 0, 0, fcvt.wu.d a0, fa0)
    TEST_FPX(23, 0, NX, D_M0_5, 0, 0, fcvt.wu.d a0, fa0, rtz)                 // rounds into range
    TEST_FPX(24, 0xffffffffffffffff, NX, D_2P32_M_HALF, 0, 0, fcvt.wu.d a0, fa0, rtz)
    TEST_FPX(25, 0xffffffffffffffff, NV, D_2P32_M_HALF, 0, 0, fcvt.wu.d a0, fa0, rne)
    TEST_FPX(26, 0xffffffffffffffff, NV, D_QNAN, 0, 0, fcvt.wu.d a0, fa0)
    TEST_FPX(27, 0xffffffff80000000, 0, D_2P31, 0, 0, fcvt.wu.d a0, fa0)
    // 64-bit limits.
    TEST_FPX(28, 0x7fffffffffffffff, NV, D_2P63, 0, 0, fcvt.l.d a0, fa0)
    TEST_FPX(29, 0x8000000000000000, 0, D_M2P63, 0, 0, fcvt.l.d a0, fa0)
    TEST_FPX(30, 0x7fffffffffffffff, NV, D_QNAN, 0, 0, fcvt.l.d a0, fa0)
    TEST_FPX(31, 0x8000000000000000, NV, D_M_INF, 0, 0, fcvt.l.d a0, fa0)
    TEST_FPX(32, 0xffffffffffffffff, NV, D_2P64, 0, 0, fcvt.lu.d a0, fa0)
    TEST_FPX(33, 0x8000000000000000, 0, D_2P63, 0, 0, fcvt.lu.d a0, fa0)
    TEST_FPX(34, 0, NV, D_M_ONE, 0, 0, fcvt.lu.d a0, fa0)
    TEST_FPX(35, 0xffffffffffffffff, NV, D_QNAN, 0, 0, fcvt.lu.d a0, fa0)
    // Single-precision sources.
    TEST_FPX(36, 3, NX, S(0x40200000), 0, 0, fcvt.w.s a0, fa0, rmm)          // 2.5f
    TEST_FPX(37, 2, NX, S(0x40200000), 0, 0, fcvt.w.s a0, fa0, rne)
    TEST_FPX(38, 0x7fffffffffffffff, NV, S(0x5f000000), 0, 0, fcvt.l.s a0, fa0) // 2^63
    TEST_FPX(39, 0x7fffffff, NV, 0x000000003f800000, 0, 0, fcvt.w.s a0, fa0)   // unboxed: NaN
    TEST_FPX(40, 0xffffffffffffff00, 0, S(0x4f7fffff), 0, 0, fcvt.wu.s a0, fa0) // 4294967040 -> sext
    // Integer -> float.
    TEST_FPI(41, 0x4340000000000000, NX, 9007199254740993, fcvt.d.l fa3, a2, rne)  // 2^53 + 1
    TEST_FPI(42, 0x4340000000000001, NX, 9007199254740993, fcvt.d.l fa3, a2, rup)
    TEST_FPI(43, 0x4340000000000001, NX, 9007199254740993, fcvt.d.l fa3, a2, rmm)  // tie: away gives 2^53 + 2
    TEST_FPI(44, 0xbff0000000000000, 0, -1, fcvt.d.w fa3, a2)
    TEST_FPI(45, 0x41efffffffe00000, 0, -1, fcvt.d.wu fa3, a2)              // uses bits 31:0 only
    TEST_FPI(46, 0x43f0000000000000, NX, -1, fcvt.d.lu fa3, a2)             // 2^64 - 1 rounds to 2^64
    TEST_FPI(47, 0xc3e0000000000000, 0, 0x8000000000000000, fcvt.d.l fa3, a2)
    TEST_FPI(48, S(0x4b800000), NX, 16777217, fcvt.s.w fa3, a2, rne)
    TEST_FPI(49, S(0x4b800001), NX, 16777217, fcvt.s.w fa3, a2, rup)
    TEST_FPI(50, S(0x4f800000), NX, 0xffffffff, fcvt.s.wu fa3, a2)
    TEST_FPI(51, S(0x4f7fffff), NX, 0xffffffff, fcvt.s.wu fa3, a2, rtz)
    TEST_FPI(52, S(0x00000000), 0, 0, fcvt.s.l fa3, a2)
    TEST_FPI(53, S(0xdf000000), 0, 0x8000000000000000, fcvt.s.l fa3, a2)
    // Single <-> double.
    TEST_FP(54, S(0x3eaaaaab), NX, 0x3fd5555555555555, 0, 0, fcvt.s.d fa3, fa0)
    TEST_FP(55, S(0x3eaaaaaa), NX, 0x3fd5555555555555, 0, 0, fcvt.s.d fa3, fa0, rtz)
    TEST_FP(56, S(0x7f800000), OF | NX, 0x7e37e43c8800759c, 0, 0, fcvt.s.d fa3, fa0)  // 1e300
    TEST_FP(57, S(0x7f7fffff), OF | NX, 0x7e37e43c8800759c, 0, 0, fcvt.s.d fa3, fa0, rtz)
    TEST_FP(58, S(0x00000000), UF | NX, 0x01a56e1fc2f8f359, 0, 0, fcvt.s.d fa3, fa0)  // 1e-300
    TEST_FP(59, S(0x00000001), UF | NX, 0x01a56e1fc2f8f359, 0, 0, fcvt.s.d fa3, fa0, rup)
    TEST_FP(60, S(0x7fc00000), NV, 0x7ff0000000000001, 0, 0, fcvt.s.d fa3, fa0)  // sNaN -> canonical
    TEST_FP(61, S(0x7fc00000), 0, 0xfff8000000001234, 0, 0, fcvt.s.d fa3, fa0)   // payload dropped
    TEST_FP(62, 0x3ff8000000000000, 0, S(0x3fc00000), 0, 0, fcvt.d.s fa3, fa0)   // exact
    TEST_FP(63, 0x7ff8000000000000, NV, S(0x7f800001), 0, 0, fcvt.d.s fa3, fa0)
    TEST_FP(64, 0x36a0000000000000, 0, S(0x00000001), 0, 0, fcvt.d.s fa3, fa0)   // subnormal single is normal double
    TEST_FP(65, 0x7ff8000000000000, 0, 0x000000003f800000, 0, 0, fcvt.d.s fa3, fa0) // unboxed input
    // Moves between register files.
    TEST_FPX(66, 0xffffffff80000000, 0, S(0x80000000), 0, 0, fmv.x.w a0, fa0)
    TEST_FPI(67, 0x8000000000000001, 0, 0x8000000000000001, fmv.d.x fa3, a2)
    j pass
TEST_END
