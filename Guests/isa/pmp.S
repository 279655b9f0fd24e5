// Physical memory protection (privileged spec 3.7): NAPOT, TOR and NA4 regions denying S- and
// U-mode loads, stores and fetches with access-fault causes and tval; lowest-numbered match wins;
// M-mode unaffected by unlocked entries; MPRV applies PMP with MPP's privilege; a locked entry
// binds M-mode too (last, since a lock holds until reset).
//
// Entry 7 is an allow-all NAPOT region so code and stack stay reachable from S/U; the entries
// under test sit at lower numbers so they take priority.
#include "test.h"

#define PMP_R 0x01
#define PMP_W 0x02
#define PMP_X 0x04
#define PMP_TOR (1 << 3)
#define PMP_NA4 (2 << 3)
#define PMP_NAPOT (3 << 3)
#define PMP_L 0x80
#define ALLOW_ALL (0x1f << 56)

/* pmpaddrN = NAPOT encoding of the 4 KiB page at `label`. */
#define NAPOT_4K(n, label)                                                 \
    la t0, label;                                                          \
    srli t0, t0, 2;                                                        \
    ori t0, t0, 0x1ff;                                                     \
    csrw pmpaddr##n, t0

#define SET_PMPCFG0(v)                                                     \
    li t0, v;                                                              \
    csrw pmpcfg0, t0

TEST_BEGIN
    li t0, -1
    csrw pmpaddr7, t0
    SET_PMPCFG0(ALLOW_ALL)
    la a0, region
    li a1, 0x1234
    sd a1, 0(a0)

    CASE(1)                                          // NAPOT read-only: S load allowed
    NAPOT_4K(0, region)
    SET_PMPCFG0(ALLOW_ALL | PMP_NAPOT | PMP_R)
    li a0, 0
    IN_S_BEGIN
    la a1, region
    ld a0, 0(a1)
    IN_S_END
    CHECK(a0, 0x1234)
    CASE(2)                                          // ... store denied: store access fault
    EXPECT_TRAP(1f)
    GOTO_MODE(PRV_S, 2f)
2:  la a1, region + 24
    sd a1, 0(a1)
    j fail
1:  CHECK_CAUSE(CAUSE_STORE_ACCESS)
    CHECK_TVAL_LABEL(region + 24)
    CASE(3)                                          // ... fetch denied: fetch access fault
    EXPECT_TRAP(1f)
    GOTO_MODE(PRV_U, 2f)
2:  la a1, region + 32
    jr a1
    j fail
1:  CHECK_CAUSE(CAUSE_FETCH_ACCESS)
    CHECK_TVAL_LABEL(region + 32)
    CASE(4)                                          // M-mode ignores an unlocked entry
    la a1, region + 8
    li a2, 77
    sd a2, 0(a1)
    ld a0, 0(a1)
    CHECK(a0, 77)
    CASE(5)                                          // MPRV with MPP = S: M store checked as S
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, MSTATUS_MPRV | (PRV_S << 11)
    csrs mstatus, t0
    EXPECT_TRAP(1f)
    la a1, region + 16
    sd a1, 0(a1)
    j fail
1:  li t0, MSTATUS_MPRV
    csrc mstatus, t0
    CHECK_CAUSE(CAUSE_STORE_ACCESS)
    CHECK_TVAL_LABEL(region + 16)

    CASE(6)                                          // TOR [region2, region2 + 64): no permissions
    la t0, region2
    srli t0, t0, 2
    csrw pmpaddr0, t0
    addi t0, t0, 64 >> 2
    csrw pmpaddr1, t0
    SET_PMPCFG0(ALLOW_ALL | (PMP_TOR << 8))
    EXPECT_TRAP(1f)
    GOTO_MODE(PRV_U, 2f)
2:  la a1, region2 + 56
    ld a0, 0(a1)
    j fail
1:  CHECK_CAUSE(CAUSE_LOAD_ACCESS)
    CHECK_TVAL_LABEL(region2 + 56)
    CASE(7)                                          // ... just past the top is allowed (entry 7)
    IN_U_BEGIN
    la a1, region2 + 64
    ld a0, 0(a1)
    IN_U_END
    CASE(8)                                          // ... and just below the bottom
    IN_U_BEGIN
    la a1, region2 - 8
    ld a0, 0(a1)
    IN_U_END

    CASE(9)                                          // NA4: exactly four bytes
    la t0, region3 + 8
    srli t0, t0, 2
    csrw pmpaddr0, t0
    SET_PMPCFG0(ALLOW_ALL | PMP_NA4)
    IN_U_BEGIN
    la a1, region3
    lw a0, 4(a1)
    lw a0, 12(a1)
    IN_U_END
    CASE(10)
    EXPECT_TRAP(1f)
    GOTO_MODE(PRV_U, 2f)
2:  la a1, region3 + 8
    lw a0, 0(a1)
    j fail
1:  CHECK_CAUSE(CAUSE_LOAD_ACCESS)
    CHECK_TVAL_LABEL(region3 + 8)

    CASE(11)                                         // lowest-numbered match wins: entry 0 allows, entry 1 denies
    NAPOT_4K(0, region)
    NAPOT_4K(1, region)
    SET_PMPCFG0(ALLOW_ALL | ((PMP_NAPOT) << 8) | PMP_NAPOT | PMP_R | PMP_W)
    IN_S_BEGIN
    la a1, region
    sd zero, 40(a1)
    IN_S_END
    CASE(12)                                         // ... and the other way round
    SET_PMPCFG0(ALLOW_ALL | ((PMP_NAPOT | PMP_R | PMP_W) << 8) | PMP_NAPOT)
    EXPECT_TRAP(1f)
    GOTO_MODE(PRV_S, 2f)
2:  la a1, region
    sd zero, 40(a1)
    j fail
1:  CHECK_CAUSE(CAUSE_STORE_ACCESS)

    CASE(13)                                         // pmpcfg reads back what was written
    csrr a0, pmpcfg0
    CHECK(a0, ALLOW_ALL | ((PMP_NAPOT | PMP_R | PMP_W) << 8) | PMP_NAPOT)

    CASE(14)                                         // a locked read-only entry binds M-mode
    NAPOT_4K(0, region)
    SET_PMPCFG0(ALLOW_ALL | PMP_L | PMP_NAPOT | PMP_R)
    la a1, region
    ld a0, 0(a1)
    EXPECT_TRAP(1f)
    sd a0, 0(a1)
    j fail
1:  CHECK_CAUSE(CAUSE_STORE_ACCESS)
    CHECK_TVAL_LABEL(region)
    CASE(15)                                         // ... and the locked entry ignores writes
    li t0, 0
    csrw pmpaddr0, t0
    csrr a0, pmpaddr0
    la t0, region
    srli t0, t0, 2
    ori t0, t0, 0x1ff
    CHECK_EQ(a0, t0)
    j pass
TEST_END
    .data
    .align 12
region: .skip 4096
region2: .skip 4096
region3: .skip 4096
