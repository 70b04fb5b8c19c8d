// A 64 -> 64 layer product in f32 two ways, one thread: the AMX tile unit on three-way bfloat16
// splits of both operands (six TDPBF16PS products per k-block), against a 6 x 4 register-tiled
// AVX-512 kernel; error of each against the f64 product. BENCHMARKS.md, eighth session.
//   gcc -O3 -march=sapphirerapids bench/probes/amx_tile_product.c -o /tmp/amx_tile_product -lm
//   for r in 64 256 1024 5008; do /tmp/amx_tile_product $r; done
// Cycles are time-stamp-counter cycles (2.6 GHz on the eighth session's host; cores ran at 3.36).
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>

#define MAX_ROWS 5008
typedef struct {
    uint8_t palette, start, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed)) tile_config;
static float A[MAX_ROWS * 64] __attribute__((aligned(64)));
static float W[64 * 64] __attribute__((aligned(64)));
static float C_amx[MAX_ROWS * 64] __attribute__((aligned(64)));
static float C_f32[MAX_ROWS * 64] __attribute__((aligned(64)));
static uint16_t A_pieces[3][MAX_ROWS * 64] __attribute__((aligned(64)));
static uint16_t W_pieces[3][2][4][16 * 32] __attribute__((aligned(64)));  // piece, k-half, n-group

static uint16_t to_bf16(float x) {  // round to nearest even
    uint32_t u;
    memcpy(&u, &x, 4);
    return (u + 0x7fff + ((u >> 16) & 1)) >> 16;
}
static float from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}
static void split_weights(void) {  // pair-interleaved B tiles
    for (int k = 0; k < 64; k++)
        for (int n = 0; n < 64; n++) {
            float x = W[k * 64 + n];
            for (int p = 0; p < 3; p++) {
                uint16_t h = to_bf16(x);
                x -= from_bf16(h);
                W_pieces[p][k / 32][n / 16][((k % 32) / 2) * 32 + (n % 16) * 2 + (k % 2)] = h;
            }
        }
}
static void split_activations(int rows) {
    for (int i = 0; i < rows * 64; i++) {
        float x = A[i];
        for (int p = 0; p < 3; p++) {
            A_pieces[p][i] = to_bf16(x);
            x -= from_bf16(A_pieces[p][i]);
        }
    }
}
static void amx_product(int rows) {  // rows a multiple of 16; terms a_i w_j with i + j <= 2
    for (int r = 0; r < rows; r += 16) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int kt = 0; kt < 2; kt++)
            for (int pa = 0; pa < 3; pa++) {
                _tile_loadd(4, A_pieces[pa] + r * 64 + kt * 32, 128);
                for (int pb = 0; pb + pa < 3; pb++) {
                    _tile_loadd(5, W_pieces[pb][kt][0], 64);
                    _tile_dpbf16ps(0, 4, 5);
                    _tile_loadd(6, W_pieces[pb][kt][1], 64);
                    _tile_dpbf16ps(1, 4, 6);
                    _tile_loadd(7, W_pieces[pb][kt][2], 64);
                    _tile_dpbf16ps(2, 4, 7);
                    _tile_loadd(5, W_pieces[pb][kt][3], 64);
                    _tile_dpbf16ps(3, 4, 5);
                }
            }
        _tile_stored(0, C_amx + r * 64, 256);
        _tile_stored(1, C_amx + r * 64 + 16, 256);
        _tile_stored(2, C_amx + r * 64 + 32, 256);
        _tile_stored(3, C_amx + r * 64 + 48, 256);
    }
}
static void f32_product(int rows) {  // 6 rows x 4 vectors of accumulators, FMA chain over k
    for (int r = 0; r < rows; r += 6) {
        int m = rows - r < 6 ? rows - r : 6;
        __m512 acc[6][4];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
        for (int k = 0; k < 64; k++) {
            __m512 w[4];
            for (int j = 0; j < 4; j++) w[j] = _mm512_load_ps(W + k * 64 + 16 * j);
            for (int i = 0; i < m; i++) {
                __m512 a = _mm512_set1_ps(A[(r + i) * 64 + k]);
                for (int j = 0; j < 4; j++) acc[i][j] = _mm512_fmadd_ps(a, w[j], acc[i][j]);
            }
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < 4; j++) _mm512_store_ps(C_f32 + (r + i) * 64 + 16 * j, acc[i][j]);
    }
}
int main(int argc, char **argv) {
    int rows = argc > 1 ? atoi(argv[1]) : 512;
    if (rows < 16 || rows > MAX_ROWS || rows % 16) {
        fprintf(stderr, "rows: a multiple of 16 in [16, %d]\n", MAX_ROWS);
        return 1;
    }
    if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */)) {
        fprintf(stderr, "the kernel refused AMX tile data\n");
        return 1;
    }
    tile_config config = {.palette = 1};
    for (int t = 0; t < 8; t++) config.rows[t] = 16, config.colsb[t] = 64;
    _tile_loadconfig(&config);
    srand(1);
    for (int i = 0; i < rows * 64; i++) A[i] = (rand() / (float)RAND_MAX - 0.5f) * 3;
    for (int i = 0; i < 64 * 64; i++) W[i] = (rand() / (float)RAND_MAX - 0.5f) * 0.3f;
    split_weights();
    split_activations(rows);
    amx_product(rows);
    f32_product(rows);
    double err_amx = 0, err_f32 = 0, largest = 0;
    for (int r = 0; r < rows; r++)
        for (int n = 0; n < 64; n++) {
            double s = 0;
            for (int k = 0; k < 64; k++) s += (double)A[r * 64 + k] * W[k * 64 + n];
            err_amx = fmax(err_amx, fabs(C_amx[r * 64 + n] - s));
            err_f32 = fmax(err_f32, fabs(C_f32[r * 64 + n] - s));
            largest = fmax(largest, fabs(s));
        }
    unsigned long long t0 = __rdtsc();
    for (int i = 0; i < 100; i++) amx_product(rows);
    unsigned long long t1 = __rdtsc();
    for (int i = 0; i < 100; i++) f32_product(rows);
    unsigned long long t2 = __rdtsc();
    printf("rows %d: max |product| %.3g, max error: tiles %.3g, f32 %.3g; TSC cycles per 16 rows: "
           "tiles %.0f, f32 %.0f\n",
           rows, largest, err_amx, err_f32, (t1 - t0) / 100.0 / (rows / 16),
           (t2 - t1) / 100.0 / (rows / 16));
    return 0;
}
