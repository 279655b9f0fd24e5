/*
 * The exact-deadline guest (VirtualTimeTests): hart 0 arms a timer in the middle of a slice and
 * spins; its interrupt must be taken at exactly the instruction the deadline names, under both
 * engines (docs/architecture.md, "Virtual time").
 *
 * Under the virtual clock one unit is one retired instruction or one trap; at the default rate
 * (10^9 per second) and the 10 MHz timebase, mtime tick T is unit 100 * T. This guest takes no
 * trap before the timer's and never waits in WFI, so when the interrupt is taken the machine's
 * units equal minstret (plus the traps taken before). The handler reads minstret at its second
 * instruction: the units at the interrupt must be exactly 100 * mtimecmp. Before a device access could cut the running slice, the interrupt came at the
 * end of the 50,000-instruction slice in which the compare was written.
 *
 * It does this twice: once for the ACLINT's mtimecmp (DEADLINE_TICKS ahead), once for the
 * goldfish RTC's alarm (nanoseconds since the RTC's epoch: 1 ns is one unit at the default
 * rate), whose interrupt reaches the hart through the PLIC (source 11 on virt, context 0 = hart
 * 0 M-mode). It prints each deadline with the units at its interrupt; the test compares them.
 */
#include "../common/baremetal.h"

#ifndef DEADLINE_TICKS
#define DEADLINE_TICKS 37 /* 3,700 instructions: well inside a slice */
#endif

#define MTIME (*(volatile uint64_t *)0x200bff8UL)
#define MTIMECMP0 (*(volatile uint64_t *)0x2004000UL)
#define RTC 0x101000UL
#define PLIC 0xc000000UL
#define RTC_IRQ 11

/* Written by the handler: minstret at its first instruction, and mcause. */
volatile uint64_t trap_minstret, trap_cause;

__asm__(
    ".align 4\n"
    "trap_entry:\n"
    "    csrw mscratch, t0\n" /* not counted against: minstret is read next, as instruction 2 */
    "    csrr t0, minstret\n"
    "    sd t0, trap_minstret, t1\n"
    "    csrr t0, mcause\n"
    "    sd t0, trap_cause, t1\n"
    "    csrw mie, zero\n" /* one interrupt per arming */
    "    csrr t0, mscratch\n"
    "    mret\n");
extern char trap_entry[];

static uint64_t wait_for_trap(void) {
    while (trap_cause == 0) {}
    uint64_t cause = trap_cause;
    trap_cause = 0;
    return cause;
}

/* Prints "WHAT DEADLINE UNITS": the deadline as armed, and the units at the interrupt (the
   handler's minstret less the one instruction it retired first, plus `traps` taken earlier). */
static void report(const char *what, uint64_t deadline, uint64_t traps) {
    puts_(what);
    putc_(' ');
    puthex(deadline);
    putc_(' ');
    puthex(trap_minstret - 1 + traps);
    putc_('\n');
}

int main(unsigned long hartid) {
    if (hartid != 0) for (;;) __asm__ volatile("wfi");
    __asm__ volatile("csrw mtvec, %0" ::"r"(trap_entry));
    __asm__ volatile("csrs mstatus, %0" ::"r"(1ul << 3)); /* MIE */

    /* 1. ACLINT: mtimecmp a few dozen ticks ahead. */
    uint64_t compare = MTIME + DEADLINE_TICKS;
    MTIMECMP0 = compare;
    __asm__ volatile("csrs mie, %0" ::"r"(1ul << 7)); /* MTIE */
    uint64_t cause = wait_for_trap();
    check(cause == ((1ul << 63) | 7), 1, "not a machine timer interrupt", cause);
    report("mtimecmp", compare, 0);
    MTIMECMP0 = ~0ul;

    /* 2. The RTC alarm, through the PLIC: priority 1, enabled for context 0, threshold 0. */
    w32(PLIC + 4 * RTC_IRQ, 1);
    w32(PLIC + 0x2000, 1u << RTC_IRQ);
    w32(PLIC + 0x200000, 0);
    uint64_t now = r32(RTC + 0x00);
    now |= (uint64_t)r32(RTC + 0x04) << 32;
    uint64_t alarm = now + 5321; /* nanoseconds */
    w32(RTC + 0x10, 1);          /* IRQ_ENABLED */
    w32(RTC + 0x0c, (uint32_t)(alarm >> 32));
    __asm__ volatile("csrs mie, %0" ::"r"(1ul << 11)); /* MEIE */
    w32(RTC + 0x08, (uint32_t)alarm);                    /* ALARM_LOW arms it */
    cause = wait_for_trap();
    check(cause == ((1ul << 63) | 11), 2, "not a machine external interrupt", cause);
    report("alarm", alarm, 1);
    check(r32(PLIC + 0x200004) == RTC_IRQ, 3, "PLIC claim is not the RTC", 0);
    finish(0);
    return 0;
}
