// Page-level access control (privileged spec 4.3.1, 4.3.2 steps 5-6, 4.1.1.2): the U bit for U and
// S accesses, mstatus.SUM, S never executing U pages, mstatus.MXR making execute-only pages
// readable, U-mode code running from a U page, and a page fault delegated to S with stval.
#include "test.h"
#include "vm.h"

#define VA(i) (0x40000000 + (i) * 0x1000)
#define UCODE_VA VA(0x10)

/* Enter U-mode at the U-page alias of `label` (in the ucode section). */
#define GOTO_U(label)                                                      \
    li t4, MSTATUS_MPP;                                                    \
    csrc mstatus, t4;                                                      \
    la t4, label;                                                          \
    la t3, ucode_start;                                                    \
    sub t4, t4, t3;                                                        \
    li t3, UCODE_VA;                                                       \
    add t4, t4, t3;                                                        \
    csrw mepc, t4;                                                         \
    mret

TEST_BEGIN
    SET_PTE_PA(root, 2, 0x80000000, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
    SET_PTE(root, 1, l1, PTE_V)
    SET_PTE(l1, 0, l0, PTE_V)
    SET_PTE(l0, 0, upage, PTE_V | PTE_U | PTE_R | PTE_W | PTE_A | PTE_D)
    SET_PTE(l0, 1, spage, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
    SET_PTE(l0, 2, xpage, PTE_V | PTE_U | PTE_X | PTE_A)
    SET_PTE(l0, 0x10, ucode_start, PTE_V | PTE_U | PTE_R | PTE_X | PTE_A)
    li a0, 0x5555aaaa
    la a1, upage
    sd a0, 0(a1)
    li a0, 0x66660000
    la a1, spage
    sd a0, 0(a1)
    li a0, 0x77770000
    la a1, xpage
    sd a0, 0(a1)
    ENABLE_VM(SATP_SV39, root)
    li a0, MSTATUS_SUM | MSTATUS_MXR
    csrc mstatus, a0

    CASE(1)                                          // S load from a U page, SUM = 0
    EXPECT_TRAP(1f)
    GOTO_MODE(PRV_S, 2f)
2:  li a1, VA(0)
    ld a0, 0(a1)
    j fail
1:  CHECK_CAUSE(CAUSE_LOAD_PAGE)
    CHECK_TVAL(VA(0))
    CASE(2)                                          // S store to a U page, SUM = 0
    EXPECT_TRAP(1f)
    GOTO_MODE(PRV_S, 2f)
2:  li a1, VA(0) + 8
    sd a0, 0(a1)
    j fail
1:  CHECK_CAUSE(CAUSE_STORE_PAGE)
    CHECK_TVAL(VA(0) + 8)
    CASE(3)                                          // SUM = 1: allowed
    li a0, MSTATUS_SUM
    csrs mstatus, a0
    IN_S(3)
    li a1, VA(0)
    ld a0, 0(a1)
    BACK_TO_M
    CHECK(a0, 0x5555aaaa)
    CASE(4)                                          // S fetch from a U page faults even with SUM = 1
    EXPECT_TRAP(1f)
    GOTO_MODE(PRV_S, 2f)
2:  li a1, UCODE_VA
    jr a1
    j fail
1:  CHECK_CAUSE(CAUSE_FETCH_PAGE)
    CHECK_TVAL(UCODE_VA)
    li a0, MSTATUS_SUM
    csrc mstatus, a0

    CASE(5)                                          // U code runs from a U page and reads a U page
    li a0, 0
    EXPECT_TRAP(1f)
    GOTO_U(u_load_upage)
1:  CHECK_CAUSE(CAUSE_ECALL_U)
    CHECK(a0, 0x5555aaaa)
    CASE(6)                                          // U load from an S page
    EXPECT_TRAP(1f)
    GOTO_U(u_load_spage)
1:  CHECK_CAUSE(CAUSE_LOAD_PAGE)
    CHECK_TVAL(VA(1))
    CASE(7)                                          // U store to an S page
    EXPECT_TRAP(1f)
    GOTO_U(u_store_spage)
1:  CHECK_CAUSE(CAUSE_STORE_PAGE)
    CHECK_TVAL(VA(1) + 16)
    CASE(8)                                          // U load from an execute-only page, MXR = 0
    EXPECT_TRAP(1f)
    GOTO_U(u_load_xpage)
1:  CHECK_CAUSE(CAUSE_LOAD_PAGE)
    CHECK_TVAL(VA(2))
    CASE(9)                                          // MXR = 1: execute-only becomes readable
    li a0, MSTATUS_MXR
    csrs mstatus, a0
    li a0, 0
    EXPECT_TRAP(1f)
    GOTO_U(u_load_xpage)
1:  CHECK_CAUSE(CAUSE_ECALL_U)
    CHECK(a0, 0x77770000)
    li a0, MSTATUS_MXR
    csrc mstatus, a0
    CASE(10)                                         // U fetch from an S page (the identity map)
    EXPECT_TRAP(1f)
    la a1, s_target
    GOTO_U(u_jump_s)
1:  CHECK_CAUSE(CAUSE_FETCH_PAGE)
    CHECK_TVAL_LABEL(s_target)

    CASE(11)                                         // load page fault from U delegated to S
    li a0, 1 << CAUSE_LOAD_PAGE
    csrw medeleg, a0
    la a0, s_trap_vector
    csrw stvec, a0
    EXPECT_TRAP(1f)
    GOTO_U(u_load_spage)
1:  CHECK_CAUSE(CAUSE_ECALL_S)                       // the S handler reports back with ecall
    la t3, s_rec
    ld a0, 0(t3)
    CHECK(a0, CAUSE_LOAD_PAGE)
    ld a0, 8(t3)
    CHECK(a0, VA(1))
    ld a0, 16(t3)                                    // sepc is the U alias of the faulting load
    la a1, u_load_spage_insn
    la a2, ucode_start
    sub a1, a1, a2
    li a2, UCODE_VA
    add a1, a1, a2
    CHECK_EQ(a0, a1)
    csrwi medeleg, 0
    j pass

s_target:
    j fail
    .align 2
s_trap_vector:
    la t6, s_rec
    csrr t5, scause
    sd t5, 0(t6)
    csrr t5, stval
    sd t5, 8(t6)
    csrr t5, sepc
    sd t5, 16(t6)
    ecall

    .section .text.ucode, "ax", @progbits
    .align 12
ucode_start:
u_load_upage:
    li a1, VA(0)
    ld a0, 0(a1)
    ecall
u_load_spage:
    li a1, VA(1)
u_load_spage_insn:
    ld a0, 0(a1)
    ecall
u_store_spage:
    li a1, VA(1) + 16
    sd a0, 0(a1)
    ecall
u_load_xpage:
    li a1, VA(2)
    ld a0, 0(a1)
    ecall
u_jump_s:                                            // a1 = s_target, set in M (la is pc-relative)
    jr a1
    .text
TEST_END
    .data
    .align 12
root: .skip 4096
l1: .skip 4096
l0: .skip 4096
upage: .skip 4096
spage: .skip 4096
xpage: .skip 4096
s_rec: .dword 0, 0, 0
