// A 15-tap symmetric row filter (gaussian sigma 3) over a 4096 x 4096 f32
// image into one cache-resident row, AVX-512, the way conv!'s horizontal pass
// run first computes it: one output vector per step, pairs summed before their
// multiply. The variants differ only in how the step gets its 15 shifted input
// vectors: all loaded (nearly all across two cache lines), or some made in
// registers from the step's first vector and the next one (valignd). See
// README.md.
//
//   gcc -O2 -mavx512f -mfma horizontal_shifts.c -o horizontal_shifts && ./horizontal_shifts
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define W 4096
#define H 4096
#define PITCH (W + 16)

static float ring[W + 64] __attribute__((aligned(4096)));
static const float K[8] = {0.008846952f, 0.018215906f, 0.033562396f, 0.055335034f,
                           0.08163802f,  0.10777793f,  0.12732458f,  0.13459834f};

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// Offsets in `joined` (a bit mask) come from registers, the others from loads.
#define TAP(c)                                                                          \
    ((c) == 0 ? A                                                                       \
     : (joined >> (c)) & 1                                                              \
         ? _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(B),             \
                                                   _mm512_castps_si512(A), (c) & 15))  \
         : _mm512_loadu_ps(p + (c)))

static inline __attribute__((always_inline)) void row(float *d, const float *r, unsigned joined) {
    for (int x = 0; x + 16 <= W - 16; x += 16) {
        const float *p = r + x;
        _mm_prefetch((const char *)(p + 512), _MM_HINT_T0);
        __m512 A = _mm512_loadu_ps(p), B = _mm512_loadu_ps(p + 16);
        __m512 a0 = _mm512_mul_ps(_mm512_add_ps(TAP(0), TAP(14)), _mm512_set1_ps(K[0]));
        __m512 a1 = _mm512_mul_ps(_mm512_add_ps(TAP(1), TAP(13)), _mm512_set1_ps(K[1]));
        a0 = _mm512_fmadd_ps(_mm512_add_ps(TAP(2), TAP(12)), _mm512_set1_ps(K[2]), a0);
        a1 = _mm512_fmadd_ps(_mm512_add_ps(TAP(3), TAP(11)), _mm512_set1_ps(K[3]), a1);
        a0 = _mm512_fmadd_ps(_mm512_add_ps(TAP(4), TAP(10)), _mm512_set1_ps(K[4]), a0);
        a1 = _mm512_fmadd_ps(_mm512_add_ps(TAP(5), TAP(9)), _mm512_set1_ps(K[5]), a1);
        a0 = _mm512_fmadd_ps(_mm512_add_ps(TAP(6), TAP(8)), _mm512_set1_ps(K[6]), a0);
        a1 = _mm512_fmadd_ps(TAP(7), _mm512_set1_ps(K[7]), a1);
        _mm512_store_ps(d + x, _mm512_add_ps(a0, a1));
    }
}

// One function per mask, so that every TAP folds to a load or a valignd.
#define VARIANT(name, mask)                                                  \
    static void name(const float *s) {                                       \
        for (int y = 0; y < H; y++) row(ring, s + (size_t)y * PITCH, mask); \
    }
VARIANT(loads, 0)
VARIANT(joined_all, 0x7ffe)
VARIANT(joined_odd, 0x2aaa)
VARIANT(joined_six, (1 << 1) | (1 << 3) | (1 << 6) | (1 << 9) | (1 << 12) | (1 << 14))
VARIANT(joined_five, (1 << 2) | (1 << 5) | (1 << 8) | (1 << 11) | (1 << 14))

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_ms(void (*f)(const float *), const float *s) {
    double t[11];
    for (int r = 0; r < 11; r++) {
        double a = now_ms();
        f(s);
        t[r] = now_ms() - a;
    }
    qsort(t, 11, sizeof t[0], cmp);
    return t[5];
}

int main(void) {
    size_t bytes = (size_t)PITCH * H * 4 + 4096;
    char *sb = aligned_alloc(2 << 20, bytes);
    madvise(sb, bytes, MADV_HUGEPAGE);
    float *s = (float *)(sb + 64);
    for (size_t i = 0; i < (size_t)PITCH * H; i++) s[i] = (float)(i % 77);
    printf("15 loads %.2f ms, 14 joined %.2f, odd offsets joined (7) %.2f, 6 joined %.2f, 5 joined %.2f\n",
           median_ms(loads, s), median_ms(joined_all, s), median_ms(joined_odd, s),
           median_ms(joined_six, s), median_ms(joined_five, s));
    return 0;
}
