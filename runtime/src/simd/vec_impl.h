// vec_impl.h: the SIMD kernel variants behind kt/vec.h. vec_kernels.h is
// compiled twice, by vec_base.c (baseline ISA) and vec_avx2.c (AVX2 + FMA),
// each defining KV(name) to give its copies a distinct suffix.
#ifndef KT_SIMD_VEC_IMPL_H
#define KT_SIMD_VEC_IMPL_H

#include <stddef.h>

#include <kt/vec.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KT_VEC_HAVE_AVX2 1
#else
#define KT_VEC_HAVE_AVX2 0
#endif

#define KT__VEC_DECLARE(sfx)                                                   \
    float kt__vec_dot_##sfx(const float *a, const float *b, size_t n);         \
    void kt__vec_axpy_##sfx(size_t n, float alpha, const float *x, float *y);  \
    double kt__vec_sumsq_##sfx(const float *x, size_t n);                      \
    void kt__vec_scale_##sfx(float *x, size_t n, float alpha);                 \
    void kt__vec_gemm_##sfx(size_t m, size_t n, size_t k, const float *a,      \
                            size_t a_rs, size_t a_cs, const float *b,          \
                            size_t ldb, float *c, size_t ldc, int accumulate); \
    void kt__vec_add_rows_##sfx(size_t m, size_t n, const float *v, float *c,  \
                                size_t ldc);                                   \
    void kt__vec_colsum_##sfx(size_t m, size_t n, const float *a, size_t lda,  \
                              float *out);                                     \
    void kt__vec_relu_##sfx(float *x, size_t n);                               \
    void kt__vec_relu_bwd_##sfx(const float *y, float *dy, size_t n);          \
    void kt__vec_tanh_bwd_##sfx(const float *y, float *dy, size_t n);          \
    void kt__vec_mul_##sfx(float *x, const float *y, size_t n);                \
    void kt__vec_adam_step_##sfx(const kt_vec_adam *a, size_t n, float *p,     \
                                 const float *grad, float *m, float *v);

KT__VEC_DECLARE(base)
#if KT_VEC_HAVE_AVX2
KT__VEC_DECLARE(avx2)
#endif

#endif // KT_SIMD_VEC_IMPL_H
