// The runtime's side of the benchmark: a producer feeding a sink actor
// (one-way) and an asker actor asking an echo actor (round trip), inside
// one runtime or across two runtimes connected over ipc:// or tcp://.
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kt/kt.h>

#include "bench.h"

enum { T_DATA = 100, T_KICK = 101 };

#define OK(x)                                                  \
    do {                                                       \
        kt_err rv_ = (x);                                      \
        if (rv_ != KT_OK) {                                    \
            fprintf(stderr, "%s: %s\n", #x, kt_strerror(rv_)); \
            exit(1);                                           \
        }                                                      \
    } while (0)

// A counter the measuring thread waits on, blocked on a condition variable
// until it reaches `want`: a thread polling every millisecond took turns
// from the threads being measured on 2 cores, which raw NNG's blocking
// threads do not pay (ask p50/p99 over inproc: see the commit).
typedef struct latch {
    atomic_long n;
    long want;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} latch;

static void
latch_init(latch *l, long want)
{
    atomic_init(&l->n, 0);
    l->want = want;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
}

static void
latch_fini(latch *l)
{
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
}

// latch_add counts one (any thread); the one that reaches want wakes the
// waiter.
static void
latch_add(latch *l)
{
    if (atomic_fetch_add_explicit(&l->n, 1, memory_order_relaxed) + 1 ==
        l->want) {
        pthread_mutex_lock(&l->mu);
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
    }
}

static void
latch_wait(latch *l)
{
    pthread_mutex_lock(&l->mu);
    while (atomic_load(&l->n) < l->want) {
        pthread_cond_wait(&l->cv, &l->mu);
    }
    pthread_mutex_unlock(&l->mu);
}

// latch_rearm: count from zero again up to want (no sender in flight).
static void
latch_rearm(latch *l, long want)
{
    atomic_store(&l->n, 0);
    l->want = want;
}

static kt_runtime *
rt_start(int threads)
{
    kt_runtime_cfg cfg = {.threads = threads};
    kt_runtime *rt;

    OK(kt_runtime_start(&rt, &cfg));
    return rt;
}

// sink: counts what it receives.
static kt_err
sink_init(void *state, kt_actor *self, const void *cfg)
{
    (void)self;
    memcpy(state, &cfg, sizeof(cfg));
    return KT_OK;
}

static kt_err
sink_handle(void *state, kt_actor *self, kt_msg *msg)
{
    latch *n;

    (void)self;
    memcpy(&n, state, sizeof(n));
    latch_add(n);
    kt_msg_free(msg);
    return KT_OK;
}

static const kt_actor_ops sink_ops = {.name = "sink",
                                      .state_size = sizeof(void *),
                                      .init = sink_init,
                                      .handle = sink_handle};

// producer (same-thread case): sends its quota in slices of 256.
typedef struct producer {
    kt_aid to;
    size_t len;
    long left;
} producer;

static kt_err
producer_init(void *state, kt_actor *self, const void *cfg)
{
    (void)self;
    memcpy(state, cfg, sizeof(producer));
    return KT_OK;
}

static kt_err
producer_handle(void *state, kt_actor *self, kt_msg *kick)
{
    producer *p = state;

    for (int i = 0; i < 256 && p->left > 0; i++, p->left--) {
        kt_msg *m;
        OK(kt_msg_alloc(&m, T_DATA, p->len));
        memset(kt_msg_body(m), 0, p->len);
        if (kt_send(self, p->to, m) != KT_OK) {
            kt_msg_free(m); // full: try again on the next kick
            break;
        }
    }
    if (p->left > 0) {
        return kt_send(self, kt_self(self), kick);
    }
    kt_msg_free(kick);
    return KT_OK;
}

static const kt_actor_ops producer_ops = {.name = "producer",
                                          .state_size = sizeof(producer),
                                          .init = producer_init,
                                          .handle = producer_handle};

static void
send_retry(kt_runtime *rt, kt_aid to, size_t len)
{
    struct timespec t = {.tv_nsec = 20000};
    kt_msg *m;
    kt_err rv;

    OK(kt_msg_alloc(&m, T_DATA, len));
    memset(kt_msg_body(m), 0, len);
    while ((rv = kt_runtime_send(rt, to, m)) == KT_EAGAIN) {
        nanosleep(&t, NULL); // back-pressure, as a blocking nng send waits
    }
    OK(rv);
}

// Two runtimes: b serves `ops` as `name` at url, a holds a proxy to it.
static void
pair_start(const char *url, const kt_actor_ops *ops, const void *cfg,
           const char *name, kt_runtime **ap, kt_runtime **bp, kt_aid *proxy)
{
    kt_spawn_opts o = {.name = name};
    kt_aid x;

    *bp = rt_start(1);
    *ap = rt_start(1);
    OK(kt_spawn(*bp, ops, cfg, &o, &x));
    OK(kt_runtime_listen(*bp, url));
    OK(kt_remote_connect(*ap, url, name, proxy));
}

double
kt_oneway(const char *url, size_t len, int n, int from)
{
    latch count;
    kt_runtime *a = NULL, *b = NULL;
    kt_aid to;
    double t0, t1;

    latch_init(&count, 1);
    if (url != NULL) {
        pair_start(url, &sink_ops, &count, "sink", &a, &b, &to);
        send_retry(a, to, len); // warm up: the connection is up after this
        latch_wait(&count);
    } else {
        a = rt_start(from == FROM_SAME_THREAD ? 1 : 2);
        OK(kt_spawn(a, &sink_ops, &count, NULL, &to)); // thread 0
    }
    latch_rearm(&count, n);
    t0 = bench_now_us();
    if (from == FROM_EXTERNAL) {
        for (int i = 0; i < n; i++) {
            send_retry(a, to, len);
        }
    } else {
        producer p = {.to = to, .len = len, .left = n};
        kt_aid pa;
        kt_msg *kick;
        OK(kt_spawn(a, &producer_ops, &p, NULL, &pa)); // thread 1 (or 0)
        OK(kt_msg_alloc(&kick, T_KICK, 0));
        OK(kt_runtime_send(a, pa, kick));
    }
    latch_wait(&count);
    t1 = bench_now_us();
    kt_runtime_stop(a);
    kt_runtime_stop(b);
    latch_fini(&count);
    return n / ((t1 - t0) / 1e6);
}

// asker: asks `to` n times in a row, recording each round trip.
typedef struct asker {
    kt_aid to;
    int n, i;
    double t0;
    double *lat;
    latch done;
} asker;

static kt_err
asker_init(void *state, kt_actor *self, const void *cfg)
{
    (void)self;
    memcpy(state, &cfg, sizeof(cfg));
    return KT_OK;
}

static kt_err
asker_handle(void *state, kt_actor *self, kt_msg *msg)
{
    asker *a;
    uint64_t corr;

    memcpy(&a, state, sizeof(a));
    if (kt_msg_type(msg) == KT_MSG_TIMEOUT) {
        fprintf(stderr, "bench: ask timed out\n");
        exit(1);
    }
    if (kt_msg_corr(msg) != 0) { // a reply (the kick has none)
        a->lat[a->i++] = bench_now_us() - a->t0;
    }
    if (a->i == a->n) {
        kt_msg_free(msg);
        latch_add(&a->done);
        return KT_OK;
    }
    a->t0 = bench_now_us();
    return kt_ask(self, a->to, msg, 10000, &corr); // the reply goes back
}

static const kt_actor_ops asker_ops = {.name = "asker",
                                       .state_size = sizeof(void *),
                                       .init = asker_init,
                                       .handle = asker_handle};

static kt_err
echo_handle(void *state, kt_actor *self, kt_msg *msg)
{
    (void)state;
    if (kt_reply(self, msg, msg) != KT_OK) {
        kt_msg_free(msg);
    }
    return KT_OK;
}

static const kt_actor_ops echo_ops = {.name = "echo", .handle = echo_handle};

void
kt_rtt(const char *url, size_t len, int n, int same_thread, double *lat)
{
    asker k = {.n = n, .lat = lat};
    kt_runtime *a = NULL, *b = NULL;
    kt_msg *m, *rep;
    kt_aid ask;

    latch_init(&k.done, 1);
    if (url != NULL) {
        pair_start(url, &echo_ops, NULL, "echo", &a, &b, &k.to);
        OK(kt_msg_alloc(&m, T_DATA, 1)); // warm up the connection
        OK(kt_runtime_ask(a, k.to, m, 10000, &rep));
        kt_msg_free(rep);
    } else {
        a = rt_start(same_thread ? 1 : 2);
        OK(kt_spawn(a, &echo_ops, NULL, NULL, &k.to)); // thread 0
    }
    OK(kt_spawn(a, &asker_ops, &k, NULL, &ask)); // thread 1 (or 0)
    OK(kt_msg_alloc(&m, T_KICK, len));
    memset(kt_msg_body(m), 0, len);
    OK(kt_runtime_send(a, ask, m));
    latch_wait(&k.done);
    kt_runtime_stop(a);
    kt_runtime_stop(b);
    latch_fini(&k.done);
}
