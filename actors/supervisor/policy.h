// policy.h: the OTP-style restart policy of supervised operations (pure
// logic, no runtime): at most max_restarts restarts within window_ms, each
// after an exponential backoff with jitter. The restart count itself lives
// in SQLite (operations.restart_count); this history only decides whether
// the next restart still fits the window, and is seeded conservatively from
// the persisted count after a backend restart (see docs/actors/supervisor.md).
#ifndef KT_SUPERVISOR_POLICY_H
#define KT_SUPERVISOR_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include <kt/err.h>

#define KT_RESTART_DEFAULT_MAX        3
#define KT_RESTART_DEFAULT_WINDOW_MS  60000u
#define KT_RESTART_DEFAULT_BASE_MS    50u
#define KT_RESTART_DEFAULT_BACKOFF_MS 5000u
#define KT_RESTART_DEFAULT_JITTER     0.2
#define KT_RESTART_HIST_MAX           64

typedef struct kt_restart_policy {
    uint32_t max_restarts;    // within the window; 0 = never (guide Scen. 2)
    uint32_t window_ms;       // 0 = KT_RESTART_DEFAULT_WINDOW_MS
    uint32_t backoff_base_ms; // first delay; 0 = restart at once
    uint32_t backoff_max_ms;  // cap; 0 = KT_RESTART_DEFAULT_BACKOFF_MS
    double jitter;            // +-fraction of the delay, in [0, 1]
} kt_restart_policy;

// Restart moments of one operation (ms, any monotonic-enough clock).
typedef struct kt_restart_hist {
    int64_t at[KT_RESTART_HIST_MAX];
    uint32_t n;
    bool seeded; // the persisted count was folded in
} kt_restart_hist;

// kt_restart_policy_default fills p with the defaults above.
void kt_restart_policy_default(kt_restart_policy *p);
// kt_restart_policy_check validates p (KT_EINVAL: jitter outside [0, 1],
// max_restarts > KT_RESTART_HIST_MAX, base > max).
KT_NODISCARD kt_err kt_restart_policy_check(const kt_restart_policy *p);

// kt_restart_decide: an operation failed at now_ms. persisted = its
// restart_count in SQLite, attempt_started_ms = when the failed attempt
// started running (0 = unknown). Returns true (restart after *delay_ms,
// recorded in h) or false (the limit is reached: leave it failed). *rng is
// a splitmix64 state for the jitter.
bool kt_restart_decide(const kt_restart_policy *p, kt_restart_hist *h,
                       uint32_t persisted, int64_t attempt_started_ms,
                       int64_t now_ms, uint64_t *rng, uint32_t *delay_ms);

// kt_backoff_ms: the delay before restart number n (0-based) with jitter.
uint32_t kt_backoff_ms(const kt_restart_policy *p, uint32_t n, uint64_t *rng);

#endif // KT_SUPERVISOR_POLICY_H
