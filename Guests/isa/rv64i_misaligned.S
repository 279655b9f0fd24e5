// Misaligned loads and stores (unprivileged spec 2.6, privileged 3.6.3): an implementation may
// perform them or trap with address-misaligned (4 load / 6 store) or access fault (5 / 7) and
// tval = the effective address. Each case accepts either outcome but checks it fully: the loaded
// value (with sign extension) or the bytes stored when performed; cause, tval, epc and untouched
// memory when trapped.
#include "test.h"

// mbuf holds bytes 0x80, 0x81, ..., 0x8f.
#define RESET_BUF                                                          \
    la s0, mbuf;                                                           \
    li t0, 0x8786858483828180;                                             \
    sd t0, 0(s0);                                                          \
    li t0, 0x8f8e8d8c8b8a8988;                                             \
    sd t0, 8(s0)

#define TEST_MIS_LOAD(n, inst, off, expected)                              \
    CASE(n);                                                               \
    RESET_BUF;                                                             \
    li a1, 0x5a5a;                                                         \
    EXPECT_TRAP(1f);                                                       \
10: inst a1, off(s0);                                                      \
    DISARM;                                                                \
    CHECK(a1, expected);                                                   \
    j 2f;                                                                  \
1:  la t3, trap_rec;                                                       \
    ld t4, TR_CAUSE(t3);                                                   \
    li t3, CAUSE_LOAD_ACCESS;                                              \
    beq t4, t3, 3f;                                                        \
    CHECK_CAUSE(CAUSE_MISALIGNED_LOAD);                                    \
3:  CHECK_TVAL_LABEL(mbuf + off);                                          \
    CHECK_EPC_LABEL(10b);                                                  \
    CHECK(a1, 0x5a5a);                                                     \
2:

// Store `value` with `inst` at mbuf + off; `after` is the first doubleword of mbuf when performed.
#define TEST_MIS_STORE(n, inst, off, value, after0, after1)                \
    CASE(n);                                                               \
    RESET_BUF;                                                             \
    li a1, value;                                                          \
    EXPECT_TRAP(1f);                                                       \
10: inst a1, off(s0);                                                      \
    DISARM;                                                                \
    ld a2, 0(s0);                                                          \
    CHECK(a2, after0);                                                     \
    ld a2, 8(s0);                                                          \
    CHECK(a2, after1);                                                     \
    j 2f;                                                                  \
1:  la t3, trap_rec;                                                       \
    ld t4, TR_CAUSE(t3);                                                   \
    li t3, CAUSE_STORE_ACCESS;                                             \
    beq t4, t3, 3f;                                                        \
    CHECK_CAUSE(CAUSE_MISALIGNED_STORE);                                   \
3:  CHECK_TVAL_LABEL(mbuf + off);                                          \
    CHECK_EPC_LABEL(10b);                                                  \
    ld a2, 0(s0);                                                          \
    CHECK(a2, 0x8786858483828180);                                         \
    ld a2, 8(s0);                                                          \
    CHECK(a2, 0x8f8e8d8c8b8a8988);                                         \
2:

TEST_BEGIN
    TEST_MIS_LOAD(1, lh, 1, 0xffffffffffff8281)
    TEST_MIS_LOAD(2, lhu, 1, 0x8281)
    TEST_MIS_LOAD(3, lw, 1, 0xffffffff84838281)
    TEST_MIS_LOAD(4, lwu, 3, 0x86858483)
    TEST_MIS_LOAD(5, lw, 2, 0xffffffff85848382)
    TEST_MIS_LOAD(6, ld, 1, 0x8887868584838281)
    TEST_MIS_LOAD(7, ld, 7, 0x8e8d8c8b8a898887)          // crosses the 8-byte boundary
    TEST_MIS_LOAD(8, ld, 4, 0x8b8a898887868584)
    TEST_MIS_STORE(9, sh, 7, 0x1122, 0x2286858483828180, 0x8f8e8d8c8b8a8911)
    TEST_MIS_STORE(10, sw, 3, 0x11223344, 0x8711223344828180, 0x8f8e8d8c8b8a8988)
    TEST_MIS_STORE(11, sw, 6, 0x11223344, 0x3344858483828180, 0x8f8e8d8c8b8a1122)
    TEST_MIS_STORE(12, sd, 5, 0x1122334455667788, 0x6677888483828180, 0x8f8e8d1122334455)
    j pass
TEST_END
    .data
    .align 4
mbuf: .skip 32
