/* Floating-point test helpers. Operands are raw 64-bit register images (use S() to NaN-box a
   single); fa0/fa1/fa2 are the sources, fa3 (or a0 for integer results) the destination. Each
   case clears fflags first and checks both the result bits and the exact fflags afterwards. */
#ifndef BACKPLANE_FP_H
#define BACKPLANE_FP_H

#define NX 0x01
#define UF 0x02
#define OF 0x04
#define DZ 0x08
#define NV 0x10

#define S(x) (0xffffffff00000000 | (x))

#define FP_SETUP(a, b, c)                                                  \
    li t0, a;                                                              \
    fmv.d.x fa0, t0;                                                       \
    li t0, b;                                                              \
    fmv.d.x fa1, t0;                                                       \
    li t0, c;                                                              \
    fmv.d.x fa2, t0;                                                       \
    csrwi fflags, 0

/* Result in fa3 (compared as 64 raw bits). */
#define TEST_FP(n, res, flags, a, b, c, ...)                               \
    CASE(n);                                                               \
    FP_SETUP(a, b, c);                                                     \
    __VA_ARGS__;                                                           \
    fmv.x.d a0, fa3;                                                       \
    csrr a1, fflags;                                                       \
    CHECK(a0, res);                                                        \
    CHECK(a1, flags)

/* Result in a0. */
#define TEST_FPX(n, res, flags, a, b, c, ...)                              \
    CASE(n);                                                               \
    FP_SETUP(a, b, c);                                                     \
    __VA_ARGS__;                                                           \
    csrr a1, fflags;                                                       \
    CHECK(a0, res);                                                        \
    CHECK(a1, flags)

/* Integer source in a2, result in fa3. */
#define TEST_FPI(n, res, flags, ival, ...)                                    \
    CASE(n);                                                               \
    li a2, ival;                                                            \
    csrwi fflags, 0;                                                       \
    __VA_ARGS__;                                                           \
    fmv.x.d a0, fa3;                                                       \
    csrr a1, fflags;                                                       \
    CHECK(a0, res);                                                        \
    CHECK(a1, flags)

#endif
