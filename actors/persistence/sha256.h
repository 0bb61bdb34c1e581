// sha256.h: a small SHA-256 (FIPS 180-4) for artifact hashes. No crypto
// library is installed and only integrity (not secrecy) is needed here.
#ifndef KT_PERSISTENCE_SHA256_H
#define KT_PERSISTENCE_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KT_SHA256_LEN 32

typedef struct kt_sha256 {
    uint32_t h[8];
    uint64_t total; // bytes hashed so far
    uint8_t buf[64];
    size_t nbuf;
} kt_sha256;

// kt__sha256_init / _update / _final: incremental hashing into out[32].
void kt__sha256_init(kt_sha256 *c);
void kt__sha256_update(kt_sha256 *c, const void *data, size_t len);
void kt__sha256_final(kt_sha256 *c, uint8_t out[KT_SHA256_LEN]);
// kt__sha256: one-shot hash of data[len].
void kt__sha256(const void *data, size_t len, uint8_t out[KT_SHA256_LEN]);
// kt__sha256_hw reports whether the CPU has the x86 SHA extensions and, for
// want >= 0, selects them (1) or the portable code (0) process-wide (tests
// compare both). want < 0 only asks.
bool kt__sha256_hw(int want);
// kt__sha256_hex writes the 64 lowercase hex digits plus NUL into hex[65].
void kt__sha256_hex(const uint8_t d[KT_SHA256_LEN], char hex[65]);

#endif // KT_PERSISTENCE_SHA256_H
