// D extension (unprivileged spec ch. 12): arithmetic with each rounding mode on exact ties,
// fflags per operation class (NX, UF, OF, DZ, NV), canonical NaN, subnormals, FMIN/FMAX of zeros
// and NaNs, compares, FCLASS, fused multiply-add, loads/stores and moves.
#include "test.h"
#include "fp.h"

#define ONE 0x3ff0000000000000
#define M_ONE 0xbff0000000000000
#define TWO 0x4000000000000000
#define THREE 0x4008000000000000
#define HALF 0x3fe0000000000000
#define EPS_HALF 0x3ca0000000000000          /* 2^-53: half an ulp of 1.0 */
#define M_EPS_HALF 0xbca0000000000000
#define ONE_ULP 0x3ff0000000000001
#define INF 0x7ff0000000000000
#define M_INF 0xfff0000000000000
#define QNAN 0x7ff8000000000000
#define SNAN 0x7ff0000000000001
#define MAXD 0x7fefffffffffffff
#define MIN_NORMAL 0x0010000000000000
#define MIN_SUB 0x0000000000000001
#define PZERO 0
#define MZERO 0x8000000000000000

TEST_BEGIN
    // 1 + 2^-53 is an exact tie between 1 and 1 + ulp: every rounding mode differs where it can.
    TEST_FP(1, ONE, NX, ONE, EPS_HALF, 0, fadd.d fa3, fa0, fa1, rne)
    TEST_FP(2, ONE, NX, ONE, EPS_HALF, 0, fadd.d fa3, fa0, fa1, rtz)
    TEST_FP(3, ONE, NX, ONE, EPS_HALF, 0, fadd.d fa3, fa0, fa1, rdn)
    TEST_FP(4, ONE_ULP, NX, ONE, EPS_HALF, 0, fadd.d fa3, fa0, fa1, rup)
    TEST_FP(5, ONE_ULP, NX, ONE, EPS_HALF, 0, fadd.d fa3, fa0, fa1, rmm)
    TEST_FP(6, M_ONE, NX, M_ONE, M_EPS_HALF, 0, fadd.d fa3, fa0, fa1, rne)
    TEST_FP(7, 0xbff0000000000001, NX, M_ONE, M_EPS_HALF, 0, fadd.d fa3, fa0, fa1, rdn)
    TEST_FP(8, M_ONE, NX, M_ONE, M_EPS_HALF, 0, fadd.d fa3, fa0, fa1, rup)
    TEST_FP(9, 0xbff0000000000001, NX, M_ONE, M_EPS_HALF, 0, fadd.d fa3, fa0, fa1, rmm)
    TEST_FP(10, 0x3ff0000000000002, NX, ONE_ULP, EPS_HALF, 0, fadd.d fa3, fa0, fa1, rne) // tie to even goes up
    TEST_FP(11, 0x3fd3333333333334, NX, 0x3fb999999999999a, 0x3fc999999999999a, 0, fadd.d fa3, fa0, fa1) // 0.1 + 0.2
    TEST_FP(12, PZERO, 0, ONE, ONE, 0, fsub.d fa3, fa0, fa1)
    TEST_FP(13, MZERO, 0, ONE, ONE, 0, fsub.d fa3, fa0, fa1, rdn)
    TEST_FP(14, 0x4018000000000000, 0, TWO, THREE, 0, fmul.d fa3, fa0, fa1)
    TEST_FP(15, 0x3fd5555555555555, NX, ONE, THREE, 0, fdiv.d fa3, fa0, fa1)
    TEST_FP(16, 0x3fd5555555555556, NX, ONE, THREE, 0, fdiv.d fa3, fa0, fa1, rup)
    TEST_FP(17, INF, DZ, ONE, PZERO, 0, fdiv.d fa3, fa0, fa1)
    TEST_FP(18, QNAN, NV, PZERO, PZERO, 0, fdiv.d fa3, fa0, fa1)
    TEST_FP(19, QNAN, NV, INF, INF, 0, fdiv.d fa3, fa0, fa1)
    TEST_FP(20, 0x3ff6a09e667f3bcd, NX, TWO, 0, 0, fsqrt.d fa3, fa0)
    TEST_FP(21, 0x3ff6a09e667f3bcc, NX, TWO, 0, 0, fsqrt.d fa3, fa0, rdn)
    TEST_FP(22, QNAN, NV, M_ONE, 0, 0, fsqrt.d fa3, fa0)
    TEST_FP(23, INF, 0, INF, 0, 0, fsqrt.d fa3, fa0)
    TEST_FP(24, INF, OF | NX, MAXD, MAXD, 0, fadd.d fa3, fa0, fa1)
    TEST_FP(25, MAXD, OF | NX, MAXD, MAXD, 0, fadd.d fa3, fa0, fa1, rdn)
    TEST_FP(26, 0xffefffffffffffff, OF | NX, 0xffefffffffffffff, 0xffefffffffffffff, 0, fadd.d fa3, fa0, fa1, rup)
    TEST_FP(27, 0x0008000000000000, 0, MIN_NORMAL, HALF, 0, fmul.d fa3, fa0, fa1)   // exact subnormal
    TEST_FP(28, PZERO, UF | NX, MIN_SUB, HALF, 0, fmul.d fa3, fa0, fa1)
    TEST_FP(29, MIN_SUB, UF | NX, MIN_SUB, HALF, 0, fmul.d fa3, fa0, fa1, rup)
    TEST_FP(30, MZERO, UF | NX, 0x8000000000000001, HALF, 0, fmul.d fa3, fa0, fa1, rtz)
    TEST_FP(31, 0x0000000000000002, 0, MIN_SUB, MIN_SUB, 0, fadd.d fa3, fa0, fa1)   // subnormal add is exact
    TEST_FP(32, QNAN, NV, SNAN, ONE, 0, fmul.d fa3, fa0, fa1)
    TEST_FP(33, QNAN, 0, 0x7ff8000000000123, ONE, 0, fmul.d fa3, fa0, fa1)
    TEST_FP(34, QNAN, NV, INF, M_INF, 0, fadd.d fa3, fa0, fa1)
    TEST_FP(35, QNAN, NV, INF, PZERO, 0, fmul.d fa3, fa0, fa1)
    TEST_FP(36, MZERO, 0, PZERO, MZERO, 0, fmin.d fa3, fa0, fa1)
    TEST_FP(37, PZERO, 0, MZERO, PZERO, 0, fmax.d fa3, fa0, fa1)
    TEST_FP(38, ONE, 0, ONE, QNAN, 0, fmax.d fa3, fa0, fa1)
    TEST_FP(39, ONE, NV, ONE, SNAN, 0, fmin.d fa3, fa0, fa1)
    TEST_FP(40, QNAN, NV, SNAN, QNAN, 0, fmin.d fa3, fa0, fa1)
    TEST_FP(41, M_INF, 0, M_INF, ONE, 0, fmin.d fa3, fa0, fa1)
    TEST_FP(42, M_ONE, 0, ONE, M_EPS_HALF, 0, fsgnj.d fa3, fa0, fa1)
    TEST_FP(43, ONE, 0, M_ONE, M_EPS_HALF, 0, fsgnjn.d fa3, fa0, fa1)
    TEST_FP(44, M_ONE, 0, ONE, M_EPS_HALF, 0, fsgnjx.d fa3, fa0, fa1)
    TEST_FP(45, 0xfff0000000000001, 0, SNAN, M_ONE, 0, fsgnj.d fa3, fa0, fa1)  // sNaN passes, no flag
    TEST_FPX(46, 1, 0, ONE, ONE, 0, feq.d a0, fa0, fa1)
    TEST_FPX(47, 0, 0, QNAN, QNAN, 0, feq.d a0, fa0, fa1)
    TEST_FPX(48, 0, NV, SNAN, QNAN, 0, feq.d a0, fa0, fa1)
    TEST_FPX(49, 0, NV, QNAN, ONE, 0, fle.d a0, fa0, fa1)
    TEST_FPX(50, 1, 0, M_INF, MZERO, 0, flt.d a0, fa0, fa1)
    TEST_FPX(51, 1, 0, MZERO, PZERO, 0, fle.d a0, fa0, fa1)
    TEST_FPX(52, 1 << 0, 0, M_INF, 0, 0, fclass.d a0, fa0)
    TEST_FPX(53, 1 << 1, 0, M_ONE, 0, 0, fclass.d a0, fa0)
    TEST_FPX(54, 1 << 2, 0, 0x800fffffffffffff, 0, 0, fclass.d a0, fa0)
    TEST_FPX(55, 1 << 3, 0, MZERO, 0, 0, fclass.d a0, fa0)
    TEST_FPX(56, 1 << 4, 0, PZERO, 0, 0, fclass.d a0, fa0)
    TEST_FPX(57, 1 << 5, 0, MIN_SUB, 0, 0, fclass.d a0, fa0)
    TEST_FPX(58, 1 << 6, 0, MAXD, 0, 0, fclass.d a0, fa0)
    TEST_FPX(59, 1 << 7, 0, INF, 0, 0, fclass.d a0, fa0)
    TEST_FPX(60, 1 << 8, 0, 0x7ff4000000000000, 0, 0, fclass.d a0, fa0)
    TEST_FPX(61, 1 << 9, 0, 0xfff8000000000000, 0, 0, fclass.d a0, fa0)
    TEST_FP(62, 0x401c000000000000, 0, TWO, THREE, ONE, fmadd.d fa3, fa0, fa1, fa2)
    TEST_FP(63, 0x4014000000000000, 0, TWO, THREE, ONE, fmsub.d fa3, fa0, fa1, fa2)
    TEST_FP(64, 0xc014000000000000, 0, TWO, THREE, ONE, fnmsub.d fa3, fa0, fa1, fa2)
    TEST_FP(65, 0xc01c000000000000, 0, TWO, THREE, ONE, fnmadd.d fa3, fa0, fa1, fa2)
    TEST_FP(66, QNAN, NV, PZERO, INF, QNAN, fmadd.d fa3, fa0, fa1, fa2)
    // (1 + 2^-52)(1 - 2^-52) - 1 = -2^-104 exactly: only a fused operation gets it.
    TEST_FP(67, 0xb970000000000000, 0, ONE_ULP, 0x3feffffffffffffe, ONE, fmsub.d fa3, fa0, fa1, fa2)
    TEST_FP(68, MZERO, 0, MZERO, ONE, MZERO, fmadd.d fa3, fa0, fa1, fa2)       // -0*1 + -0 = -0
    TEST_FP(69, PZERO, 0, MZERO, ONE, PZERO, fmadd.d fa3, fa0, fa1, fa2)
    CASE(70)                                                                   // fld / fsd round trip
    la a1, dbuf
    li a2, 0x7ff4000000000abc                                                  // sNaN bits preserved
    sd a2, 0(a1)
    fld fa0, 0(a1)
    fsd fa0, 8(a1)
    ld a0, 8(a1)
    CHECK_EQ(a0, a2)
    csrr a0, fflags
    CASE(71)
    fmv.x.d a3, fa0
    CHECK_EQ(a3, a2)
    CASE(72)                                                                   // dynamic rounding, RMM
    csrwi frm, 4
    FP_SETUP(ONE, EPS_HALF, 0)
    fadd.d fa3, fa0, fa1
    fmv.x.d a0, fa3
    csrwi frm, 0
    CHECK(a0, ONE_ULP)
    CASE(73)                                                                   // fsqrt of a subnormal
    FP_SETUP(MIN_SUB, 0, 0)
    fsqrt.d fa3, fa0
    fmv.x.d a0, fa3
    CHECK(a0, 0x1e60000000000000)                                               // 2^-537
    csrr a1, fflags
    CHECK(a1, 0)
    j pass
TEST_END
    .data
    .align 3
dbuf: .skip 64
