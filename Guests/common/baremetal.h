/*
 * What every bare-metal test guest of the virt boards needs: console output on the ns16550a,
 * the verdict through sifive_test (0 on success, the failing step number otherwise), MMIO
 * accessors and the ECAM address of a function's config register (PCIe: bus 0, 32 KiB a
 * device). Included as "../common/baremetal.h" by Guests/plugins, Guests/robust and Guests/vfio.
 */
#ifndef BACKPLANE_GUEST_BAREMETAL_H
#define BACKPLANE_GUEST_BAREMETAL_H

#include <stdint.h>

#define UART ((volatile uint8_t *)0x10000000UL)
#define TEST ((volatile uint32_t *)0x100000UL)
#define ECAM 0x30000000UL

static void putc_(char c) {
    while (!(UART[5] & 0x20)) {}  /* LSR.THRE */
    UART[0] = (uint8_t)c;
}

static void puts_(const char *s) { while (*s) putc_(*s++); }

static void puthex(uint64_t v) {
    puts_("0x");
    for (int i = 60; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 0xf]);
}

/* Ends the run: sifive_test pass (0x5555) or fail with `step` as the exit code (0x3333). */
static void finish(uint32_t step) {
    if (step == 0) {
        puts_("PASS\n");
        *TEST = 0x5555;
    } else {
        puts_("FAIL step ");
        puthex(step);
        putc_('\n');
        *TEST = (step << 16) | 0x3333;
    }
    for (;;) {}
}

static void check(int ok, uint32_t step, const char *what, uint64_t got) {
    if (ok) return;
    puts_(what);
    puts_(": got ");
    puthex(got);
    putc_('\n');
    finish(step);
}

static inline uint32_t r32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline void w32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline uint64_t r64(uint64_t a) { return *(volatile uint64_t *)a; }
static inline void w64(uint64_t a, uint64_t v) { *(volatile uint64_t *)a = v; }
static inline uint64_t cfg(uint32_t dev, uint32_t reg) { return ECAM + ((uint64_t)dev << 15) + reg; }

#endif
