// test_vec.c: every SIMD kernel of kt/vec.h against its scalar twin, at
// every level the CPU runs, over sizes that hit each vector/tail path.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <kt/vec.h>

static const size_t sizes[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static unsigned rnd_state = 12345;

static float
rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (float)((rnd_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *
rnd_vec(size_t n)
{
    float *v = malloc((n + 1) * sizeof(float));
    cr_assert_not_null(v);
    for (size_t i = 0; i < n + 1; i++) {
        v[i] = rnd();
    }
    return v;
}

// Exact for the base level (no contraction, same order); rounding-close for
// FMA (avx2) and for the reassociated reductions.
static void
expect_close(const float *a, const float *b, size_t n, int exact,
             const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (exact) {
            cr_expect(memcmp(&a[i], &b[i], sizeof(float)) == 0,
                      "%s[%zu]: %.9g vs %.9g", what, i, a[i], b[i]);
        } else {
            cr_expect(fabsf(a[i] - b[i]) <= 1e-5f * (1.0f + fabsf(b[i])),
                      "%s[%zu]: %.9g vs %.9g", what, i, a[i], b[i]);
        }
    }
}

// Runs fn once per level the CPU has (scalar included).
#define FOR_EACH_LEVEL(lv)                                \
    for (int lv = KT_VEC_SCALAR; lv <= KT_VEC_AVX2; lv++) \
        if (kt_vec_level_set((kt_vec_level)lv) == KT_OK)

Test(vec, level_set_refuses_unknown_levels)
{
    cr_expect_eq(kt_vec_level_set((kt_vec_level)99), KT_EINVAL);
    cr_expect_eq(kt_vec_level_set((kt_vec_level)-1), KT_EINVAL);
    cr_expect_eq(kt_vec_level_set(KT_VEC_SCALAR), KT_OK);
    cr_expect_eq(kt_vec_level_get(), KT_VEC_SCALAR);
    cr_expect_str_eq(kt_vec_level_name(KT_VEC_BASE), "base");
    cr_expect_str_eq(kt_vec_level_name((kt_vec_level)7), "unknown");
}

Test(vec, elementwise_kernels_match_scalar_twins)
{
    FOR_EACH_LEVEL(lv)
    {
        int exact = lv != KT_VEC_AVX2;
        for (size_t s = 0; s < N_SIZES; s++) {
            size_t n = sizes[s];
            float *x = rnd_vec(n), *y = rnd_vec(n);
            float *a = rnd_vec(n), *b = rnd_vec(n);
            memcpy(a, y, n * sizeof(float));
            memcpy(b, y, n * sizeof(float));
            kt_vec_axpy(n, 0.37f, x, a);
            kt_vec_axpy_scalar(n, 0.37f, x, b);
            expect_close(a, b, n, exact, "axpy");
            memcpy(a, b, n * sizeof(float)); // continue from equal inputs
            kt_vec_scale(a, n, -1.5f);
            kt_vec_scale_scalar(b, n, -1.5f);
            expect_close(a, b, n, 1, "scale");
            kt_vec_relu(a, n);
            kt_vec_relu_scalar(b, n);
            expect_close(a, b, n, exact, "relu");
            memcpy(a, y, n * sizeof(float));
            memcpy(b, y, n * sizeof(float));
            kt_vec_relu_bwd(x, a, n);
            kt_vec_relu_bwd_scalar(x, b, n);
            expect_close(a, b, n, 1, "relu_bwd");
            kt_vec_tanh(a, n);
            kt_vec_tanh_scalar(b, n);
            expect_close(a, b, n, 1, "tanh");
            kt_vec_tanh_bwd(x, a, n);
            kt_vec_tanh_bwd_scalar(x, b, n);
            expect_close(a, b, n, 1, "tanh_bwd");
            kt_vec_mul(a, x, n);
            kt_vec_mul_scalar(b, x, n);
            expect_close(a, b, n, 1, "mul");
            free(x), free(y), free(a), free(b);
        }
    }
}

Test(vec, reductions_match_scalar_twins_within_rounding)
{
    FOR_EACH_LEVEL(lv)
    {
        for (size_t s = 0; s < N_SIZES; s++) {
            size_t n = sizes[s];
            float *x = rnd_vec(n), *y = rnd_vec(n);
            float d = kt_vec_dot(x, y, n), ds = kt_vec_dot_scalar(x, y, n);
            cr_expect(fabsf(d - ds) <= 1e-5f * (1.0f + (float)n), "dot n=%zu",
                      n);
            double q = kt_vec_sumsq(x, n), qs = kt_vec_sumsq_scalar(x, n);
            cr_expect(fabs(q - qs) <= 1e-12 * (1.0 + qs), "sumsq n=%zu", n);
            double ref = 0.0;
            for (size_t i = 0; i < n; i++) {
                ref += (double)x[i] * x[i];
            }
            cr_expect(fabs(qs - ref) <= 1e-12 * (1.0 + ref));
            free(x), free(y);
        }
    }
}

static void
check_gemm(size_t m, size_t n, size_t k, int trans_a, int acc, int exact)
{
    float *a = rnd_vec(m * k), *b = rnd_vec(k * n), *c0 = rnd_vec(m * n);
    float *c1 = malloc((m * n + 1) * sizeof(float));
    float *c2 = malloc((m * n + 1) * sizeof(float));
    cr_assert(c1 && c2);
    memcpy(c1, c0, m * n * sizeof(float));
    memcpy(c2, c0, m * n * sizeof(float));
    size_t rs = trans_a ? 1 : k, cs = trans_a ? m : 1;
    kt_vec_gemm(m, n, k, a, rs, cs, b, n, c1, n, acc);
    kt_vec_gemm_scalar(m, n, k, a, rs, cs, b, n, c2, n, acc);
    expect_close(c1, c2, m * n, exact, "gemm");
    // And the scalar twin against the definition, in double.
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double s = acc ? c0[i * n + j] : 0.0;
            for (size_t p = 0; p < k; p++) {
                s += (double)a[i * rs + p * cs] * b[p * n + j];
            }
            cr_expect(fabs(c2[i * n + j] - s) <= 1e-5 * (1.0 + (double)k));
        }
    }
    free(a), free(b), free(c0), free(c1), free(c2);
}

Test(vec, gemm_matches_scalar_twin_on_all_block_shapes)
{
    static const size_t ms[] = {1, 2, 4, 5, 32, 33};
    static const size_t ns[] = {1, 3, 8, 9, 16, 24, 32, 40, 64};
    static const size_t ks[] = {0, 1, 12, 33};
    FOR_EACH_LEVEL(lv)
    {
        for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
            for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
                for (size_t p = 0; p < sizeof(ks) / sizeof(ks[0]); p++) {
                    check_gemm(ms[i], ns[j], ks[p], (int)((i + j) & 1),
                               (int)(p & 1), lv != KT_VEC_AVX2);
                }
            }
        }
    }
}

Test(vec, add_rows_and_colsum_match_scalar_twins)
{
    FOR_EACH_LEVEL(lv)
    {
        for (size_t s = 0; s < N_SIZES; s++) {
            size_t n = sizes[s], m = 5, ld = n + 3;
            float *a = rnd_vec(m * ld), *v = rnd_vec(n);
            float *b = malloc((m * ld + 1) * sizeof(float));
            float *o1 = malloc((n + 1) * sizeof(float));
            float *o2 = malloc((n + 1) * sizeof(float));
            cr_assert(b && o1 && o2);
            memcpy(b, a, m * ld * sizeof(float));
            kt_vec_add_rows(m, n, v, a, ld);
            kt_vec_add_rows_scalar(m, n, v, b, ld);
            expect_close(a, b, m * ld, 1, "add_rows");
            kt_vec_colsum(m, n, a, ld, o1);
            kt_vec_colsum_scalar(m, n, a, ld, o2);
            expect_close(o1, o2, n, 1, "colsum");
            free(a), free(b), free(v), free(o1), free(o2);
        }
    }
}

Test(vec, adam_step_matches_scalar_twin_and_torch_formula)
{
    kt_vec_adam ad = {.beta1 = 0.9f,
                      .beta2 = 0.999f,
                      .eps = 1e-8f,
                      .weight_decay = 1e-4f,
                      .step_size = (float)(1e-3 / (1.0 - 0.9 * 0.9)),
                      .bc2_sqrt = (float)sqrt(1.0 - 0.999 * 0.999)};
    FOR_EACH_LEVEL(lv)
    {
        for (size_t s = 0; s < N_SIZES; s++) {
            size_t n = sizes[s];
            float *p1 = rnd_vec(n), *g = rnd_vec(n), *m1 = rnd_vec(n);
            float *v1 = rnd_vec(n), *p2 = rnd_vec(n), *m2 = rnd_vec(n);
            float *v2 = rnd_vec(n);
            for (size_t i = 0; i < n; i++) {
                v1[i] = fabsf(v1[i]);
            }
            memcpy(p2, p1, n * sizeof(float));
            memcpy(m2, m1, n * sizeof(float));
            memcpy(v2, v1, n * sizeof(float));
            float p0 = n ? p1[0] : 0, m0 = n ? m1[0] : 0, v0 = n ? v1[0] : 0;
            kt_vec_adam_step(&ad, n, p1, g, m1, v1);
            kt_vec_adam_step_scalar(&ad, n, p2, g, m2, v2);
            expect_close(p1, p2, n, lv != KT_VEC_AVX2, "adam p");
            expect_close(m1, m2, n, lv != KT_VEC_AVX2, "adam m");
            expect_close(v1, v2, n, lv != KT_VEC_AVX2, "adam v");
            if (n > 0) { // element 0 against the formula in double
                double gg = g[0] + 1e-4 * p0;
                double mm = 0.9 * m0 + 0.1 * gg;
                double vv = 0.999 * v0 + 0.001 * gg * gg;
                double pp =
                    p0 - ad.step_size * mm / (sqrt(vv) / ad.bc2_sqrt + 1e-8);
                cr_expect(fabs(p2[0] - pp) <= 1e-5 * (1 + fabs(pp)));
            }
            free(p1), free(g), free(m1), free(v1), free(p2), free(m2);
            free(v2);
        }
    }
}
