// Gaussian 5x5 ([1 4 6 4 1] / 16 both ways), horizontal pass first, 4096 x 4096
// f32, with the JIT's means: 128-bit vectors and plain stores (Cranelift 0.135
// has no streaming store). The passes apart (the horizontal pass over the call's
// 4 new rows into a ring, then the vertical pass of 4 output rows), apart in
// strips of CH columns, and in one sweep per vector (fused4). Compare with
// fused_separable.c, whose sweep streams its output. See README.md.
//
//   gcc -O2 -mavx2 -mfma plain_store_sweep.c -o plain_store_sweep && ./plain_store_sweep
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#define W 4096
#define H 4096
#define SLOTS 8
#define STAGGER 48
#define SLOTS 8
#define STAGGER 48
static float ring_data[SLOTS][W + 64 + 1024] __attribute__((aligned(4096)));
static float *slot(int p) { return ring_data[p % SLOTS] + (p % SLOTS) * STAGGER % 1024; }
static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static inline __m128 taps5(__m128 a, __m128 b, __m128 c, __m128 d, __m128 e) {
    return _mm_fmadd_ps(_mm_add_ps(a, e), _mm_set1_ps(0.0625f),
                        _mm_fmadd_ps(_mm_add_ps(b, d), _mm_set1_ps(0.25f), _mm_mul_ps(c, _mm_set1_ps(0.375f))));
}
static inline __m128 horizontal(const float *r) {
    return taps5(_mm_loadu_ps(r - 2), _mm_loadu_ps(r - 1), _mm_loadu_ps(r), _mm_loadu_ps(r + 1), _mm_loadu_ps(r + 2));
}
static int CH = W;
static void hpass(float *row, const float *in, int x0, int x1) {
    for (int x = x0; x < x1; x += 4) _mm_store_ps(row + x, horizontal(in + x));
}
static void vpass(float *d, int y, int x0, int x1) {
    float *rows[8];
    for (int t = 0; t < 8; t++) rows[t] = slot(y + t);
    for (int x = x0; x < x1; x += 4) {
        __m128 v[8];
        for (int t = 0; t < 8; t++) v[t] = _mm_load_ps(rows[t] + x);
        for (int j = 0; j < 4; j++) _mm_storeu_ps(d + (y + 2 + j) * W + x, taps5(v[j], v[j + 1], v[j + 2], v[j + 3], v[j + 4]));
    }
}
static void phased(float *d, const float *s) {
    for (int p = 0; p < 4; p++) hpass(slot(p), s + p * W, 16, W - 16);
    for (int y = 0; y + 8 <= H; y += 4) {
        for (int c = 16; c < W - 16; c += CH) {
            int e = c + CH < W - 16 ? c + CH : W - 16;
            for (int p = y + 4; p < y + 8; p++) hpass(slot(p), s + p * W, c, e);
            vpass(d, y, c, e);
        }
    }
}
static void fused4(float *d, const float *s) {
    for (int p = 0; p < 4; p++) hpass(slot(p), s + p * W, 16, W - 16);
    for (int y = 0; y + 8 <= H; y += 4) {
        float *r[8];
        for (int t = 0; t < 8; t++) r[t] = slot(y + t);
        const float *in = s + (y + 4) * W;
        for (int x = 16; x < W - 16; x += 4) {
            __m128 v[8];
            for (int t = 0; t < 4; t++) v[t] = _mm_load_ps(r[t] + x);
            for (int t = 0; t < 4; t++) { v[4 + t] = horizontal(in + t * W + x); _mm_store_ps(r[4 + t] + x, v[4 + t]); }
            for (int j = 0; j < 4; j++) _mm_storeu_ps(d + (y + 2 + j) * W + x, taps5(v[j], v[j + 1], v[j + 2], v[j + 3], v[j + 4]));
        }
    }
}
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
static void copy(float *d, const float *s) { memcpy(d, s, (size_t)W * H * 4); }
static double median_ms(void (*f)(float *, const float *), float *d, const float *s) {
    double t[11];
    for (int r = 0; r < 11; r++) { double a = now_ms(); f(d, s); _mm_sfence(); t[r] = now_ms() - a; }
    qsort(t, 11, sizeof t[0], cmp); return t[5];
}
int main(void) {
    size_t bytes = (size_t)W * H * 4 + 4096;
    char *sb = aligned_alloc(2 << 20, bytes), *db = aligned_alloc(2 << 20, bytes);
    madvise(sb, bytes, MADV_HUGEPAGE); madvise(db, bytes, MADV_HUGEPAGE);
    float *s = (float *)(sb + 64), *d = (float *)(db + 64);
    for (size_t i = 0; i < (size_t)W * H; i++) s[i] = (float)(i % 77), d[i] = 0;
    printf("memcpy %.2f\n", median_ms(copy, d, s));
    int chs[] = {W, 2048, 1024, 512, 256, 128, 64};
    for (int i = 0; i < 7; i++) { CH = chs[i]; printf("phased chunk %d: %.2f\n", CH, median_ms(phased, d, s)); }
    printf("fused4 %.2f\n", median_ms(fused4, d, s));
    printf("memcpy %.2f\n", median_ms(copy, d, s));
    return 0;
}
