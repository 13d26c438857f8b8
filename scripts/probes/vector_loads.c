// Throughput of vector loads on the host, alone and beside multiply-adds, at
// 256 bits: whether a heavy AVX2 step is bound by its multiply-adds or by its
// loads (input vectors and broadcast coefficients). Each loop body is
// independent work repeated over one long loop; the rates are operations per
// nanosecond (loads alone, or multiply-adds where FMAs run). A load across
// two cache lines is measured apart. See README.md.
//
//   gcc -O2 -mavx2 -mfma vector_loads.c -o vector_loads && ./vector_loads
#include <stdio.h>
#include <time.h>

#define N 20000000L

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float buf[4096] __attribute__((aligned(64)));

#define CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", \
                 "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory"
// Multiply-add into accumulator a of ymm15 * ymm14, or of ymm15 * ymm<r>.
#define F(a) "vfmadd231ps %%ymm15, %%ymm14, %%ymm" #a "\n"
#define FR(a, r) "vfmadd231ps %%ymm15, %%ymm" #r ", %%ymm" #a "\n"
// The same with the other factor loaded from buf + o bytes.
#define FM(a, r, o) "vfmadd231ps " #o "(%0), %%ymm" #r ", %%ymm" #a "\n"
#define BCAST(r, o) "vbroadcastss " #o "(%0), %%ymm" #r "\n"
#define LOAD(r, o) "vmovups " #o "(%0), %%ymm" #r "\n"

#define RUN(name, ops, body)                                                        \
    do {                                                                            \
        double t = now();                                                           \
        for (long i = 0; i < N; i++) __asm__ volatile(body ::"r"(buf) : CLOBBERS);  \
        t = now() - t;                                                              \
        printf("%-44s %5.2f per ns\n", name, N * (double)(ops) / t / 1e9);          \
    } while (0)

int main(void) {
    for (int round = 0; round < 2; round++) {
        printf("round %d\n", round);
        RUN("loads: 8 x 32 B, inside a line", 8,
            LOAD(0, 4) LOAD(1, 68) LOAD(2, 132) LOAD(3, 196) LOAD(4, 260) LOAD(5, 324)
            LOAD(6, 388) LOAD(7, 452));
        RUN("loads: 8 x 32 B, across two lines", 8,
            LOAD(0, 36) LOAD(1, 100) LOAD(2, 164) LOAD(3, 228) LOAD(4, 292) LOAD(5, 356)
            LOAD(6, 420) LOAD(7, 484));
        RUN("loads: 8 broadcasts", 8,
            BCAST(0, 0) BCAST(1, 4) BCAST(2, 8) BCAST(3, 12) BCAST(4, 16) BCAST(5, 20)
            BCAST(6, 24) BCAST(7, 28));
        RUN("fma: 8 accumulators, registers only", 8,
            F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7));
        RUN("fma: a broadcast per fma", 8,
            BCAST(8, 0) FR(0, 8) BCAST(9, 4) FR(1, 9) BCAST(10, 8) FR(2, 10) BCAST(11, 12)
            FR(3, 11) BCAST(12, 16) FR(4, 12) BCAST(13, 20) FR(5, 13) BCAST(8, 24) FR(6, 8)
            BCAST(9, 28) FR(7, 9));
        RUN("fma: a broadcast per 2 fmas", 8,
            BCAST(8, 0) FR(0, 8) FR(1, 8) BCAST(9, 4) FR(2, 9) FR(3, 9) BCAST(10, 8)
            FR(4, 10) FR(5, 10) BCAST(11, 12) FR(6, 11) FR(7, 11));
        // conv!'s dense 7x7 block: 4 rows x 2 vectors share each input vector
        // and each broadcast.
        RUN("fma: a broadcast per 2, a load per 4 fmas", 8,
            LOAD(14, 64) BCAST(8, 0) FR(0, 8) FR(1, 8) BCAST(9, 4) FR(2, 9) FR(3, 9)
            LOAD(15, 96) BCAST(10, 8) FR(4, 10) FR(5, 10) BCAST(11, 12) FR(6, 11) FR(7, 11));
        RUN("fma: a broadcast per 2, a load per fma", 8,
            BCAST(8, 0) FM(0, 8, 64) FM(1, 8, 96) BCAST(9, 4) FM(2, 9, 128) FM(3, 9, 160)
            BCAST(10, 8) FM(4, 10, 192) FM(5, 10, 224) BCAST(11, 12) FM(6, 11, 256)
            FM(7, 11, 288));
    }
    return 0;
}
