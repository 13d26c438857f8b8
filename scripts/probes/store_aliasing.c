// Sobel x, 2 output rows per step, AVX-512 streaming stores, 4096 x 4096 f32:
// the output at several offsets (modulo 4 KiB) from the input, with the stores
// right after each step's loads ("now") and one step late ("late", what conv!'s
// light direct passes do). See README.md.
//
//   gcc -O2 -mavx512f store_aliasing.c -o store_aliasing && ./store_aliasing
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define W 4096
#define H 4096
#define X0 28 /* first column: output + 4 * X0 is 64-byte aligned at the offsets below */

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static inline __m512 sobel(const float *r0) {
    const float *r1 = r0 + W, *r2 = r1 + W;
    __m512 a = _mm512_sub_ps(_mm512_loadu_ps(r0 + 1), _mm512_loadu_ps(r0 - 1));
    __m512 b = _mm512_sub_ps(_mm512_loadu_ps(r2 + 1), _mm512_loadu_ps(r2 - 1));
    __m512 c = _mm512_sub_ps(_mm512_loadu_ps(r1 + 1), _mm512_loadu_ps(r1 - 1));
    return _mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, c));
}

static void store_now(float *d, const float *s) {
    for (int y = 1; y < H - 3; y += 2)
        for (int x = X0; x < W - 16; x += 16)
            for (int k = 0; k < 2; k++)
                _mm512_stream_ps(d + (y + k) * W + x, sobel(s + (y + k - 1) * W + x));
}

static void store_late(float *d, const float *s) {
    for (int y = 1; y < H - 3; y += 2) {
        __m512 a0 = sobel(s + (y - 1) * W + X0), a1 = sobel(s + y * W + X0);
        int x = X0;
        for (; x + 16 < W - 16; x += 16) {
            __m512 b0 = sobel(s + (y - 1) * W + x + 16), b1 = sobel(s + y * W + x + 16);
            __asm__ volatile("" ::: "memory"); /* the next step's loads stay first */
            _mm512_stream_ps(d + y * W + x, a0);
            _mm512_stream_ps(d + (y + 1) * W + x, a1);
            a0 = b0;
            a1 = b1;
        }
        _mm512_stream_ps(d + y * W + x, a0);
        _mm512_stream_ps(d + (y + 1) * W + x, a1);
    }
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

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
    float *s = (float *)(sb + 16); /* malloc's offset for large blocks */
    for (size_t i = 0; i < (size_t)W * H; i++) s[i] = (float)(i % 77);
    int offsets[] = {16, 1040, 2064}; /* output at the input's offset, 1 KiB on, 2 KiB on */
    for (int k = 0; k < 3; k++) {
        float *d = (float *)(db + offsets[k]);
        for (size_t i = 0; i < (size_t)W * H; i++) d[i] = 0;
        printf("output %4d bytes past 4 KiB (input: 16): now %.2f ms, late %.2f ms\n",
               offsets[k], median_ms(store_now, d, s), median_ms(store_late, d, s));
    }
    return 0;
}
