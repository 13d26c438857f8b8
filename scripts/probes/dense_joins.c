// A dense 7x7 filter ('valid', f32) the way conv!'s AVX2 variant computes
// it: per step 4 output rows x 2 vectors of 8 columns, 8 accumulators, each
// input vector shared by the output rows that read it and each broadcast
// coefficient by the two vectors. The input vectors of a row are either all
// loaded (14 per row, most across two cache lines) or joined in registers
// (vperm2f128 + vpalignr) from 4 loads per row. Both give the same bits
// (checked). Prints nanoseconds per step of 64 output pixels, the median of 11
// alternating runs, for an image in L2 and two wide ones. See README.md.
//
//   gcc -O3 -mavx2 -mfma dense_joins.c -o dense_joins && ./dense_joins
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float K[7][7];

// The vector d floats into lo (d = 0..8), hi the vector after lo.
static inline __attribute__((always_inline)) __m256 join(__m256 lo, __m256 hi, int d) {
    __m256i l = _mm256_castps_si256(lo), h = _mm256_castps_si256(hi);
    __m256i m = _mm256_permute2x128_si256(l, h, 0x21);
    switch (d) {
    case 0: return lo;
    case 1: return _mm256_castsi256_ps(_mm256_alignr_epi8(m, l, 4));
    case 2: return _mm256_castsi256_ps(_mm256_alignr_epi8(m, l, 8));
    case 3: return _mm256_castsi256_ps(_mm256_alignr_epi8(m, l, 12));
    case 4: return _mm256_castsi256_ps(m);
    case 5: return _mm256_castsi256_ps(_mm256_alignr_epi8(h, m, 4));
    case 6: return _mm256_castsi256_ps(_mm256_alignr_epi8(h, m, 8));
    case 7: return _mm256_castsi256_ps(_mm256_alignr_epi8(h, m, 12));
    default: return hi;
    }
}

// One step: output rows y..y+3, columns i..i+15, from input rows y..y+9.
// ROW runs once per input row (r points at its column i), X makes x0 and x1,
// the vectors at column offset c of the step's two output vectors.
#define STEP(ROW, X)                                                          \
    __m256 a[4][2];                                                           \
    for (int j = 0; j < 4; j++) a[j][0] = a[j][1] = _mm256_setzero_ps();      \
    _Pragma("GCC unroll 10") for (int t = 0; t < 10; t++) {                   \
        const float *r = in + (size_t)(y + t) * w + i;                        \
        ROW                                                                   \
        _Pragma("GCC unroll 7") for (int c = 0; c < 7; c++) {                 \
            X                                                                 \
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {             \
                int ky = t - j;                                               \
                if (ky < 0 || ky > 6) continue;                               \
                __m256 k = _mm256_set1_ps(K[ky][c]);                          \
                a[j][0] = _mm256_fmadd_ps(x0, k, a[j][0]);                    \
                a[j][1] = _mm256_fmadd_ps(x1, k, a[j][1]);                    \
            }                                                                 \
        }                                                                     \
    }                                                                         \
    for (int j = 0; j < 4; j++) {                                             \
        _mm256_storeu_ps(out + (size_t)(y + j) * ow + i, a[j][0]);            \
        _mm256_storeu_ps(out + (size_t)(y + j) * ow + i + 8, a[j][1]);        \
    }

#define LOADS_ROW
#define LOADS_X __m256 x0 = _mm256_loadu_ps(r + c), x1 = _mm256_loadu_ps(r + 8 + c);
// Vectors at offsets 0, 8, 6 and 14: offsets 1-7 join the first two, 9-13
// the last two (a load at 16 would run past the 22 columns a row reads).
#define JOINS_ROW                                                             \
    __m256 l0 = _mm256_loadu_ps(r), l8 = _mm256_loadu_ps(r + 8);              \
    __m256 l6 = _mm256_loadu_ps(r + 6), l14 = _mm256_loadu_ps(r + 14);
#define JOINS_X __m256 x0 = join(l0, l8, c), x1 = c == 0 ? l8 : join(l6, l14, c + 2);

__attribute__((noinline)) static void run_loads(const float *in, float *out, int w, int h) {
    int ow = w - 6, oh = h - 6;
    for (int y = 0; y + 4 <= oh; y += 4)
        for (int i = 0; i + 16 <= ow; i += 16) {
            STEP(LOADS_ROW, LOADS_X)
        }
}

__attribute__((noinline)) static void run_joins(const float *in, float *out, int w, int h) {
    int ow = w - 6, oh = h - 6;
    for (int y = 0; y + 4 <= oh; y += 4)
        for (int i = 0; i + 16 <= ow; i += 16) {
            STEP(JOINS_ROW, JOINS_X)
        }
}

static double median(double *t, int n) {
    qsort(t, n, sizeof *t, cmp);
    return t[n / 2];
}

static void run(int w, int h) {
    float *in = aligned_alloc(64, (size_t)w * h * 4 + 64);
    float *o1 = aligned_alloc(64, (size_t)w * h * 4), *o2 = aligned_alloc(64, (size_t)w * h * 4);
    for (size_t k = 0; k < (size_t)w * h; k++) in[k] = (float)(k % 251) * 0.01f;
    memset(o1, 0, (size_t)w * h * 4);
    memset(o2, 0, (size_t)w * h * 4);
    run_loads(in, o1, w, h);
    run_joins(in, o2, w, h);
    if (memcmp(o1, o2, (size_t)(w - 6) * (h - 6) * 4)) {
        printf("%dx%d: the two ways differ\n", w, h);
        exit(1);
    }
    double px = (double)((w - 6) / 16 * 16) * ((h - 6) / 4 * 4);
    int reps = (int)(1e8 / px);
    if (reps < 1) reps = 1;
    double tl[11], tj[11];
    for (int r = 0; r < 11; r++) {
        double t = now();
        for (int k = 0; k < reps; k++) run_loads(in, o1, w, h);
        tl[r] = (now() - t) / reps;
        t = now();
        for (int k = 0; k < reps; k++) run_joins(in, o2, w, h);
        tj[r] = (now() - t) / reps;
    }
    printf("%5dx%-5d loads %6.1f ns per 64 px, joins %6.1f\n", w, h,
           median(tl, 11) * 1e9 / px * 64, median(tj, 11) * 1e9 / px * 64);
    free(in);
    free(o1);
    free(o2);
}

int main(void) {
    for (int a = 0; a < 7; a++)
        for (int b = 0; b < 7; b++) K[a][b] = (float)((a * 7 + b) % 13) / 13.0f - 0.4f;
    run(262, 70);
    run(1030, 262);
    run(4102, 1030);
    return 0;
}
