// rng.c: xoshiro256** (Blackman & Vigna, public domain algorithm) seeded by
// splitmix64; the trainer's only source of randomness.
#include "domain/rng.h"

static uint64_t
rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void
kt_rng_seed(kt_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < KT_RNG_STATE_WORDS; i++) {
        r->s[i] = rng_splitmix(&x);
    }
}

uint64_t
kt_rng_next(kt_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rng_rotl(s[3], 45);
    return out;
}

double
kt_rng_uniform(kt_rng *r)
{
    return (double)(kt_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t
kt_rng_below(kt_rng *r, uint64_t n)
{
    if (n == 0) {
        return 0;
    }
    // Reject the lowest 2^64 mod n values so every residue is equally
    // likely (the arc4random_uniform method).
    uint64_t thresh = (0 - n) % n;
    uint64_t x;
    do {
        x = kt_rng_next(r);
    } while (x < thresh);
    return x % n;
}

void
kt_rng_shuffle(kt_rng *r, uint32_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)kt_rng_below(r, i);
        uint32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

kt_err
kt_rng_set_state(kt_rng *r, const uint64_t *s, size_t n)
{
    if (n != KT_RNG_STATE_WORDS || (s[0] | s[1] | s[2] | s[3]) == 0) {
        return KT_EINVAL;
    }
    for (int i = 0; i < KT_RNG_STATE_WORDS; i++) {
        r->s[i] = s[i];
    }
    return KT_OK;
}
