/*
 * The idle-skipping guest (VirtualTimeTests): hart 0 programs mtimecmp WAIT_TICKS ahead, enables
 * MTIE (mstatus.MIE stays clear, so the interrupt only wakes WFI: privileged spec §3.3.3) and
 * waits in WFI until mtime reaches it, then prints what mtime and minstret read and passes if
 * mtime is not before the compare value. Under the virtual clock the machine jumps its clock to
 * the compare value instead of sleeping, so the wait costs no host time and mtime reads exactly
 * the compare value (one mtime tick is 100 instructions at the default rate).
 */
#include "../common/baremetal.h"

#ifndef WAIT_TICKS
#define WAIT_TICKS (10ull * 10000000ull) /* 10 s of the 10 MHz timebase */
#endif

#define MTIME (*(volatile uint64_t *)0x200bff8UL)
#define MTIMECMP0 (*(volatile uint64_t *)0x2004000UL)

int main(unsigned long hartid) {
    if (hartid != 0) for (;;) __asm__ volatile("wfi");
    uint64_t start = MTIME;
    uint64_t target = start + WAIT_TICKS;
    MTIMECMP0 = target;
    __asm__ volatile("csrs mie, %0" ::"r"(1ul << 7));
    while (MTIME < target) __asm__ volatile("wfi");
    uint64_t end = MTIME;
    uint64_t retired;
    __asm__ volatile("csrr %0, minstret" : "=r"(retired));
    puts_("target ");
    puthex(target);
    puts_("\nmtime ");
    puthex(end);
    puts_("\nminstret ");
    puthex(retired);
    putc_('\n');
    check(end >= target, 1, "mtime before the compare value", end);
    finish(0);
    return 0;
}
