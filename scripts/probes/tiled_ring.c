// Gaussian 15x15 (sigma 3), horizontal pass first, 4096 x 4096 f32, AVX-512,
// 8 output rows per call from a window of 22 filtered rows, as conv! runs it:
// the ring of filtered rows laid out as rows (22 slots 16 KiB + 192 bytes
// apart, a window handed over as 22 row pointers, which the vertical pass
// cannot keep in registers) against a tiled ring (24 slots; per block of 16
// columns the slots' vectors lie 64 bytes apart, so the vertical pass reads
// its 22 vectors at constant displacements from one pointer, walking the ring
// in one sequential stream; one loop per phase of the window in the ring).
// The horizontal pass is the same in both (the odd offsets shifted in
// registers); only where it stores differs. memcpy beside them, convc bench's
// floor. See README.md. -O3: at -O2 gcc keeps the vertical pass's output rows
// in a loop over a stack copy of the window's vectors.
//
//   gcc -O3 -mavx512f -mfma tiled_ring.c -o tiled_ring && ./tiled_ring
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define W 4096
#define H 4096
#define PITCH (W + 64) /* image rows; x from 16 to W - 32 keeps every load inside */
#define SPAN 22        /* window rows of a call */
#define ROWS 8         /* output rows of a call */
#define RING_PITCH (W + 48)
#define TILE_SLOTS 24
#define BLOCKS (W / 16)

static const float K[8] = {0.008846952f, 0.018215906f, 0.033562396f, 0.055335034f,
                           0.08163802f,  0.10777793f,  0.12732458f,  0.13459834f};

static float *ring_rows; /* SPAN slots of RING_PITCH floats */
static float *ring_tiles; /* BLOCKS blocks of TILE_SLOTS x 16 floats */

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void *huge(size_t bytes) {
    char *p = aligned_alloc(2 << 20, (bytes + (2 << 20) - 1) / (2 << 20) * (2 << 20));
    madvise(p, bytes, MADV_HUGEPAGE);
    memset(p, 0, bytes);
    return p;
}

#define ODD(c) _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(B), _mm512_castps_si512(A), (c)))

/* One 16-column vector of the horizontal pass at image column x (x - 7 .. x + 22 read). */
static inline __attribute__((always_inline)) __m512 horizontal(const float *r) {
    const float *p = r - 7;
    __m512 A = _mm512_loadu_ps(p), B = _mm512_loadu_ps(p + 16);
    __m512 a0 = _mm512_mul_ps(_mm512_add_ps(A, _mm512_loadu_ps(p + 14)), _mm512_set1_ps(K[0]));
    __m512 a1 = _mm512_mul_ps(_mm512_add_ps(ODD(1), ODD(13)), _mm512_set1_ps(K[1]));
    a0 = _mm512_fmadd_ps(_mm512_add_ps(_mm512_loadu_ps(p + 2), _mm512_loadu_ps(p + 12)), _mm512_set1_ps(K[2]), a0);
    a1 = _mm512_fmadd_ps(_mm512_add_ps(ODD(3), ODD(11)), _mm512_set1_ps(K[3]), a1);
    a0 = _mm512_fmadd_ps(_mm512_add_ps(_mm512_loadu_ps(p + 4), _mm512_loadu_ps(p + 10)), _mm512_set1_ps(K[4]), a0);
    a1 = _mm512_fmadd_ps(_mm512_add_ps(ODD(5), ODD(9)), _mm512_set1_ps(K[5]), a1);
    a0 = _mm512_fmadd_ps(_mm512_add_ps(_mm512_loadu_ps(p + 6), _mm512_loadu_ps(p + 8)), _mm512_set1_ps(K[6]), a0);
    a1 = _mm512_fmadd_ps(ODD(7), _mm512_set1_ps(K[7]), a1);
    return _mm512_add_ps(a0, a1);
}

/* Output row j of a call from the window's vectors v[0..22). */
#define VERTICAL(v, j)                                                                         \
    _mm512_add_ps(                                                                             \
        _mm512_fmadd_ps(_mm512_add_ps(v[j + 4], v[j + 10]), _mm512_set1_ps(K[4]),              \
                        _mm512_fmadd_ps(_mm512_add_ps(v[j + 2], v[j + 12]), _mm512_set1_ps(K[2]), \
                                        _mm512_fmadd_ps(_mm512_add_ps(v[j + 6], v[j + 8]),      \
                                                        _mm512_set1_ps(K[6]),                   \
                                                        _mm512_mul_ps(_mm512_add_ps(v[j], v[j + 14]), \
                                                                      _mm512_set1_ps(K[0]))))), \
        _mm512_fmadd_ps(_mm512_add_ps(v[j + 5], v[j + 9]), _mm512_set1_ps(K[5]),               \
                        _mm512_fmadd_ps(_mm512_add_ps(v[j + 3], v[j + 11]), _mm512_set1_ps(K[3]), \
                                        _mm512_fmadd_ps(v[j + 7], _mm512_set1_ps(K[7]),          \
                                                        _mm512_mul_ps(_mm512_add_ps(v[j + 1], v[j + 13]), \
                                                                      _mm512_set1_ps(K[1]))))))

static float *row_slot(int p) { return ring_rows + (size_t)(p % SPAN) * RING_PITCH; }

static void horizontal_rows(const float *img, int p) {
    float *d = row_slot(p);
    const float *r = img + (size_t)p * PITCH;
    for (int x = 16; x <= W - 32; x += 16) {
        _mm_prefetch((const char *)(r + x + 512), _MM_HINT_T0);
        _mm512_store_ps(d + x, horizontal(r + x));
    }
}

static void horizontal_tiles(const float *img, int p) {
    float *d = ring_tiles + (p % TILE_SLOTS) * 16;
    const float *r = img + (size_t)p * PITCH;
    for (int x = 16; x <= W - 32; x += 16) {
        _mm_prefetch((const char *)(r + x + 512), _MM_HINT_T0);
        _mm512_store_ps(d + (size_t)(x / 16) * TILE_SLOTS * 16, horizontal(r + x));
    }
}

static void vertical_rows(float *out, int y) {
    const float *rows[SPAN];
    for (int t = 0; t < SPAN; t++) rows[t] = row_slot(y + t);
    for (int x = 16; x <= W - 32; x += 16) {
        __m512 v[SPAN];
        for (int t = 0; t < SPAN; t++) v[t] = _mm512_load_ps(rows[t] + x);
        for (int j = 0; j < ROWS; j++) _mm512_stream_ps(out + (size_t)(y + j) * W + x, VERTICAL(v, j));
    }
}

/* The window's row t sits in slot (PHASE + t) % 24 of every block. */
static inline __attribute__((always_inline)) void vertical_tiles_at(float *out, int y, int phase) {
    for (int x = 16; x <= W - 32; x += 16) {
        const float *b = ring_tiles + (size_t)(x / 16) * TILE_SLOTS * 16;
        __m512 v[SPAN];
        for (int t = 0; t < SPAN; t++) v[t] = _mm512_load_ps(b + ((phase + t) % TILE_SLOTS) * 16);
        for (int j = 0; j < ROWS; j++) _mm512_stream_ps(out + (size_t)(y + j) * W + x, VERTICAL(v, j));
    }
}

static void vertical_tiles(float *out, int y) {
    switch (y % TILE_SLOTS) {
    case 0: vertical_tiles_at(out, y, 0); break;
    case 8: vertical_tiles_at(out, y, 8); break;
    default: vertical_tiles_at(out, y, 16); break;
    }
}

typedef void (*Horizontal)(const float *, int);
typedef void (*Vertical)(float *, int);

static void filter(float *out, const float *img, Horizontal h, Vertical v) {
    for (int p = 0; p < SPAN - ROWS; p++) h(img, p);
    for (int y = 0; y + SPAN <= H; y += ROWS) {
        for (int p = y + SPAN - ROWS; p < y + SPAN; p++) h(img, p);
        v(out, y);
    }
    _mm_sfence();
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    float *img = huge((size_t)PITCH * H * 4);
    float *out = huge((size_t)W * H * 4);
    float *check = huge((size_t)W * H * 4);
    float *copy = huge((size_t)W * H * 4);
    ring_rows = huge((size_t)SPAN * RING_PITCH * 4);
    ring_tiles = huge((size_t)BLOCKS * TILE_SLOTS * 16 * 4);
    for (size_t i = 0; i < (size_t)PITCH * H; i++) img[i] = (float)(i % 77);
    filter(check, img, horizontal_rows, vertical_rows);
    filter(out, img, horizontal_tiles, vertical_tiles);
    if (memcmp(out, check, (size_t)W * H * 4) != 0) {
        printf("tiled ring differs from the ring of rows\n");
        return 1;
    }
    double t[3][11];
    for (int r = 0; r < 11; r++) {
        double a = now_ms();
        memcpy(copy, img, (size_t)W * H * 4);
        t[0][r] = now_ms() - a;
        a = now_ms();
        filter(out, img, horizontal_rows, vertical_rows);
        t[1][r] = now_ms() - a;
        a = now_ms();
        filter(out, img, horizontal_tiles, vertical_tiles);
        t[2][r] = now_ms() - a;
    }
    for (int k = 0; k < 3; k++) qsort(t[k], 11, sizeof t[k][0], cmp);
    printf("memcpy %.2f ms, ring of rows %.2f, tiled ring %.2f\n", t[0][5], t[1][5], t[2][5]);
    return 0;
}
