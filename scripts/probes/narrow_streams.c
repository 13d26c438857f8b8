// Writing a 4096 x 4096 f32 image R rows at a time (1, 2, 4, 8), each step
// adding 1 to one 32-byte AVX2 vector of each row, as conv!'s steps store into
// a call's rows in turn:
//   interleaved  one 32-byte streaming store per row and step (each row's line
//                stays half written while the other rows are stored)
//   paired       two 32-byte streaming stores per row and step (whole lines)
//   plain        one plain store per row and step
// and glibc's memcpy as the floor. The input's rows are PAD floats longer than
// the output's (default 48, as conv!'s ring is laid out; 0 puts every input row
// at its output row's offset modulo 4 KiB). See README.md.
//
//   gcc -O2 -mavx2 narrow_streams.c -o narrow_streams && ./narrow_streams [PAD]
#define _GNU_SOURCE
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define N 4096
static size_t in_pitch = N + 48;

static float *alloc_image(size_t floats) {
    size_t bytes = (floats * 4 + (2 << 20) - 1) / (2 << 20) * (2 << 20);
    float *p = aligned_alloc(2 << 20, bytes);
    madvise(p, bytes, MADV_HUGEPAGE);
    memset(p, 0, bytes);
    return p;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static __m256 step(const float *in, int y, int x) {
    return _mm256_add_ps(_mm256_loadu_ps(in + (size_t)y * in_pitch + x), _mm256_set1_ps(1));
}

static void interleaved(const float *in, float *out, int rows) {
    for (int y = 0; y < N; y += rows)
        for (int x = 0; x < N; x += 8)
            for (int j = 0; j < rows; j++)
                _mm256_stream_ps(out + (size_t)(y + j) * N + x, step(in, y + j, x));
    _mm_sfence();
}

static void paired(const float *in, float *out, int rows) {
    for (int y = 0; y < N; y += rows)
        for (int x = 0; x < N; x += 16)
            for (int j = 0; j < rows; j++) {
                __m256 a = step(in, y + j, x), b = step(in, y + j, x + 8);
                _mm256_stream_ps(out + (size_t)(y + j) * N + x, a);
                _mm256_stream_ps(out + (size_t)(y + j) * N + x + 8, b);
            }
    _mm_sfence();
}

static void plain(const float *in, float *out, int rows) {
    for (int y = 0; y < N; y += rows)
        for (int x = 0; x < N; x += 8)
            for (int j = 0; j < rows; j++)
                _mm256_storeu_ps(out + (size_t)(y + j) * N + x, step(in, y + j, x));
}

int main(int argc, char **argv) {
    if (argc > 1)
        in_pitch = N + (size_t)atoi(argv[1]);
    float *in = alloc_image(in_pitch * N), *out = alloc_image((size_t)N * N);
    for (size_t i = 0; i < in_pitch * N; i++)
        in[i] = (float)(i % 7);
    double t[11];
    for (int k = 0; k < 11; k++) {
        double s = now_ms();
        memcpy(out, in, (size_t)N * N * 4);
        t[k] = now_ms() - s;
    }
    qsort(t, 11, sizeof t[0], by_value);
    printf("input pitch %zu floats; memcpy %.2f ms\n", in_pitch, t[5]);
    const char *names[] = {"interleaved", "paired", "plain"};
    void (*ways[])(const float *, float *, int) = {interleaved, paired, plain};
    for (int w = 0; w < 3; w++)
        for (int rows = 1; rows <= 8; rows *= 2) {
            for (int k = 0; k < 11; k++) {
                double s = now_ms();
                ways[w](in, out, rows);
                t[k] = now_ms() - s;
            }
            qsort(t, 11, sizeof t[0], by_value);
            printf("%-11s %d row(s): %.2f ms\n", names[w], rows, t[5]);
        }
    return 0;
}
