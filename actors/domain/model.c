// model.c: the model artifact directory (model.pb + metadata.json +
// MANIFEST of SHA-256 digests), written atomically and verified on load;
// and the SHA-256 it uses (FIPS 180-4, own implementation).
#include "domain/model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/model_impl.h"

// ---- SHA-256 ----

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
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t
sha_ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void
sha_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64], s[8];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    }
    for (int i = 16; i < 64; i++) {
        uint32_t s0 =
            sha_ror(w[i - 15], 7) ^ sha_ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 =
            sha_ror(w[i - 2], 17) ^ sha_ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(s, h, sizeof(s));
    for (int i = 0; i < 64; i++) {
        uint32_t e = s[4], a = s[0];
        uint32_t t1 = s[7] + (sha_ror(e, 6) ^ sha_ror(e, 11) ^ sha_ror(e, 25)) +
                      ((e & s[5]) ^ (~e & s[6])) + sha_k[i] + w[i];
        uint32_t t2 = (sha_ror(a, 2) ^ sha_ror(a, 13) ^ sha_ror(a, 22)) +
                      ((a & s[1]) ^ (a & s[2]) ^ (s[1] & s[2]));
        memmove(s + 1, s, 7 * sizeof(uint32_t));
        s[4] += t1;
        s[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) {
        h[i] += s[i];
    }
}

void
kt_sha256(const void *data, size_t len, uint8_t out[32])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const uint8_t *p = data;
    size_t left = len;
    for (; left >= 64; left -= 64, p += 64) {
        sha_block(h, p);
    }
    uint8_t tail[128] = {0};
    if (left > 0) {
        memcpy(tail, p, left);
    }
    tail[left] = 0x80;
    size_t tl = left < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) {
        tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
    }
    sha_block(h, tail);
    if (tl == 128) {
        sha_block(h, tail + 64);
    }
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

// ---- the in-memory model ----

KT_PRINTF(4, 5)
kt_err
kt__model_fail(kt_err rv, char *err, size_t errlen, const char *fmt, ...)
{
    if (errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rv;
}

static int
model_name_ok(const char *s)
{
    return s != NULL && s[0] != 0 && strchr(s, '/') == NULL &&
           strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && strlen(s) < 200;
}

void
kt_model_free(kt_model *m)
{
    if (m == NULL) {
        return;
    }
    kt_mlp_free(m->mlp);
    for (size_t i = 0; m->names != NULL && i < m->n_names; i++) {
        free(m->names[i]);
    }
    free(m->names);
    free(m->strategy);
    free(m->timeframe);
    free(m);
}

kt_err
kt_model_alloc(const kt_mlp *mlp, char *const *names, size_t n_names,
               const char *strategy, const char *timeframe,
               const kt_train_metrics *train, const kt_test_metrics *test,
               kt_model **out, char *err, size_t errlen)
{
    if (!model_name_ok(strategy) || !model_name_ok(timeframe)) {
        return kt__model_fail(KT_EINVAL, err, errlen,
                              "model: bad strategy or timeframe name");
    }
    if (n_names != (size_t)kt_mlp_cfg_of(mlp)->n_inputs) {
        return kt__model_fail(KT_EINVAL, err, errlen,
                              "model: %zu feature names for a network of "
                              "%d inputs",
                              n_names, kt_mlp_cfg_of(mlp)->n_inputs);
    }
    kt_model *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return KT_ENOMEM;
    }
    m->names = calloc(n_names + 1, sizeof(char *));
    m->n_names = n_names;
    m->strategy = strdup(strategy);
    m->timeframe = strdup(timeframe);
    int ok = m->names && m->strategy && m->timeframe &&
             kt_mlp_clone(mlp, &m->mlp) == KT_OK;
    for (size_t i = 0; ok && i < n_names; i++) {
        ok = names[i] != NULL && (m->names[i] = strdup(names[i])) != NULL;
    }
    if (!ok) {
        kt_model_free(m);
        return KT_ENOMEM;
    }
    if (train != NULL) {
        m->train = *train;
    }
    if (test != NULL) {
        m->test = *test;
    }
    m->created_at = (int64_t)time(NULL);
    *out = m;
    return KT_OK;
}

const kt_mlp *
kt_model_mlp(const kt_model *m)
{
    return m->mlp;
}

size_t
kt_model_n_features(const kt_model *m)
{
    return m->n_names;
}

char *const *
kt_model_features(const kt_model *m)
{
    return m->names;
}

const char *
kt_model_strategy(const kt_model *m)
{
    return m->strategy;
}

const char *
kt_model_timeframe(const kt_model *m)
{
    return m->timeframe;
}

const kt_train_metrics *
kt_model_train_metrics(const kt_model *m)
{
    return &m->train;
}

const kt_test_metrics *
kt_model_test_metrics(const kt_model *m)
{
    return &m->test;
}

int64_t
kt_model_created_at(const kt_model *m)
{
    return m->created_at;
}

kt_err
kt_model_check_features(const kt_model *m, char *const *names, size_t n,
                        char *err, size_t errlen)
{
    size_t common = n < m->n_names ? n : m->n_names;
    for (size_t i = 0; i < common; i++) {
        if (names[i] == NULL || strcmp(names[i], m->names[i]) != 0) {
            if (errlen > 0) {
                snprintf(err, errlen,
                         "feature %zu is '%s' but the model was trained "
                         "with '%s'",
                         i, names[i] ? names[i] : "(null)", m->names[i]);
            }
            return KT_EINVAL;
        }
    }
    if (n != m->n_names) {
        if (errlen > 0) {
            snprintf(err, errlen,
                     "%zu features given but the model was trained with %zu", n,
                     m->n_names);
        }
        return KT_EINVAL;
    }
    return KT_OK;
}
