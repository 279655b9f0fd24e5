/* Integer workload: the matrix kernel of kernels.h alone, repeated ITERATIONS times. */
#include "kernels.h"
#ifndef ITERATIONS
#define ITERATIONS 2000
#endif
int main(void) {
    uint64_t start = instret();
    uint16_t crc = 0;
    for (uint32_t i = 0; i < ITERATIONS; i++) crc = bench_matrix(i * 2654435761u, crc);
    return report("matrix", instret() - start, crc);
}
