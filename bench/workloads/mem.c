/* Memory workload: a random pointer chase through 16 MiB (TLB- and cache-hostile), streaming
   copy and sum over 4 MiB buffers, and byte-granular scatter stores, repeated ROUNDS times. */
#include "bench.h"
#ifndef ROUNDS
#define ROUNDS 20
#endif
#define CHASE (2u << 20)                  /* 2 Mi entries of 8 bytes = 16 MiB */
#define STREAM (512u << 10)               /* 512 Ki doublewords = 4 MiB */

static uint64_t next[CHASE];
static uint64_t src[STREAM], dst[STREAM];
static uint8_t bytes[1 << 20];

int main(void) {
    uint64_t start = instret();
    uint64_t check = 0;
    /* A single cycle through all entries (Sattolo's algorithm) from a fixed LCG. */
    for (uint64_t i = 0; i < CHASE; i++) next[i] = i;
    uint64_t s = 88172645463325252ull;
    for (uint64_t i = CHASE - 1; i > 0; i--) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        uint64_t j = s % i;
        uint64_t t = next[i]; next[i] = next[j]; next[j] = t;
    }
    for (uint64_t i = 0; i < STREAM; i++) src[i] = i * 0x9e3779b97f4a7c15ull;
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t p = (uint64_t)r;
        for (uint64_t i = 0; i < CHASE; i++) p = next[p];
        check += p;
        for (uint64_t i = 0; i < STREAM; i++) dst[i] = src[i] + (uint64_t)r;
        uint64_t sum = 0;
        for (uint64_t i = 0; i < STREAM; i++) sum += dst[(i * 4099) & (STREAM - 1)];
        check ^= sum;
        for (uint32_t i = 0; i < (1u << 22); i++) bytes[(i * 2654435761u) & ((1 << 20) - 1)] += (uint8_t)i;
        check += bytes[r * 1000];
    }
    return report("mem", instret() - start, check);
}
