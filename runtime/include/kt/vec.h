// kt/vec.h: the float32 kernels the MLP is built from (dot, axpy, a small
// GEMM, activations, the Adam update). Each kernel has a scalar twin,
// kt_vec_*_scalar, which is the reference the SIMD path is tested against.
//
// The SIMD path is written with SIMDe's 256-bit simde_ names in
// runtime/src/simd/ (the only SIMDe user). Built without -march flags it
// comes in two variants chosen once per process at run time:
//   KT_VEC_AVX2: x86-64 CPUs with AVX2 and FMA (native 8-wide, fused
//                multiply-add), compiled with a target pragma;
//   KT_VEC_BASE: everything else; SIMDe lowers the 256-bit operations to
//                the baseline ISA (two SSE2 halves on x86-64, NEON on arm64),
//                multiply and add stay separate (no contraction).
// Results are deterministic for a given level and inputs (no alignment
// peeling, fixed accumulation order), so a training run that resumes on the
// same machine reproduces bit for bit. Levels differ from one another and
// from the scalar twins only by float rounding.
//
// All functions are reentrant and allocation-free; pointers may be
// unaligned; n == 0 is allowed everywhere.
#ifndef KT_VEC_H
#define KT_VEC_H

#include <stddef.h>

#include <kt/err.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kt_vec_level {
    KT_VEC_SCALAR = 0, // the scalar twins
    KT_VEC_BASE = 1,   // SIMDe on the baseline ISA
    KT_VEC_AVX2 = 2,   // SIMDe native AVX2 + FMA
} kt_vec_level;

// kt_vec_level_get returns the level the kernels use: the best the CPU
// supports, unless kt_vec_level_set or the environment variable
// KT_VEC_LEVEL (scalar|base|avx2, read once) chose a lower one.
KT_API kt_vec_level kt_vec_level_get(void);

// kt_vec_level_set forces a level (tests, benchmarks). KT_EINVAL if the CPU
// cannot run it. Not thread-safe against concurrent kernel calls: set it
// before starting work.
KT_NODISCARD KT_API kt_err kt_vec_level_set(kt_vec_level level);

// kt_vec_level_name: "scalar", "base" or "avx2".
KT_API const char *kt_vec_level_name(kt_vec_level level);

// kt_vec_dot returns sum a[i] * b[i].
KT_API float kt_vec_dot(const float *a, const float *b, size_t n);
KT_API float kt_vec_dot_scalar(const float *a, const float *b, size_t n);

// kt_vec_axpy: y[i] += alpha * x[i].
KT_API void kt_vec_axpy(size_t n, float alpha, const float *x, float *y);
KT_API void kt_vec_axpy_scalar(size_t n, float alpha, const float *x, float *y);

// kt_vec_sumsq returns sum x[i]^2 accumulated in double (grad-norm clip).
KT_API double kt_vec_sumsq(const float *x, size_t n);
KT_API double kt_vec_sumsq_scalar(const float *x, size_t n);

// kt_vec_scale: x[i] *= alpha.
KT_API void kt_vec_scale(float *x, size_t n, float alpha);
KT_API void kt_vec_scale_scalar(float *x, size_t n, float alpha);

// kt_vec_gemm: C = A * B (accumulate == 0) or C += A * B (accumulate != 0),
// where C is m x n (row stride ldc), B is k x n row-major (row stride ldb)
// and A is m x k with element (i, p) at a[i * a_rs + p * a_cs] (so a
// transposed A is a_rs = 1, a_cs = its row length). Each C element is
// accumulated over p in ascending order.
KT_API void kt_vec_gemm(size_t m, size_t n, size_t k, const float *a,
                        size_t a_rs, size_t a_cs, const float *b, size_t ldb,
                        float *c, size_t ldc, int accumulate);
KT_API void kt_vec_gemm_scalar(size_t m, size_t n, size_t k, const float *a,
                               size_t a_rs, size_t a_cs, const float *b,
                               size_t ldb, float *c, size_t ldc,
                               int accumulate);

// kt_vec_add_rows: each of the m rows of c (stride ldc) += v[0..n).
KT_API void kt_vec_add_rows(size_t m, size_t n, const float *v, float *c,
                            size_t ldc);
KT_API void kt_vec_add_rows_scalar(size_t m, size_t n, const float *v, float *c,
                                   size_t ldc);

// kt_vec_colsum: out[j] = sum over the m rows of a (stride lda) of a[i][j]
// (row order ascending): a bias gradient.
KT_API void kt_vec_colsum(size_t m, size_t n, const float *a, size_t lda,
                          float *out);
KT_API void kt_vec_colsum_scalar(size_t m, size_t n, const float *a, size_t lda,
                                 float *out);

// kt_vec_relu: x[i] = max(x[i], 0). kt_vec_relu_bwd: dy[i] = 0 where
// y[i] <= 0 (y is the relu output).
KT_API void kt_vec_relu(float *x, size_t n);
KT_API void kt_vec_relu_scalar(float *x, size_t n);
KT_API void kt_vec_relu_bwd(const float *y, float *dy, size_t n);
KT_API void kt_vec_relu_bwd_scalar(const float *y, float *dy, size_t n);

// kt_vec_tanh: x[i] = tanhf(x[i]) (libm in both paths, so both agree
// exactly). kt_vec_tanh_bwd: dy[i] *= 1 - y[i]^2 (y is the tanh output).
KT_API void kt_vec_tanh(float *x, size_t n);
KT_API void kt_vec_tanh_scalar(float *x, size_t n);
KT_API void kt_vec_tanh_bwd(const float *y, float *dy, size_t n);
KT_API void kt_vec_tanh_bwd_scalar(const float *y, float *dy, size_t n);

// kt_vec_mul: x[i] *= y[i] (dropout masks).
KT_API void kt_vec_mul(float *x, const float *y, size_t n);
KT_API void kt_vec_mul_scalar(float *x, const float *y, size_t n);

// One Adam step with PyTorch's semantics (torch.optim.Adam, L2 weight
// decay added to the gradient):
//   g = grad + weight_decay * p
//   m = m * beta1 + (1 - beta1) * g
//   v = v * beta2 + (1 - beta2) * g * g
//   p = p - step_size * m / (sqrt(v) / bc2_sqrt + eps)
// with step_size = lr / (1 - beta1^t) and bc2_sqrt = sqrt(1 - beta2^t)
// computed by the caller. Square root and division are correctly rounded
// in every level, so without FMA the SIMD and scalar paths agree exactly.
typedef struct kt_vec_adam {
    float beta1;
    float beta2;
    float eps;
    float weight_decay;
    float step_size;
    float bc2_sqrt;
} kt_vec_adam;

KT_API void kt_vec_adam_step(const kt_vec_adam *a, size_t n, float *p,
                             const float *grad, float *m, float *v);
KT_API void kt_vec_adam_step_scalar(const kt_vec_adam *a, size_t n, float *p,
                                    const float *grad, float *m, float *v);

#ifdef __cplusplus
}
#endif

#endif // KT_VEC_H
