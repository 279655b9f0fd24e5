/* CoreMark-like workload: per iteration the list, matrix and state-machine kernels with CRC-16
   folding, as EEMBC CoreMark's iterate() does (kernels.h). Branchy, call-heavy integer code. */
#include "kernels.h"
#ifndef ITERATIONS
#define ITERATIONS 1000
#endif
int main(void) {
    uint64_t start = instret();
    uint16_t crc = 0;
    for (uint32_t i = 0; i < ITERATIONS; i++) {
        crc = bench_list(i, crc);
        crc = bench_matrix(i * 7 + 1, crc);
        crc = bench_state(i * 13 + 5, crc);
    }
    return report("coremark", instret() - start, crc);
}
