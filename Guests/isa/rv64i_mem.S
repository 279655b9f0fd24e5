// Loads and stores of every width (unprivileged spec 2.6, 5.3): sign/zero extension, little-endian
// byte order, negative offsets, store widths not touching neighbouring bytes.
#include "test.h"
TEST_BEGIN
    la s0, buf
    li a0, 0x8877665544332211
    sd a0, 0(s0)
    li a0, 0xf0e0d0c0b0a09080
    sd a0, 8(s0)

    CASE(1)
    lb a1, 0(s0)
    CHECK(a1, 0x11)
    CASE(2)
    lb a1, 8(s0)
    CHECK(a1, 0xffffffffffffff80)
    CASE(3)
    lbu a1, 8(s0)
    CHECK(a1, 0x80)
    CASE(4)
    lh a1, 2(s0)
    CHECK(a1, 0x4433)
    CASE(5)
    lh a1, 14(s0)
    CHECK(a1, 0xfffffffffffff0e0)
    CASE(6)
    lhu a1, 14(s0)
    CHECK(a1, 0xf0e0)
    CASE(7)
    lw a1, 4(s0)
    CHECK(a1, 0xffffffff88776655)
    CASE(8)
    lw a1, 0(s0)
    CHECK(a1, 0x44332211)
    CASE(9)
    lwu a1, 4(s0)
    CHECK(a1, 0x88776655)
    CASE(10)
    ld a1, 8(s0)
    CHECK(a1, 0xf0e0d0c0b0a09080)
    CASE(11)
    addi s1, s0, 16
    ld a1, -16(s1)
    CHECK(a1, 0x8877665544332211)

    // Stores write exactly their width.
    CASE(12)
    li a0, 0xaaaaaaaaaaaaaaab
    sb a0, 1(s0)
    ld a1, 0(s0)
    CHECK(a1, 0x887766554433ab11)
    CASE(13)
    li a0, 0x1234
    sh a0, 2(s0)
    ld a1, 0(s0)
    CHECK(a1, 0x887766551234ab11)
    CASE(14)
    li a0, 0xdeadbeefcafef00d
    sw a0, 4(s0)
    ld a1, 0(s0)
    CHECK(a1, 0xcafef00d1234ab11)
    CASE(15)
    sd a0, 0(s0)
    ld a1, 0(s0)
    CHECK(a1, 0xdeadbeefcafef00d)
    CASE(16)                                       // bytes in little-endian order
    lbu a1, 7(s0)
    CHECK(a1, 0xde)
    CASE(17)                                       // load into x0 is discarded (still a load)
    lw x0, 0(s0)
    bnez x0, fail
    CASE(18)                                       // load with rd == rs1
    mv a1, s0
    ld a1, 8(a1)
    CHECK(a1, 0xf0e0d0c0b0a09080)
    CASE(19)                                       // store then load back at a large offset
    li a0, 0x0123456789abcdef
    sd a0, 2040(s0)
    ld a1, 2040(s0)
    CHECK_EQ(a0, a1)
    CASE(20)                                       // naturally aligned halfword at odd-halfword address
    li a0, 0xbeef
    sh a0, 6(s0)
    lhu a1, 6(s0)
    CHECK(a1, 0xbeef)
    j pass
TEST_END
    .data
    .align 4
buf: .skip 4096
