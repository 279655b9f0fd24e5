/* Trap/syscall workload: a tight loop of ECALLs into an M-mode handler that does a little work
   and returns with MRET (the cost of trap entry, a short handler and trap return). */
#include "bench.h"
#ifndef CALLS
#define CALLS 16000000
#endif

__asm__(
    "    .align 2\n"
    "syscall_trap:\n"
    "    csrr t0, mepc\n"
    "    addi t0, t0, 4\n"
    "    csrw mepc, t0\n"
    "    slli t1, a0, 1\n"
    "    add a0, a0, t1\n"
    "    xor a0, a0, a7\n"
    "    mret\n");
extern void syscall_trap(void);

static inline uint64_t syscall1(uint64_t number, uint64_t argument) {
    register uint64_t a0 __asm__("a0") = argument;
    register uint64_t a7 __asm__("a7") = number;
    __asm__ volatile(".option push\n.option norvc\necall\n.option pop" : "+r"(a0) : "r"(a7) : "t0", "t1", "memory");
    return a0;
}

int main(void) {
    uint64_t old;
    __asm__ volatile("csrrw %0, mtvec, %1" : "=r"(old) : "r"(syscall_trap));
    uint64_t start = instret(), check = 1;
    for (uint64_t i = 0; i < CALLS; i++) check = syscall1(i & 7, check) + i;
    uint64_t n = instret() - start;
    __asm__ volatile("csrw mtvec, %0" ::"r"(old));
    return report("trap", n, check);
}
