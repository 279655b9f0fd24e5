/* Integer workload: the list kernel of kernels.h alone, repeated ITERATIONS times. */
#include "kernels.h"
#ifndef ITERATIONS
#define ITERATIONS 4000
#endif
int main(void) {
    uint64_t start = instret();
    uint16_t crc = 0;
    for (uint32_t i = 0; i < ITERATIONS; i++) crc = bench_list(i * 2654435761u, crc);
    return report("list", instret() - start, crc);
}
