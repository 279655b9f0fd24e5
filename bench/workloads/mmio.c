/* MMIO workload: device-register traffic, the 16550 scratch register written and read back in a
   loop (every access leaves the memory fast path for the device model). */
#include "bench.h"
#ifndef ACCESSES
#define ACCESSES 10000000
#endif

int main(void) {
    uint64_t start = instret(), check = 0;
    for (uint32_t i = 0; i < ACCESSES; i++) {
        UART[7] = (uint8_t)(i ^ (i >> 8));
        check = check * 31 + UART[7];
    }
    return report("mmio", instret() - start, check);
}
