/* Floating-point workload: double-precision 48x48 matrix multiply, an n-body step loop
   (sqrt and divide) and single-precision polynomial evaluation, repeated ROUNDS times. */
#include "bench.h"
#ifndef ROUNDS
#define ROUNDS 200
#endif
#define N 48
#define BODIES 32

static double a[N][N], b[N][N], c[N][N];
static double px[BODIES], py[BODIES], pz[BODIES], vx[BODIES], vy[BODIES], vz[BODIES], m[BODIES];

static double matmul(int r) {
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            a[i][j] = (double)(i * N + j + r) * 0.001;
            b[i][j] = 1.0 / (double)(i + j + 1 + r);
        }
    double trace = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++) s += a[i][k] * b[k][j];
            c[i][j] = s;
        }
    for (int i = 0; i < N; i++) trace += c[i][i];
    return trace;
}

static double nbody(int steps) {
    for (int i = 0; i < BODIES; i++) {
        px[i] = i; py[i] = i * 0.5; pz[i] = -i * 0.25;
        vx[i] = vy[i] = vz[i] = 0; m[i] = 1.0 + i * 0.01;
    }
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < BODIES; i++)
            for (int j = 0; j < BODIES; j++) {
                if (i == j) continue;
                double dx = px[j] - px[i], dy = py[j] - py[i], dz = pz[j] - pz[i];
                double d2 = dx * dx + dy * dy + dz * dz + 0.01;
                double inv = m[j] / (d2 * __builtin_sqrt(d2));
                vx[i] += dx * inv * 0.001; vy[i] += dy * inv * 0.001; vz[i] += dz * inv * 0.001;
            }
        for (int i = 0; i < BODIES; i++) { px[i] += vx[i]; py[i] += vy[i]; pz[i] += vz[i]; }
    }
    double e = 0;
    for (int i = 0; i < BODIES; i++) e += m[i] * (vx[i] * vx[i] + vy[i] * vy[i] + vz[i] * vz[i]);
    return e;
}

static float poly(int n) {
    float acc = 0;
    for (int i = 0; i < n; i++) {
        float x = (float)i * 1e-5f;
        acc += ((((0.1f * x + 0.2f) * x + 0.3f) * x + 0.4f) * x + 0.5f) / (1.0f + x);
    }
    return acc;
}

int main(void) {
    uint64_t start = instret();
    double check = 0;
    for (int r = 0; r < ROUNDS; r++) {
        check += matmul(r);
        check += nbody(60);
        check += poly(200000);
    }
    union { double d; uint64_t u; } bits = { check };
    return report("fp", instret() - start, bits.u);
}
