/*
 * A guest-requested reboot leaves the machine as at power-on except RAM (issue 12).
 * Bare metal (M-mode, --bios none) on `virt` (-DBOARD_VIRT) or `virt-aia` (-DBOARD_AIA), 2 harts.
 *
 * The PCIe host bridge's own function and an edu function (run with --device edu,at=pcie0/01.0)
 * are checked too: a reboot is a conventional reset of the bus, so the edu's BAR is unassigned
 * and, assigned again, its registers and DMA buffer read their power-on values.
 * First boot: every hart records the power-on value of each register it checks, programs the
 * register to something else (and checks that it took), then hart 0 writes 0x7777 to sifive_test.
 * What must survive the reboot is kept in RAM outside the loaded image (PERSIST), which a reboot
 * does not rewrite.
 * Second boot: every register reads its recorded power-on value again, and the absolute
 * power-on facts hold (mtime counts from 0 again, no msip/mtimecmp/claim/pending left, the
 * RTC back on the host's clock, no interrupt pending at the hart). Exit through sifive_test:
 * 0x5555 pass; (code << 16) | 0x3333 fail, where code (1...255, the exit status) names the
 * first failing check, also printed on the UART: 0x40 + i register i did not take its
 * programmed value, 0x80 + i register i did not read its power-on value after the reboot, others
 * at their `return`.
 */
#include <stdint.h>

#define TEST    0x100000UL
#define RTC     0x101000UL
#define CLINT   0x2000000UL
#define PLIC    0x0c000000UL
#define APLIC_M 0x0c000000UL
#define APLIC_S 0x0d000000UL
#define IMSIC_M 0x24000000UL
#define IMSIC_S 0x28000000UL
#define UART    0x10000000UL
#define ECAM    0x30000000UL
#define EDU_CONFIG (ECAM + (1 << 15))
#define EDU_BAR 0x40000000UL

#define MAGIC 0x544f4f424552ULL /* "REBOOT" */

static inline uint64_t rd(uint64_t addr, int size) {
    switch (size) {
    case 1: return *(volatile uint8_t *)addr;
    case 4: return *(volatile uint32_t *)addr;
    default: return *(volatile uint64_t *)addr;
    }
}

static inline void wr(uint64_t addr, int size, uint64_t value) {
    switch (size) {
    case 1: *(volatile uint8_t *)addr = (uint8_t)value; break;
    case 4: *(volatile uint32_t *)addr = (uint32_t)value; break;
    default: *(volatile uint64_t *)addr = value; break;
    }
}

/* A register the guest programs: address, width, value to write, and whether it is READ_ONLY
   (it changes as a side effect of the others) or WRITE_ONLY (it reads as zero or as something
   else: FCR reads as IIR, setienum reads zero). */
#define READ_ONLY 1
#define WRITE_ONLY 2
/* The spec leaves the reset value unknown (ACLINT 1.0 §2.1, mtimecmp): Backplane defines one
   (all ones) and is checked against it; built with -DORACLE_QEMU, for QEMU, which keeps the old
   value, it is not checked after the reboot. */
#define RESET_UNSPECIFIED 4
struct reg { uint64_t address; int size; uint64_t value; int access; };

static const struct reg regs[] = {
    /* ACLINT (SiFive CLINT layout): msip of both harts, mtimecmp of both harts. */
    { CLINT + 0x0, 4, 1, 0 },
    { CLINT + 0x4, 4, 1, 0 },
    { CLINT + 0x4000, 8, 0x1234, RESET_UNSPECIFIED },
    { CLINT + 0x4008, 8, 0x5678, RESET_UNSPECIFIED },
    /* Goldfish RTC: alarm far in the future (armed by the ALARM_LOW write), interrupt enabled. */
    { RTC + 0x0c, 4, 0x7fffffff, 0 },
    { RTC + 0x08, 4, 0x1, 0 },
    { RTC + 0x10, 4, 1, 0 },
    { RTC + 0x18, 4, 0, READ_ONLY },            /* ALARM_STATUS: armed */
    /* PCIe host bridge (ECAM at 0x30000000), function 00.0: command register (memory space and
       bus master on); a machine reset is a conventional reset of the bus. */
    { ECAM + 0x4, 4, 0x6, 0 },
    /* QEMU's edu at 01.0 (`--device edu,at=pcie0/01.0`): BAR 0 assigned, memory decoding on. */
    { EDU_CONFIG + 0x10, 4, EDU_BAR, 0 },
    { EDU_CONFIG + 0x4, 4, 0x2, 0 },
    /* 16550A: IER (every interrupt), FCR (FIFOs on: shows in IIR), LCR, MCR, scratch. */
    { UART + 1, 1, 0x0f, 0 },
    { UART + 2, 1, 0x07, WRITE_ONLY },  /* FCR */
    { UART + 3, 1, 0x1b, 0 },
    { UART + 4, 1, 0x0b, 0 },
    { UART + 7, 1, 0x5a, 0 },
#ifdef BOARD_VIRT
    /* PLIC: priorities of the UART and RTC sources, enables and thresholds of all 4 contexts. */
    { PLIC + 4 * 10, 4, 7, 0 },
    { PLIC + 4 * 11, 4, 3, 0 },
    { PLIC + 0x2000, 4, 0xc00, 0 },
    { PLIC + 0x2080, 4, 0xc00, 0 },
    { PLIC + 0x2100, 4, 0x400, 0 },
    { PLIC + 0x2180, 4, 0x800, 0 },
    { PLIC + 0x200000, 4, 1, 0 },
    { PLIC + 0x201000, 4, 5, 0 },
    { PLIC + 0x202000, 4, 6, 0 },
    { PLIC + 0x203000, 4, 7, 0 },
    { PLIC + 0x1000, 4, 0, READ_ONLY },         /* pending: the UART's THRE interrupt (source 10) */
#endif
#ifdef BOARD_AIA
    /* APLIC root (M): source 10 delegated to the child, source 11 level-high to hart 1 EIID 42,
       MSI addresses, enabled; then the child (S): source 10 to hart 1 EIID 43, enabled. */
    { APLIC_M + 4 * 10, 4, 0x400, 0 },     /* sourcecfg[10]: D, child 0 */
    { APLIC_M + 4 * 11, 4, 6, 0 },         /* sourcecfg[11]: level high */
    { APLIC_M + 0x1bc0, 4, IMSIC_M >> 12, 0 },
    { APLIC_M + 0x1bc4, 4, 1 << 12, 0 },
    { APLIC_M + 0x1bc8, 4, IMSIC_S >> 12, 0 },
    { APLIC_M + 0x3000 + 4 * 11, 4, (1 << 18) | 42, 0 },  /* target[11] */
    { APLIC_M + 0x1edc, 4, 11, WRITE_ONLY },  /* setienum */
    { APLIC_M + 0x1e00, 4, 0, READ_ONLY },      /* setie[0]: reads the enables */
    { APLIC_M + 0x0, 4, 0x100, 0 },     /* domaincfg.IE */
    { APLIC_S + 4 * 10, 4, 6, 0 },
    { APLIC_S + 0x3000 + 4 * 10, 4, (1 << 18) | 43, 0 },  /* target[10] */
    { APLIC_S + 0x1edc, 4, 10, WRITE_ONLY },
    { APLIC_S + 0x1e00, 4, 0, READ_ONLY },
    { APLIC_S + 0x0, 4, 0x100, 0 },
#endif
};
#define NREGS (sizeof regs / sizeof regs[0])
_Static_assert(NREGS < 0x40, "failure codes 0x40 + i and 0x80 + i must stay below 0x80 and 0x100");

/* Indirect IMSIC registers a hart programs through its own miselect/mireg and siselect/sireg
   (AIA 1.0 §3.8): eidelivery, eithreshold, eip0, eie0. */
static const uint64_t imsic_selects[] = { 0x70, 0x72, 0x80, 0xc0 };
static const uint64_t imsic_values[]  = { 1, 5, 0x0c, 0xf0 };
#define NIMSIC 4

struct persist {
    uint64_t magic;
    uint64_t hart1_ready;               /* first boot: hart 1 recorded and programmed its files */
    uint64_t hart1_result;              /* second boot: 1 + failing code, or 1 for success */
    uint64_t poweron[NREGS];
    uint64_t divisor_poweron;
    uint64_t imsic_poweron[4][2][NIMSIC];  /* hart, level (0 M, 1 S), register */
};
/* RAM the image does not cover: 96 MiB into the board's 128 MiB, below the device tree. */
#define PERSIST ((volatile struct persist *)0x86000000UL)

static void putc_(char c) {
    while (!(rd(UART + 5, 1) & 0x20)) {}
    wr(UART, 1, (uint8_t)c);
}
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void puthex(uint64_t v) {
    puts_("0x");
    for (int i = 60; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 0xf]);
}

static void finish(uint64_t code) {
    if (code == 0) {
        puts_("reboot: PASS\n");
        wr(TEST, 4, 0x5555);
    } else {
        puts_("reboot: FAIL ");
        puthex(code);
        putc_('\n');
        wr(TEST, 4, (code << 16) | 0x3333);
    }
    for (;;) __asm__ volatile("wfi");
}

static uint64_t imsic_read(int level, uint64_t select) {
    uint64_t value;
    if (level == 0) __asm__ volatile("csrw 0x350, %1; csrr %0, 0x351" : "=r"(value) : "r"(select));
    else __asm__ volatile("csrw 0x150, %1; csrr %0, 0x151" : "=r"(value) : "r"(select));
    return value;
}

static void imsic_write(int level, uint64_t select, uint64_t value) {
    if (level == 0) __asm__ volatile("csrw 0x350, %0; csrw 0x351, %1" :: "r"(select), "r"(value));
    else __asm__ volatile("csrw 0x150, %0; csrw 0x151, %1" :: "r"(select), "r"(value));
}

static uint64_t divisor(void) {
    uint64_t lcr = rd(UART + 3, 1);
    wr(UART + 3, 1, lcr | 0x80);
    uint64_t value = rd(UART + 0, 1) | rd(UART + 1, 1) << 8;
    wr(UART + 3, 1, lcr);
    return value;
}

/* The hart's own IMSIC files: record power-on values and program them (first boot), or
   compare (second boot). Returns 0 or a failure code: 0x10 + 4 * level + register when
   programming had no effect, 0x18 + 4 * level + register when the reboot did not restore it. */
static uint64_t own_files(uint64_t hart, int first_boot) {
#ifdef BOARD_AIA
    for (int level = 0; level < 2; level++) {
        for (int i = 0; i < NIMSIC; i++) {
            uint64_t value = imsic_read(level, imsic_selects[i]);
            if (first_boot) {
                PERSIST->imsic_poweron[hart][level][i] = value;
                imsic_write(level, imsic_selects[i], imsic_values[i]);
                if (imsic_read(level, imsic_selects[i]) == value) return 0x10 + 4 * level + i;
            } else if (value != PERSIST->imsic_poweron[hart][level][i]) {
                return 0x18 + 4 * level + i;
            }
        }
    }
#endif
    (void)hart; (void)first_boot;
    return 0;
}

/* No interrupt left pending at the hart: MSIP, MTIP, SEIP, MEIP of mip. */
static uint64_t hart_pins(void) {
    uint64_t mip;
    __asm__ volatile("csrr %0, mip" : "=r"(mip));
    return mip & ((1 << 3) | (1 << 7) | (1 << 9) | (1 << 11));
}

static void hart1(void) {
    volatile struct persist *p = PERSIST;
    if (p->magic != MAGIC) {
        while (p->magic != MAGIC - 1) {}     /* hart 0 says go */
        uint64_t code = own_files(1, 1);
        p->hart1_ready = code ? code : 1;
    } else {
        uint64_t code = own_files(1, 0);
        if (!code && hart_pins()) code = 0x20;
        p->hart1_result = 1 + code;
    }
    for (;;) __asm__ volatile("wfi");
}

static uint64_t first_boot(void) {
    volatile struct persist *p = PERSIST;
    for (unsigned i = 0; i < NREGS; i++) p->poweron[i] = rd(regs[i].address, regs[i].size);
    p->divisor_poweron = divisor();
    p->hart1_ready = 0;
    p->hart1_result = 0;
    uint64_t code = own_files(0, 1);
    if (code) return code;
    __asm__ volatile("fence" ::: "memory");
    p->magic = MAGIC - 1;                    /* hart 1: record and program your files */
    while (p->hart1_ready == 0) {}
    if (p->hart1_ready != 1) return p->hart1_ready;

    for (unsigned i = 0; i < NREGS; i++) {
        if (regs[i].access != READ_ONLY) wr(regs[i].address, regs[i].size, regs[i].value);
    }
    wr(UART + 3, 1, 0x9b);                   /* DLAB: divisor 0x1234 */
    wr(UART + 0, 1, 0x34);
    wr(UART + 1, 1, 0x12);
    wr(UART + 3, 1, 0x1b);
    wr(CLINT + 0xbff8, 8, 1ULL << 40);       /* mtime far from 0 */
    wr(EDU_BAR + 0x04, 4, 0x12345678);       /* edu liveness, factorial, a byte of its DMA buffer */
    wr(EDU_BAR + 0x08, 4, 5);
    wr(EDU_BAR + 0x40000, 1, 0xab);
    if (rd(EDU_BAR + 0x04, 4) != 0xedcba987 || rd(EDU_BAR + 0x08, 4) != 120 || rd(EDU_BAR + 0x40000, 1) != 0xab) return 0x24;
    wr(RTC + 0x04, 4, 1);                    /* TIME_HIGH: the RTC's time near the epoch */
#ifdef BOARD_AIA
    wr(IMSIC_M + 0x1000, 4, 7);              /* MSIs into hart 1's files */
    wr(IMSIC_S + 0x1000, 4, 9);
#endif
    for (unsigned i = 0; i < NREGS; i++) {
        if (regs[i].access == WRITE_ONLY) continue;
        if (rd(regs[i].address, regs[i].size) == p->poweron[i]) return 0x40 + i;
    }
    if (divisor() == p->divisor_poweron) return 0x21;
    if (!hart_pins()) return 0x22;          /* msip and an mtimecmp in the past are pending */
#ifdef BOARD_VIRT
    if (rd(PLIC + 0x200004, 4) != 10) return 0x23;  /* claim the UART's interrupt, never complete */
#endif
    __asm__ volatile("fence" ::: "memory");
    p->magic = MAGIC;
    wr(TEST, 4, 0x7777);
    for (;;) __asm__ volatile("wfi");
}

static uint64_t second_boot(void) {
    volatile struct persist *p = PERSIST;
    uint64_t mtime = rd(CLINT + 0xbff8, 8);
    if (mtime >= 50000000) return 0x30;     /* 5 s at 10 MHz: mtime counted from 0 again */
    for (unsigned i = 0; i < NREGS; i++) {
        if (regs[i].access == WRITE_ONLY) continue;
#ifdef ORACLE_QEMU
        if (regs[i].access == RESET_UNSPECIFIED) continue;
#endif
        uint64_t value = rd(regs[i].address, regs[i].size);
        if (value != p->poweron[i]) {
            puts_("register ");
            puthex(regs[i].address);
            puts_(" reads ");
            puthex(value);
            puts_(" at power-on ");
            puthex(p->poweron[i]);
            putc_('\n');
            return 0x80 + i;
        }
    }
    if (divisor() != p->divisor_poweron) return 0x31;
    if (rd(UART + 2, 1) != 0x01) return 0x32;   /* IIR: no interrupt, FIFOs off */
    if (rd(UART + 5, 1) != 0x60) return 0x33;   /* LSR: transmitter empty, no data */
    (void)rd(RTC + 0x00, 4);
    if (rd(RTC + 0x04, 4) < 0x15000000) return 0x34;  /* the host's wall clock (after 2020) */
#ifdef BOARD_VIRT
    if (rd(PLIC + 0x200004, 4) != 0) return 0x35;     /* nothing to claim */
#endif
    wr(EDU_CONFIG + 0x10, 4, EDU_BAR);       /* assign the edu again: its state is power-on */
    wr(EDU_CONFIG + 0x4, 4, 0x2);
    if (rd(EDU_BAR + 0x04, 4) != 0xffffffff) return 0x37;
    if (rd(EDU_BAR + 0x08, 4) != 0) return 0x38;
    if (rd(EDU_BAR + 0x40000, 1) != 0) return 0x39;
    uint64_t code = own_files(0, 0);
    if (code) return code;
    if (hart_pins()) return 0x36;
    while (p->hart1_result == 0) {}
    return p->hart1_result - 1;
}

void main(uint64_t hart) {
    if (hart == 1) hart1();
    if (hart != 0) for (;;) __asm__ volatile("wfi");
    if (PERSIST->magic != MAGIC) finish(first_boot());
    puts_("reboot: second boot\n");
    finish(second_boot());
}
