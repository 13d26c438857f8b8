// Throughput of independent floating-point operations on the host: 10
// multiply-adds per iteration (10 accumulators, enough to hide their latency)
// alone and with 5 or 10 independent adds beside them, at 128, 256 and 512
// bits. Whether adds run beside multiply-adds decides whether folding a
// kernel's symmetric pairs ((a + b) * c) costs time, and how a pass's port
// model is drawn. Operations per nanosecond; divide by the clock (the first
// line) for operations per cycle. See README.md.
//
//   gcc -O2 -mavx512f -mfma fp_ports.c -o fp_ports && ./fp_ports
#include <stdio.h>
#include <time.h>

#define N 20000000L

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", \
                 "xmm10", "xmm11", "xmm12"
#define FMA(w, i) "vfmadd231ps %%" w "15, %%" w "14, %%" w #i "\n"
#define ADD(w, i) "vaddps %%" w "15, %%" w "14, %%" w #i "\n"
#define FMA10(w) FMA(w, 0) FMA(w, 1) FMA(w, 2) FMA(w, 3) FMA(w, 4) FMA(w, 5) FMA(w, 6) FMA(w, 7) FMA(w, 8) FMA(w, 9)
#define ADD5(w) ADD(w, 10) ADD(w, 11) ADD(w, 12) ADD(w, 10) ADD(w, 11)
#define ADD10(w) ADD5(w) ADD(w, 12) ADD(w, 10) ADD(w, 11) ADD(w, 12) ADD(w, 10)

#define RUN(name, ops, body)                                                  \
    do {                                                                      \
        double t = now();                                                     \
        for (long i = 0; i < N; i++) __asm__ volatile(body ::: CLOBBERS);     \
        t = now() - t;                                                        \
        printf("%-26s %5.2f per ns\n", name, N * (double)(ops) / t / 1e9);   \
    } while (0)

int main(void) {
    double t = now();
    long x = 0;
    for (long i = 0; i < N; i++) __asm__ volatile("add $1, %0\nadd $1, %0\nadd $1, %0\nadd $1, %0\n" : "+r"(x));
    t = now() - t;
    printf("clock ~ %.2f GHz (chains of dependent integer adds)\n", N * 4.0 / t / 1e9);
    __asm__ volatile("vxorps %%xmm15, %%xmm15, %%xmm15\nvxorps %%xmm14, %%xmm14, %%xmm14" ::: "xmm14", "xmm15");
    RUN("10 fma xmm", 10, FMA10("xmm"));
    RUN("10 fma + 5 add xmm", 15, FMA10("xmm") ADD5("xmm"));
    RUN("10 fma + 10 add xmm", 20, FMA10("xmm") ADD10("xmm"));
    RUN("10 add xmm", 10, ADD10("xmm"));
    RUN("10 fma ymm", 10, FMA10("ymm"));
    RUN("10 fma + 10 add ymm", 20, FMA10("ymm") ADD10("ymm"));
    RUN("10 fma zmm", 10, FMA10("zmm"));
    RUN("10 fma + 5 add zmm", 15, FMA10("zmm") ADD5("zmm"));
    RUN("10 fma + 10 add zmm", 20, FMA10("zmm") ADD10("zmm"));
    RUN("10 add zmm", 10, ADD10("zmm"));
    return 0;
}
