// sha256.c: SHA-256 per FIPS 180-4, written from the standard's pseudocode.
#include <string.h>

#include <kt/sha256.h>

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t
sha_ror(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

#define SHA_ROUND(a, b, c, d, e, f, g, h, i)                                  \
    do {                                                                      \
        uint32_t t1 = h + (sha_ror(e, 6) ^ sha_ror(e, 11) ^ sha_ror(e, 25)) + \
                      ((e & f) ^ (~e & g)) + sha_k[i] + w[i];                 \
        uint32_t t2 = (sha_ror(a, 2) ^ sha_ror(a, 13) ^ sha_ror(a, 22)) +     \
                      ((a & b) ^ (a & c) ^ (b & c));                          \
        d += t1;                                                              \
        h = t1 + t2;                                                          \
    } while (0)

// sha_blocks_c: the portable compression function over n 64-byte blocks.
static void
sha_blocks_c(uint32_t *hs, const uint8_t *p, size_t n)
{
    uint32_t w[64];

    for (; n > 0; n--, p += 64) {
        for (int i = 0; i < 16; i++) {
            w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
                   (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
        }
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = sha_ror(w[i - 15], 7) ^ sha_ror(w[i - 15], 18) ^
                          (w[i - 15] >> 3);
            uint32_t s1 = sha_ror(w[i - 2], 17) ^ sha_ror(w[i - 2], 19) ^
                          (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = hs[0], b = hs[1], c = hs[2], d = hs[3], e = hs[4],
                 f = hs[5], g = hs[6], h = hs[7];
        for (int i = 0; i < 64; i += 8) {
            SHA_ROUND(a, b, c, d, e, f, g, h, i);
            SHA_ROUND(h, a, b, c, d, e, f, g, i + 1);
            SHA_ROUND(g, h, a, b, c, d, e, f, i + 2);
            SHA_ROUND(f, g, h, a, b, c, d, e, i + 3);
            SHA_ROUND(e, f, g, h, a, b, c, d, i + 4);
            SHA_ROUND(d, e, f, g, h, a, b, c, i + 5);
            SHA_ROUND(c, d, e, f, g, h, a, b, i + 6);
            SHA_ROUND(b, c, d, e, f, g, h, a, i + 7);
        }
        hs[0] += a;
        hs[1] += b;
        hs[2] += c;
        hs[3] += d;
        hs[4] += e;
        hs[5] += f;
        hs[6] += g;
        hs[7] += h;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

// sha_blocks_ni: the same function with the x86 SHA extensions (about 20x
// faster); the state is kept in the ABEF/CDGH order the instructions use.
__attribute__((target("sha,sse4.1"))) static void
sha_blocks_ni(uint32_t *hs, const uint8_t *p, size_t n)
{
    const __m128i mask =
        _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)(const void *)&hs[0]);
    __m128i s1 = _mm_loadu_si128((const __m128i *)(const void *)&hs[4]);
    __m128i s0, w[4], msg, abef, cdgh;

    tmp = _mm_shuffle_epi32(tmp, 0xB1);  // CDAB
    s1 = _mm_shuffle_epi32(s1, 0x1B);    // EFGH
    s0 = _mm_alignr_epi8(tmp, s1, 8);    // ABEF
    s1 = _mm_blend_epi16(s1, tmp, 0xF0); // CDGH
    for (; n > 0; n--, p += 64) {
        abef = s0;
        cdgh = s1;
        for (int i = 0; i < 16; i++) {
            __m128i *wi = &w[i & 3];
            if (i < 4) {
                *wi = _mm_shuffle_epi8(
                    _mm_loadu_si128(
                        (const __m128i *)(const void *)(p + 16 * i)),
                    mask);
            } else {
                // w[i] = msg2(msg1(w[i-4], w[i-3]) + w[i-1:i-2]>>4, w[i-1])
                __m128i t = _mm_sha256msg1_epu32(*wi, w[(i - 3) & 3]);
                t = _mm_add_epi32(
                    t, _mm_alignr_epi8(w[(i - 1) & 3], w[(i - 2) & 3], 4));
                *wi = _mm_sha256msg2_epu32(t, w[(i - 1) & 3]);
            }
            msg = _mm_add_epi32(
                *wi,
                _mm_loadu_si128((const __m128i *)(const void *)&sha_k[4 * i]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
            msg = _mm_shuffle_epi32(msg, 0x0E);
            s0 = _mm_sha256rnds2_epu32(s0, s1, msg);
        }
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
    }
    tmp = _mm_shuffle_epi32(s0, 0x1B);   // FEBA
    s1 = _mm_shuffle_epi32(s1, 0xB1);    // DCHG
    s0 = _mm_blend_epi16(tmp, s1, 0xF0); // DCBA
    s1 = _mm_alignr_epi8(s1, tmp, 8);    // HGFE
    _mm_storeu_si128((__m128i *)(void *)&hs[0], s0);
    _mm_storeu_si128((__m128i *)(void *)&hs[4], s1);
}

static bool
sha_cpu_has_ni(void)
{
    unsigned a, b, c, d;

    if (!__get_cpuid(1, &a, &b, &c, &d) || (c & bit_SSE4_1) == 0 ||
        (c & bit_SSSE3) == 0) {
        return false;
    }
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA) != 0;
}
#else
static bool
sha_cpu_has_ni(void)
{
    return false;
}
#endif

static int sha_mode = -1; // -1 unknown, 0 portable, 1 SHA extensions

bool
kt_sha256_hw(int want)
{
    bool have = sha_cpu_has_ni();

    if (want >= 0) {
        sha_mode = want > 0 && have ? 1 : 0;
    }
    return have;
}

static void
sha_blocks(uint32_t *hs, const uint8_t *p, size_t n)
{
    if (sha_mode < 0) {
        sha_mode = sha_cpu_has_ni() ? 1 : 0; // benign race: same answer
    }
#if defined(__x86_64__) && defined(__GNUC__)
    if (sha_mode == 1) {
        sha_blocks_ni(hs, p, n);
        return;
    }
#endif
    sha_blocks_c(hs, p, n);
}

void
kt_sha256_init(kt_sha256_ctx *c)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                   0xa54ff53a, 0x510e527f, 0x9b05688c,
                                   0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, iv, sizeof(iv));
    c->total = 0;
    c->nbuf = 0;
}

void
kt_sha256_update(kt_sha256_ctx *c, const void *data, size_t len)
{
    const uint8_t *p = data;

    c->total += len;
    if (c->nbuf > 0) {
        size_t n = 64 - c->nbuf < len ? 64 - c->nbuf : len;
        memcpy(c->buf + c->nbuf, p, n);
        c->nbuf += n;
        p += n;
        len -= n;
        if (c->nbuf < 64) {
            return;
        }
        sha_blocks(c->h, c->buf, 1);
        c->nbuf = 0;
    }
    if (len >= 64) {
        sha_blocks(c->h, p, len / 64);
        p += len - len % 64;
        len %= 64;
    }
    memcpy(c->buf, p, len);
    c->nbuf = len;
}

void
kt_sha256_final(kt_sha256_ctx *c, uint8_t out[KT_SHA256_LEN])
{
    uint64_t bits = c->total * 8;
    uint8_t pad[72] = {0x80};
    size_t padlen = (c->nbuf < 56 ? 56 : 120) - c->nbuf;

    for (int i = 0; i < 8; i++) {
        pad[padlen + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    kt_sha256_update(c, pad, padlen + 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

void
kt_sha256(const void *data, size_t len, uint8_t out[KT_SHA256_LEN])
{
    kt_sha256_ctx c;

    kt_sha256_init(&c);
    kt_sha256_update(&c, data, len);
    kt_sha256_final(&c, out);
}

void
kt_sha256_hex(const uint8_t d[KT_SHA256_LEN], char hex[65])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < KT_SHA256_LEN; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = '\0';
}
