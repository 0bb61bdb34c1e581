// Many actors across threads under message storms; shutdown with messages
// in flight; dedicated actors.
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include <kt/kt.h>

#include "base/alloc.h"
#include "support/kt_test.h"

TestSuite(runtime_storm, .timeout = 60.0);

#define NACTORS 10000

// relay: a message carries a hop count; each hop goes to a pseudo-random
// actor; the last hop is counted.
typedef struct storm {
    kt_aid *aids;
    int n;
    atomic_long done, hops, eagain;
} storm;

typedef struct relay {
    storm *s;
    uint64_t rng;
} relay;

static kt_err
relay_init(void *state, kt_actor *self, const void *cfg)
{
    relay *r = state;

    r->s = (storm *)(uintptr_t)cfg;
    r->rng = kt_self(self) * 0x9e3779b97f4a7c15ULL + 1;
    return KT_OK;
}

static kt_err
relay_handle(void *state, kt_actor *self, kt_msg *msg)
{
    relay *r = state;
    uint32_t h;
    kt_err rv;

    memcpy(&h, kt_msg_cbody(msg), sizeof(h));
    atomic_fetch_add_explicit(&r->s->hops, 1, memory_order_relaxed);
    if (h == 0) {
        atomic_fetch_add(&r->s->done, 1);
        kt_msg_free(msg);
        return KT_OK;
    }
    h--;
    memcpy(kt_msg_body(msg), &h, sizeof(h));
    r->rng = r->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    rv = kt_send(self, r->s->aids[(r->rng >> 33) % (uint64_t)r->s->n], msg);
    if (rv == KT_EAGAIN) {
        // Back-pressure: keep the hop here instead (same thread, no socket).
        atomic_fetch_add(&r->s->eagain, 1);
        rv = kt_send(self, kt_self(self), msg);
    }
    if (rv != KT_OK) {
        kt_msg_free(msg);
    }
    return rv;
}

static const kt_actor_ops relay_ops = {.name = "relay",
                                       .state_size = sizeof(relay),
                                       .init = relay_init,
                                       .handle = relay_handle};

static void
storm_spawn(kt_runtime *rt, storm *s, int n)
{
    s->n = n;
    s->aids = calloc((size_t)n, sizeof(*s->aids));
    cr_assert_not_null(s->aids);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(kt_spawn(rt, &relay_ops, s, NULL, &s->aids[i]), KT_OK);
    }
}

static void
storm_start(storm *s, int every, uint32_t hops)
{
    for (int i = 0; i < s->n; i += every) {
        cr_assert_eq(kt_send(NULL, s->aids[i], msg_new(T_PING, &hops, 4)),
                     KT_OK);
    }
}

Test(runtime_storm, ten_thousand_actors_deliver_every_hop)
{
    kt_runtime *rt = start_rt(2, 0);
    storm s = {0};
    long want = NACTORS / 2; // one message per 2 actors, 20 hops each

    storm_spawn(rt, &s, NACTORS);
    storm_start(&s, 2, 20);
    cr_assert(wait_atomic(&s.done, want, 30000), "done %ld of %ld",
              atomic_load(&s.done), want);
    cr_assert_eq(atomic_load(&s.hops), want * 21);
    stop_checked(rt);
    free(s.aids);
}

Test(runtime_storm, stop_with_messages_in_flight_frees_everything)
{
    kt_runtime *rt = start_rt(2, 0);
    storm s = {0};

    storm_spawn(rt, &s, 1000);
    storm_start(&s, 1, 1000000000u); // never finishes on its own
    cr_assert(wait_atomic(&s.hops, 20000, 20000));
    stop_checked(rt); // every mailbox and socket still holds messages
    cr_assert_eq(atomic_load(&s.done), 0);
    free(s.aids);
}

// A dedicated actor may block in handle without stalling shared threads.
static kt_err
sleeper_handle(void *state, kt_actor *self, kt_msg *msg)
{
    atomic_long *gate;

    (void)self;
    memcpy(&gate, state, sizeof(gate));
    while (atomic_load(gate) == 0) {
        struct timespec t = {.tv_nsec = 100000};
        nanosleep(&t, NULL); // a long computation, polling its own flag
    }
    kt_msg_free(msg);
    return KT_OK;
}

static kt_err
sleeper_init(void *state, kt_actor *self, const void *cfg)
{
    (void)self;
    memcpy(state, &cfg, sizeof(cfg));
    return KT_OK;
}

static const kt_actor_ops sleeper_ops = {.name = "sleeper",
                                         .state_size = sizeof(void *),
                                         .init = sleeper_init,
                                         .handle = sleeper_handle};

Test(runtime_storm, dedicated_actor_blocks_alone)
{
    kt_runtime *rt = start_rt(1, 0);
    kt_spawn_opts d = {.name = "busy", .dedicated = true};
    atomic_long gate = 0, n = 0;
    kt_aid busy = 0, c;
    kt_msg *rep = NULL;

    cr_assert_eq(kt_spawn(rt, &sleeper_ops, &gate, &d, &busy), KT_OK);
    cr_assert_eq(kt_send(NULL, busy, msg_new(T_PING, NULL, 0)), KT_OK);
    c = spawn_ok(rt, &echo_ops, NULL, NULL);
    // The shared thread still answers while the dedicated one is busy.
    cr_assert_eq(kt_runtime_ask(rt, c, msg_new(T_PING, NULL, 0), 5000, &rep),
                 KT_OK);
    kt_msg_free(rep);
    atomic_store(&gate, 1);
    // Kill it; its thread ends; a new dedicated actor gets a new thread.
    cr_assert_eq(kt_kill(rt, busy), KT_OK);
    d.name = "again";
    cr_assert_eq(kt_spawn(rt, &counter_ops, &n, &d, &busy), KT_OK);
    cr_assert_eq(kt_send(NULL, busy, msg_new(T_PING, NULL, 0)), KT_OK);
    cr_assert(wait_atomic(&n, 1, 5000));
    stop_checked(rt);
}

// burst: on its first message sends cfg->n messages to cfg->to in one
// handler call (one batch per destination thread, split at 64 KiB).
typedef struct burst {
    kt_aid to;
    int n;
    atomic_long eagain;
} burst;

static kt_err
burst_init(void *state, kt_actor *self, const void *cfg)
{
    (void)self;
    memcpy(state, &cfg, sizeof(cfg));
    return KT_OK;
}

static kt_err
burst_handle(void *state, kt_actor *self, kt_msg *msg)
{
    burst *b;

    memcpy(&b, state, sizeof(b));
    kt_msg_free(msg);
    for (int i = 0; i < b->n; i++) {
        kt_msg *m = msg_new(T_PING, &i, sizeof(i));
        kt_err rv = kt_send(self, b->to, m);
        if (rv != KT_OK) {
            kt_msg_free(m);
            atomic_fetch_add(&b->eagain, 1);
        }
    }
    return KT_OK;
}

static const kt_actor_ops burst_ops = {.name = "burst",
                                       .state_size = sizeof(void *),
                                       .init = burst_init,
                                       .handle = burst_handle};

Test(runtime_storm, burst_larger_than_a_receive_pass_arrives_whole)
{
    kt_runtime *rt = start_rt(2, 0);
    atomic_long n = 0;
    burst b = {.n = 20000};
    kt_aid src;

    b.to = spawn_ok(rt, &counter_ops, &n, NULL); // thread 0
    src = spawn_ok(rt, &burst_ops, &b, NULL);    // thread 1
    cr_assert_eq(kt_send(NULL, src, msg_new(T_PING, NULL, 0)), KT_OK);
    cr_assert(wait_atomic(&n, 20000, 10000), "got %ld", atomic_load(&n));
    cr_assert_eq(atomic_load(&b.eagain), 0);
    stop_checked(rt);
}
