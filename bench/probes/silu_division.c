// What SiLU's division costs in a bias + SiLU sweep like the engine's (AVX-512, one thread, 512 x 64
// values in L2): z/(1 + e^(-z)) with a division, with rcp14 and one Newton correction in its place,
// and with the division replaced by a multiply (wrong values: the cost of everything else).
// BENCHMARKS.md, eighth session.
//   gcc -O3 -march=sapphirerapids bench/probes/silu_division.c -o /tmp/silu_division
//   /tmp/silu_division 3.36 2.6     # core GHz, TSC GHz of the host
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <x86intrin.h>

#define N (512 * 64)
static float z[N] __attribute__((aligned(64))), out[N] __attribute__((aligned(64))),
    first[N] __attribute__((aligned(64)));
static float bias[64];

static inline __m512 exp_cephes(__m512 x) {  // the engine's `exp_in_range`
    const __m512 round = _mm512_set1_ps(12582912.0f);
    __m512 shifted = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504f), round);
    __m512 n = _mm512_sub_ps(shifted, round);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f),
                                _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x));
    __m512 p = _mm512_set1_ps(1.9875691e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    __m512 er = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    return _mm512_castsi512_ps(
        _mm512_add_epi32(_mm512_castps_si512(er), _mm512_slli_epi32(_mm512_castps_si512(shifted), 23)));
}
// x = z + b and d = 1 + e^(-x), the clamps as the engine's (-x within [-87, 80]).
#define PROLOGUE                                                                                  \
    __m512 x = _mm512_add_ps(_mm512_load_ps(z + i), _mm512_loadu_ps(bias + (i & 63)));            \
    __m512 c = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-80.f)), _mm512_set1_ps(87.f));      \
    __m512 d = _mm512_add_ps(exp_cephes(_mm512_sub_ps(_mm512_setzero_ps(), c)), _mm512_set1_ps(1.f));

__attribute__((noinline)) void with_division(void) {
    for (int i = 0; i < N; i += 16) {
        PROLOGUE
        _mm512_store_ps(out + i, _mm512_div_ps(x, d));
    }
}
__attribute__((noinline)) void with_reciprocal(void) {
    for (int i = 0; i < N; i += 16) {
        PROLOGUE
        __m512 y = _mm512_rcp14_ps(d);
        __m512 q = _mm512_mul_ps(x, y);
        _mm512_store_ps(out + i, _mm512_fmadd_ps(_mm512_fnmadd_ps(d, q, x), y, q));
    }
}
__attribute__((noinline)) void without_division(void) {
    for (int i = 0; i < N; i += 16) {
        PROLOGUE
        _mm512_store_ps(out + i, _mm512_mul_ps(x, d));
    }
}
int main(int argc, char **argv) {
    double core = argc > 2 ? atof(argv[1]) : 1, tsc = argc > 2 ? atof(argv[2]) : 1;
    for (int i = 0; i < 64; i++) bias[i] = 0.01f * i;
    for (int i = 0; i < N; i++) z[i] = ((i * 7919) % 601) / 60.0f - 5.0f;
    with_division();
    for (int i = 0; i < N; i++) first[i] = out[i];
    with_reciprocal();
    int differ = 0;
    for (int i = 0; i < N; i++) differ += first[i] != out[i];
    double per_vector = 200.0 * N / 16 * tsc / core;
    for (int rep = 0; rep < 3; rep++) {
        unsigned long long t0 = __rdtsc();
        for (int k = 0; k < 200; k++) with_division();
        unsigned long long t1 = __rdtsc();
        for (int k = 0; k < 200; k++) with_reciprocal();
        unsigned long long t2 = __rdtsc();
        for (int k = 0; k < 200; k++) without_division();
        unsigned long long t3 = __rdtsc();
        printf("core cycles per 16-lane vector: division %.2f, rcp14 + Newton %.2f, no division %.2f\n",
               (t1 - t0) / per_vector, (t2 - t1) / per_vector, (t3 - t2) / per_vector);
    }
    printf("rcp14 + Newton differs from the division in %d of %d values\n", differ, N);
    return 0;
}
