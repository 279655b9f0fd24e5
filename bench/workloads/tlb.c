/* TLB-miss workload: S-mode code under Sv39 touches random 4 KiB pages of a 32 MiB window
   (8192 pages), so nearly every access misses the TLB and walks the three-level page table. */
#include "bench.h"
#ifndef TOUCHES
#define TOUCHES 8000000
#endif
#define PAGES 8192u
#define WINDOW 0x40000000ull

static uint64_t root[512] __attribute__((aligned(4096)));
static uint64_t level1[512] __attribute__((aligned(4096)));
static uint64_t level0[PAGES / 512][512] __attribute__((aligned(4096)));
static uint64_t frames[PAGES][512] __attribute__((aligned(4096)));
static volatile uint64_t result;

static uint64_t pointer(void *table) { return ((uint64_t)table >> 12) << 10 | 1; }

/* enter_s(fn): runs fn in S-mode; fn's ECALL comes back here as if enter_s returned. */
__asm__(
    "    .align 2\n"
    "enter_s:\n"
    "    la t0, saved\n"
    "    sd ra, 0(t0)\n    sd sp, 8(t0)\n    sd s0, 16(t0)\n    sd s1, 24(t0)\n    sd s2, 32(t0)\n"
    "    sd s3, 40(t0)\n    sd s4, 48(t0)\n    sd s5, 56(t0)\n    sd s6, 64(t0)\n    sd s7, 72(t0)\n"
    "    sd s8, 80(t0)\n    sd s9, 88(t0)\n    sd s10, 96(t0)\n    sd s11, 104(t0)\n"
    "    csrr t1, mtvec\n    sd t1, 112(t0)\n"
    "    la t1, back_from_s\n    csrw mtvec, t1\n"
    "    csrw mepc, a0\n"
    "    li t1, 3 << 11\n    csrc mstatus, t1\n"
    "    li t1, 1 << 11\n    csrs mstatus, t1\n"
    "    mret\n"
    "    .align 2\n"
    "back_from_s:\n"
    "    la t0, saved\n"
    "    ld t1, 112(t0)\n    csrw mtvec, t1\n"
    "    ld ra, 0(t0)\n    ld sp, 8(t0)\n    ld s0, 16(t0)\n    ld s1, 24(t0)\n    ld s2, 32(t0)\n"
    "    ld s3, 40(t0)\n    ld s4, 48(t0)\n    ld s5, 56(t0)\n    ld s6, 64(t0)\n    ld s7, 72(t0)\n"
    "    ld s8, 80(t0)\n    ld s9, 88(t0)\n    ld s10, 96(t0)\n    ld s11, 104(t0)\n"
    "    ret\n"
    "    .data\n    .align 3\nsaved: .skip 120\n    .text\n");
extern void enter_s(void (*fn)(void));

static void kernel(void) {
    volatile uint64_t *base = (volatile uint64_t *)WINDOW;
    uint64_t s = 88172645463325252ull, sum = 0;
    for (uint64_t i = 0; i < TOUCHES; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        volatile uint64_t *p = base + (s % PAGES) * 512 + ((s >> 40) & 511);
        sum += *p;
        *p = sum ^ i;
    }
    result = sum;
    __asm__ volatile("ecall");
}

int main(void) {
    /* Sv39: gigapage 2 maps RAM (code, data) 1:1; the window at 1 GiB maps `frames` in 4 KiB pages. */
    root[2] = (0x80000000ull >> 12) << 10 | 0xcf;     /* V R W X A D */
    root[1] = pointer(level1);
    for (uint32_t j = 0; j < PAGES / 512; j++) {
        level1[j] = pointer(level0[j]);
        for (uint32_t k = 0; k < 512; k++)
            level0[j][k] = ((uint64_t)frames[j * 512 + k] >> 12) << 10 | 0xc7; /* V R W A D */
    }
    __asm__ volatile("csrw pmpaddr0, %0\n csrw pmpcfg0, %1" ::"r"(-1L), "r"(0x1fL));
    __asm__ volatile("csrw satp, %0\n sfence.vma" ::"r"(8ull << 60 | (uint64_t)root >> 12));
    uint64_t start = instret();
    enter_s(kernel);
    uint64_t n = instret() - start;
    __asm__ volatile("csrw satp, zero\n sfence.vma");
    return report("tlb", n, result);
}
