/*
 * Guest-driven device fuzzer (issue 15). A bare-metal M-mode program (--bios none) that, from a
 * seed, hammers every device window of its board and every PCI function it enumerates:
 *   - reads and writes of random widths (1, 2, 4, 8; aligned or not) and values at random
 *     offsets of each MMIO window (the board's, given at build time by windows.h);
 *   - PCI config writes: BARs moved to random, overlapping (RAM, other devices, other BARs),
 *     wrapping (2^64 - size) or ordinary addresses; command bits; MSI-X enable and function mask;
 *   - MSI-X tables aimed at the IMSIC, RAM, unmapped space, ECAM, the function's own BARs;
 *   - accesses inside the BARs as they are mapped now (doorbells, DMA registers, rings);
 *   - guest structures for the devices to walk: scratch RAM filled with random bytes or with
 *     plausible xHCI TRBs (cycle bit set, Link TRBs back into the scratch area) and virtio
 *     descriptors, whose addresses are then written into the devices' registers.
 * "Interesting" 64-bit values (scratch RAM, own BAR, IMSIC, unmapped, 2^64 - n) are used half of
 * the time, so DMA and MSI addresses hit the cases that matter. The guest never enables
 * interrupts; a trap (access fault, misaligned MMIO) skips the instruction.
 *
 * The seed and the number of operations live in `fuzz_config` and are patched into the ELF by
 * scripts/fuzz-devices.py, so one build serves every seed. At the end the guest exits cleanly
 * (sifive_test 0x5555 or HTIF 1): the host is judged by how the process ended, not the guest.
 */
#include <stdint.h>
#include "windows.h"   /* generated: FUZZ_WINDOWS, FUZZ_WINDOW_COUNT, FUZZ_RAM_*, optional FUZZ_ECAM ... */

struct fuzz_config { char magic[8]; uint64_t seed; uint64_t operations; };
volatile struct fuzz_config fuzz_config __attribute__((used)) = {{'F', 'U', 'Z', 'Z', 'S', 'E', 'E', 'D'}, 1, 20000};

volatile uint64_t tohost __attribute__((section(".tohost"), aligned(64)));
volatile uint64_t fromhost __attribute__((section(".tohost"), aligned(64)));

static const uint64_t windows[][2] = FUZZ_WINDOWS;

static uint64_t state;
static uint64_t rnd(void) {            /* xorshift64* */
    state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
    return state * 0x2545F4914F6CDD1DULL;
}
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

/* Scratch RAM for device structures and DMA: the upper half of RAM, away from this program. */
#define SCRATCH (FUZZ_RAM_BASE + FUZZ_RAM_SIZE / 2)
#define SCRATCH_SIZE (FUZZ_RAM_SIZE / 2)

#define MAX_FUNCTIONS 16
/* `hot`: four register offsets per BAR chosen per seed and used again and again, the way a
 * driver keeps touching the same few registers, so that combinations (a vector aimed at a
 * register, then a write that fires the vector) happen within one run. */
struct function { uint64_t config; uint32_t msix_cap; uint64_t bar[6]; uint64_t bar_size[6]; uint8_t is64[6]; uint32_t hot[6][4]; };
static struct function functions[MAX_FUNCTIONS];
static int function_count;

/* The function being programmed: "own BAR" addresses point into it. */
static struct function *current;

/* A register-like address inside one of `f`'s BARs (the low registers, dword aligned, mostly). */
static uint64_t bar_address(struct function *f) {
    int populated[6], count = 0;
    for (int bar = 0; bar < 6; bar++) if (f->bar[bar]) populated[count++] = bar;
    if (!count) return SCRATCH;
    int bar = populated[below(count)];
    uint64_t offset;
    switch (below(4)) {
    case 0: case 1: offset = f->hot[bar][below(4)]; break;
    case 2: offset = below(0x100) & ~3ULL; break;
    default: offset = below(f->bar_size[bar]) & ~3ULL; break;
    }
    return f->bar[bar] + offset;
}

static uint64_t interesting(void) {
    switch (below(16)) {
    case 0: case 1: case 2: return SCRATCH + (below(SCRATCH_SIZE) & ~7ULL);
    case 3: return SCRATCH + below(64) * 0x1000;                       /* page-aligned structures */
    case 4: if (current) return bar_address(current);                  /* its own BAR */
            return function_count ? bar_address(&functions[below(function_count)]) : SCRATCH;
    case 12: return function_count ? bar_address(&functions[below(function_count)]) : SCRATCH;
#ifdef FUZZ_IMSIC
    case 5: return FUZZ_IMSIC + below(2) * 0x1000;
#endif
    case 6: return windows[below(FUZZ_WINDOW_COUNT)][0] + (below(0x100) & ~3ULL);
    case 7: return 0 - (below(64) + 1) * 4;                              /* wraps at 2^64 */
    case 8: return below(0x1000);                                        /* unmapped low memory */
    case 9: return FUZZ_RAM_BASE + FUZZ_RAM_SIZE - below(32);          /* straddles the end of RAM */
    case 10: return 1ULL << below(64);
    case 11: return below(0x100);
    default: return rnd();
    }
}
static uint64_t value(void) { return below(2) ? interesting() : (below(4) ? rnd() : below(16)); }

/* Accesses that may fault: the trap handler skips the instruction. */
static void store(uint64_t address, int size, uint64_t v) {
    switch (size) {
    case 1: *(volatile uint8_t *)address = (uint8_t)v; break;
    case 2: *(volatile uint16_t *)address = (uint16_t)v; break;
    case 4: *(volatile uint32_t *)address = (uint32_t)v; break;
    default: *(volatile uint64_t *)address = v; break;
    }
}
static uint64_t load(uint64_t address, int size) {
    switch (size) {
    case 1: return *(volatile uint8_t *)address;
    case 2: return *(volatile uint16_t *)address;
    case 4: return *(volatile uint32_t *)address;
    default: return *(volatile uint64_t *)address;
    }
}
static int width(void) { return 1 << below(4); }
static uint64_t offset_in(uint64_t size) {
    uint64_t o = below(4) ? below(size < 0x1000 ? size : 0x1000) : below(size);  /* registers sit low */
    return below(8) ? o & ~7ULL : o;                                          /* mostly aligned */
}

/* M-mode trap handler: skip the faulting instruction (2 or 4 bytes); interrupts are never enabled. */
__attribute__((interrupt("machine"), aligned(4))) static void trap(void) {
    uint64_t epc;
    __asm__ volatile("csrr %0, mepc" : "=r"(epc));
    uint16_t low = *(volatile uint16_t *)epc;
    epc += (low & 3) == 3 ? 4 : 2;
    __asm__ volatile("csrw mepc, %0" ::"r"(epc));
}

#ifdef FUZZ_ECAM
static uint64_t cfg(uint64_t base, uint32_t reg) { return base + reg; }
static uint64_t next_bar = FUZZ_MMIO32;

static void enumerate(void) {
    for (uint32_t dev = 0; dev < 32 && function_count < MAX_FUNCTIONS; dev++) {
        uint64_t base = FUZZ_ECAM + ((uint64_t)dev << 15);
        if ((load(base, 4) & 0xffff) == 0xffff) continue;
        struct function *f = &functions[function_count++];
        f->config = base;
        for (int bar = 0; bar < 6; bar++) {
            uint64_t reg = cfg(base, 0x10 + 4 * bar);
            store(reg, 4, 0xffffffffu);
            uint32_t sized = (uint32_t)load(reg, 4);
            if (sized == 0 || (sized & 1)) continue;
            int is64 = ((sized >> 1) & 3) == 2;
            uint64_t mask = sized & ~0xfULL;
            if (is64) { store(reg + 4, 4, 0xffffffffu); mask |= load(reg + 4, 4) << 32; }
            else mask |= 0xffffffff00000000ULL;
            uint64_t size = ~mask + 1;
            if (size == 0 || size > 0x10000000) { if (is64) bar++; continue; }
            next_bar = (next_bar + size - 1) & ~(size - 1);
            f->bar[bar] = next_bar;
            f->bar_size[bar] = size;
            f->is64[bar] = (uint8_t)is64;
            for (int i = 0; i < 4; i++) f->hot[bar][i] = (uint32_t)(below(size < 0x100 ? size : 0x100) & ~3ULL);
            store(reg, 4, (uint32_t)next_bar);
            if (is64) { store(reg + 4, 4, 0); bar++; }
            next_bar += size;
        }
        store(cfg(base, 4), 2, 0x6);                       /* memory decoding, bus master */
        uint32_t cap = (uint32_t)load(cfg(base, 0x34), 1) & 0xfc;
        for (int hops = 0; cap && hops < 48; hops++) {
            uint32_t header = (uint32_t)load(cfg(base, cap), 4);
            if ((header & 0xff) == 0x11) { f->msix_cap = cap; break; }
            cap = (header >> 8) & 0xfc;
        }
    }
}

static void pci_operation(void) {
    if (!function_count) return;
    struct function *f = &functions[below(function_count)];
    current = f;
    switch (below(10)) {
    case 0: {                                              /* move a BAR somewhere interesting */
        int bar = (int)below(6);
        uint64_t to;
        switch (below(6)) {
        case 0: to = f->bar[bar]; break;                   /* back home */
        case 1: to = windows[below(FUZZ_WINDOW_COUNT)][0]; break;  /* over another device */
        case 2: to = FUZZ_RAM_BASE; break;                 /* over RAM */
        case 3: to = functions[below(function_count)].bar[below(6)]; break;  /* over another BAR */
        case 4: to = 0 - f->bar_size[bar]; break;          /* the top of the address space */
        default: to = rnd(); break;
        }
        store(cfg(f->config, 0x10 + 4 * bar), 4, (uint32_t)to);
        if (f->is64[bar]) store(cfg(f->config, 0x14 + 4 * bar), 4, (uint32_t)(to >> 32));
        /* A few accesses while it sits there (over another device, RAM, the top of memory),
         * then home again, so that the rest of the run still finds the function. */
        for (uint64_t n = below(16); n; n--) {
            uint64_t at = to + (below(0x100) & ~3ULL);
            if (below(2)) store(at, 4, value()); else (void)load(at, 4);
        }
        store(cfg(f->config, 0x10 + 4 * bar), 4, (uint32_t)f->bar[bar]);
        if (f->is64[bar]) store(cfg(f->config, 0x14 + 4 * bar), 4, (uint32_t)(f->bar[bar] >> 32));
        break;
    }
    case 1:                                                /* command register */
        store(cfg(f->config, 4), 2, below(4) ? 0x6 : rnd());
        break;
    case 2:                                                /* MSI-X enable, function mask */
        if (f->msix_cap) store(cfg(f->config, f->msix_cap + 2), 2, below(4) ? 0x8000 : rnd() & 0xc000);
        break;
    case 3: case 4: {                                      /* an MSI-X table entry */
        if (!f->msix_cap) break;
        uint32_t table = (uint32_t)load(cfg(f->config, f->msix_cap + 4), 4);
        int bir = table & 7;
        if (bir > 5 || !f->bar[bir]) break;
        uint32_t vectors = ((uint32_t)load(cfg(f->config, f->msix_cap + 2), 2) & 0x7ff) + 1;
        uint64_t entry = f->bar[bir] + (table & ~7u) + 16 * below(below(8) ? vectors : vectors + 4);
        uint64_t target;
        switch (below(5)) {
        case 0: case 1: target = bar_address(f); break;   /* its own registers: re-entrant MSI */
#ifdef FUZZ_IMSIC
        case 2: target = FUZZ_IMSIC; break;
#endif
        default: target = interesting(); break;
        }
        store(entry, 4, (uint32_t)target);
        store(entry + 4, 4, (uint32_t)(target >> 32));
        store(entry + 8, 4, below(2) ? below(64) : rnd());
        store(entry + 12, 4, below(4) ? 0 : 1);
        break;
    }
    default:                                               /* anywhere in config space */
        store(cfg(f->config, (uint32_t)below(0x1000) & ~(uint32_t)(width() - 1)), width(), value());
        break;
    }
}

static void bar_operation(void) {
    if (!function_count) return;
    struct function *f = &functions[below(function_count)];
    current = f;
    int bar = (int)below(6);
    if (!f->bar[bar]) return;
    uint64_t address = below(2) ? bar_address(f) : f->bar[bar] + offset_in(f->bar_size[bar]);
    int size = below(3) ? 4 : width();
    if (below(3)) store(address & ~(uint64_t)(size - 1), size, value());
    else (void)load(address & ~(uint64_t)(size - 1), size);
}
#endif

/* Fills a scratch page with structures the devices walk: TRBs, virtio descriptors or noise. */
static void scratch_operation(void) {
    uint64_t page = SCRATCH + below(64) * 0x1000;
    switch (below(4)) {
    case 0:                                                /* xHCI TRBs, cycle 1, a Link back */
        for (int i = 0; i < 256; i++) {
            uint64_t *trb = (uint64_t *)(page + 16 * i);
            uint32_t type = (uint32_t)below(40);
            trb[0] = below(2) ? interesting() : rnd();
            trb[1] = (uint64_t)((uint32_t)rnd()) | (uint64_t)((type << 10) | (uint32_t)(rnd() & 0xffff03fe) | 1) << 32;
        }
        ((uint64_t *)(page + 16 * 255))[0] = page + 16 * below(255);
        ((uint64_t *)(page + 16 * 255))[1] = (uint64_t)((6u << 10) | (below(2) << 1) | 1) << 32;
        break;
    case 1:                                                /* virtio descriptors, avail ring */
        for (int i = 0; i < 256; i++) {
            uint64_t *d = (uint64_t *)(page + 16 * i);
            d[0] = interesting();
            d[1] = below(0x2000) | (below(8) << 32) | (below(300) << 48);
        }
        break;
    case 2: {                                              /* an event ring segment table */
        uint64_t *erst = (uint64_t *)page;
        for (int i = 0; i < 4; i++) { erst[2 * i] = SCRATCH + below(64) * 0x1000; erst[2 * i + 1] = below(2) ? 16 + below(300) : rnd(); }
        break;
    }
    default:
        for (int i = 0; i < 512; i++) ((uint64_t *)page)[i] = below(2) ? rnd() : interesting();
        break;
    }
}

static void window_operation(void) {
    const uint64_t *w = windows[below(FUZZ_WINDOW_COUNT)];
    uint64_t address = w[0] + offset_in(w[1]);
    int size = width();
    if (below(2)) store(address, size, value());
    else (void)load(address, size);
}

int main(void) {
    state = fuzz_config.seed * 0x9E3779B97F4A7C15ULL | 1;
    __asm__ volatile("csrw mtvec, %0" ::"r"((uint64_t)trap));
#ifdef FUZZ_ECAM
    enumerate();
#endif
    uint64_t operations = fuzz_config.operations;
    for (uint64_t n = 0; n < operations; n++) {
        switch (below(8)) {
        case 0: case 1: case 2: window_operation(); break;
#ifdef FUZZ_ECAM
        case 3: case 4: pci_operation(); break;
        case 5: case 6: bar_operation(); break;
#endif
        default: scratch_operation(); break;
        }
    }
#ifdef FUZZ_REPORT
    /* For checking the fuzzer itself: what it found, straight into the UART's THR. */
    for (int i = 0; i < function_count; i++) {
        volatile uint8_t *thr = (volatile uint8_t *)FUZZ_REPORT;
        uint64_t id = load(functions[i].config, 4);
        for (int nibble = 28; nibble >= 0; nibble -= 4) *thr = "0123456789abcdef"[(id >> nibble) & 15];
        *thr = functions[i].msix_cap ? 'M' : '-';
        *thr = '\n';
    }
#endif
#ifdef FUZZ_EXIT_SIFIVE
    *(volatile uint32_t *)FUZZ_EXIT_SIFIVE = 0x5555;
#endif
    tohost = 1;
    for (;;) {}
}
