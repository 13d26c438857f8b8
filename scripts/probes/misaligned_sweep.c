// Gaussian 5x5 ([1 4 6 4 1] / 16 both ways) as conv!'s light separable sweep
// runs it (per 512-bit column vector: the horizontal pass of the call's 4 new
// rows into the ring, then the vertical pass of its 4 output rows), at a
// width whose rows start at different alignments (4099; -DW=4096 for the
// aligned case). Four ways to store the output:
//   plain     every row at the same columns, plain stores (conv! at 4099 today)
//   own       each row computed one step late at its own phase, so that its
//             vectors are 64-byte aligned, and streamed at once (its ring
//             loads are then misaligned)
//   own late  the same, streamed one step later still, after the next
//             step's loads
//   joined    every row at the same columns (aligned ring loads), each row's
//             aligned vector joined from this step's and the last step's
//             (one permute), streamed
// The copy beside them is memcpy, convc bench's floor. Every variant is
// checked against `plain` over the interior columns. See README.md.
//
//   gcc -O2 -mavx512f -mfma misaligned_sweep.c -o misaligned_sweep && ./misaligned_sweep
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#ifndef W
#define W 4099
#endif
#define H 4096
#define SLOTS 8
#define STAGGER 48
#define RP (W + 64 + 1024)
static float ring_data[SLOTS][RP] __attribute__((aligned(4096)));
static float *slot(int p) { return ring_data[p % SLOTS] + 16 + (p % SLOTS) * STAGGER % 1024; }
static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static inline __m512 taps5(__m512 a, __m512 b, __m512 c, __m512 d, __m512 e) {
    return _mm512_fmadd_ps(_mm512_add_ps(a, e), _mm512_set1_ps(0.0625f),
                           _mm512_fmadd_ps(_mm512_add_ps(b, d), _mm512_set1_ps(0.25f),
                                           _mm512_mul_ps(c, _mm512_set1_ps(0.375f))));
}
static inline __m512 horizontal(const float *r) {
    return taps5(_mm512_loadu_ps(r - 2), _mm512_loadu_ps(r - 1), _mm512_loadu_ps(r),
                 _mm512_loadu_ps(r + 1), _mm512_loadu_ps(r + 2));
}
#define X0 16
#define X1 (W - 32)
static void prime(const float *s) {
    for (int p = 0; p < 4; p++)
        for (int x = X0; x < X1; x += 16) _mm512_storeu_ps(slot(p) + x, horizontal(s + p * W + x));
}
/* The ring rows of the call at output row y + 2 (4 old, then 4 new). */
static inline void window(int y, float *r[8]) {
    for (int t = 0; t < 8; t++) r[t] = slot(y + t);
}
/* Output row j of the call and its phase: its first 64-byte-aligned column. */
static inline void heads(float *d, int y, float *o[4], int ph[4]) {
    for (int j = 0; j < 4; j++) {
        o[j] = d + (y + 2 + j) * W;
        ph[j] = (int)((16 - ((uintptr_t)(o[j]) / 4) % 16) % 16);
    }
}
/* The call's 4 new rows through the horizontal pass at column x. */
static inline void new_rows(float *r[8], const float *in, int x) {
    for (int t = 4; t < 8; t++) _mm512_storeu_ps(r[t] + x, horizontal(in + (t - 4) * W + x));
}
/* Output row j at column c, from the ring. */
static inline __m512 vertical(float *r[8], int j, int c) {
    return taps5(_mm512_loadu_ps(r[j] + c), _mm512_loadu_ps(r[j + 1] + c), _mm512_loadu_ps(r[j + 2] + c),
                 _mm512_loadu_ps(r[j + 3] + c), _mm512_loadu_ps(r[j + 4] + c));
}
static void plain(float *d, const float *s) {
    prime(s);
    for (int y = 0; y + 8 <= H; y += 4) {
        float *r[8];
        window(y, r);
        const float *in = s + (y + 4) * W;
        for (int x = X0; x < X1; x += 16) {
            __m512 v[8];
            for (int t = 0; t < 4; t++) v[t] = _mm512_loadu_ps(r[t] + x);
            for (int t = 4; t < 8; t++) { v[t] = horizontal(in + (t - 4) * W + x); _mm512_storeu_ps(r[t] + x, v[t]); }
            for (int j = 0; j < 4; j++)
                _mm512_storeu_ps(d + (y + 2 + j) * W + x, taps5(v[j], v[j + 1], v[j + 2], v[j + 3], v[j + 4]));
        }
    }
}
static void own(float *d, const float *s) {
    prime(s);
    for (int y = 0; y + 8 <= H; y += 4) {
        float *r[8];
        window(y, r);
        const float *in = s + (y + 4) * W;
        float *o[4];
        int ph[4];
        heads(d, y, o, ph);
        for (int x = X0; x < X1; x += 16) {
            new_rows(r, in, x);
            if (x == X0) continue;
            for (int j = 0; j < 4; j++) {
                int c = x - 16 + ph[j];
                _mm512_stream_ps(o[j] + c, vertical(r, j, c));
            }
        }
    }
}
static void own_late(float *d, const float *s) {
    prime(s);
    for (int y = 0; y + 8 <= H; y += 4) {
        float *r[8];
        window(y, r);
        const float *in = s + (y + 4) * W;
        float *o[4];
        int ph[4];
        heads(d, y, o, ph);
        __m512 p[4];
        int pc[4];
        int have = 0;
        for (int x = X0; x < X1; x += 16) {
            new_rows(r, in, x);
            if (x == X0) continue;
            __m512 v[4];
            for (int j = 0; j < 4; j++) v[j] = vertical(r, j, x - 16 + ph[j]);
            __asm__ volatile("" ::: "memory");
            if (have) for (int j = 0; j < 4; j++) _mm512_stream_ps(o[j] + pc[j], p[j]);
            for (int j = 0; j < 4; j++) { p[j] = v[j]; pc[j] = x - 16 + ph[j]; }
            have = 1;
        }
        for (int j = 0; j < 4; j++) _mm512_stream_ps(o[j] + pc[j], p[j]);
    }
}
static void joined(float *d, const float *s) {
    prime(s);
    for (int y = 0; y + 8 <= H; y += 4) {
        float *r[8];
        window(y, r);
        const float *in = s + (y + 4) * W;
        float *o[4];
        int ph[4];
        heads(d, y, o, ph);
        __m512i idx[4];
        for (int j = 0; j < 4; j++)
            idx[j] = _mm512_add_epi32(_mm512_set1_epi32(ph[j]), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
        __m512 prev[4];
        for (int x = X0; x < X1; x += 16) {
            __m512 v[8];
            for (int t = 0; t < 4; t++) v[t] = _mm512_loadu_ps(r[t] + x);
            for (int t = 4; t < 8; t++) { v[t] = horizontal(in + (t - 4) * W + x); _mm512_storeu_ps(r[t] + x, v[t]); }
            for (int j = 0; j < 4; j++) {
                __m512 cur = taps5(v[j], v[j + 1], v[j + 2], v[j + 3], v[j + 4]);
                if (x > X0) _mm512_stream_ps(o[j] + x - 16 + ph[j], _mm512_permutex2var_ps(prev[j], idx[j], cur));
                prev[j] = cur;
            }
        }
    }
}
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
static void copy(float *d, const float *s) { memcpy(d, s, (size_t)W * H * 4); }
static double median_ms(void (*f)(float *, const float *), float *d, const float *s) {
    double t[11];
    for (int r = 0; r < 11; r++) { double a = now_ms(); f(d, s); _mm_sfence(); t[r] = now_ms() - a; }
    qsort(t, 11, sizeof t[0], cmp);
    return t[5];
}
int main(void) {
    size_t bytes = (size_t)W * H * 4 + 4096;
    char *sb = aligned_alloc(2 << 20, (bytes + (2<<20)) & ~((size_t)(2<<20)-1)), *db = aligned_alloc(2 << 20, (bytes + (2<<20)) & ~((size_t)(2<<20)-1));
    madvise(sb, bytes, MADV_HUGEPAGE); madvise(db, bytes, MADV_HUGEPAGE);
    float *s = (float *)(sb + 64), *d = (float *)(db + 64);
    float *d2 = malloc((size_t)W * H * 4);
    for (size_t i = 0; i < (size_t)W * H; i++) s[i] = (float)(i % 77), d[i] = 0;
    plain(d, s); memcpy(d2, d, (size_t)W*H*4); own(d, s);
    long bad = 0; for (int y = 2; y < H - 6; y++) for (int x = 48; x < X1 - 48; x++) bad += d[y*W+x] != d2[y*W+x];
    own_late(d, s);
    for (int y = 2; y < H - 6; y++) for (int x = 48; x < X1 - 48; x++) bad += d[y*W+x] != d2[y*W+x];
    joined(d, s);
    for (int y = 2; y < H - 6; y++) for (int x = 48; x < X1 - 48; x++) bad += d[y*W+x] != d2[y*W+x];
    printf("W %d mismatches %ld\n", W, bad);
    for (int k = 0; k < 3; k++)
    printf("memcpy %.2f, plain %.2f, own %.2f, own late %.2f, joined %.2f ms\n", median_ms(copy, d, s), median_ms(plain, d, s), median_ms(own, d, s), median_ms(own_late, d, s), median_ms(joined, d, s));
    return 0;
}
