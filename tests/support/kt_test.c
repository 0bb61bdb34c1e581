// Test helpers (see kt_test.h).
#include "support/kt_test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "base/alloc.h"

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
run_until(bool (*cond)(void *arg), void *arg, int deadline_ms)
{
    int64_t end = now_ms() + deadline_ms;
    struct timespec tick = {.tv_nsec = 200000}; // poll interval, not a wait

    while (!cond(arg)) {
        if (now_ms() > end) {
            return cond(arg);
        }
        nanosleep(&tick, NULL);
    }
    return true;
}

typedef struct atomic_goal {
    atomic_long *v;
    long want;
} atomic_goal;

static bool
atomic_reached(void *arg)
{
    atomic_goal *g = arg;

    return atomic_load(g->v) >= g->want;
}

bool
wait_atomic(atomic_long *v, long want, int deadline_ms)
{
    atomic_goal g = {.v = v, .want = want};

    return run_until(atomic_reached, &g, deadline_ms);
}

static pthread_mutex_t cap_mtx = PTHREAD_MUTEX_INITIALIZER;
static char cap_buf[1 << 16];
static size_t cap_len;

static void
cap_sink(void *arg, kt_log_level lvl, const char *module, const char *line)
{
    (void)arg;
    (void)lvl;
    pthread_mutex_lock(&cap_mtx);
    size_t n = strlen(module) + strlen(line) + 3;
    if (cap_len + n < sizeof(cap_buf)) {
        cap_len +=
            (size_t)snprintf(cap_buf + cap_len, n + 1, "%s %s\n", module, line);
    }
    pthread_mutex_unlock(&cap_mtx);
}

void
log_capture_start(void)
{
    pthread_mutex_lock(&cap_mtx);
    cap_len = 0;
    cap_buf[0] = '\0';
    pthread_mutex_unlock(&cap_mtx);
    kt_log_set_sink(cap_sink, NULL);
}

void
log_capture_stop(void)
{
    kt_log_set_sink(NULL, NULL);
}

bool
log_seen(const char *needle)
{
    bool seen;

    pthread_mutex_lock(&cap_mtx);
    seen = strstr(cap_buf, needle) != NULL;
    pthread_mutex_unlock(&cap_mtx);
    return seen;
}

static bool
log_seen_cb(void *arg)
{
    return log_seen(arg);
}

bool
log_wait(const char *needle, int deadline_ms)
{
    return run_until(log_seen_cb, (void *)(uintptr_t)needle, deadline_ms);
}

kt_runtime *
start_rt(int threads, size_t mailbox_limit)
{
    kt_runtime_cfg cfg = {.threads = threads, .mailbox_limit = mailbox_limit};
    kt_runtime *rt = NULL;

    cr_assert_eq(kt__alloc_live(), 0, "allocations live before start");
    cr_assert_eq(kt_runtime_start(&rt, &cfg), KT_OK);
    return rt;
}

void
stop_checked(kt_runtime *rt)
{
    kt_runtime_stop(rt);
    cr_assert_eq(kt__alloc_live(), 0, "%lld runtime allocations leaked",
                 (long long)kt__alloc_live());
}

kt_msg *
msg_new(uint32_t type, const void *body, size_t len)
{
    kt_msg *m = NULL;

    cr_assert_eq(kt_msg_alloc(&m, type, len), KT_OK);
    if (len > 0) {
        memcpy(kt_msg_body(m), body, len);
    }
    return m;
}

kt_aid
spawn_ok(kt_runtime *rt, const kt_actor_ops *ops, const void *cfg,
         const char *name)
{
    kt_spawn_opts o = {.name = name};
    kt_aid aid = 0;

    cr_assert_eq(kt_spawn(rt, ops, cfg, &o, &aid), KT_OK);
    cr_assert_neq(aid, 0);
    return aid;
}

static kt_err
echo_handle(void *state, kt_actor *self, kt_msg *msg)
{
    kt_err rv;

    (void)state;
    if ((rv = kt_reply(self, msg, msg)) != KT_OK) {
        kt_msg_free(msg); // the asker is gone or gave up: not our failure
    }
    return KT_OK;
}

const kt_actor_ops echo_ops = {
    .name = "echo", .state_size = 0, .handle = echo_handle};

typedef struct counter {
    atomic_long *n;
} counter;

static kt_err
counter_init(void *state, kt_actor *self, const void *cfg)
{
    counter *c = state;

    (void)self;
    c->n = (atomic_long *)(uintptr_t)cfg;
    return KT_OK;
}

static kt_err
counter_handle(void *state, kt_actor *self, kt_msg *msg)
{
    counter *c = state;
    kt_err rv = KT_OK;

    if (kt_msg_type(msg) == T_FAIL) {
        memcpy(&rv, kt_msg_cbody(msg), sizeof(rv));
    } else if (kt_msg_type(msg) == T_EXIT) {
        kt_err reason;
        memcpy(&reason, kt_msg_cbody(msg), sizeof(reason));
        kt_exit(self, reason);
    }
    if (c->n != NULL) {
        atomic_fetch_add(c->n, 1);
    }
    kt_msg_free(msg);
    return rv;
}

const kt_actor_ops counter_ops = {.name = "counter",
                                  .state_size = sizeof(counter),
                                  .init = counter_init,
                                  .handle = counter_handle};
