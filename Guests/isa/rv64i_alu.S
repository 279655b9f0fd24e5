// RV64I integer computational instructions (unprivileged spec ch. 2.4 and 5.2): register and
// immediate forms, the 32-bit W forms (results sign-extended from bit 31), shift-amount masking.
#include "test.h"
TEST_BEGIN
    TEST_RR(1, add, 0x0000000000000003, 1, 2)
    TEST_RR(2, add, 0x0000000000000000, -1, 1)
    TEST_RR(3, add, 0x8000000000000000, 0x7fffffffffffffff, 1)
    TEST_RR(4, sub, 0xffffffffffffffff, 0, 1)
    TEST_RR(5, sub, 0x7fffffffffffffff, 0x8000000000000000, 1)
    TEST_RR(6, and, 0x0f000f00, 0xff00ff00, 0x0f0f0f0f)
    TEST_RR(7, or, 0xff0fff0f, 0xff00ff00, 0x0f0f0f0f)
    TEST_RR(8, xor, 0xf00ff00f, 0xff00ff00, 0x0f0f0f0f)
    TEST_RR(9, slt, 1, -1, 0)
    TEST_RR(10, slt, 0, 0, -1)
    TEST_RR(11, sltu, 0, -1, 0)
    TEST_RR(12, sltu, 1, 0, -1)
    TEST_RR(13, sll, 0x8000000000000000, 1, 63)
    TEST_RR(14, sll, 0x2, 1, 65)                       // only rs2[5:0] counts
    TEST_RR(15, srl, 0x1, 0x8000000000000000, 63)
    TEST_RR(16, srl, 0x4000000000000000, 0x8000000000000000, 0x41)
    TEST_RR(17, sra, 0xffffffffffffffff, 0x8000000000000000, 63)
    TEST_RR(18, sra, 0xc000000000000000, 0x8000000000000000, 0x7fffffc1)
    TEST_RI(19, addi, 0xfffffffffffff801, 1, -2048)
    TEST_RI(20, addi, 0x800, 1, 2047)
    TEST_RI(21, andi, 0xff00ff00, 0xff00ff00, -1)     // imm sign-extends
    TEST_RI(22, ori, 0xfffffffffffff80f, 0xf, -2048)
    TEST_RI(23, xori, 0xffffffff00ff00ff, 0xff00ff00, -1)
    TEST_RI(24, slti, 1, -5, -4)
    TEST_RI(25, sltiu, 1, 5, -1)                      // imm sign-extends then compares unsigned
    TEST_RI(26, sltiu, 0, -1, -1)
    TEST_RI(27, slli, 0x8000000000000000, 1, 63)
    TEST_RI(28, srli, 0x00000000ffffffff, -1, 32)
    TEST_RI(29, srai, 0xffffffffffffffff, 0x8000000000000000, 63)
    TEST_RI(30, srai, 0xfffffffff0000000, 0xffffffff80000000, 3)
    // W forms: 32-bit operation, result sign-extended.
    TEST_RR(31, addw, 0xffffffff80000000, 0x7fffffff, 1)
    TEST_RR(32, addw, 0x0, 0xffffffff00000000, 0)     // upper bits of inputs ignored
    TEST_RR(33, subw, 0x7fffffff, 0x80000000, 1)
    TEST_RR(34, sllw, 0xffffffff80000000, 1, 31)
    TEST_RR(35, sllw, 0x1, 1, 32)                     // only rs2[4:0]
    TEST_RR(36, srlw, 0x1, 0x80000000, 31)
    TEST_RR(37, srlw, 0xffffffff80000000, 0x80000000, 32)
    TEST_RR(38, srlw, 0x7fffffff, 0xffffffffffffffff, 1) // operates on low 32 bits only
    TEST_RR(39, sraw, 0xffffffffffffffff, 0x80000000, 31)
    TEST_RR(40, sraw, 0x7fffffff, 0xfffffffe7fffffff, 0)
    TEST_RI(41, addiw, 0xffffffff80000000, 0x7fffffff, 1)
    TEST_RI(42, addiw, 0x7ff, 0xffffffff00000000, 2047)
    TEST_RI(43, addiw, 0xffffffff80000000, 0x80000000, 0) // sext.w
    TEST_RI(44, slliw, 0xffffffff80000000, 1, 31)
    TEST_RI(45, srliw, 0x1, 0x80000000, 31)
    TEST_RI(46, srliw, 0xffffffff80000000, 0x80000000, 0)
    TEST_RI(47, sraiw, 0xffffffffffffffff, 0x80000000, 31)
    TEST_RI(48, sraiw, 0x3fffffff, 0x7fffffff, 1)
    TEST_RR_SAME(49, add, 0x4, 2)
    TEST_RR_SAME(50, sub, 0x0, 12345)
    TEST_RR_ZERODEST(51, add, 5, 6)
    // LUI / AUIPC
    CASE(52)
    lui a0, 0x80000
    CHECK(a0, 0xffffffff80000000)
    CASE(53)
    lui a0, 0x7ffff
    CHECK(a0, 0x7ffff000)
    CASE(54)
1:  auipc a0, 0
    la a1, 1b
    CHECK_EQ(a0, a1)
    CASE(55)
2:  auipc a0, 0xfffff                              // -4096 relative to this instruction
    la a1, 2b
    li a2, -4096
    add a1, a1, a2
    CHECK_EQ(a0, a1)
    CASE(56)
    lui x0, 0x12345
    bnez x0, fail
    CASE(57)                                       // addi x0 is the canonical nop; x0 stays 0
    addi x0, x0, 5
    bnez x0, fail
    j pass
TEST_END
