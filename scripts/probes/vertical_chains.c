// gaussian 15x15's vertical pass as conv!'s AVX2 split step computes it: 8 output
// rows from 22 ring rows (4096 floats each, in L2), 15 taps each, one FMA per
// tap, one 8-lane vector of columns per step. Orders: rows outer (each ring
// vector loaded once, each output row's chain starting at its first row, as
// conv!'s generated code runs) or taps outer (all 8 chains advance together).
// Prints the best of 5 timings per round, in ns per 8-pixel vector of one
// output row; the FMAs alone need 7.5 cycles. See README.md.
//
//   gcc -O3 -mavx2 -mfma vertical_chains.c -o vertical_chains && ./vertical_chains
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define W 4096
#define ROWS 22
#define OUT 8
#define PITCH (W + 48)
static const float K[15] = {0.008846952f, 0.018215906f, 0.033562396f, 0.055335034f, 0.08163802f,
                            0.10777793f,  0.12732458f,  0.13459834f,  0.12732458f,  0.10777793f,
                            0.08163802f,  0.055335034f, 0.033562396f, 0.018215906f, 0.008846952f};

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

__attribute__((noinline)) void rows_outer(const float *const *in, float *const *out) {
    for (int x = 0; x < W; x += 8) {
        __m256 acc[OUT];
#pragma GCC unroll 32
        for (int r = 0; r < ROWS; r++) {
            __m256 v = _mm256_loadu_ps(in[r] + x);
#pragma GCC unroll 8
            for (int j = 0; j < OUT; j++) {
                int t = r - j;
                if (t < 0 || t > 14) continue;
                __m256 c = _mm256_set1_ps(K[t]);
                acc[j] = t == 0 ? _mm256_mul_ps(v, c) : _mm256_fmadd_ps(v, c, acc[j]);
            }
        }
#pragma GCC unroll 8
        for (int j = 0; j < OUT; j++) _mm256_storeu_ps(out[j] + x, acc[j]);
    }
}

__attribute__((noinline)) void taps_outer(const float *const *in, float *const *out) {
    for (int x = 0; x < W; x += 8) {
        __m256 acc[OUT];
#pragma GCC unroll 16
        for (int t = 0; t < 15; t++) {
            __m256 c = _mm256_set1_ps(K[t]);
#pragma GCC unroll 8
            for (int j = 0; j < OUT; j++) {
                __m256 v = _mm256_loadu_ps(in[j + t] + x);
                acc[j] = t == 0 ? _mm256_mul_ps(v, c) : _mm256_fmadd_ps(v, c, acc[j]);
            }
        }
#pragma GCC unroll 8
        for (int j = 0; j < OUT; j++) _mm256_storeu_ps(out[j] + x, acc[j]);
    }
}

int main(void) {
    float *ring = aligned_alloc(64, sizeof(float) * PITCH * ROWS);
    float *o = aligned_alloc(64, sizeof(float) * PITCH * OUT);
    for (long i = 0; i < (long)PITCH * ROWS; i++) ring[i] = (i % 251) * 0.01f;
    const float *in[ROWS];
    float *out[OUT];
    for (int r = 0; r < ROWS; r++) in[r] = ring + (long)r * PITCH;
    for (int j = 0; j < OUT; j++) out[j] = o + (long)j * PITCH;
    const int reps = 2000;
    for (int round = 0; round < 5; round++) {
        double best[2] = {1e9, 1e9};
        for (int v = 0; v < 2; v++) {
            for (int k = 0; k < 5; k++) {
                double t = now_ms();
                for (int i = 0; i < reps; i++) (v ? taps_outer : rows_outer)(in, out);
                t = now_ms() - t;
                if (t < best[v]) best[v] = t;
            }
        }
        // ns per 8-pixel vector of one output row
        double vecs = (double)reps * (W / 8) * OUT;
        printf("round %d: rows outer %.3f ns/vector, taps outer %.3f ns/vector\n", round,
               best[0] * 1e6 / vecs, best[1] * 1e6 / vecs);
    }
    return 0;
}
