// The restart policy (pure) and the local worker pool (real processes,
// real signals): intensity within a window, backoff growth, jitter bounds,
// persisted counts after a backend restart, SIGKILL detection latency.
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "supervisor/policy.h"

#define S(x) ((char *)(uintptr_t)(x))
#include "supervisor/pool.h"

TestSuite(supervisor_policy, .timeout = 20.0);

static kt_restart_policy
pol(uint32_t max, uint32_t window, uint32_t base, uint32_t cap, double jit)
{
    kt_restart_policy p = {.max_restarts = max,
                           .window_ms = window,
                           .backoff_base_ms = base,
                           .backoff_max_ms = cap,
                           .jitter = jit};
    return p;
}

Test(supervisor_policy, defaults_are_valid)
{
    kt_restart_policy p;

    kt_restart_policy_default(&p);
    cr_assert_eq(kt_restart_policy_check(&p), KT_OK);
    cr_assert_eq(p.max_restarts, KT_RESTART_DEFAULT_MAX);
}

Test(supervisor_policy, check_rejects_bad_values)
{
    kt_restart_policy p = pol(3, 1000, 10, 100, 0.0);

    cr_assert_eq(kt_restart_policy_check(NULL), KT_EINVAL);
    p.jitter = -0.1;
    cr_assert_eq(kt_restart_policy_check(&p), KT_EINVAL);
    p.jitter = 1.5;
    cr_assert_eq(kt_restart_policy_check(&p), KT_EINVAL);
    p.jitter = 0.0 / 0.0; // NaN
    cr_assert_eq(kt_restart_policy_check(&p), KT_EINVAL);
    p = pol(KT_RESTART_HIST_MAX + 1, 1000, 10, 100, 0.0);
    cr_assert_eq(kt_restart_policy_check(&p), KT_EINVAL);
    p = pol(3, 1000, 500, 100, 0.0);
    cr_assert_eq(kt_restart_policy_check(&p), KT_EINVAL);
}

Test(supervisor_policy, zero_restarts_never_restarts)
{
    kt_restart_policy p = pol(0, 1000, 10, 100, 0.0);
    kt_restart_hist h = {0};
    uint64_t rng = 1;
    uint32_t d = 77;

    cr_assert_not(kt_restart_decide(&p, &h, 0, 1000, 1500, &rng, &d));
    cr_assert_eq(d, 77, "delay untouched on refusal");
}

Test(supervisor_policy, stops_after_max_within_window_and_backs_off)
{
    kt_restart_policy p = pol(3, 10000, 100, 1000, 0.0);
    kt_restart_hist h = {0};
    uint64_t rng = 1;
    uint32_t d[3];
    int64_t t = 100000;

    for (int i = 0; i < 3; i++) {
        cr_assert(
            kt_restart_decide(&p, &h, (uint32_t)i, t - 10, t, &rng, &d[i]),
            "restart %d", i);
        t += 50;
    }
    cr_assert_eq(d[0], 100);
    cr_assert_eq(d[1], 200);
    cr_assert_eq(d[2], 400);
    cr_assert_not(kt_restart_decide(&p, &h, 3, t - 10, t, &rng, &d[0]));
}

Test(supervisor_policy, restarts_leave_the_window)
{
    kt_restart_policy p = pol(2, 1000, 10, 1000, 0.0);
    kt_restart_hist h = {0};
    uint64_t rng = 1;
    uint32_t d;

    cr_assert(kt_restart_decide(&p, &h, 0, 990, 1000, &rng, &d));
    cr_assert(kt_restart_decide(&p, &h, 1, 1090, 1100, &rng, &d));
    cr_assert_not(kt_restart_decide(&p, &h, 2, 1190, 1200, &rng, &d));
    // 1.2 s later both earlier restarts are out of the window.
    cr_assert(kt_restart_decide(&p, &h, 2, 2390, 2400, &rng, &d));
    cr_assert_eq(d, 10, "backoff restarts from the base");
}

Test(supervisor_policy, persisted_count_survives_a_backend_restart)
{
    kt_restart_policy p = pol(3, 60000, 10, 1000, 0.0);
    kt_restart_hist fresh = {0};
    uint64_t rng = 1;
    uint32_t d;

    // A new backend: empty history, SQLite says 3 restarts, the attempt
    // started 5 s ago -> still within the window -> no restart.
    cr_assert_not(kt_restart_decide(&p, &fresh, 3, 95000, 100000, &rng, &d));
    // With 2 persisted restarts one more is allowed, with backoff 2^2.
    kt_restart_hist h2 = {0};
    cr_assert(kt_restart_decide(&p, &h2, 2, 95000, 100000, &rng, &d));
    cr_assert_eq(d, 40);
}

Test(supervisor_policy, long_running_attempt_clears_history)
{
    kt_restart_policy p = pol(1, 1000, 10, 1000, 0.0);
    kt_restart_hist h = {0};
    uint64_t rng = 1;
    uint32_t d;

    cr_assert(kt_restart_decide(&p, &h, 0, 0, 1000, &rng, &d));
    cr_assert_not(kt_restart_decide(&p, &h, 1, 1000, 1500, &rng, &d));
    // An attempt that ran 2 s (> window) before failing starts afresh.
    cr_assert(kt_restart_decide(&p, &h, 1, 1600, 3600, &rng, &d));
}

Test(supervisor_policy, jitter_stays_within_bounds_and_varies)
{
    kt_restart_policy p = pol(3, 1000, 1000, 100000, 0.25);
    uint64_t rng = 42;
    uint32_t lo = UINT32_MAX, hi = 0;

    for (int i = 0; i < 1000; i++) {
        uint32_t d = kt_backoff_ms(&p, 0, &rng);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    cr_assert_geq(lo, 750);
    cr_assert_leq(hi, 1250);
    cr_assert_gt(hi - lo, 300, "jitter spreads delays (%u..%u)", lo, hi);
}

Test(supervisor_policy, backoff_is_capped)
{
    kt_restart_policy p = pol(3, 1000, 100, 700, 0.0);
    uint64_t rng = 1;

    cr_assert_eq(kt_backoff_ms(&p, 0, &rng), 100);
    cr_assert_eq(kt_backoff_ms(&p, 2, &rng), 400);
    cr_assert_eq(kt_backoff_ms(&p, 3, &rng), 700);
    cr_assert_eq(kt_backoff_ms(&p, 40, &rng), 700);
}

// ---- the pool -------------------------------------------------------

typedef struct seen {
    atomic_int n;
    atomic_int code, sig;
    atomic_llong at_ns;
    char tag[32];
} seen;

static void
on_exit_cb(void *arg, const kt_wpool_exit *e)
{
    seen *s = arg;

    strncpy(s->tag, e->tag, sizeof(s->tag) - 1);
    atomic_store(&s->code, e->exit_code);
    atomic_store(&s->sig, e->signal);
    atomic_store(&s->at_ns, e->at_ns);
    atomic_fetch_add(&s->n, 1);
}

static bool
wait_n(seen *s, int n, int ms)
{
    int64_t end = kt_mono_ns() + (int64_t)ms * 1000000;

    while (atomic_load(&s->n) < n) {
        if (kt_mono_ns() > end) {
            return false;
        }
        usleep(200);
    }
    return true;
}

Test(supervisor_pool, sigkill_is_detected_within_100ms)
{
    static seen s;
    kt_wpool *p;
    pid_t pid;
    char *argv[] = {S("/bin/sleep"), S("30"), NULL};

    cr_assert_eq(kt_wpool_open(&p, on_exit_cb, &s), KT_OK);
    cr_assert_eq(kt_wpool_spawn(p, argv, "w1", &pid), KT_OK);
    cr_assert_eq(kt_wpool_count(p), 1);
    int64_t t0 = kt_mono_ns();
    cr_assert_eq(kill(pid, SIGKILL), 0);
    cr_assert(wait_n(&s, 1, 2000));
    int64_t lat = atomic_load(&s.at_ns) - t0;
    cr_assert_lt(lat, 100000000LL, "detected after %lld ns", (long long)lat);
    cr_assert_eq(atomic_load(&s.sig), SIGKILL);
    cr_assert_eq(atomic_load(&s.code), -1);
    cr_assert_str_eq(s.tag, "w1");
    cr_assert_eq(kt_wpool_count(p), 0);
    cr_assert_eq(kt_wpool_kill(p, pid, SIGTERM), KT_ENOENT, "reaped child");
    kt_wpool_close(p);
}

Test(supervisor_pool, exit_code_is_reported)
{
    static seen s;
    kt_wpool *p;
    pid_t pid;
    char *argv[] = {S("/bin/sh"), S("-c"), S("exit 3"), NULL};

    cr_assert_eq(kt_wpool_open(&p, on_exit_cb, &s), KT_OK);
    cr_assert_eq(kt_wpool_spawn(p, argv, "x", &pid), KT_OK);
    cr_assert(wait_n(&s, 1, 5000));
    cr_assert_eq(atomic_load(&s.code), 3);
    cr_assert_eq(atomic_load(&s.sig), 0);
    cr_assert_eq(kt_wpool_wait_empty(p, 1000), KT_OK);
    kt_wpool_close(p);
}

Test(supervisor_pool, kill_through_the_pool_and_wait_empty)
{
    static seen s;
    kt_wpool *p;
    pid_t a, b;
    char *argv[] = {S("/bin/sleep"), S("30"), NULL};

    cr_assert_eq(kt_wpool_open(&p, on_exit_cb, &s), KT_OK);
    cr_assert_eq(kt_wpool_spawn(p, argv, "a", &a), KT_OK);
    cr_assert_eq(kt_wpool_spawn(p, argv, "b", &b), KT_OK);
    cr_assert_eq(kt_wpool_wait_empty(p, 20), KT_ETIMEDOUT);
    cr_assert_eq(kt_wpool_kill(p, a, SIGTERM), KT_OK);
    cr_assert_eq(kt_wpool_kill(p, b, SIGTERM), KT_OK);
    cr_assert_eq(kt_wpool_wait_empty(p, 5000), KT_OK);
    cr_assert_eq(atomic_load(&s.n), 2);
    cr_assert_eq(atomic_load(&s.sig), SIGTERM);
    kt_wpool_close(p);
}

Test(supervisor_pool, bad_arguments_and_missing_binary)
{
    kt_wpool *p;
    pid_t pid = 0;
    char *argv[] = {S("/nonexistent/ktrdr"), NULL};
    char *empty[] = {NULL};

    cr_assert_eq(kt_wpool_open(NULL, NULL, NULL), KT_EINVAL);
    cr_assert_eq(kt_wpool_open(&p, NULL, NULL), KT_OK);
    cr_assert_eq(kt_wpool_spawn(p, NULL, "t", &pid), KT_EINVAL);
    cr_assert_eq(kt_wpool_spawn(p, empty, "t", &pid), KT_EINVAL);
    cr_assert_eq(kt_wpool_spawn(p, argv, "t", NULL), KT_EINVAL);
    cr_assert_eq(kt_wpool_spawn(p, argv, "t", &pid), KT_ESYSERR | ENOENT);
    cr_assert_eq(pid, 0, "out-param untouched on failure");
    cr_assert_eq(kt_wpool_kill(NULL, 1, SIGTERM), KT_EINVAL);
    cr_assert_eq(kt_wpool_count(p), 0);
    kt_wpool_close(p);
    kt_wpool_close(NULL);
}

Test(supervisor_pool, close_kills_remaining_children)
{
    kt_wpool *p;
    pid_t pid;
    char *argv[] = {S("/bin/sleep"), S("30"), NULL};

    cr_assert_eq(kt_wpool_open(&p, NULL, NULL), KT_OK);
    cr_assert_eq(kt_wpool_spawn(p, argv, "a", &pid), KT_OK);
    kt_wpool_close(p);
    cr_assert_eq(kill(pid, 0), -1, "child reaped");
    cr_assert_eq(errno, ESRCH);
}
