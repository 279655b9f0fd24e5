/*
 * Bare-metal guest (M-mode, --bios none) driving the example plugins on `virt` / `virt-aia`:
 *   MODE_EDU_INTX  (virt):     acme.edu found by an ECAM scan, BARs assigned, ID, factorial
 *                              completing after virtual time, DMA both ways, interrupt via INTA
 *                              through the PLIC (M context of hart 0).
 *   MODE_EDU_MSIX  (virt-aia): the same, interrupt via MSI-X to the M-level IMSIC (AIA 1.0 §3).
 *   MODE_TIMER     (virt):     acme.timer at 0x10002000, irq plic0@12: ID, scratch, alarm IRQ.
 * Prints progress on the UART and exits through sifive_test: 0 on success, the failing
 * step number otherwise.
 */
#include "../common/baremetal.h"

#define PLIC 0x0c000000UL
#define BAR0 0x40000000UL
#define BAR1 0x40100000UL
#define IMSIC_M 0x24000000UL
#define TIMER 0x10002000UL

static volatile uint32_t interrupts_taken;
static volatile uint64_t last_cause;
static volatile uint32_t last_source;
static uint32_t edu_dev;

#if defined(MODE_EDU_INTX) || defined(MODE_EDU_MSIX)
#define EDU 1
#endif

/* M-mode trap handler: external interrupts only. Claims the source, acknowledges the device. */
__attribute__((interrupt("machine"), aligned(4))) static void trap(void) {
    uint64_t cause;
    __asm__ volatile("csrr %0, mcause" : "=r"(cause));
    last_cause = cause;
    if (cause != ((1UL << 63) | 11)) finish(0x99);
#if defined(MODE_EDU_MSIX)
    uint64_t top;
    __asm__ volatile("csrrw %0, 0x35c, zero" : "=r"(top)); /* mtopei: read and claim */
    last_source = (uint32_t)(top >> 16);
    w32(BAR0 + 0x64, r32(BAR0 + 0x24));                   /* acknowledge at the device */
#else
    uint32_t source = r32(PLIC + 0x200004);               /* claim, M context of hart 0 */
    last_source = source;
#if defined(MODE_EDU_INTX)
    w32(BAR0 + 0x64, r32(BAR0 + 0x24));                   /* lowers INTA */
#else
    w32(TIMER + 0x0c, 1);                                  /* lowers the timer's line */
#endif
    w32(PLIC + 0x200004, source);                         /* complete */
#endif
    interrupts_taken++;
}

static void enable_interrupts(void) {
    __asm__ volatile("csrw mtvec, %0" ::"r"((uint64_t)trap));
    __asm__ volatile("csrs mie, %0" ::"r"(1UL << 11));
    __asm__ volatile("csrs mstatus, %0" ::"r"(1UL << 3));
}

static void wait_for_interrupt(uint32_t step) {
    for (uint32_t spins = 0; interrupts_taken == 0; spins++) {
        check(spins < 100000, step, "no interrupt", spins);
        __asm__ volatile("wfi");
    }
}

#if !defined(MODE_EDU_MSIX)
static void plic_enable(uint32_t source) {
    w32(PLIC + 4 * source, 1);                                          /* priority */
    w32(PLIC + 0x2000 + 4 * (source / 32), 1u << (source % 32));       /* enable, context 0 */
    w32(PLIC + 0x200000, 0);                                           /* threshold */
}
#endif

#ifdef EDU
static void edu_tests(void) {
    /* Enumerate bus 0 through ECAM (PCIe Base 4.0 §7.2.2). */
    edu_dev = 0;
    for (uint32_t dev = 0; dev < 32; dev++) {
        if (r32(cfg(dev, 0)) == 0xacde1234u) { edu_dev = dev; break; }
    }
    check(edu_dev != 0, 1, "acme.edu (1234:acde) not found", 0);
    puts_("acme.edu at 00:");
    puthex(edu_dev);
    putc_('\n');

    /* Size and assign the BARs, then enable memory decoding and bus mastering. */
    w32(cfg(edu_dev, 0x10), 0xffffffffu);
    uint32_t sizing = r32(cfg(edu_dev, 0x10));
    check(sizing == 0xfff00000u, 2, "BAR0 sizing", sizing);
    w32(cfg(edu_dev, 0x10), (uint32_t)BAR0);
    w32(cfg(edu_dev, 0x14), (uint32_t)BAR1);
    w32(cfg(edu_dev, 0x04), 0x6);

    check(r32(BAR0) == 0x010000edu, 3, "identification", r32(BAR0));

    /* Factorial: busy for the plugin's latency in virtual time, then 10! = 0x375f00. */
    w32(BAR0 + 0x08, 10);
    uint32_t polls = 0;
    while (r32(BAR0 + 0x20) & 1) polls++;
    check(polls > 0, 4, "factorial completed without delay", polls);
    check(r32(BAR0 + 0x08) == 3628800, 5, "10!", r32(BAR0 + 0x08));
    puts_("factorial ok after ");
    puthex(polls);
    puts_(" polls\n");

    /* DMA device -> RAM. */
    static uint64_t ram_buffer[4];
    for (int i = 0; i < 4; i++) w64(BAR0 + 0x40000 + 8 * i, 0x1111111111111111UL * (uint64_t)(i + 1));
    w64(BAR0 + 0x80, 0x40000);
    w64(BAR0 + 0x88, (uint64_t)ram_buffer);
    w64(BAR0 + 0x90, sizeof ram_buffer);
    w64(BAR0 + 0x98, 0x3);
    while (r64(BAR0 + 0x98) & 1) {}
    check(r64(BAR0 + 0x98) == 0x2, 6, "DMA to RAM status", r64(BAR0 + 0x98));
    for (int i = 0; i < 4; i++)
        check(((volatile uint64_t *)ram_buffer)[i] == 0x1111111111111111UL * (uint64_t)(i + 1), 7, "DMA data in RAM",
              ((volatile uint64_t *)ram_buffer)[i]);

    /* DMA RAM -> device. */
    static uint64_t source_buffer[2] = {0xfeedfacecafebeefUL, 0x0123456789abcdefUL};
    w64(BAR0 + 0x80, (uint64_t)source_buffer);
    w64(BAR0 + 0x88, 0x40100);
    w64(BAR0 + 0x90, sizeof source_buffer);
    w64(BAR0 + 0x98, 0x1);
    while (r64(BAR0 + 0x98) & 1) {}
    check(r64(BAR0 + 0x40100) == 0xfeedfacecafebeefUL && r64(BAR0 + 0x40108) == 0x0123456789abcdefUL, 8,
          "DMA data in the device", r64(BAR0 + 0x40100));
    puts_("DMA ok\n");
}
#endif

int main(void) {
    puts_("plugin guest\n");
#if defined(EDU)
    edu_tests();
#if defined(MODE_EDU_INTX)
    /* INTA of device d reaches PLIC source 32 + (d + 1 - 1) % 4 (the swizzle in the tree). */
    uint32_t source = 32 + (edu_dev % 4);
    plic_enable(source);
#else
    /* IMSIC M file of hart 0: deliver, threshold 0, identity 5 enabled (AIA 1.0 §3.8, §3.9). */
    __asm__ volatile("csrw 0x350, %0; csrw 0x351, %1" ::"r"(0x70UL), "r"(1UL));     /* eidelivery */
    __asm__ volatile("csrw 0x350, %0; csrw 0x351, %1" ::"r"(0x72UL), "r"(0UL));     /* eithreshold */
    __asm__ volatile("csrw 0x350, %0; csrw 0x351, %1" ::"r"(0xc0UL), "r"(1UL << 5)); /* eie0 */
    /* MSI-X table entry 0 in BAR 1: the IMSIC's seteipnum_le, data = identity 5; unmasked. */
    w32(BAR1 + 0x0, (uint32_t)IMSIC_M);
    w32(BAR1 + 0x4, 0);
    w32(BAR1 + 0x8, 5);
    w32(BAR1 + 0xc, 0);
    /* Find the MSI-X capability (ID 0x11) and set its enable bit (PCI 3.0 §6.8.2.3). */
    uint32_t cap = r32(cfg(edu_dev, 0x34)) & 0xfc, found = 0;
    while (cap) {
        uint32_t header = r32(cfg(edu_dev, cap));
        if ((header & 0xff) == 0x11) { found = cap; break; }
        cap = (header >> 8) & 0xfc;
    }
    check(found != 0, 9, "no MSI-X capability", 0);
    w32(cfg(edu_dev, found), r32(cfg(edu_dev, found)) | (1u << 31));
#endif
    enable_interrupts();
    w32(BAR0 + 0x20, 0x80);       /* interrupt when a factorial is done */
    w32(BAR0 + 0x08, 5);
    wait_for_interrupt(10);
    check(r32(BAR0 + 0x08) == 120, 11, "5!", r32(BAR0 + 0x08));
#if defined(MODE_EDU_INTX)
    check(last_source == source, 12, "PLIC source", last_source);
    puts_("INTx interrupt ok\n");
#else
    check(last_source == 5, 12, "IMSIC identity", last_source);
    puts_("MSI-X interrupt ok\n");
#endif
    check(r32(BAR0 + 0x24) == 0, 13, "interrupt status after ack", r32(BAR0 + 0x24));
#elif defined(MODE_TIMER)
    check(r32(TIMER + 0x00) == 0x41434d45u, 1, "timer ID", r32(TIMER));

    w32(TIMER + 0x14, 0xa5a5f00d);
    check(r32(TIMER + 0x14) == 0xa5a5f00du, 2, "scratch", r32(TIMER + 0x14));
    plic_enable(12);
    enable_interrupts();

    w32(TIMER + 0x04, 200000);    /* alarm in 200 us of virtual time */
    check(r32(TIMER + 0x04) == 1, 3, "alarm pending", r32(TIMER + 0x04));
    wait_for_interrupt(4);
    check(last_source == 12, 5, "PLIC source", last_source);
    check(r32(TIMER + 0x08) == 0, 6, "status after ack", r32(TIMER + 0x08));
    check(r32(TIMER + 0x10) == 1, 7, "alarm count", r32(TIMER + 0x10));
    puts_("timer interrupt ok\n");
#endif
    finish(0);
    return 0;
}
