// Gaussian 5x5 ([1 4 6 4 1] / 16 both ways), horizontal pass first, 4096 x 4096
// f32, AVX-512: the phased ring conv! runs today (the horizontal pass over whole
// new rows into a ring, then the vertical pass of 4 output rows) against a fused
// step (per column vector: the horizontal pass of 2 new rows into the ring and
// the vertical pass of 2 output rows, streamed one step late). The copy beside
// them is memcpy, convc bench's floor. See README.md.
//
//   gcc -O2 -mavx512f -mfma fused_separable.c -o fused_separable && ./fused_separable
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define W 4096
#define H 4096
#define SLOTS 8
#define STAGGER 48 /* floats between ring rows past 4 KiB, as convc's 192 bytes */

static float ring_data[SLOTS][W + 64 + 1024] __attribute__((aligned(4096)));
static float *slot(int p) { return ring_data[p % SLOTS] + (p % SLOTS) * STAGGER % 1024; }

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static inline __m512 taps5(__m512 a, __m512 b, __m512 c, __m512 d, __m512 e) {
    return _mm512_fmadd_ps(_mm512_add_ps(a, e), _mm512_set1_ps(0.0625f),
                           _mm512_fmadd_ps(_mm512_add_ps(b, d), _mm512_set1_ps(0.25f),
                                           _mm512_mul_ps(c, _mm512_set1_ps(0.375f))));
}

static inline __m512 horizontal(const float *r) {
    return taps5(_mm512_loadu_ps(r - 2), _mm512_loadu_ps(r - 1), _mm512_loadu_ps(r),
                 _mm512_loadu_ps(r + 1), _mm512_loadu_ps(r + 2));
}

static void phased(float *d, const float *s) {
    for (int p = 0; p < 4; p++)
        for (int x = 16; x < W - 16; x += 16) _mm512_store_ps(slot(p) + x, horizontal(s + p * W + x));
    for (int y = 0; y + 8 <= H; y += 4) {
        for (int p = y + 4; p < y + 8; p++) {
            float *row = slot(p);
            for (int x = 16; x < W - 16; x += 16) _mm512_store_ps(row + x, horizontal(s + p * W + x));
        }
        float *rows[8];
        for (int t = 0; t < 8; t++) rows[t] = slot(y + t);
        for (int x = 16; x < W - 16; x += 16) {
            __m512 v[8];
            for (int t = 0; t < 8; t++) v[t] = _mm512_load_ps(rows[t] + x);
            for (int j = 0; j < 4; j++)
                _mm512_stream_ps(d + (y + 2 + j) * W + x, taps5(v[j], v[j + 1], v[j + 2], v[j + 3], v[j + 4]));
        }
    }
}

static void fused(float *d, const float *s) {
    for (int p = 0; p < 4; p++)
        for (int x = 16; x < W - 16; x += 16) _mm512_store_ps(slot(p) + x, horizontal(s + p * W + x));
    for (int y = 0; y + 6 <= H; y += 2) {
        float *r0 = slot(y), *r1 = slot(y + 1), *r2 = slot(y + 2), *r3 = slot(y + 3);
        float *n0 = slot(y + 4), *n1 = slot(y + 5);
        const float *in = s + (y + 4) * W;
        float *o0 = d + (y + 2) * W, *o1 = o0 + W;
        __m512 late0 = _mm512_setzero_ps(), late1 = late0;
        int x = 16;
        for (; x < W - 16; x += 16) {
            __m512 h0 = horizontal(in + x), h1 = horizontal(in + W + x);
            _mm512_store_ps(n0 + x, h0);
            _mm512_store_ps(n1 + x, h1);
            __m512 a = _mm512_load_ps(r0 + x), b = _mm512_load_ps(r1 + x);
            __m512 c = _mm512_load_ps(r2 + x), e = _mm512_load_ps(r3 + x);
            __m512 v0 = taps5(a, b, c, e, h0), v1 = taps5(b, c, e, h0, h1);
            __asm__ volatile("" ::: "memory"); /* this step's loads before the last step's stores */
            if (x > 16) {
                _mm512_stream_ps(o0 + x - 16, late0);
                _mm512_stream_ps(o1 + x - 16, late1);
            }
            late0 = v0;
            late1 = v1;
        }
        _mm512_stream_ps(o0 + x - 16, late0);
        _mm512_stream_ps(o1 + x - 16, late1);
    }
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void copy(float *d, const float *s) { memcpy(d, s, (size_t)W * H * 4); }

static double median_ms(void (*f)(float *, const float *), float *d, const float *s) {
    double t[11];
    for (int r = 0; r < 11; r++) {
        double a = now_ms();
        f(d, s);
        _mm_sfence();
        t[r] = now_ms() - a;
    }
    qsort(t, 11, sizeof t[0], cmp);
    return t[5];
}

int main(void) {
    size_t bytes = (size_t)W * H * 4 + 4096;
    char *sb = aligned_alloc(2 << 20, bytes), *db = aligned_alloc(2 << 20, bytes);
    madvise(sb, bytes, MADV_HUGEPAGE);
    madvise(db, bytes, MADV_HUGEPAGE);
    float *s = (float *)(sb + 64), *d = (float *)(db + 64);
    for (size_t i = 0; i < (size_t)W * H; i++) s[i] = (float)(i % 77), d[i] = 0;
    printf("memcpy %.2f ms, phased ring %.2f ms, fused 2 rows, late stores %.2f ms\n",
           median_ms(copy, d, s), median_ms(phased, d, s), median_ms(fused, d, s));
    return 0;
}
