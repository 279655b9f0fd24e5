/*
 * Bare-metal guest (M-mode, --bios none, board `virt` with the built-in edu at pcie0/03.0) that
 * aims edu's MSI-X and DMA at edu itself, the shapes that once recursed until the host's stack
 * overflowed (issue 15). The bus bounds re-entrant device dispatch (AddressSpace.maxDispatchDepth):
 * the loop ends in a dropped message, and the guest must keep running afterwards.
 *   MODE_MSIX_SELF: MSI-X vector 0 -> BAR0+0x60 (interrupt raise), then raise an interrupt.
 *   MODE_DMA_SELF:  MSI-X vector 0 -> BAR0+0x98 (DMA command) with data = start|interrupt, then
 *                   a DMA whose completion interrupt restarts the DMA; and a DMA whose RAM side
 *                   is edu's own BAR (refused: command bit 3).
 * Exits through sifive_test: 0 on success, the failing step otherwise.
 */
#include "../common/baremetal.h"

#define BAR0 0x40000000UL
#define BAR1 0x40100000UL

int main(void) {
    puts_("reentry guest\n");
    uint32_t dev = 0;
    for (uint32_t d = 0; d < 32; d++) if (r32(cfg(d, 0)) == 0x11e81234u) { dev = d; break; }
    check(dev != 0, 1, "edu (1234:11e8) not found", 0);
    w32(cfg(dev, 0x10), (uint32_t)BAR0);
    w32(cfg(dev, 0x14), (uint32_t)BAR1);
    w32(cfg(dev, 0x04), 0x6);                                    /* memory decoding, bus master */
    check(r32(BAR0) == 0x010000edu, 2, "identification", r32(BAR0));

    uint32_t cap = r32(cfg(dev, 0x34)) & 0xfc, msix = 0;
    while (cap) {
        uint32_t header = r32(cfg(dev, cap));
        if ((header & 0xff) == 0x11) { msix = cap; break; }
        cap = (header >> 8) & 0xfc;
    }
    check(msix != 0, 3, "no MSI-X capability", 0);

#if defined(MODE_MSIX_SELF)
    w32(BAR1 + 0x0, (uint32_t)(BAR0 + 0x60));                    /* message address: own raise register */
    w32(BAR1 + 0x4, 0);
    w32(BAR1 + 0x8, 0x1000);                                     /* message data: a cause bit */
    w32(BAR1 + 0xc, 0);                                          /* unmasked */
    w32(cfg(dev, msix), r32(cfg(dev, msix)) | (1u << 31));       /* MSI-X enable */
    w32(BAR0 + 0x60, 0x1);                                       /* raise: MSI -> raise -> MSI ... */
    puts_("survived the MSI-X loop\n");
    check(r32(BAR0 + 0x24) == 0x1001, 4, "interrupt status", r32(BAR0 + 0x24));
    /* The device still works: a second loop, and the factorial unit. */
    w32(BAR0 + 0x64, 0xffffffffu);
    w32(BAR0 + 0x60, 0x2);
    check(r32(BAR0 + 0x24) == 0x1002, 5, "interrupt status after the second loop", r32(BAR0 + 0x24));
    w32(BAR0 + 0x08, 5);
    check(r32(BAR0 + 0x08) == 120, 6, "5!", r32(BAR0 + 0x08));
#elif defined(MODE_DMA_SELF)
    static uint64_t ram[4] = {1, 2, 3, 4};
    w32(BAR1 + 0x0, (uint32_t)(BAR0 + 0x98));                    /* message address: own DMA command */
    w32(BAR1 + 0x4, 0);
    w32(BAR1 + 0x8, 0x5);                                        /* data: start | interrupt when done */
    w32(BAR1 + 0xc, 0);
    w32(cfg(dev, msix), r32(cfg(dev, msix)) | (1u << 31));
    w64(BAR0 + 0x80, (uint64_t)ram);                             /* RAM -> device buffer */
    w64(BAR0 + 0x88, 0x40000);
    w64(BAR0 + 0x90, sizeof ram);
    w64(BAR0 + 0x98, 0x5);                                       /* DMA -> MSI -> DMA ... */
    puts_("survived the DMA/MSI-X loop\n");
    check(r64(BAR0 + 0x40018) == 4, 4, "DMA data in the device", r64(BAR0 + 0x40018));
    check(r32(BAR0 + 0x24) == 0x100, 5, "interrupt status", r32(BAR0 + 0x24));
    /* A DMA whose RAM side is edu's own BAR: DMA reaches RAM only, so it fails (bit 3). */
    w32(cfg(dev, msix), r32(cfg(dev, msix)) & ~(1u << 31));
    w64(BAR0 + 0x80, 0x40000);
    w64(BAR0 + 0x88, BAR0 + 0x60);
    w64(BAR0 + 0x90, 8);
    w64(BAR0 + 0x98, 0x3);                                       /* device -> "RAM" at own BAR */
    check(r64(BAR0 + 0x98) == 0xa, 6, "DMA into own BAR status", r64(BAR0 + 0x98));
    /* A good DMA still works afterwards. */
    w64(BAR0 + 0x88, (uint64_t)&ram[0]);
    w64(BAR0 + 0x98, 0x3);
    check(r64(BAR0 + 0x98) == 0x2, 7, "DMA to RAM status", r64(BAR0 + 0x98));
#else
#error "define MODE_MSIX_SELF or MODE_DMA_SELF"
#endif
    finish(0);
    return 0;
}
