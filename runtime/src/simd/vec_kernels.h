// vec_kernels.h: SIMD kernel bodies, included once per ISA variant by
// vec_base.c and vec_avx2.c after they define KV(name) (the function name)
// and KV_FMA(a, b, c) (a * b + c, fused or not). 8 floats per vector, always
// unaligned loads, no alignment peeling: a result depends only on the
// inputs, never on where they sit in memory. Tails use plain scalar code,
// which -std=c11 compiles without contraction.
// NOLINTBEGIN(bugprone-*)
#include <math.h>

#include <simde/x86/avx2.h>
#include <simde/x86/fma.h>

#define VW 8

float
KV(dot)(const float *a, const float *b, size_t n)
{
    simde__m256 s0 = simde_mm256_setzero_ps();
    simde__m256 s1 = simde_mm256_setzero_ps();
    size_t i = 0;
    for (; i + 2 * VW <= n; i += 2 * VW) {
        s0 = KV_FMA(simde_mm256_loadu_ps(a + i), simde_mm256_loadu_ps(b + i),
                    s0);
        s1 = KV_FMA(simde_mm256_loadu_ps(a + i + VW),
                    simde_mm256_loadu_ps(b + i + VW), s1);
    }
    for (; i + VW <= n; i += VW) {
        s0 = KV_FMA(simde_mm256_loadu_ps(a + i), simde_mm256_loadu_ps(b + i),
                    s0);
    }
    float lane[VW];
    simde_mm256_storeu_ps(lane, simde_mm256_add_ps(s0, s1));
    float s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
              ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    for (; i < n; i++) {
        s += a[i] * b[i];
    }
    return s;
}

void
KV(axpy)(size_t n, float alpha, const float *x, float *y)
{
    simde__m256 va = simde_mm256_set1_ps(alpha);
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        simde_mm256_storeu_ps(y + i, KV_FMA(va, simde_mm256_loadu_ps(x + i),
                                            simde_mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++) {
        y[i] += alpha * x[i];
    }
}

double
KV(sumsq)(const float *x, size_t n)
{
    simde__m256d s0 = simde_mm256_setzero_pd();
    simde__m256d s1 = simde_mm256_setzero_pd();
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        simde__m256d lo = simde_mm256_cvtps_pd(simde_mm_loadu_ps(x + i));
        simde__m256d hi = simde_mm256_cvtps_pd(simde_mm_loadu_ps(x + i + 4));
        s0 = simde_mm256_add_pd(s0, simde_mm256_mul_pd(lo, lo));
        s1 = simde_mm256_add_pd(s1, simde_mm256_mul_pd(hi, hi));
    }
    double lane[4];
    simde_mm256_storeu_pd(lane, simde_mm256_add_pd(s0, s1));
    double s = (lane[0] + lane[1]) + (lane[2] + lane[3]);
    for (; i < n; i++) {
        s += (double)x[i] * (double)x[i];
    }
    return s;
}

void
KV(scale)(float *x, size_t n, float alpha)
{
    simde__m256 va = simde_mm256_set1_ps(alpha);
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        simde_mm256_storeu_ps(
            x + i, simde_mm256_mul_ps(simde_mm256_loadu_ps(x + i), va));
    }
    for (; i < n; i++) {
        x[i] *= alpha;
    }
}

// One register block of C: MR rows (<= 4) by NV vectors (<= 4) of columns,
// accumulated over all k. Always inlined with constant mr/nv, so the
// accumulator array lives in registers.
static inline __attribute__((always_inline)) void
KV(gemm_block)(int mr, int nv, size_t k, const float *a, size_t a_rs,
               size_t a_cs, const float *b, size_t ldb, float *c, size_t ldc,
               int accumulate)
{
    simde__m256 r[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++) {
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++) {
            r[i][j] = accumulate ? simde_mm256_loadu_ps(c + i * ldc + j * VW)
                                 : simde_mm256_setzero_ps();
        }
    }
    for (size_t p = 0; p < k; p++) {
        const float *ap = a + p * a_cs;
        const float *bp = b + p * ldb;
        simde__m256 vb[4];
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++) {
            vb[j] = simde_mm256_loadu_ps(bp + j * VW);
        }
#pragma GCC unroll 4
        for (int i = 0; i < mr; i++) {
            simde__m256 va = simde_mm256_set1_ps(ap[(size_t)i * a_rs]);
#pragma GCC unroll 4
            for (int j = 0; j < nv; j++) {
                r[i][j] = KV_FMA(va, vb[j], r[i][j]);
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++) {
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++) {
            simde_mm256_storeu_ps(c + i * ldc + j * VW, r[i][j]);
        }
    }
}

// Columns [j0, n) that do not fill a vector, for rows [0, m).
static void
KV(gemm_tail)(size_t m, size_t n, size_t j0, size_t k, const float *a,
              size_t a_rs, size_t a_cs, const float *b, size_t ldb, float *c,
              size_t ldc, int accumulate)
{
    for (size_t i = 0; i < m; i++) {
        for (size_t j = j0; j < n; j++) {
            float s = accumulate ? c[i * ldc + j] : 0.0f;
            for (size_t p = 0; p < k; p++) {
                s += a[i * a_rs + p * a_cs] * b[p * ldb + j];
            }
            c[i * ldc + j] = s;
        }
    }
}

// Rows [i, i + mr) with the register blocks that fit n.
static inline __attribute__((always_inline)) void
KV(gemm_rows)(int mr, size_t n, size_t k, const float *a, size_t a_rs,
              size_t a_cs, const float *b, size_t ldb, float *c, size_t ldc,
              int accumulate)
{
    size_t j = 0;
    if (mr == 1) {
        for (; j + 4 * VW <= n; j += 4 * VW) {
            KV(gemm_block)
            (1, 4, k, a, a_rs, a_cs, b + j, ldb, c + j, ldc, accumulate);
        }
    }
    for (; j + 2 * VW <= n; j += 2 * VW) {
        KV(gemm_block)
        (mr, 2, k, a, a_rs, a_cs, b + j, ldb, c + j, ldc, accumulate);
    }
    for (; j + VW <= n; j += VW) {
        KV(gemm_block)
        (mr, 1, k, a, a_rs, a_cs, b + j, ldb, c + j, ldc, accumulate);
    }
    if (j < n) {
        KV(gemm_tail)
        ((size_t)mr, n, j, k, a, a_rs, a_cs, b, ldb, c, ldc, accumulate);
    }
}

void
KV(gemm)(size_t m, size_t n, size_t k, const float *a, size_t a_rs, size_t a_cs,
         const float *b, size_t ldb, float *c, size_t ldc, int accumulate)
{
    size_t i = 0;
    for (; i + 4 <= m; i += 4) {
        KV(gemm_rows)
        (4, n, k, a + i * a_rs, a_rs, a_cs, b, ldb, c + i * ldc, ldc,
         accumulate);
    }
    for (; i < m; i++) {
        KV(gemm_rows)
        (1, n, k, a + i * a_rs, a_rs, a_cs, b, ldb, c + i * ldc, ldc,
         accumulate);
    }
}

void
KV(add_rows)(size_t m, size_t n, const float *v, float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        size_t j = 0;
        for (; j + VW <= n; j += VW) {
            simde_mm256_storeu_ps(
                ci + j, simde_mm256_add_ps(simde_mm256_loadu_ps(ci + j),
                                           simde_mm256_loadu_ps(v + j)));
        }
        for (; j < n; j++) {
            ci[j] += v[j];
        }
    }
}

void
KV(colsum)(size_t m, size_t n, const float *a, size_t lda, float *out)
{
    size_t j = 0;
    for (; j + VW <= n; j += VW) {
        simde__m256 s = simde_mm256_setzero_ps();
        for (size_t i = 0; i < m; i++) {
            s = simde_mm256_add_ps(s, simde_mm256_loadu_ps(a + i * lda + j));
        }
        simde_mm256_storeu_ps(out + j, s);
    }
    for (; j < n; j++) {
        float s = 0.0f;
        for (size_t i = 0; i < m; i++) {
            s += a[i * lda + j];
        }
        out[j] = s;
    }
}

void
KV(relu)(float *x, size_t n)
{
    simde__m256 z = simde_mm256_setzero_ps();
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        simde_mm256_storeu_ps(
            x + i, simde_mm256_max_ps(simde_mm256_loadu_ps(x + i), z));
    }
    for (; i < n; i++) {
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
}

void
KV(relu_bwd)(const float *y, float *dy, size_t n)
{
    simde__m256 z = simde_mm256_setzero_ps();
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        simde__m256 pos =
            simde_mm256_cmp_ps(simde_mm256_loadu_ps(y + i), z, SIMDE_CMP_GT_OQ);
        simde_mm256_storeu_ps(
            dy + i, simde_mm256_and_ps(simde_mm256_loadu_ps(dy + i), pos));
    }
    for (; i < n; i++) {
        dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    }
}

void
KV(tanh_bwd)(const float *y, float *dy, size_t n)
{
    simde__m256 one = simde_mm256_set1_ps(1.0f);
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        simde__m256 vy = simde_mm256_loadu_ps(y + i);
        simde__m256 d = simde_mm256_sub_ps(one, simde_mm256_mul_ps(vy, vy));
        simde_mm256_storeu_ps(
            dy + i, simde_mm256_mul_ps(simde_mm256_loadu_ps(dy + i), d));
    }
    for (; i < n; i++) {
        dy[i] *= 1.0f - y[i] * y[i];
    }
}

void
KV(mul)(float *x, const float *y, size_t n)
{
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        simde_mm256_storeu_ps(x + i,
                              simde_mm256_mul_ps(simde_mm256_loadu_ps(x + i),
                                                 simde_mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++) {
        x[i] *= y[i];
    }
}

void
KV(adam_step)(const kt_vec_adam *a, size_t n, float *p, const float *grad,
              float *m, float *v)
{
    const simde__m256 b1 = simde_mm256_set1_ps(a->beta1);
    const simde__m256 b2 = simde_mm256_set1_ps(a->beta2);
    const simde__m256 c1 = simde_mm256_set1_ps(1.0f - a->beta1);
    const simde__m256 c2 = simde_mm256_set1_ps(1.0f - a->beta2);
    const simde__m256 wd = simde_mm256_set1_ps(a->weight_decay);
    const simde__m256 eps = simde_mm256_set1_ps(a->eps);
    const simde__m256 ss = simde_mm256_set1_ps(a->step_size);
    const simde__m256 bc = simde_mm256_set1_ps(a->bc2_sqrt);
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        simde__m256 vp = simde_mm256_loadu_ps(p + i);
        simde__m256 g = KV_FMA(wd, vp, simde_mm256_loadu_ps(grad + i));
        simde__m256 vm = simde_mm256_mul_ps(simde_mm256_loadu_ps(m + i), b1);
        vm = KV_FMA(c1, g, vm);
        simde__m256 vv = simde_mm256_mul_ps(simde_mm256_loadu_ps(v + i), b2);
        vv = KV_FMA(simde_mm256_mul_ps(c2, g), g, vv);
        simde__m256 den = simde_mm256_add_ps(
            simde_mm256_div_ps(simde_mm256_sqrt_ps(vv), bc), eps);
        vp = simde_mm256_sub_ps(
            vp, simde_mm256_mul_ps(ss, simde_mm256_div_ps(vm, den)));
        simde_mm256_storeu_ps(m + i, vm);
        simde_mm256_storeu_ps(v + i, vv);
        simde_mm256_storeu_ps(p + i, vp);
    }
    for (; i < n; i++) {
        float g = a->weight_decay * p[i] + grad[i];
        m[i] = (1.0f - a->beta1) * g + m[i] * a->beta1;
        v[i] = ((1.0f - a->beta2) * g) * g + v[i] * a->beta2;
        float den = sqrtf(v[i]) / a->bc2_sqrt + a->eps;
        p[i] = p[i] - a->step_size * (m[i] / den);
    }
}

#undef VW
// NOLINTEND(bugprone-*)
