// Conditional branches (unprivileged spec 2.5.2): taken / not taken for each comparison, signed vs
// unsigned, both directions, equal operands, x0 operands.
#include "test.h"

// Branch must be taken.
#define TEST_TAKEN(n, inst, v1, v2)                                        \
    CASE(n);                                                               \
    li a1, v1;                                                             \
    li a2, v2;                                                             \
    inst a1, a2, 1f;                                                       \
    j fail;                                                                \
1:

// Branch must fall through.
#define TEST_NOT_TAKEN(n, inst, v1, v2)                                    \
    CASE(n);                                                               \
    li a1, v1;                                                             \
    li a2, v2;                                                             \
    inst a1, a2, fail;

TEST_BEGIN
    TEST_TAKEN(1, beq, 0, 0)
    TEST_TAKEN(2, beq, -1, -1)
    TEST_NOT_TAKEN(3, beq, 0, 1)
    TEST_NOT_TAKEN(4, beq, 0x100000000, 0)      // all 64 bits compared
    TEST_TAKEN(5, bne, 0x100000000, 0)
    TEST_NOT_TAKEN(6, bne, 7, 7)
    TEST_TAKEN(7, blt, -1, 0)
    TEST_NOT_TAKEN(8, blt, 0, -1)
    TEST_NOT_TAKEN(9, blt, 5, 5)
    TEST_TAKEN(10, blt, 0x8000000000000000, 0x7fffffffffffffff)
    TEST_TAKEN(11, bge, 5, 5)
    TEST_TAKEN(12, bge, 0, -1)
    TEST_NOT_TAKEN(13, bge, -1, 0)
    TEST_TAKEN(14, bltu, 0, -1)
    TEST_NOT_TAKEN(15, bltu, -1, 0)
    TEST_NOT_TAKEN(16, bltu, 3, 3)
    TEST_TAKEN(17, bgeu, -1, 0)
    TEST_TAKEN(18, bgeu, 3, 3)
    TEST_NOT_TAKEN(19, bgeu, 0x7fffffffffffffff, 0x8000000000000000)

    // Backward branch: a counted loop runs exactly 10 times.
    CASE(20)
    li a0, 0
    li a1, 10
2:  addi a0, a0, 1
    blt a0, a1, 2b
    CHECK(a0, 10)

    // Branch against x0 (beqz/bnez/bltz/bgez pseudo forms).
    CASE(21)
    li a1, -3
    bltz a1, 3f
    j fail
3:  bgez a1, fail
    bnez zero, fail

    // Long-distance branch (beyond +/-2 KiB uses a 13-bit immediate up to +/-4 KiB).
    CASE(22)
    li a1, 1
    bnez a1, far_target
    j fail
    .skip 3000
far_target:
    CASE(23)
    li a1, 1
    bnez a1, 4f
    j fail
4:
    j pass
TEST_END
