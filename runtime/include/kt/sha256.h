// kt/sha256.h: SHA-256 (FIPS 180-4) for artifact and state checksums, with
// the CPU's SHA extensions when present. No crypto library is installed and
// only integrity (not secrecy) is needed. Part of ktsimd (no runtime deps).
#ifndef KT_SHA256_H
#define KT_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kt/err.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KT_SHA256_LEN 32

typedef struct kt_sha256_ctx {
    uint32_t h[8];
    uint64_t total; // bytes hashed so far
    uint8_t buf[64];
    size_t nbuf;
} kt_sha256_ctx;

// kt_sha256_init / _update / _final: incremental hashing into out[32].
KT_API void kt_sha256_init(kt_sha256_ctx *c);
KT_API void kt_sha256_update(kt_sha256_ctx *c, const void *data, size_t len);
KT_API void kt_sha256_final(kt_sha256_ctx *c, uint8_t out[KT_SHA256_LEN]);
// kt_sha256: one-shot hash of data[len].
KT_API void kt_sha256(const void *data, size_t len, uint8_t out[KT_SHA256_LEN]);
// kt_sha256_hw reports whether the CPU has the x86 SHA extensions and, for
// want >= 0, selects them (1) or the portable code (0) process-wide (tests
// compare both). want < 0 only asks.
KT_API bool kt_sha256_hw(int want);
// kt_sha256_hex writes the 64 lowercase hex digits plus NUL into hex[65].
KT_API void kt_sha256_hex(const uint8_t d[KT_SHA256_LEN], char hex[65]);

#ifdef __cplusplus
}
#endif

#endif // KT_SHA256_H
