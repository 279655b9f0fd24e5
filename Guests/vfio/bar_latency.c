/*
 * Bare-metal guest (M-mode, --bios none, board virt or virt-aia): the cost of one guest load
 * from an edu function's BAR 0 (the 32-bit identification register), for docs/passthrough.md.
 * Run against QEMU's edu passed through with VFIO (the load is trapped by Backplane and becomes a
 * host load from the VFIO mmap of the BAR) and against Backplane's built-in edu (the load is
 * answered by the emulation), in the same machine. Prints "bar load ns=<n> reads=<n>" measured
 * with the `time` CSR (10 MHz on these boards), and a load from RAM for reference.
 */
#include <stdint.h>

#define UART ((volatile uint8_t *)0x10000000UL)
#define TEST ((volatile uint32_t *)0x100000UL)
#define ECAM 0x30000000UL
#define BAR0 0x40000000UL
#define READS 20000

static void putc_(char c) {
    while (!(UART[5] & 0x20)) {}
    UART[0] = (uint8_t)c;
}
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void putdec(uint64_t v) {
    char digits[24];
    int n = 0;
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) putc_(digits[--n]);
}
static inline uint32_t r32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline void w32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline uint64_t cfg(uint32_t dev, uint32_t reg) { return ECAM + ((uint64_t)dev << 15) + reg; }
static inline uint64_t now(void) { uint64_t t; __asm__ volatile("csrr %0, time" : "=r"(t)); return t; }

static uint64_t time_loads(uint64_t address) {
    uint32_t sum = 0;
    uint64_t start = now();
    for (int i = 0; i < READS; i++) sum += r32(address);
    uint64_t ticks = now() - start;
    if (sum == 0x12345678u) puts_("");                    /* keep the loads */
    return ticks * 100 / READS;                            /* 10 MHz: 100 ns per tick */
}

static volatile uint32_t ram_word = 1;

int main(void) {
    uint32_t dev = 0;
    for (uint32_t d = 0; d < 32; d++) {
        if (r32(cfg(d, 0)) == 0x11e81234u) { dev = d; break; }
    }
    if (!dev) { puts_("edu not found\n"); *TEST = (1 << 16) | 0x3333; for (;;) {} }
    w32(cfg(dev, 0x10), (uint32_t)BAR0);
    w32(cfg(dev, 0x04), 0x2);
    if (r32(BAR0) != 0x010000edu) { puts_("bad edu id\n"); *TEST = (2 << 16) | 0x3333; for (;;) {} }
    puts_("bar load ns=");
    putdec(time_loads(BAR0));
    puts_(" reads=");
    putdec(READS);
    puts_("\nram load ns=");
    putdec(time_loads((uint64_t)&ram_word));
    puts_("\n");
    *TEST = 0x5555;
    for (;;) {}
}
