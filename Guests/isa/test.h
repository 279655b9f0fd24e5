/*
 * Shared scaffolding for Backplane's self-checking ISA tests (bare metal, M-mode entry, HTIF exit).
 *
 * Protocol: `gp` (x3) holds the current case number. Passing writes tohost = 1; a failing check
 * writes tohost = (gp << 1) | 1, so the emulator's exit status is the failing case number (keep case
 * numbers in 1...255 so the shell sees them unchanged).
 *
 * Traps: the default M-mode handler records mcause/mepc/mtval in `trap_rec` and, if a test armed
 * a resume address with EXPECT_TRAP(label), returns to that label *in M-mode* (it forces
 * mstatus.MPP = M; after an interrupt also with mstatus.MIE = 0). An unarmed trap prints "unexpected trap" with the CSRs over the HTIF console
 * and fails the current case. The handler clobbers only t5/t6 (x30/x31): tests must not keep
 * live values in them across an instruction that may trap.
 */
#ifndef BACKPLANE_ISA_TEST_H
#define BACKPLANE_ISA_TEST_H

#define MSTATUS_SIE   (1 << 1)
#define MSTATUS_MIE   (1 << 3)
#define MSTATUS_SPIE  (1 << 5)
#define MSTATUS_MPIE  (1 << 7)
#define MSTATUS_SPP   (1 << 8)
#define MSTATUS_MPP   (3 << 11)
#define MSTATUS_FS    (3 << 13)
#define MSTATUS_MPRV  (1 << 17)
#define MSTATUS_SUM   (1 << 18)
#define MSTATUS_MXR   (1 << 19)
#define MSTATUS_TVM   (1 << 20)
#define MSTATUS_TW    (1 << 21)
#define MSTATUS_TSR   (1 << 22)

#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS 1
#define CAUSE_ILLEGAL 2
#define CAUSE_BREAKPOINT 3
#define CAUSE_MISALIGNED_LOAD 4
#define CAUSE_LOAD_ACCESS 5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS 7
#define CAUSE_ECALL_U 8
#define CAUSE_ECALL_S 9
#define CAUSE_ECALL_M 11
#define CAUSE_FETCH_PAGE 12
#define CAUSE_LOAD_PAGE 13
#define CAUSE_STORE_PAGE 15

#define IRQ_S_SOFT 1
#define IRQ_M_SOFT 3
#define IRQ_S_TIMER 5
#define IRQ_M_TIMER 7
#define IRQ_S_EXT 9
#define IRQ_M_EXT 11
#define INTERRUPT_BIT (1 << 63)

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

#define TESTNUM gp

/* Trap record layout (offsets into trap_rec). */
#define TR_T5     0
#define TR_CAUSE  8
#define TR_EPC    16
#define TR_TVAL   24
#define TR_RESUME 32
#define TR_COUNT  40
#define TR_STATUS 48

/* ---------------------------------------------------------------- program frame */

#define TEST_BEGIN                                                         \
    .section .text.init;                                                   \
    .align 6;                                                              \
    .globl _start;                                                         \
_start:                                                                    \
    la t0, trap_vector;                                                    \
    csrw mtvec, t0;                                                        \
    /* PMP entry 0: NAPOT over the whole address space, RWX, so S/U can run. */ \
    li t0, -1;                                                             \
    csrw pmpaddr0, t0;                                                     \
    li t0, 0x1f;                                                           \
    csrw pmpcfg0, t0;                                                      \
    csrwi medeleg, 0;                                                      \
    csrwi mideleg, 0;                                                      \
    csrwi mie, 0;                                                          \
    csrwi satp, 0;                                                         \
    li t0, MSTATUS_FS;                                                     \
    csrs mstatus, t0;                                                      \
    csrwi fcsr, 0;                                                         \
    li TESTNUM, 0;                                                         \
    j test_main;                                                           \
    .text;                                                                 \
test_main:

#define TEST_END                                                           \
pass:                                                                      \
    li a0, 1;                                                              \
    j htif_exit;                                                           \
fail:                                                                      \
    slli a0, TESTNUM, 1;                                                   \
    ori a0, a0, 1;                                                         \
    j htif_exit;                                                           \
    TEST_RUNTIME

/* Machine-mode code shared by every test: HTIF exit and console, the default trap handler. */
#define TEST_RUNTIME                                                       \
    .align 2;                                                              \
htif_exit:                                                                 \
    la t0, tohost;                                                         \
1:  sd a0, 0(t0);                                                          \
    j 1b;                                                                  \
/* htif_putc(a0 = byte): HTIF console device 1, command 1; waits for the host to consume it. */ \
htif_putc:                                                                 \
    la t0, tohost;                                                         \
    li t1, (1 << 56) | (1 << 48);                                          \
    andi a0, a0, 0xff;                                                     \
    or a0, a0, t1;                                                         \
    sd a0, 0(t0);                                                          \
1:  ld t1, 0(t0);                                                          \
    bnez t1, 1b;                                                           \
    la t0, fromhost;                                                       \
    sd zero, 0(t0);                                                        \
    ret;                                                                   \
/* htif_puts(a0 = NUL-terminated string) */                                \
htif_puts:                                                                 \
    mv s0, a0;                                                             \
    mv s1, ra;                                                             \
1:  lbu a0, 0(s0);                                                         \
    beqz a0, 2f;                                                           \
    jal htif_putc;                                                         \
    addi s0, s0, 1;                                                        \
    j 1b;                                                                  \
2:  mv ra, s1;                                                             \
    ret;                                                                   \
/* htif_puthex(a0 = value): 16 hex digits. */                              \
htif_puthex:                                                               \
    mv s0, a0;                                                             \
    mv s1, ra;                                                             \
    li s2, 60;                                                             \
1:  srl a0, s0, s2;                                                        \
    andi a0, a0, 15;                                                       \
    li t2, 10;                                                             \
    blt a0, t2, 2f;                                                        \
    addi a0, a0, 'a' - '0' - 10;                                           \
2:  addi a0, a0, '0';                                                      \
    jal htif_putc;                                                         \
    addi s2, s2, -4;                                                       \
    bgez s2, 1b;                                                           \
    mv ra, s1;                                                             \
    ret;                                                                   \
    .align 6;                                                              \
trap_vector:                                                               \
    csrw mscratch, t6;                                                     \
    la t6, trap_rec;                                                       \
    sd t5, TR_T5(t6);                                                      \
    csrr t5, mcause;                                                       \
    sd t5, TR_CAUSE(t6);                                                   \
    csrr t5, mepc;                                                         \
    sd t5, TR_EPC(t6);                                                     \
    csrr t5, mtval;                                                        \
    sd t5, TR_TVAL(t6);                                                    \
    csrr t5, mstatus;                                                      \
    sd t5, TR_STATUS(t6);                                                  \
    ld t5, TR_COUNT(t6);                                                   \
    addi t5, t5, 1;                                                        \
    sd t5, TR_COUNT(t6);                                                   \
    ld t5, TR_RESUME(t6);                                                  \
    beqz t5, unexpected_trap;                                              \
    sd zero, TR_RESUME(t6);                                                \
    csrw mepc, t5;                                                         \
    li t5, MSTATUS_MPP;                                                    \
    csrs mstatus, t5;                                                      \
    /* After an interrupt, resume with MIE = 0: the source is still pending. */ \
    ld t5, TR_CAUSE(t6);                                                   \
    bgez t5, 1f;                                                           \
    li t5, MSTATUS_MPIE;                                                   \
    csrc mstatus, t5;                                                      \
1:                                                                         \
    ld t5, TR_T5(t6);                                                      \
    csrr t6, mscratch;                                                     \
    mret;                                                                  \
unexpected_trap:                                                           \
    la a0, msg_unexpected;                                                 \
    jal htif_puts;                                                         \
    la t6, trap_rec;                                                       \
    ld a0, TR_CAUSE(t6);                                                   \
    jal htif_puthex;                                                       \
    la a0, msg_epc;                                                        \
    jal htif_puts;                                                         \
    la t6, trap_rec;                                                       \
    ld a0, TR_EPC(t6);                                                     \
    jal htif_puthex;                                                       \
    la a0, msg_tval;                                                       \
    jal htif_puts;                                                         \
    la t6, trap_rec;                                                       \
    ld a0, TR_TVAL(t6);                                                    \
    jal htif_puthex;                                                       \
    li a0, 10;                                                           \
    jal htif_putc;                                                         \
    j fail;                                                                \
    .section .rodata;                                                      \
msg_unexpected: .asciz "unexpected trap: mcause=";                         \
msg_epc: .asciz " mepc=";                                                  \
msg_tval: .asciz " mtval=";                                                \
    .section .tohost, "aw", @progbits;                                     \
    .align 6;                                                              \
    .globl tohost;                                                         \
tohost: .dword 0;                                                          \
    .size tohost, 8;                                                       \
    .align 6;                                                              \
    .globl fromhost;                                                       \
fromhost: .dword 0;                                                        \
    .size fromhost, 8;                                                     \
    .data;                                                                 \
    .align 6;                                                              \
    .globl trap_rec;                                                       \
trap_rec: .dword 0, 0, 0, 0, 0, 0, 0, 0;                                   \
    .text

/* ---------------------------------------------------------------- checking helpers */

/* Start case n. */
#define CASE(n) li TESTNUM, n

/* Fail unless register r (not t6) equals the 64-bit constant v (clobbers t6). */
#define CHECK(r, v)                                                        \
    li t6, v;                                                              \
    bne r, t6, fail

/* Fail unless registers a and b are equal. */
#define CHECK_EQ(a, b) bne a, b, fail

/* Arm the trap handler: the next trap resumes (in M-mode) at `label`. */
#define EXPECT_TRAP(label)                                                 \
    la t4, label;                                                          \
    la t3, trap_rec;                                                       \
    sd t4, TR_RESUME(t3)

/* After a trap was taken: check the recorded mcause / mtval / mepc. */
#define CHECK_CAUSE(c)                                                     \
    la t3, trap_rec;                                                       \
    ld t4, TR_CAUSE(t3);                                                   \
    li t3, c;                                                              \
    bne t4, t3, fail
#define CHECK_TVAL(v)                                                      \
    la t3, trap_rec;                                                       \
    ld t4, TR_TVAL(t3);                                                    \
    li t3, v;                                                              \
    bne t4, t3, fail
#define CHECK_TVAL_LABEL(l)                                                \
    la t3, trap_rec;                                                       \
    ld t4, TR_TVAL(t3);                                                    \
    la t3, l;                                                              \
    bne t4, t3, fail
#define CHECK_EPC_LABEL(l)                                                 \
    la t3, trap_rec;                                                       \
    ld t4, TR_EPC(t3);                                                     \
    la t3, l;                                                              \
    bne t4, t3, fail
/* Fail if the armed trap did not happen (resume slot still set). */
#define CHECK_NO_TRAP_PENDING                                              \
    la t3, trap_rec;                                                       \
    ld t4, TR_RESUME(t3);                                                  \
    bnez t4, fail
/* Disarm (when a trap was expected NOT to happen). */
#define DISARM                                                             \
    la t3, trap_rec;                                                       \
    sd zero, TR_RESUME(t3)

/* Enter privilege mode `prv` (PRV_S / PRV_U) at `label` via mret. */
#define GOTO_MODE(prv, label)                                              \
    li t4, MSTATUS_MPP;                                                    \
    csrc mstatus, t4;                                                      \
    li t4, (prv) << 11;                                                    \
    csrs mstatus, t4;                                                      \
    la t4, label;                                                          \
    csrw mepc, t4;                                                         \
    mret

/* Run the code between IN_S_BEGIN / IN_S_END (or IN_U_...) in S (U) mode; any trap fails the
   case, except the closing ecall, which returns to M-mode after IN_x_END. Uses labels 97/98. */
#define IN_S_BEGIN                                                         \
    EXPECT_TRAP(98f);                                                      \
    GOTO_MODE(PRV_S, 97f);                                                 \
97:
#define IN_S_END                                                           \
    ecall;                                                                 \
98: CHECK_CAUSE(CAUSE_ECALL_S)
#define IN_U_BEGIN                                                         \
    EXPECT_TRAP(98f);                                                      \
    GOTO_MODE(PRV_U, 97f);                                                 \
97:
#define IN_U_END                                                           \
    ecall;                                                                 \
98: CHECK_CAUSE(CAUSE_ECALL_U)

/* Register-register / register-immediate ALU cases. */
#define TEST_RR(n, inst, result, v1, v2)                                   \
    CASE(n);                                                               \
    li a1, v1;                                                             \
    li a2, v2;                                                             \
    inst a0, a1, a2;                                                       \
    CHECK(a0, result)

#define TEST_RI(n, inst, result, v1, imm)                                  \
    CASE(n);                                                               \
    li a1, v1;                                                             \
    inst a0, a1, imm;                                                      \
    CHECK(a0, result)

/* Same source and destination register (rd == rs1 == rs2). */
#define TEST_RR_SAME(n, inst, result, v1)                                  \
    CASE(n);                                                               \
    li a1, v1;                                                             \
    inst a1, a1, a1;                                                       \
    CHECK(a1, result)

/* Writes to x0 are discarded. */
#define TEST_RR_ZERODEST(n, inst, v1, v2)                                  \
    CASE(n);                                                               \
    li a1, v1;                                                             \
    li a2, v2;                                                             \
    inst x0, a1, a2;                                                       \
    bnez x0, fail

#endif
