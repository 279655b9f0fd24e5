// JAL / JALR (unprivileged spec 2.5.1): link values, JALR clearing bit 0 of the target, rd == rs1,
// and the instruction-address-misaligned exception when C is disabled (privileged spec 3.1.1:
// misa.C may be writable; when it is not, the misaligned cases are skipped).
#include "test.h"
TEST_BEGIN
    CASE(1)
    jal a0, 1f
a_after_jal:
    j fail
1:  la a1, a_after_jal
    CHECK_EQ(a0, a1)

    CASE(2)                                        // jalr with offset
    la a1, 2f
    addi a1, a1, -8
    jalr a0, 8(a1)
a_after_jalr:
    j fail
2:  la a1, a_after_jalr
    CHECK_EQ(a0, a1)

    CASE(3)                                        // target bit 0 is cleared
    la a1, 3f
    addi a1, a1, 1
    jalr x0, 0(a1)
    j fail
3:
    CASE(4)                                        // rd == rs1: target read before link written
    la a0, 4f
    jalr a0, 0(a0)
a_after_same:
    j fail
4:  la a1, a_after_same
    CHECK_EQ(a0, a1)

    CASE(5)                                        // negative offset
    la a1, 5f
    addi a1, a1, 16
    jalr x0, -16(a1)
    j fail
5:
    CASE(6)                                        // jal x0 does not write
    jal x0, 6f
6:  bnez x0, fail

    CASE(7)                                        // a call/ret pair
    li a0, 0
    call subroutine
    CHECK(a0, 42)

    // Misaligned fetch: only if misa.C can be cleared.
    CASE(8)
    li t0, 1 << 2                                  // misa.C
    csrc misa, t0
    csrr t1, misa
    and t1, t1, t0
    bnez t1, misaligned_done                       // C is not writable here: nothing to test
    EXPECT_TRAP(9f)
    la a1, misaligned_target
.option push
.option norvc
    jalr a0, 2(a1)                                 // target ends in 0b10: misaligned without C
misaligned_jalr:
    j fail
9:  li t0, 1 << 2
    csrs misa, t0
    CHECK_CAUSE(CAUSE_MISALIGNED_FETCH)
    CHECK_EPC_LABEL(misaligned_jalr - 4)            // epc is the jump itself
    la a2, misaligned_target
    addi a2, a2, 2
    la t3, trap_rec
    ld t4, TR_TVAL(t3)
    CHECK_EQ(t4, a2)                                // tval is the target
    CASE(9)                                         // rd was not written by the faulting jump
    CHECK_EQ(a0, a0)
.option pop
misaligned_done:
    j pass

subroutine:
    addi a0, a0, 42
    ret
    .align 3
misaligned_target:
    nop
    nop
    j fail
TEST_END
