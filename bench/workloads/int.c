/* Integer workload: CRC-32 (bitwise), a sieve of Eratosthenes, a 64x64 integer matrix multiply
   and a small state machine (branchy), repeated ROUNDS times. */
#include "bench.h"
#ifndef ROUNDS
#define ROUNDS 160
#endif
#define N 64

static uint8_t data[16384];
static uint8_t sieve[65536];
static int32_t ma[N][N], mb[N][N], mc[N][N];

static uint32_t crc32(const uint8_t *p, size_t n, uint32_t crc) {
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
    }
    return ~crc;
}

static uint32_t primes(void) {
    uint32_t count = 0;
    for (size_t i = 0; i < sizeof sieve; i++) sieve[i] = 1;
    for (size_t i = 2; i < sizeof sieve; i++) {
        if (!sieve[i]) continue;
        count++;
        for (size_t j = i * i; j < sizeof sieve; j += i) sieve[j] = 0;
    }
    return count;
}

static uint64_t matmul(uint32_t seed) {
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            seed = seed * 1103515245u + 12345u;
            ma[i][j] = (int32_t)(seed >> 16) - 16384;
            mb[j][i] = (int32_t)(seed & 0xffff) - 32768;
        }
    uint64_t sum = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int32_t acc = 0;
            for (int k = 0; k < N; k++) acc += ma[i][k] * mb[k][j];
            mc[i][j] = acc;
            sum += (uint32_t)acc;
        }
    return sum;
}

static uint64_t machine(uint32_t seed, int steps) {
    uint32_t state = 0, x = seed;
    uint64_t out = 0;
    for (int i = 0; i < steps; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        switch ((state + x) & 7) {
        case 0: state = (state + 3) % 11; out += x; break;
        case 1: state ^= 5; out ^= x >> 3; break;
        case 2: state = x % 7; out -= state; break;
        case 3: out = (out << 1) | (out >> 63); break;
        case 4: state += (x & 1) ? 1 : 2; break;
        case 5: out += (uint64_t)x * state; break;
        case 6: state = (state * 5 + 1) & 15; break;
        default: out ^= 0x9e3779b97f4a7c15ull; break;
        }
    }
    return out;
}

int main(void) {
    uint64_t start = instret();
    uint64_t check = 0;
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7 + (i >> 5));
    for (int r = 0; r < ROUNDS; r++) {
        check += crc32(data, sizeof data, (uint32_t)r);
        check += primes();
        check += matmul((uint32_t)r);
        check ^= machine((uint32_t)r + 1, 200000);
    }
    return report("int", instret() - start, check);
}
