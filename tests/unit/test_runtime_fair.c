// Fairness: an actor that sends itself messages forever still sees mail
// from other threads promptly. The spinner below notes how many of its own
// messages it handled between the moment a cancel was readable on its
// thread's mailbox socket and the moment the cancel reached it.
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include <kt/kt.h>

#include "core/actor.h"
#include "core/sched.h"
#include "io/net.h"
#include "support/kt_test.h"

TestSuite(runtime_fair, .timeout = 20.0);

enum { T_SPIN = 120, T_CANCEL = 121, T_GO = 122 };

// Own messages tolerated once a cancel waits in the socket: the run loop
// looks again 16 messages after a look that found a frame still on its way.
#define FAIR_BOUND 20
#define SPIN_MAX   20000000 // give up spinning (the test then fails)

typedef struct spin_cfg {
    atomic_long n;         // T_SPIN handled
    atomic_bool arming;    // set just before the cancel is sent
    atomic_long ready_at;  // n when the socket first showed the cancel
    atomic_long cancel_at; // n when the cancel was handled
    atomic_long cancels;
    bool timer; // a 2 ms timer from the first T_SPIN stands for the cancel
} spin_cfg;

static kt_err
spin_init(void *state, kt_actor *self, const void *cfg)
{
    (void)self;
    memcpy(state, &cfg, sizeof(cfg));
    return KT_OK;
}

static bool
mbox_readable(kt_actor *self)
{
    struct pollfd p = {.fd = kt__net_fd(self->sched->mbox), .events = POLLIN};

    return poll(&p, 1, 0) == 1;
}

static kt_err
spin_handle(void *state, kt_actor *self, kt_msg *msg)
{
    spin_cfg *c;
    long n;

    memcpy(&c, state, sizeof(c));
    if (kt_msg_type(msg) == T_CANCEL || kt_msg_type(msg) == KT_MSG_TIMER) {
        atomic_store(&c->cancel_at, atomic_load(&c->n));
        atomic_fetch_add(&c->cancels, 1);
        kt_msg_free(msg);
        return KT_OK;
    }
    n = atomic_fetch_add(&c->n, 1) + 1;
    if (n == 1 && c->timer) {
        uint64_t id;
        kt_err rv = kt_timer_start(self, 2, false, 7, &id);
        if (rv != KT_OK) {
            kt_msg_free(msg);
            return rv;
        }
    }
    if (atomic_load(&c->arming) && atomic_load(&c->ready_at) < 0 &&
        mbox_readable(self)) {
        atomic_store(&c->ready_at, n);
    }
    if (atomic_load(&c->cancels) > 0 || n >= SPIN_MAX) {
        kt_msg_free(msg); // done: stop spinning
        return KT_OK;
    }
    return kt_send(self, kt_self(self), msg); // the next slice
}

static const kt_actor_ops spin_ops = {.name = "spinner",
                                      .state_size = sizeof(void *),
                                      .init = spin_init,
                                      .handle = spin_handle};

// canceller: on T_GO sends T_CANCEL to the actor in its cfg.
static kt_err
cancel_handle(void *state, kt_actor *self, kt_msg *msg)
{
    kt_aid to;

    memcpy(&to, state, sizeof(to));
    kt_msg_free(msg);
    return kt_send(self, to, msg_new(T_CANCEL, NULL, 0));
}

static kt_err
cancel_init(void *state, kt_actor *self, const void *cfg)
{
    (void)self;
    memcpy(state, cfg, sizeof(kt_aid));
    return KT_OK;
}

static const kt_actor_ops cancel_ops = {.name = "canceller",
                                        .state_size = sizeof(kt_aid),
                                        .init = cancel_init,
                                        .handle = cancel_handle};

static kt_aid
spin_start(kt_runtime *rt, spin_cfg *c, bool dedicated)
{
    kt_spawn_opts o = {.dedicated = dedicated};
    kt_aid aid = 0;

    atomic_store(&c->ready_at, -1);
    atomic_store(&c->cancel_at, -1);
    cr_assert_eq(kt_spawn(rt, &spin_ops, c, &o, &aid), KT_OK);
    cr_assert_eq(kt_send(NULL, aid, msg_new(T_SPIN, NULL, 0)), KT_OK);
    cr_assert(wait_atomic(&c->n, 2000, 5000), "the spinner does not spin");
    atomic_store(&c->arming, true);
    return aid;
}

static void
expect_prompt(spin_cfg *c)
{
    long ready, at;

    cr_assert(wait_atomic(&c->cancels, 1, 10000), "cancel never handled");
    ready = atomic_load(&c->ready_at);
    at = atomic_load(&c->cancel_at);
    cr_log_info("cancel readable at %ld, handled at %ld", ready, at);
    // ready < 0: the cancel was taken before the spinner ever saw it
    // waiting in the socket, which is as prompt as it gets.
    if (ready >= 0) {
        cr_assert_leq(at - ready, FAIR_BOUND,
                      "%ld own messages ran while the cancel waited",
                      at - ready);
    }
    cr_assert_lt(at, SPIN_MAX, "the cancel waited for the spin to end");
}

Test(runtime_fair, cancel_from_outside_overtakes_self_send_loop)
{
    kt_runtime *rt = start_rt(1, 0);
    spin_cfg c = {0};
    kt_aid s = spin_start(rt, &c, false);

    cr_assert_eq(kt_send(NULL, s, msg_new(T_CANCEL, NULL, 0)), KT_OK);
    expect_prompt(&c);
    stop_checked(rt);
}

Test(runtime_fair, cancel_from_actor_on_other_thread_overtakes_self_sends)
{
    kt_runtime *rt = start_rt(2, 0);
    spin_cfg c = {0};
    kt_aid s = spin_start(rt, &c, false);
    kt_aid k = spawn_ok(rt, &cancel_ops, &s, NULL);

    cr_assert_eq(kt_send(NULL, k, msg_new(T_GO, NULL, 0)), KT_OK);
    expect_prompt(&c);
    stop_checked(rt);
}

Test(runtime_fair, timer_fires_during_self_send_loop)
{
    kt_runtime *rt = start_rt(1, 0);
    spin_cfg c = {.timer = true};
    kt_aid s = spawn_ok(rt, &spin_ops, &c, NULL);

    cr_assert_eq(kt_send(NULL, s, msg_new(T_SPIN, NULL, 0)), KT_OK);
    cr_assert(wait_atomic(&c.cancels, 1, 10000), "the tick never came");
    cr_assert_lt(atomic_load(&c.cancel_at), SPIN_MAX,
                 "the tick waited for the spin to end");
    stop_checked(rt);
}

Test(runtime_fair, cancel_reaches_dedicated_self_send_loop)
{
    kt_runtime *rt = start_rt(1, 0);
    spin_cfg c = {0};
    kt_aid s = spin_start(rt, &c, true);

    cr_assert_eq(kt_send(NULL, s, msg_new(T_CANCEL, NULL, 0)), KT_OK);
    expect_prompt(&c);
    stop_checked(rt);
}
