/*
 * Guest for the insn_count plugin test: a loop of exactly 4 instructions per iteration, run
 * ITERATIONS times (set with -DITERATIONS), then minstret printed in fixed width (so the
 * instructions after the read do not depend on its value) and a power-off through the test
 * device. Two builds that differ only in ITERATIONS (each below 2048, so `li` is one
 * instruction) differ by exactly 4 x the difference in retired instructions.
 */
#include <stdint.h>

#define UART ((volatile uint8_t *)0x10000000UL)
#define TEST ((volatile uint32_t *)0x100000UL)

static void putc_(char c) { while (!(UART[5] & 0x20)) {} UART[0] = (uint8_t)c; }

int main(void) {
    uint64_t n = ITERATIONS;
    __asm__ volatile("1: addi %0, %0, -1\n"
                     "   addi t0, t0, 1\n"
                     "   addi t0, t0, 1\n"
                     "   bnez %0, 1b\n"
                     : "+r"(n) : : "t0");
    uint64_t retired;
    __asm__ volatile("csrr %0, minstret" : "=r"(retired));
    const char *prefix = "minstret=";
    while (*prefix) putc_(*prefix++);
    for (int shift = 60; shift >= 0; shift -= 4) putc_("0123456789abcdef"[(retired >> shift) & 15]);
    putc_('\n');
    *TEST = 0x5555;
    /* The machine acts on the power-off between run slices: wait there rather than spin, so
     * the instructions counted after the store do not depend on where the slice ends. */
    for (;;) __asm__ volatile("wfi");
}
