// vec_base.c: the kernels of vec_kernels.h on the baseline ISA (SIMDe
// lowers the 256-bit operations to what the compiler targets: two SSE2
// halves on plain x86-64). Multiply and add stay separate.
#include "simd/vec_impl.h"

#define KV(name)        kt__vec_##name##_base
#define KV_FMA(a, b, c) simde_mm256_add_ps(simde_mm256_mul_ps(a, b), c)

#include "simd/vec_kernels.h"
