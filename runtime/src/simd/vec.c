// vec.c: the public kernels of kt/vec.h: the scalar twins, and the dispatch
// to the SIMD variant (vec_base.c, vec_avx2.c) chosen once per process.
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <kt/vec.h>

#include "simd/vec_impl.h"

// -1 until first use; then a kt_vec_level.
static atomic_int vec_level = -1;

static kt_vec_level
vec_cpu_best(void)
{
#if KT_VEC_HAVE_AVX2
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        return KT_VEC_AVX2;
    }
#endif
    return KT_VEC_BASE;
}

static kt_vec_level
vec_env_level(kt_vec_level best)
{
    const char *e = getenv("KT_VEC_LEVEL");
    kt_vec_level want = best;
    if (e == NULL) {
        return best;
    }
    if (strcmp(e, "scalar") == 0) {
        want = KT_VEC_SCALAR;
    } else if (strcmp(e, "base") == 0) {
        want = KT_VEC_BASE;
    }
    return want < best ? want : best;
}

kt_vec_level
kt_vec_level_get(void)
{
    int l = atomic_load_explicit(&vec_level, memory_order_relaxed);
    if (l < 0) {
        // Racing first calls compute the same value: harmless.
        l = (int)vec_env_level(vec_cpu_best());
        atomic_store_explicit(&vec_level, l, memory_order_relaxed);
    }
    return (kt_vec_level)l;
}

kt_err
kt_vec_level_set(kt_vec_level level)
{
    if ((int)level < 0 || level > vec_cpu_best()) {
        return KT_EINVAL;
    }
    atomic_store_explicit(&vec_level, (int)level, memory_order_relaxed);
    return KT_OK;
}

const char *
kt_vec_level_name(kt_vec_level level)
{
    switch (level) {
    case KT_VEC_SCALAR:
        return "scalar";
    case KT_VEC_BASE:
        return "base";
    case KT_VEC_AVX2:
        return "avx2";
    default:
        return "unknown";
    }
}

// ---- scalar twins: the plain loops the SIMD variants must match ----

float
kt_vec_dot_scalar(const float *a, const float *b, size_t n)
{
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        s += a[i] * b[i];
    }
    return s;
}

void
kt_vec_axpy_scalar(size_t n, float alpha, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++) {
        y[i] += alpha * x[i];
    }
}

double
kt_vec_sumsq_scalar(const float *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        s += (double)x[i] * (double)x[i];
    }
    return s;
}

void
kt_vec_scale_scalar(float *x, size_t n, float alpha)
{
    for (size_t i = 0; i < n; i++) {
        x[i] *= alpha;
    }
}

void
kt_vec_gemm_scalar(size_t m, size_t n, size_t k, const float *a, size_t a_rs,
                   size_t a_cs, const float *b, size_t ldb, float *c,
                   size_t ldc, int accumulate)
{
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            float s = accumulate ? c[i * ldc + j] : 0.0f;
            for (size_t p = 0; p < k; p++) {
                s += a[i * a_rs + p * a_cs] * b[p * ldb + j];
            }
            c[i * ldc + j] = s;
        }
    }
}

void
kt_vec_add_rows_scalar(size_t m, size_t n, const float *v, float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            c[i * ldc + j] += v[j];
        }
    }
}

void
kt_vec_colsum_scalar(size_t m, size_t n, const float *a, size_t lda, float *out)
{
    for (size_t j = 0; j < n; j++) {
        float s = 0.0f;
        for (size_t i = 0; i < m; i++) {
            s += a[i * lda + j];
        }
        out[j] = s;
    }
}

void
kt_vec_relu_scalar(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
}

void
kt_vec_relu_bwd_scalar(const float *y, float *dy, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    }
}

void
kt_vec_tanh_scalar(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        x[i] = tanhf(x[i]);
    }
}

void
kt_vec_tanh_bwd_scalar(const float *y, float *dy, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dy[i] *= 1.0f - y[i] * y[i];
    }
}

void
kt_vec_mul_scalar(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        x[i] *= y[i];
    }
}

void
kt_vec_adam_step_scalar(const kt_vec_adam *a, size_t n, float *p,
                        const float *grad, float *m, float *v)
{
    for (size_t i = 0; i < n; i++) {
        float g = a->weight_decay * p[i] + grad[i];
        m[i] = (1.0f - a->beta1) * g + m[i] * a->beta1;
        v[i] = ((1.0f - a->beta2) * g) * g + v[i] * a->beta2;
        float den = sqrtf(v[i]) / a->bc2_sqrt + a->eps;
        p[i] = p[i] - a->step_size * (m[i] / den);
    }
}

// ---- dispatch ----

// VEC_RET(name, args) returns the chosen variant's value; VEC_DO calls a
// void one.
#if KT_VEC_HAVE_AVX2
#define VEC_RET(name, ...)                          \
    switch (kt_vec_level_get()) {                   \
    case KT_VEC_AVX2:                               \
        return kt__vec_##name##_avx2(__VA_ARGS__);  \
    case KT_VEC_BASE:                               \
        return kt__vec_##name##_base(__VA_ARGS__);  \
    default:                                        \
        return kt_vec_##name##_scalar(__VA_ARGS__); \
    }
#define VEC_DO(name, ...)                    \
    switch (kt_vec_level_get()) {            \
    case KT_VEC_AVX2:                        \
        kt__vec_##name##_avx2(__VA_ARGS__);  \
        break;                               \
    case KT_VEC_BASE:                        \
        kt__vec_##name##_base(__VA_ARGS__);  \
        break;                               \
    default:                                 \
        kt_vec_##name##_scalar(__VA_ARGS__); \
        break;                               \
    }
#else
#define VEC_RET(name, ...)                         \
    if (kt_vec_level_get() == KT_VEC_BASE) {       \
        return kt__vec_##name##_base(__VA_ARGS__); \
    }                                              \
    return kt_vec_##name##_scalar(__VA_ARGS__);
#define VEC_DO(name, ...)                    \
    if (kt_vec_level_get() == KT_VEC_BASE) { \
        kt__vec_##name##_base(__VA_ARGS__);  \
    } else {                                 \
        kt_vec_##name##_scalar(__VA_ARGS__); \
    }
#endif

float
kt_vec_dot(const float *a, const float *b, size_t n)
{
    VEC_RET(dot, a, b, n)
}

void
kt_vec_axpy(size_t n, float alpha, const float *x, float *y)
{
    VEC_DO(axpy, n, alpha, x, y)
}

double
kt_vec_sumsq(const float *x, size_t n)
{
    VEC_RET(sumsq, x, n)
}

void
kt_vec_scale(float *x, size_t n, float alpha)
{
    VEC_DO(scale, x, n, alpha)
}

void
kt_vec_gemm(size_t m, size_t n, size_t k, const float *a, size_t a_rs,
            size_t a_cs, const float *b, size_t ldb, float *c, size_t ldc,
            int accumulate)
{
    VEC_DO(gemm, m, n, k, a, a_rs, a_cs, b, ldb, c, ldc, accumulate)
}

void
kt_vec_add_rows(size_t m, size_t n, const float *v, float *c, size_t ldc)
{
    VEC_DO(add_rows, m, n, v, c, ldc)
}

void
kt_vec_colsum(size_t m, size_t n, const float *a, size_t lda, float *out)
{
    VEC_DO(colsum, m, n, a, lda, out)
}

void
kt_vec_relu(float *x, size_t n)
{
    VEC_DO(relu, x, n)
}

void
kt_vec_relu_bwd(const float *y, float *dy, size_t n)
{
    VEC_DO(relu_bwd, y, dy, n)
}

void
kt_vec_tanh(float *x, size_t n)
{
    // libm in every level: a vector tanh approximation would make the
    // levels disagree by more than rounding.
    kt_vec_tanh_scalar(x, n);
}

void
kt_vec_tanh_bwd(const float *y, float *dy, size_t n)
{
    VEC_DO(tanh_bwd, y, dy, n)
}

void
kt_vec_mul(float *x, const float *y, size_t n)
{
    VEC_DO(mul, x, y, n)
}

void
kt_vec_adam_step(const kt_vec_adam *a, size_t n, float *p, const float *grad,
                 float *m, float *v)
{
    VEC_DO(adam_step, a, n, p, grad, m, v)
}
