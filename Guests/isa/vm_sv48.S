// Sv48 translation (privileged spec 4.5): four levels, a 512 GiB leaf at the root, 1 GiB and
// 4 KiB leaves below it, A/D updates, faults with tval, and the Sv48 canonical-address rule.
//
// Map: root[0] -> l2; l2[2] = 1 GiB identity leaf over 0x80000000 (the code); l2[1] -> l1 -> l0
// for the window at VA 0x40000000; root[1] = 512 GiB leaf mapping VA 0x8000000000 -> PA 0.
#include "test.h"
#include "vm.h"

#define VA(i) (0x40000000 + (i) * 0x1000)

TEST_BEGIN
    SET_PTE(root, 0, l2, PTE_V)
    SET_PTE_PA(root, 1, 0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
    SET_PTE_PA(l2, 2, 0x80000000, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
    SET_PTE(l2, 1, l1, PTE_V)
    SET_PTE(l1, 0, l0, PTE_V)
    SET_PTE(l0, 0, page0, PTE_V | PTE_R | PTE_W)
    SET_PTE(l0, 1, page1, PTE_V | PTE_R | PTE_A)
    li a0, 0x0123456789abcdef
    la a1, page0
    sd a0, 0(a1)
    ENABLE_VM(SATP_SV48, root)
    CASE(1)                                                   // satp accepted mode 9
    csrr a0, satp
    srli a0, a0, 60
    CHECK(a0, 9)
    CASE(2)                                                   // 4 KiB page through four levels
    IN_S(2)
    li a1, VA(0)
    ld a0, 0(a1)
    BACK_TO_M
    CHECK(a0, 0x0123456789abcdef)
    CASE(3)
    GET_PTE(a0, l0, 0)
    andi a0, a0, PTE_A | PTE_D
    CHECK(a0, PTE_A)
    CASE(4)
    IN_S(4)
    li a1, VA(0)
    sd zero, 8(a1)
    BACK_TO_M
    GET_PTE(a0, l0, 0)
    andi a0, a0, PTE_A | PTE_D
    CHECK(a0, PTE_A | PTE_D)
    CASE(5)                                                   // 512 GiB leaf: VA 0x80_0000_0000 + pa
    IN_S(5)
    la a1, page0                                              // physical address (identity)
    li a2, 0x8000000000
    add a1, a1, a2
    ld a0, 0(a1)
    BACK_TO_M
    CHECK(a0, 0x0123456789abcdef)
    CASE(6)                                                   // store to a read-only page
    EXPECT_TRAP(6f)
    GOTO_MODE(PRV_S, 1f)
1:  li a1, VA(1) + 0x18
    sd a0, 0(a1)
    j fail
6:  CHECK_CAUSE(CAUSE_STORE_PAGE)
    CHECK_TVAL(VA(1) + 0x18)
    CASE(7)                                                   // unmapped l0 slot
    EXPECT_TRAP(7f)
    GOTO_MODE(PRV_S, 1f)
1:  li a1, VA(2) + 4
    lw a0, 0(a1)
    j fail
7:  CHECK_CAUSE(CAUSE_LOAD_PAGE)
    CHECK_TVAL(VA(2) + 4)
    CASE(8)                                                   // unmapped root slot, fetch
    EXPECT_TRAP(8f)
    GOTO_MODE(PRV_S, 1f)
1:  li a1, 0x10000000000                                      // root[2]: invalid
    jr a1
    j fail
8:  CHECK_CAUSE(CAUSE_FETCH_PAGE)
    CHECK_TVAL(0x10000000000)
    CASE(9)                                                   // canonical in Sv39 terms is not enough: bit 47 rule
    EXPECT_TRAP(9f)
    GOTO_MODE(PRV_S, 1f)
1:  li a1, 0x0001000000000000                                 // bit 48 set, bit 47 clear
    ld a0, 0(a1)
    j fail
9:  CHECK_CAUSE(CAUSE_LOAD_PAGE)
    CASE(10)                                                  // bit 38 set: legal in Sv48 (non-canonical in Sv39)
    SET_PTE_PA(l2, 256, 0x80000000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
    IN_S(10)
    sfence.vma
    la a1, page0
    li a2, 0x4000000000 - 0x80000000
    add a1, a1, a2
    ld a0, 0(a1)
    BACK_TO_M
    CHECK(a0, 0x0123456789abcdef)
    j pass
TEST_END
    .data
    .align 12
root: .skip 4096
l2: .skip 4096
l1: .skip 4096
l0: .skip 4096
page0: .skip 4096
page1: .skip 4096
