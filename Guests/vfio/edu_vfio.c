/*
 * Bare-metal guest (M-mode, --bios none, board virt-aia) driving QEMU's `edu` device
 * (hw/misc/edu.c, 1234:11e8) passed through with VFIO (`pci.host` with `vfio: true`) in the
 * nested test machine (scripts/nested/edu-vfio.sh): found by an ECAM scan, BAR 0 assigned,
 * identification, 10! computed by the device, DMA guest RAM -> device -> other guest RAM
 * (the device's DMA goes through the host IOMMU with IOVA = guest physical address), then 5!
 * with "interrupt when done": the device's MSI reaches the M-level IMSIC (AIA 1.0 §3) as
 * identity 5. Built with -DINTX (board virt): the MSI stays off and the device's INTA reaches
 * the PLIC (M context of hart 0) instead, which exercises VFIO's INTx with unmask. Built with
 * -DINTX -DNODMA: bus mastering stays off and the DMA step is left out, which is what a run
 * under --record/--replay may do (docs/passthrough.md, "Record and replay"). Like
 * Guests/plugins/plugin_guest.c's edu modes, but QEMU's edu has MSI, not MSI-X.
 * Prints progress on the UART and exits through sifive_test: 0 on success, the failing step
 * number otherwise.
 */
#include "../common/baremetal.h"

#if defined(NODMA) && !defined(INTX)
#error "NODMA needs INTX: an MSI is a memory write by the device, which needs bus mastering"
#endif

#define BAR0 0x40000000UL
#define IMSIC_M 0x24000000UL
#define PLIC 0x0c000000UL

static volatile uint32_t interrupts_taken;
static volatile uint32_t last_identity;

/* M-mode trap handler: external interrupts only (from the IMSIC, or the PLIC with INTX). */
__attribute__((interrupt("machine"), aligned(4))) static void trap(void) {
    uint64_t cause;
    __asm__ volatile("csrr %0, mcause" : "=r"(cause));
    if (cause != ((1UL << 63) | 11)) finish(0x99);
#ifdef INTX
    uint32_t source = r32(PLIC + 0x200004);               /* claim, M context of hart 0 */
    last_identity = source;
    w32(BAR0 + 0x64, r32(BAR0 + 0x24));                   /* acknowledge at the device: lowers INTA */
    w32(PLIC + 0x200004, source);                         /* complete */
#else
    uint64_t top;
    __asm__ volatile("csrrw %0, 0x35c, zero" : "=r"(top)); /* mtopei: read and claim */
    last_identity = (uint32_t)(top >> 16);
    w32(BAR0 + 0x64, r32(BAR0 + 0x24));                   /* acknowledge at the device */
#endif
    interrupts_taken++;
}

int main(void) {
    puts_("edu vfio guest\n");
    /* Enumerate bus 0 through ECAM (PCIe Base 4.0 §7.2.2). */
    uint32_t dev = 0;
    for (uint32_t d = 0; d < 32; d++) {
        if (r32(cfg(d, 0)) == 0x11e81234u) { dev = d; break; }
    }
    check(dev != 0, 1, "edu (1234:11e8) not found", 0);
    puts_("edu at 00:");
    puthex(dev);
    putc_('\n');

    /* BAR 0 is 1 MiB of 32-bit memory: size it, place it, enable memory and bus mastering. */
    w32(cfg(dev, 0x10), 0xffffffffu);
    uint32_t sizing = r32(cfg(dev, 0x10));
    check(sizing == 0xfff00000u, 2, "BAR0 sizing", sizing);
    w32(cfg(dev, 0x10), (uint32_t)BAR0);
#ifdef NODMA
    w32(cfg(dev, 0x04), 0x2);                              /* memory only */
#else
    w32(cfg(dev, 0x04), 0x6);
#endif
    /* QEMU's edu has no reset: clear what an earlier run left (interrupt on factorial done, a
     * raised interrupt), as a driver initialising the device would. */
    w32(BAR0 + 0x20, 0);
    w32(BAR0 + 0x64, r32(BAR0 + 0x24));

    /* Identification: 0xRRrr00edu, version 1.0 (hw/misc/edu.c). Liveness: the inverse. */
    check(r32(BAR0) == 0x010000edu, 3, "identification", r32(BAR0));
    w32(BAR0 + 0x04, 0x12345678u);
    check(r32(BAR0 + 0x04) == ~0x12345678u, 4, "liveness", r32(BAR0 + 0x04));

    /* Factorial, computed by the device's thread: status bit 0 is set while it works. */
    w32(BAR0 + 0x08, 10);
    while (r32(BAR0 + 0x20) & 1) {}
    check(r32(BAR0 + 0x08) == 3628800, 5, "10!", r32(BAR0 + 0x08));
    puts_("factorial ok\n");

#ifndef NODMA
    /* DMA both ways through the device's 4 KiB buffer at 0x40000 of its DMA space (QEMU's edu
     * does not show the buffer in its BAR): guest RAM -> edu, then edu -> other guest RAM. */
    static uint64_t source_buffer[4] = {0xfeedfacecafebeefUL, 0x0123456789abcdefUL, 0x5555aaaa5555aaaaUL, 0x0f1e2d3c4b5a6978UL};
    static uint64_t ram_buffer[4];
    w64(BAR0 + 0x80, (uint64_t)source_buffer);
    w64(BAR0 + 0x88, 0x40000);
    w64(BAR0 + 0x90, sizeof source_buffer);
    w64(BAR0 + 0x98, 0x1);                                 /* start, RAM -> edu */
    while (r64(BAR0 + 0x98) & 1) {}
    w64(BAR0 + 0x80, 0x40000);
    w64(BAR0 + 0x88, (uint64_t)ram_buffer);
    w64(BAR0 + 0x90, sizeof ram_buffer);
    w64(BAR0 + 0x98, 0x3);                                 /* start, edu -> RAM */
    while (r64(BAR0 + 0x98) & 1) {}
    for (int i = 0; i < 4; i++)
        check(((volatile uint64_t *)ram_buffer)[i] == source_buffer[i], 7 + i, "DMA data back in RAM",
              ((volatile uint64_t *)ram_buffer)[i]);
    puts_("DMA ok\n");
#endif

#ifdef INTX
    /* INTA of device d reaches PLIC source 32 + d % 4 (the swizzle in the device tree). */
    uint32_t expected = 32 + (dev % 4);
    w32(PLIC + 4 * expected, 1);                                            /* priority */
    w32(PLIC + 0x2000 + 4 * (expected / 32), 1u << (expected % 32));       /* enable, context 0 */
    w32(PLIC + 0x200000, 0);                                               /* threshold */
#else
    uint32_t expected = 5;
    /* IMSIC M file of hart 0: deliver, threshold 0, identity 5 enabled (AIA 1.0 §3.8, §3.9). */
    __asm__ volatile("csrw 0x350, %0; csrw 0x351, %1" ::"r"(0x70UL), "r"(1UL));     /* eidelivery */
    __asm__ volatile("csrw 0x350, %0; csrw 0x351, %1" ::"r"(0x72UL), "r"(0UL));     /* eithreshold */
    __asm__ volatile("csrw 0x350, %0; csrw 0x351, %1" ::"r"(0xc0UL), "r"(1UL << 5)); /* eie0 */
    /* The MSI capability (ID 0x05, PCI 3.0 §6.8.1): address = the IMSIC's seteipnum_le, data 5. */
    uint32_t cap = r32(cfg(dev, 0x34)) & 0xfc, msi = 0;
    while (cap) {
        uint32_t header = r32(cfg(dev, cap));
        if ((header & 0xff) == 0x05) { msi = cap; break; }
        cap = (header >> 8) & 0xfc;
    }
    check(msi != 0, 0x20, "no MSI capability", 0);
    uint32_t control = r32(cfg(dev, msi)) >> 16;
    w32(cfg(dev, msi + 4), (uint32_t)IMSIC_M);
    if (control & 0x80) {                                  /* 64-bit address */
        w32(cfg(dev, msi + 8), 0);
        w32(cfg(dev, msi + 0xc), 5);
    } else {
        w32(cfg(dev, msi + 8), 5);
    }
    w32(cfg(dev, msi), r32(cfg(dev, msi)) | (1u << 16));  /* MSI enable, one vector */

#endif
    __asm__ volatile("csrw mtvec, %0" ::"r"((uint64_t)trap));
    __asm__ volatile("csrs mie, %0" ::"r"(1UL << 11));
    __asm__ volatile("csrs mstatus, %0" ::"r"(1UL << 3));
    w32(BAR0 + 0x20, 0x80);                                /* interrupt when a factorial is done */
    w32(BAR0 + 0x08, 5);
    for (uint32_t spins = 0; interrupts_taken == 0; spins++) {
        check(spins < 1000000, 0x21, "no interrupt", spins);
        __asm__ volatile("wfi");
    }
    check(r32(BAR0 + 0x08) == 120, 0x22, "5!", r32(BAR0 + 0x08));
    check(last_identity == expected, 0x23, "interrupt source", last_identity);
    check(r32(BAR0 + 0x24) == 0, 0x24, "interrupt status after ack", r32(BAR0 + 0x24));
#ifdef INTX
    puts_("INTx interrupt ok\n");
#else
    puts_("MSI interrupt ok\n");
#endif
    finish(0);
    return 0;
}
