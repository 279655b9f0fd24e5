/* Support for the benchmark workloads: UART output, instruction counter, libc stand-ins. */
#include <stdint.h>
#include <stddef.h>

#define UART ((volatile uint8_t *)0x10000000)

static inline void putc_(char c) {
    while ((UART[5] & 0x20) == 0) { }   /* LSR.THRE */
    UART[0] = (uint8_t)c;
}
static inline void puts_(const char *s) { while (*s) putc_(*s++); }
static inline void putdec(uint64_t v) {
    char b[24]; int i = 0;
    do { b[i++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (i) putc_(b[--i]);
}
static inline void puthex(uint64_t v) {
    for (int s = 60; s >= 0; s -= 4) putc_("0123456789abcdef"[(v >> s) & 15]);
}
static inline uint64_t instret(void) {
    uint64_t v;
    __asm__ volatile("csrr %0, minstret" : "=r"(v));
    return v;
}

/* Prints the result lines the bench driver parses, returns 0 for main(). */
static inline int report(const char *name, uint64_t instructions, uint64_t checksum) {
    puts_("workload="); puts_(name); putc_('\n');
    puts_("instret="); putdec(instructions); putc_('\n');
    puts_("checksum="); puthex(checksum); putc_('\n');
    return 0;
}

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
