/*
 * The two-hart snapshot guest (Tests/GuestTests/SnapshotGuestTests.swift, docs/snapshots.md):
 * M-mode, virt board with --smp 2. Both harts add to one shared counter with amoadd.d, so what
 * each sees depends on where the machine switches from one hart to the other: hart 0 prints the
 * counter it saw every STRIDE of its own additions, and at the end both harts' hash of every
 * value they saw, the final counter, both harts' minstret and mtime. A run that moves one slice
 * boundary (a snapshot that cuts a slice, an extra device poll) prints different lines, so a run
 * with --snapshot-save/--snapshot-at and one resumed from that snapshot must print exactly the
 * uninterrupted run's lines.
 */
#include "../common/baremetal.h"

/* Additions per hart and how often hart 0 prints (a test that needs a longer run defines them). */
#ifndef ADDS
#define ADDS 1500000UL
#endif
#ifndef STRIDE
#define STRIDE 50000UL
#endif
#define CLINT 0x2000000UL
#define MTIME (CLINT + 0xbff8)

static volatile uint64_t counter;
static volatile uint64_t seen[2];
static volatile uint64_t retired[2];
static volatile uint64_t done;

static void putdec(uint64_t v) {
    char buffer[21];
    int i = 20;
    buffer[i] = 0;
    do { buffer[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    puts_(&buffer[i]);
}

/* Hart 0's line every STRIDE additions; a function of its own so GDB can stop at it. */
static void __attribute__((noinline)) report(uint64_t adds, uint64_t value) {
    puts_("hart 0 add ");
    putdec(adds);
    puts_(" saw ");
    putdec(value);
    putc_('\n');
}

int main(unsigned long hartid) {
    if (hartid > 1) for (;;) __asm__ volatile("wfi");
    uint64_t hash = 1469598103934665603UL;
    for (uint64_t i = 1; i <= ADDS; i++) {
        uint64_t value = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        hash = (hash ^ value) * 1099511628211UL;
        if (hartid == 0 && i % STRIDE == 0) report(i, value);
    }
    uint64_t instret;
    __asm__ volatile("csrr %0, minstret" : "=r"(instret));
    seen[hartid] = hash;
    retired[hartid] = instret;
    __atomic_fetch_add(&done, 1, __ATOMIC_RELEASE);
    if (hartid == 1) for (;;) __asm__ volatile("wfi");
    while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) != 2) {}
    puts_("counter ");
    putdec(counter);
    puts_(" hash0 ");
    puthex(seen[0]);
    puts_(" hash1 ");
    puthex(seen[1]);
    puts_(" minstret0 ");
    putdec(retired[0]);
    puts_(" minstret1 ");
    putdec(retired[1]);
    puts_(" mtime ");
    putdec(r64(MTIME));
    putc_('\n');
    finish(0);
    return 0;
}
