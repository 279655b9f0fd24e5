/*
 * Benchmark guest: the cost of one guest MMIO read from the plugin `acme.edu` against the
 * built-in `edu`, measured in one run (docs/plugins.md "Cost on the hot path"). Reads the
 * identification register of each N times, three rounds, and prints the best time per read
 * in timebase ticks (10 MHz) for each, then the ratio x1000.
 */
#include <stdint.h>

#define UART ((volatile uint8_t *)0x10000000UL)
#define TEST ((volatile uint32_t *)0x100000UL)
#define ECAM 0x30000000UL
#define READS 200000

static void putc_(char c) { while (!(UART[5] & 0x20)) {} UART[0] = (uint8_t)c; }
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void putdec(uint64_t v) {
    char digits[24];
    int n = 0;
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) putc_(digits[--n]);
}
static inline uint64_t cfg(uint32_t dev, uint32_t reg) { return ECAM + ((uint64_t)dev << 15) + reg; }
static inline uint64_t now(void) { uint64_t t; __asm__ volatile("csrr %0, time" : "=r"(t)); return t; }

/* Finds vendor:device and maps its BAR 0 at bar0 and BAR 1 at bar0 + 1 MiB. */
static uint64_t assign(uint32_t id, uint64_t bar0) {
    for (uint32_t dev = 1; dev < 32; dev++) {
        if (*(volatile uint32_t *)cfg(dev, 0) != id) continue;
        *(volatile uint32_t *)cfg(dev, 0x10) = (uint32_t)bar0;
        *(volatile uint32_t *)cfg(dev, 0x14) = (uint32_t)(bar0 + 0x100000);
        *(volatile uint32_t *)cfg(dev, 0x04) = 0x6;
        return bar0;
    }
    puts_("device not found\n");
    *TEST = (1 << 16) | 0x3333;
    for (;;) {}
}

static uint64_t time_reads(uint64_t bar) {
    volatile uint32_t *id = (volatile uint32_t *)bar;
    uint64_t start = now();
    uint32_t sum = 0;
    for (int i = 0; i < READS; i++) sum += *id;
    uint64_t ticks = now() - start;
    if (sum != (uint32_t)(0x010000edu * (uint32_t)READS)) puts_("wrong ID value\n");
    return ticks;
}

int main(void) {
    uint64_t builtin = assign(0x11e81234u, 0x40000000UL);
    uint64_t plugin = assign(0xacde1234u, 0x40200000UL);
    uint64_t best_builtin = ~0UL, best_plugin = ~0UL;
    for (int round = 0; round < 3; round++) {
        uint64_t b = time_reads(builtin), p = time_reads(plugin);
        if (b < best_builtin) best_builtin = b;
        if (p < best_plugin) best_plugin = p;
    }
    puts_("reads per round: "); putdec(READS);
    puts_("\nbuilt-in edu ticks: "); putdec(best_builtin);
    puts_("\nplugin acme.edu ticks: "); putdec(best_plugin);
    puts_("\nratio x1000: "); putdec(best_plugin * 1000 / best_builtin);
    puts_("\n");
    *TEST = 0x5555;
    for (;;) {}
}
