/*
 * Bare-metal guest (M-mode, --bios none, `virt`) for the acme_feed example plugin at
 * 0x10002000, irq plic0@12: waits in WFI for input from outside (the plugin's external
 * channel, plugin.h ABI 1.4), and prints each batch it finds with the machine time (mtime)
 * it woke at, until the end of the source. The times make the transcript a fingerprint of
 * when the input arrived: a replay of a recording prints the same, another live run does not.
 */
#include "../common/baremetal.h"

#define PLIC 0x0c000000UL
#define FEED 0x10002000UL
#define MTIME 0x0200bff8UL

static void putdec(uint64_t v) {
    char digits[24];
    int n = 0;
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) putc_(digits[--n]);
}

int main(void) {
    check(r32(FEED) == 0x46454544u, 1, "acme.feed ID", r32(FEED));
    /* Source 12, priority 1, enabled for the M context of hart 0, threshold 0 (PLIC spec §4). */
    w32(PLIC + 4 * 12, 1);
    w32(PLIC + 0x2000, 1u << 12);
    w32(PLIC + 0x200000, 0);
    /* MEIE without mstatus.MIE: WFI wakes on the pending line, no trap is taken
     * (RISC-V privileged 1.12 §3.3.3). */
    __asm__ volatile("csrs mie, %0" ::"r"(1UL << 11));
    uint32_t batches = 0, bytes = 0;
    for (;;) {
        uint32_t spins = 0;
        while (r32(FEED + 0x04) == 0 && r32(FEED + 0x10) == 0) {
            check(++spins < 1000000, 2, "no input", spins);
            __asm__ volatile("wfi");
        }
        uint32_t claimed = r32(PLIC + 0x200004);
        uint32_t level = r32(FEED + 0x04);
        puts_("batch ");
        putdec(++batches);
        puts_(" at mtime ");
        putdec(r64(MTIME));
        puts_(": ");
        for (uint32_t i = 0; i < level; i++) {
            char c = (char)r32(FEED + 0x08);
            putc_(c == '\n' ? '|' : c);
            bytes++;
        }
        putc_('\n');
        if (claimed) w32(PLIC + 0x200004, claimed);
        if (r32(FEED + 0x10) && r32(FEED + 0x04) == 0) break;
    }
    puts_("end of input: ");
    putdec(bytes);
    puts_(" bytes in ");
    putdec(r32(FEED + 0x0c));
    puts_(" inputs\n");
    finish(0);
    return 0;
}
