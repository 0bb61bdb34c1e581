// policy.c: restart intensity (max restarts within a window) and
// exponential backoff with jitter, as pure functions.
#include "supervisor/policy.h"

#include <string.h>

void
kt_restart_policy_default(kt_restart_policy *p)
{
    p->max_restarts = KT_RESTART_DEFAULT_MAX;
    p->window_ms = KT_RESTART_DEFAULT_WINDOW_MS;
    p->backoff_base_ms = KT_RESTART_DEFAULT_BASE_MS;
    p->backoff_max_ms = KT_RESTART_DEFAULT_BACKOFF_MS;
    p->jitter = KT_RESTART_DEFAULT_JITTER;
}

kt_err
kt_restart_policy_check(const kt_restart_policy *p)
{
    if (p == NULL || !(p->jitter >= 0.0 && p->jitter <= 1.0) ||
        p->max_restarts > KT_RESTART_HIST_MAX ||
        (p->backoff_max_ms != 0 && p->backoff_base_ms > p->backoff_max_ms)) {
        return KT_EINVAL;
    }
    return KT_OK;
}

static uint64_t
splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t
kt_backoff_ms(const kt_restart_policy *p, uint32_t n, uint64_t *rng)
{
    uint32_t cap = p->backoff_max_ms != 0 ? p->backoff_max_ms
                                          : KT_RESTART_DEFAULT_BACKOFF_MS;
    double d = p->backoff_base_ms;
    double u;

    for (uint32_t i = 0; i < n && d < cap; i++) {
        d *= 2.0;
    }
    if (d > cap) {
        d = cap;
    }
    u = (double)(splitmix64(rng) >> 11) * 0x1.0p-53; // [0, 1)
    d *= 1.0 + p->jitter * (2.0 * u - 1.0);
    if (d > cap) {
        d = cap;
    }
    return d < 0.0 ? 0u : (uint32_t)d;
}

// Drop restarts that left the window.
static void
hist_prune(kt_restart_hist *h, int64_t horizon)
{
    uint32_t k = 0;

    for (uint32_t i = 0; i < h->n; i++) {
        if (h->at[i] > horizon) {
            h->at[k++] = h->at[i];
        }
    }
    h->n = k;
}

bool
kt_restart_decide(const kt_restart_policy *p, kt_restart_hist *h,
                  uint32_t persisted, int64_t attempt_started_ms,
                  int64_t now_ms, uint64_t *rng, uint32_t *delay_ms)
{
    int64_t window = p->window_ms != 0 ? (int64_t)p->window_ms
                                       : KT_RESTART_DEFAULT_WINDOW_MS;
    bool long_run =
        attempt_started_ms > 0 && now_ms - attempt_started_ms >= window;

    if (!h->seeded) {
        // After a backend restart only the count survives: assume every
        // earlier restart happened when the failed attempt started (the
        // latest moment one could have), which can only make us stricter.
        uint32_t n =
            persisted < KT_RESTART_HIST_MAX ? persisted : KT_RESTART_HIST_MAX;
        int64_t at = attempt_started_ms > 0 ? attempt_started_ms : now_ms;
        for (h->n = 0; h->n < n; h->n++) {
            h->at[h->n] = at;
        }
        h->seeded = true;
    }
    if (long_run) {
        h->n = 0; // the attempt outlived the window: earlier ones are out
    }
    hist_prune(h, now_ms - window);
    if (h->n >= p->max_restarts) {
        return false;
    }
    *delay_ms = kt_backoff_ms(p, h->n, rng);
    if (h->n == KT_RESTART_HIST_MAX) { // unreachable: max <= HIST_MAX
        memmove(h->at, h->at + 1, sizeof(h->at[0]) * (h->n - 1));
        h->n--;
    }
    h->at[h->n++] = now_ms;
    return true;
}
