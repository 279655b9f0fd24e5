// C extension (unprivileged spec ch. 16): each compressed instruction written explicitly with its
// c.* mnemonic so the assembler cannot fall back to 32-bit forms; results checked with
// ordinary instructions.
#include "test.h"
TEST_BEGIN
.option push
.option rvc
    la s0, cbuf                                     // s0 = x8, s1 = x9: in the C register set
    CASE(1)
    c.li a0, -32
    CHECK(a0, -32)
    CASE(2)
    c.lui a0, 0xfffe1                               // nzimm[17:12] = 0x21 sign-extended
    CHECK(a0, 0xfffffffffffe1000)
    CASE(3)
    c.li a0, 5
    c.addi a0, -6
    CHECK(a0, -1)
    CASE(4)
    li a0, 0x7fffffff
    c.addiw a0, 1
    CHECK(a0, 0xffffffff80000000)
    CASE(5)
    mv a5, sp
    c.addi16sp sp, -496
    sub a4, a5, sp
    CHECK(a4, 496)
    c.addi16sp sp, 496
    CASE(6)
    c.addi4spn a0, sp, 1020
    sub a4, a0, sp
    CHECK(a4, 1020)
    CASE(7)
    li a0, 0x8000000000000001
    c.srli a0, 63
    CHECK(a0, 1)
    CASE(8)
    li a0, 0x8000000000000000
    c.srai a0, 1
    CHECK(a0, 0xc000000000000000)
    CASE(9)
    li a0, 0xff
    c.andi a0, -16
    CHECK(a0, 0xf0)
    CASE(10)
    li a0, 1
    c.slli a0, 63
    CHECK(a0, 0x8000000000000000)
    CASE(11)
    li a0, 7
    c.mv a1, a0
    CHECK(a1, 7)
    CASE(12)
    li a0, 7
    li a1, 8
    c.add a1, a0
    CHECK(a1, 15)
    CASE(13)
    li a0, 10
    li a1, 3
    c.sub a0, a1
    CHECK(a0, 7)
    CASE(14)
    li a0, 0xff00
    li a1, 0x0ff0
    c.and a0, a1
    CHECK(a0, 0x0f00)
    CASE(15)
    li a0, 0xff00
    li a1, 0x0ff0
    c.or a0, a1
    CHECK(a0, 0xfff0)
    CASE(16)
    li a0, 0xff00
    li a1, 0x0ff0
    c.xor a0, a1
    CHECK(a0, 0xf0f0)
    CASE(17)
    li a0, 0x7fffffff
    li a1, 1
    c.addw a0, a1
    CHECK(a0, 0xffffffff80000000)
    CASE(18)
    li a0, 0
    li a1, 1
    c.subw a0, a1
    CHECK(a0, -1)
    // Loads and stores, register-based and sp-based.
    CASE(19)
    li a1, 0x80000000deadbeef
    c.sd a1, 8(s0)
    c.ld a2, 8(s0)
    CHECK_EQ(a1, a2)
    CASE(20)
    c.sw a1, 4(s0)
    c.lw a2, 4(s0)
    CHECK(a2, 0xffffffffdeadbeef)
    CASE(21)
    mv a5, sp
    mv sp, s0
    c.sdsp a1, 16(sp)
    c.ldsp a3, 16(sp)
    c.swsp a1, 24(sp)
    c.lwsp a4, 24(sp)
    mv sp, a5
    CHECK_EQ(a3, a1)
    CASE(22)
    CHECK(a4, 0xffffffffdeadbeef)
    CASE(23)
    li a1, 0x3ff0000000000000                        // 1.0
    c.sd a1, 32(s0)
    c.fld fa0, 32(s0)
    fmv.x.d a2, fa0
    CHECK_EQ(a1, a2)
    CASE(24)
    c.fsd fa0, 40(s0)
    ld a2, 40(s0)
    CHECK_EQ(a1, a2)
    CASE(25)
    mv a5, sp
    mv sp, s0
    c.fsdsp fa0, 48(sp)
    c.fldsp fa1, 48(sp)
    mv sp, a5
    feq.d a2, fa0, fa1
    CHECK(a2, 1)
    // Control transfer.
    CASE(26)
    c.j 1f
    j fail
1:  CASE(27)
    c.li a0, 0
    c.beqz a0, 2f
    j fail
2:  CASE(28)
    c.li a0, 1
    c.bnez a0, 3f
    j fail
3:  CASE(29)
    c.li a0, 1
    c.beqz a0, fail
    CASE(30)
    la a1, 4f
    c.jr a1
    j fail
4:  CASE(31)
    la a1, csub
    c.jalr a1
c_after_jalr:
    CHECK(a0, 99)
    la a2, c_after_jalr                              // link = pc + 2
    CHECK_EQ(ra, a2)
    CASE(32)                                         // 16-bit instructions at non-word-aligned addresses
    c.nop
    c.li a0, 3
    c.addi a0, 4
    c.nop
    CHECK(a0, 7)
    CASE(33)                                         // 32-bit instruction straddling a 4-byte boundary
    .align 2
    c.nop
    addi a0, zero, 123
    CHECK(a0, 123)
    CASE(34)                                         // c.ebreak is a breakpoint with mtval/mepc of the instruction
    EXPECT_TRAP(5f)
c_ebreak_at:
    c.ebreak
    j fail
5:  CHECK_CAUSE(CAUSE_BREAKPOINT)
    CHECK_EPC_LABEL(c_ebreak_at)
    CASE(35)                                         // the all-zero halfword is illegal
    EXPECT_TRAP(6f)
    .2byte 0
    j fail
6:  CHECK_CAUSE(CAUSE_ILLEGAL)
    j pass
csub:
    c.li a0, 0
    c.addi a0, 31
    addi a0, a0, 68
    c.jr ra
.option pop
TEST_END
    .data
    .align 4
cbuf: .skip 256
