// Timer and software interrupts through spike's CLINT at 0x2000000 (privileged spec 3.1.9 mip/mie,
// 3.2.1 mtime/mtimecmp, 3.3.3 wfi): an M timer interrupt taken with the right mcause and MTIP
// following mtimecmp; M interrupts taken from S regardless of mstatus.MIE; MSIP through the
// CLINT; wfi waking on a pending enabled interrupt with MIE = 0; and the SBI pattern of an M timer
// interrupt re-raised by software as a delegated S timer interrupt (mip.STIP).
#include "test.h"

#define CLINT_MSIP 0x2000000
#define CLINT_MTIMECMP 0x2004000
#define CLINT_MTIME 0x200bff8
#define MIP_MSIP (1 << IRQ_M_SOFT)
#define MIP_MTIP (1 << IRQ_M_TIMER)
#define MIP_STIP (1 << IRQ_S_TIMER)
#define SPIN 20000000

/* mtimecmp = mtime + delta (clobbers t0, t1) */
#define ARM_TIMER(delta)                                                   \
    li t0, CLINT_MTIME;                                                    \
    ld t1, 0(t0);                                                          \
    addi t1, t1, delta;                                                    \
    li t0, CLINT_MTIMECMP;                                                 \
    sd t1, 0(t0)
#define DISARM_TIMER                                                       \
    li t0, CLINT_MTIMECMP;                                                 \
    li t1, -1;                                                             \
    sd t1, 0(t0)

TEST_BEGIN
    DISARM_TIMER
    CASE(1)                                          // mtime advances
    li t0, CLINT_MTIME
    ld a0, 0(t0)
    li a2, 100000
1:  addi a2, a2, -1
    bnez a2, 1b
    ld a1, 0(t0)
    bgeu a0, a1, fail
    CASE(2)                                          // MTIP clear while mtimecmp is in the future
    csrr a0, mip
    andi a0, a0, MIP_MTIP
    CHECK(a0, 0)

    CASE(3)                                          // M timer interrupt in M-mode
    li a0, MIP_MTIP
    csrw mie, a0
    EXPECT_TRAP(2f)
    ARM_TIMER(1000)
    csrsi mstatus, MSTATUS_MIE
    li a2, SPIN
spin3:
    addi a2, a2, -1
    bnez a2, spin3
    j fail                                           // never taken
2:  CHECK_CAUSE(INTERRUPT_BIT | IRQ_M_TIMER)
    la t3, trap_rec                                  // mepc is inside the spin loop
    ld t4, TR_EPC(t3)
    la t3, spin3
    bltu t4, t3, fail
    addi t3, t3, 8
    bgeu t4, t3, fail
    CASE(4)                                          // resumed with MIE = 0, MTIP still pending
    csrr a0, mstatus
    andi a0, a0, MSTATUS_MIE
    CHECK(a0, 0)
    csrr a0, mip
    andi a0, a0, MIP_MTIP
    CHECK(a0, MIP_MTIP)
    CASE(5)                                          // rewriting mtimecmp clears MTIP
    DISARM_TIMER
    csrr a0, mip
    andi a0, a0, MIP_MTIP
    CHECK(a0, 0)

    CASE(6)                                          // MIE = 0 in M: pending but not taken
    ARM_TIMER(0)
    li a2, 1000
1:  addi a2, a2, -1
    bnez a2, 1b
    csrr a0, mip
    andi a0, a0, MIP_MTIP
    CHECK(a0, MIP_MTIP)
    CASE(7)                                          // ... but taken as soon as the hart runs in S
    EXPECT_TRAP(2f)
    GOTO_MODE(PRV_S, s_spin)
s_spin:
    j s_spin
2:  CHECK_CAUSE(INTERRUPT_BIT | IRQ_M_TIMER)
    CHECK_EPC_LABEL(s_spin)
    la t3, trap_rec
    ld t4, TR_STATUS(t3)
    srli t4, t4, 11
    andi t4, t4, 3
    CHECK(t4, PRV_S)
    DISARM_TIMER

    CASE(8)                                          // wfi wakes on a pending enabled interrupt, MIE = 0
    csrci mstatus, MSTATUS_MIE
    li a0, MIP_MTIP
    csrw mie, a0
    ARM_TIMER(2000)
    la t3, trap_rec
    ld s0, TR_COUNT(t3)
    li a2, 1000
1:  wfi                                              // may also return early: loop until pending
    csrr a0, mip
    andi a0, a0, MIP_MTIP
    bnez a0, 2f
    addi a2, a2, -1
    bnez a2, 1b
    j fail
2:  la t3, trap_rec
    ld s1, TR_COUNT(t3)
    CHECK_EQ(s0, s1)                                 // no trap taken
    DISARM_TIMER

    CASE(9)                                          // software interrupt via CLINT msip
    li a0, MIP_MSIP
    csrw mie, a0
    EXPECT_TRAP(2f)
    li t0, CLINT_MSIP
    li t1, 1
    sw t1, 0(t0)
    csrsi mstatus, MSTATUS_MIE
    li a2, SPIN
1:  addi a2, a2, -1
    bnez a2, 1b
    j fail
2:  CHECK_CAUSE(INTERRUPT_BIT | IRQ_M_SOFT)
    csrr a0, mip
    andi a0, a0, MIP_MSIP
    CHECK(a0, MIP_MSIP)
    li t0, CLINT_MSIP
    sw zero, 0(t0)
    csrr a0, mip
    andi a0, a0, MIP_MSIP
    CHECK(a0, 0)

    CASE(10)                                         // M timer -> software STIP -> S timer interrupt
    la t0, s_vector
    csrw stvec, t0
    la t0, sbi_vector
    csrw mtvec, t0
    li a0, MIP_STIP
    csrw mideleg, a0
    li a0, MIP_MTIP | MIP_STIP
    csrw mie, a0
    EXPECT_TRAP(2f)                                  // the S handler's ecall lands here
    ARM_TIMER(1000)
    csrsi sstatus, MSTATUS_SIE                       // S runs with SIE = 1
    GOTO_MODE(PRV_S, s_wait)
s_wait:
    wfi
    j s_wait
2:  la t0, trap_vector
    csrw mtvec, t0
    CHECK_CAUSE(CAUSE_ECALL_S)
    la t3, s_rec
    ld a0, 0(t3)
    CHECK(a0, INTERRUPT_BIT | IRQ_S_TIMER)
    CASE(11)
    ld a0, 8(t3)                                     // sepc: in the wait loop
    la a1, s_wait
    bltu a0, a1, fail
    addi a1, a1, 8
    bgeu a0, a1, fail
    CASE(12)                                         // STIP is still pending until M clears it
    csrr a0, mip
    andi a0, a0, MIP_STIP
    CHECK(a0, MIP_STIP)
    li a0, MIP_STIP
    csrc mip, a0
    csrr a0, mip
    andi a0, a0, MIP_STIP
    CHECK(a0, 0)
    CASE(13)                                         // scause interrupt bit visible in sip/sie views
    csrr a0, sie
    CHECK(a0, MIP_STIP)
    csrwi mideleg, 0
    csrwi mie, 0
    csrci sstatus, MSTATUS_SIE
    j pass

    .align 2
// M-mode vector for case 10: a timer interrupt is converted to STIP (as OpenSBI does); anything
// else goes to the default recorder.
sbi_vector:
    csrw mscratch, t5
    csrr t5, mcause
    bgez t5, 1f
    li t5, MIP_MTIP
    csrc mie, t5
    li t5, MIP_STIP
    csrs mip, t5
    csrr t5, mscratch
    mret
1:  csrr t5, mscratch
    j trap_vector

    .align 2
s_vector:
    la t6, s_rec
    csrr t5, scause
    sd t5, 0(t6)
    csrr t5, sepc
    sd t5, 8(t6)
    ecall
TEST_END
    .data
    .align 3
s_rec: .dword 0, 0
