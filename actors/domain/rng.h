// rng.h: the trainer's seeded random generator (xoshiro256**, seeded through
// splitmix64). Every random draw of training (init, shuffle, dropout) comes
// from one kt_rng, and its whole state is four integers, so it can be saved
// in a checkpoint and restored exactly.
#ifndef KT_DOMAIN_RNG_H
#define KT_DOMAIN_RNG_H

#include <stddef.h>
#include <stdint.h>

#include <kt/err.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KT_RNG_STATE_WORDS 4

// A plain value: copy it to fork a stream, store s[] to save it.
typedef struct kt_rng {
    uint64_t s[KT_RNG_STATE_WORDS];
} kt_rng;

// kt_rng_seed sets r from a 64-bit seed (splitmix64 expansion, so seed 0 is
// fine). The same seed always gives the same sequence on every machine.
KT_API void kt_rng_seed(kt_rng *r, uint64_t seed);

// kt_rng_next returns the next 64 uniformly distributed bits.
KT_API uint64_t kt_rng_next(kt_rng *r);

// kt_rng_uniform returns a double in [0, 1) with 53 random bits.
KT_API double kt_rng_uniform(kt_rng *r);

// kt_rng_below returns an unbiased integer in [0, n); n must be > 0
// (returns 0 for n == 0): modulo with rejection of the biased low values.
KT_API uint64_t kt_rng_below(kt_rng *r, uint64_t n);

// kt_rng_shuffle applies a Fisher-Yates shuffle to idx[0..n).
KT_API void kt_rng_shuffle(kt_rng *r, uint32_t *idx, size_t n);

// kt_rng_set_state restores a saved state. A state of all zeros is the one
// xoshiro cannot leave: KT_EINVAL, r untouched.
KT_NODISCARD KT_API kt_err kt_rng_set_state(kt_rng *r, const uint64_t *s,
                                            size_t n);

#ifdef __cplusplus
}
#endif

#endif // KT_DOMAIN_RNG_H
