/*
 * The snapshot guest (Tests/GuestTests/SnapshotTests.swift, docs/snapshots.md): M-mode, virt board.
 * It counts to ROUNDS, and each round
 *   - sleeps in WFI until an ACLINT timer interrupt 5 ms of mtime later (so the clock, mtimecmp,
 *     mie/mtvec/mstatus and the interrupt path must all survive a snapshot),
 *   - updates integer, FP and CSR state and a 64 KiB RAM table,
 *   - prints one line with everything it computed so far.
 * A run restored from a snapshot taken at any point must print exactly the lines an
 * uninterrupted run prints after that point, then PASS (sifive_test).
 */
#include "../common/baremetal.h"

#define ROUNDS 400
#define CLINT 0x2000000UL
#define MTIMECMP (CLINT + 0x4000)
#define MTIME (CLINT + 0xbff8)

static volatile uint64_t ticks;
static uint64_t table[8192];

void __attribute__((interrupt("machine"), aligned(4))) trap(void) {
    uint64_t cause;
    __asm__ volatile("csrr %0, mcause" : "=r"(cause));
    if (cause == ((1UL << 63) | 7)) {
        w64(MTIMECMP, ~0UL);  /* MTIP low until the next round arms it */
        ticks++;
    } else {
        puts_("unexpected trap ");
        puthex(cause);
        putc_('\n');
        finish(99);
    }
}

static void putdec(uint64_t v) {
    char buffer[21];
    int i = 20;
    buffer[i] = 0;
    do { buffer[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    puts_(&buffer[i]);
}

int main(unsigned long hartid) {
    if (hartid != 0) for (;;) __asm__ volatile("wfi");
    __asm__ volatile("csrw mtvec, %0" :: "r"(trap));
    __asm__ volatile("csrs mie, %0" :: "r"(1UL << 7));   /* MTIE */
    __asm__ volatile("csrs mstatus, %0" :: "r"(1UL << 13)); /* FS = initial */
    uint64_t hash = 1469598103934665603UL;
    double accumulator = 1.0;
    for (uint64_t round = 1; round <= ROUNDS; round++) {
        uint64_t before = ticks;
        w64(MTIMECMP, r64(MTIME) + 50000);   /* 5 ms at 10 MHz */
        __asm__ volatile("csrs mstatus, 8");  /* MIE */
        while (ticks == before) __asm__ volatile("wfi");
        __asm__ volatile("csrc mstatus, 8");
        for (uint64_t i = 0; i < 8192; i++) {
            table[(i * 7 + round) & 8191] += i ^ round;
        }
        for (uint64_t i = 0; i < 8192; i += 97) hash = (hash ^ table[i]) * 1099511628211UL;
        accumulator = accumulator * 1.0001 + (double)round / 3.0;
        uint64_t scratch;
        __asm__ volatile("csrr %0, mscratch" : "=r"(scratch));
        __asm__ volatile("csrw mscratch, %0" :: "r"(scratch + round));
        puts_("round ");
        putdec(round);
        puts_(" ticks ");
        putdec(ticks);
        puts_(" hash ");
        puthex(hash);
        puts_(" fp ");
        putdec((uint64_t)(accumulator * 1000.0));
        puts_(" mscratch ");
        putdec(scratch + round);
        putc_('\n');
    }
    finish(0);
    return 0;
}
