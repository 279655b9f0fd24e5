/* Hot functions laid across 4 KiB page boundaries: each function of .text.straddle starts a few
   bytes before a page end, and `mix` has a 32-bit instruction split across two pages (.option
   norvc keeps the offsets exact). Calls and returns cross pages, and `span`'s loop body runs
   from one page into the next on every iteration. */
#include "bench.h"
#ifndef ITERATIONS
#define ITERATIONS 2000000
#endif
uint64_t mix(uint64_t a, uint64_t b);
uint64_t span(uint64_t a, uint64_t n);
uint64_t chain(uint64_t a, uint64_t b);
__asm__(
    "    .section .text.straddle,\"ax\",@progbits\n"
    "    .option push\n    .option norvc\n"
    /* mix: starts 10 bytes before the page end; its third instruction spans the boundary. */
    "    .balign 4096\n    .skip 4096 - 10\n"
    "    .globl mix\nmix:\n"
    "    xor a2, a0, a1\n    slli a3, a2, 7\n    add a0, a0, a3\n    srli a3, a0, 11\n"
    "    xor a0, a0, a3\n    addw a0, a0, a1\n    ret\n"
    /* span: a loop whose body runs across the next boundary. */
    "    .balign 4096\n    .skip 4096 - 16\n"
    "    .globl span\nspan:\n"
    "    li t0, 0\n"
    "1:  mul t1, a0, t0\n    xor a0, a0, t1\n    srli t1, a0, 9\n    add a0, a0, t1\n"
    "    addi t0, t0, 1\n    blt t0, a1, 1b\n    ret\n"
    /* chain: calls mix (back across two pages) and returns across its own boundary. */
    "    .balign 4096\n    .skip 4096 - 6\n"
    "    .globl chain\nchain:\n"
    "    addi sp, sp, -16\n    sd ra, 8(sp)\n    addi a0, a0, 3\n    call mix\n"
    "    slli a1, a0, 3\n    call mix\n    ld ra, 8(sp)\n    addi sp, sp, 16\n    ret\n"
    "    .option pop\n"
    "    .text\n");

int main(void) {
    uint64_t start = instret();
    uint64_t acc = 1;
    for (uint64_t i = 0; i < ITERATIONS; i++) {
        acc = mix(acc, i);
        acc = span(acc, 4);
        acc = chain(acc, i);
    }
    return report("straddle", instret() - start, acc);
}
