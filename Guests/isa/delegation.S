// Exception delegation to S-mode and the S-level trap/return state machine (privileged spec
// 3.1.8 medeleg, 4.1.1 sstatus SPP/SPIE/SIE, 3.3.2 sret): delegated exceptions from U and S reach
// stvec with scause/sepc/stval/SPP set; exceptions in M are never delegated; sret restores SIE
// from SPIE and returns to SPP.
//
// The S-mode handler records scause/sepc/stval/sstatus in s_rec and then executes ecall, which is
// never delegated here, so the M-mode recorder resumes at the armed label with cause 9.
#include "test.h"

#define S_CAUSE 0
#define S_EPC 8
#define S_TVAL 16
#define S_STATUS 24

#define CHECK_S(off, v)                                                    \
    la t3, s_rec;                                                          \
    ld t4, off(t3);                                                        \
    li t3, v;                                                              \
    bne t4, t3, fail
#define CHECK_S_LABEL(off, l)                                              \
    la t3, s_rec;                                                          \
    ld t4, off(t3);                                                        \
    la t3, l;                                                              \
    bne t4, t3, fail
#define CHECK_S_STATUS_BITS(mask, v)                                       \
    la t3, s_rec;                                                          \
    ld t4, S_STATUS(t3);                                                   \
    andi t4, t4, mask;                                                     \
    li t3, v;                                                              \
    bne t4, t3, fail

TEST_BEGIN
    la t0, s_trap_vector
    csrw stvec, t0

    CASE(1)                                          // ecall from U delegated to S
    li a0, 1 << CAUSE_ECALL_U
    csrw medeleg, a0
    EXPECT_TRAP(1f)
    GOTO_MODE(PRV_U, u_ecall)
u_ecall:
    ecall
    j fail
1:  CHECK_CAUSE(CAUSE_ECALL_S)                       // the S handler's own ecall
    CHECK_S(S_CAUSE, CAUSE_ECALL_U)
    CHECK_S_LABEL(S_EPC, u_ecall)
    CHECK_S_STATUS_BITS(MSTATUS_SPP, 0)

    CASE(2)                                          // illegal instruction from U delegated, stval = bits
    li a0, 1 << CAUSE_ILLEGAL
    csrw medeleg, a0
    EXPECT_TRAP(2f)
    GOTO_MODE(PRV_U, u_illegal)
u_illegal:
    .word 0x0200109b
    j fail
2:  CHECK_CAUSE(CAUSE_ECALL_S)
    CHECK_S(S_CAUSE, CAUSE_ILLEGAL)
    CHECK_S_LABEL(S_EPC, u_illegal)
    CHECK_S(S_TVAL, 0x0200109b)

    CASE(3)                                          // from S: SPP = 1, SPIE <- SIE, SIE <- 0
    EXPECT_TRAP(3f)
    GOTO_MODE(PRV_S, s_illegal)
s_illegal:
    csrsi sstatus, MSTATUS_SIE
    .word 0x0200109b
    j fail
3:  CHECK_CAUSE(CAUSE_ECALL_S)
    CHECK_S(S_CAUSE, CAUSE_ILLEGAL)
    CHECK_S_STATUS_BITS(MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPP | MSTATUS_SPIE)
    csrci sstatus, MSTATUS_SIE

    CASE(4)                                          // traps taken in M are never delegated
    li a0, (1 << CAUSE_ILLEGAL) | (1 << CAUSE_BREAKPOINT)
    csrw medeleg, a0
    EXPECT_TRAP(4f)
    ebreak
    j fail
4:  CHECK_CAUSE(CAUSE_BREAKPOINT)

    CASE(5)                                          // breakpoint from S delegated, sepc = ebreak
    EXPECT_TRAP(5f)
    GOTO_MODE(PRV_S, s_ebreak)
s_ebreak:
    ebreak
    j fail
5:  CHECK_CAUSE(CAUSE_ECALL_S)
    CHECK_S(S_CAUSE, CAUSE_BREAKPOINT)
    CHECK_S_LABEL(S_EPC, s_ebreak)

    CASE(6)                                          // not delegated: the same exception goes to M
    csrwi medeleg, 0
    EXPECT_TRAP(6f)
    GOTO_MODE(PRV_S, s_ebreak2)
s_ebreak2:
    ebreak
    j fail
6:  CHECK_CAUSE(CAUSE_BREAKPOINT)

    CASE(7)                                          // sret to U: SIE <- SPIE, SPIE <- 1, SPP <- U
    EXPECT_TRAP(7f)
    GOTO_MODE(PRV_S, s_to_u)
s_to_u:
    li a0, MSTATUS_SPP
    csrc sstatus, a0
    li a0, MSTATUS_SPIE
    csrs sstatus, a0
    csrci sstatus, MSTATUS_SIE
    la a0, u_after_sret
    csrw sepc, a0
    sret
    j fail
u_after_sret:
    ecall                                            // from U: not delegated, goes to M
7:  CHECK_CAUSE(CAUSE_ECALL_U)
    CHECK_EPC_LABEL(u_after_sret)
    la t3, trap_rec
    ld t4, TR_STATUS(t3)
    andi t4, t4, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE
    CHECK(t4, MSTATUS_SPIE | MSTATUS_SIE)
    csrci sstatus, MSTATUS_SIE

    CASE(8)                                          // sret with SPP = S stays in S
    EXPECT_TRAP(8f)
    GOTO_MODE(PRV_S, s_to_s)
s_to_s:
    li a0, MSTATUS_SPP
    csrs sstatus, a0
    la a0, s_after_sret
    csrw sepc, a0
    sret
    j fail
s_after_sret:
    ecall
8:  CHECK_CAUSE(CAUSE_ECALL_S)
    CHECK_EPC_LABEL(s_after_sret)

    CASE(9)                                          // a delegated trap reaches M only through the S handler's ecall
    li a0, (1 << CAUSE_ECALL_U) | (1 << CAUSE_ILLEGAL)
    csrw medeleg, a0
    EXPECT_TRAP(9f)
    GOTO_MODE(PRV_U, u_two_traps)
u_two_traps:
    .word 0x0200109b
    j fail
9:  la t3, trap_rec
    ld t4, TR_COUNT(t3)
    CHECK(t4, 9)                                     // exactly one M-level trap per case so far
    j pass

    .align 2
s_trap_vector:
    csrw sscratch, t6
    la t6, s_rec
    csrr t5, scause
    sd t5, S_CAUSE(t6)
    csrr t5, sepc
    sd t5, S_EPC(t6)
    csrr t5, stval
    sd t5, S_TVAL(t6)
    csrr t5, sstatus
    sd t5, S_STATUS(t6)
    ecall
    j fail
TEST_END
    .data
    .align 3
s_rec: .dword 0, 0, 0, 0
