// M extension (unprivileged spec ch. 13): products high and low, signed/unsigned mixes, W forms,
// division by zero (quotient all ones, remainder = dividend) and signed overflow
// (quotient = dividend, remainder 0), table 13.1.
#include "test.h"
#define MIN64 0x8000000000000000
TEST_BEGIN
    TEST_RR(1, mul, 6, 2, 3)
    TEST_RR(2, mul, 0xfffffffffffffffa, -2, 3)
    TEST_RR(3, mul, 0x0000000000000001, -1, -1)
    TEST_RR(4, mul, 0x8000000000000000, 0x4000000000000000, 2)
    TEST_RR(5, mulh, 0xffffffffffffffff, -1, 1)
    TEST_RR(6, mulh, 0x0, -1, -1)
    TEST_RR(7, mulh, 0x4000000000000000, MIN64, MIN64)
    TEST_RR(8, mulhu, 0xfffffffffffffffe, -1, -1)
    TEST_RR(9, mulhu, 0x1, 0x8000000000000000, 2)
    TEST_RR(10, mulhsu, 0xffffffffffffffff, -1, 1)
    TEST_RR(11, mulhsu, 0xffffffffffffffff, -1, -1)   // (-1) * (2^64-1) = -(2^64-1)
    TEST_RR(12, mulhsu, 0x7ffffffffffffffe, 0x7fffffffffffffff, -1)
    TEST_RR(13, mulhsu, 0xc000000000000000, MIN64, MIN64)
    TEST_RR(14, mulw, 0xffffffff80000000, 0x40000000, 2)
    TEST_RR(15, mulw, 0x1, 0xffffffffffffffff, 0xffffffffffffffff)
    TEST_RR(16, mulw, 0x6, 0x1234567800000002, 0x9abcdef000000003) // high halves ignored
    TEST_RR(17, div, 3, 7, 2)
    TEST_RR(18, div, 0xfffffffffffffffd, -7, 2)      // rounds toward zero
    TEST_RR(19, div, 0xffffffffffffffff, 7, 0)       // divide by zero
    TEST_RR(20, div, MIN64, MIN64, -1)               // overflow
    TEST_RR(21, divu, 0x7fffffffffffffff, -1, 2)
    TEST_RR(22, divu, 0xffffffffffffffff, 7, 0)
    TEST_RR(23, rem, 1, 7, 2)
    TEST_RR(24, rem, 0xffffffffffffffff, -7, 2)      // sign of dividend
    TEST_RR(25, rem, 1, 7, -2)
    TEST_RR(26, rem, 7, 7, 0)
    TEST_RR(27, rem, 0, MIN64, -1)
    TEST_RR(28, remu, 1, -1, 2)
    TEST_RR(29, remu, 0xfffffffffffffff9, -7, 0)
    TEST_RR(30, divw, 0xfffffffffffffffd, -7, 2)
    TEST_RR(31, divw, 0xffffffff80000000, 0x80000000, -1)   // 32-bit overflow
    TEST_RR(32, divw, 0xffffffffffffffff, 5, 0)
    TEST_RR(33, divw, 0x2, 0xffffffff00000004, 0x0000000100000002) // upper halves ignored
    TEST_RR(34, divuw, 0x7fffffff, 0xfffffffe, 2)
    TEST_RR(35, divuw, 0xffffffffffffffff, 5, 0)
    TEST_RR(36, divuw, 0xffffffff80000000, 0x80000000, 1)  // result sign-extended from bit 31
    TEST_RR(37, remw, 0xffffffffffffffff, -7, 2)
    TEST_RR(38, remw, 0, 0x80000000, -1)
    TEST_RR(39, remw, 0xffffffff80000000, 0x80000000, 0)   // rem by zero: sext(dividend[31:0])
    TEST_RR(40, remuw, 0xffffffffffffffff, 0xffffffff, 0)
    TEST_RR(41, remuw, 1, 0xffffffff, 2)
    TEST_RR(42, remuw, 0xffffffff80000001, 0x80000001, 0x80000002)
    TEST_RR_SAME(43, mul, 0x9, 3)
    TEST_RR_SAME(44, div, 0x1, -9)
    TEST_RR_ZERODEST(45, div, 1, 0)
    j pass
TEST_END
