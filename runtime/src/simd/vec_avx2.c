// vec_avx2.c: the kernels of vec_kernels.h compiled for AVX2 + FMA through a
// target pragma (so the rest of the project needs no -m flags); vec.c only
// calls them after checking the CPU. Fused multiply-add here, so results
// differ from the base level by rounding.
#include "simd/vec_impl.h"

#if KT_VEC_HAVE_AVX2
#pragma GCC target("avx2,fma")

#define KV(name)        kt__vec_##name##_avx2
#define KV_FMA(a, b, c) simde_mm256_fmadd_ps(a, b, c)

#include "simd/vec_kernels.h"
#else
// Not x86-64 with GCC: no AVX2 variant (ISO C forbids an empty unit).
typedef int kt__vec_avx2_unused;
#endif
