// Timers: one-shot, repeating, cancelled, and stopped with their actor.
#include <stdatomic.h>
#include <string.h>

#include <criterion/criterion.h>

#include <kt/kt.h>

#include "support/kt_test.h"

TestSuite(runtime_timer, .timeout = 20.0);

enum { T_START = 200, T_CANCEL = 201 };

typedef struct tick_cfg {
    uint32_t ms;
    bool repeat;
    uint64_t tag;
    uint64_t id;
    atomic_long ticks, cancels;
    kt_err cancel_rv, cancel_again_rv;
} tick_cfg;

static kt_err
ticker_init(void *state, kt_actor *self, const void *cfg)
{
    tick_cfg *c = (tick_cfg *)(uintptr_t)cfg;

    memcpy(state, &c, sizeof(c));
    return kt_timer_start(self, c->ms, c->repeat, c->tag, &c->id);
}

static kt_err
ticker_handle(void *state, kt_actor *self, kt_msg *msg)
{
    tick_cfg *c;

    memcpy(&c, state, sizeof(c));
    if (kt_msg_type(msg) == KT_MSG_TIMER) {
        cr_expect_eq(kt_msg_corr(msg), c->tag);
        cr_expect_eq(kt_msg_len(msg), 0);
        atomic_fetch_add(&c->ticks, 1);
    } else if (kt_msg_type(msg) == T_CANCEL) {
        c->cancel_rv = kt_timer_cancel(self, c->id);
        c->cancel_again_rv = kt_timer_cancel(self, c->id);
        atomic_fetch_add(&c->cancels, 1);
    }
    kt_msg_free(msg);
    return KT_OK;
}

static const kt_actor_ops ticker_ops = {.name = "ticker",
                                        .state_size = sizeof(void *),
                                        .init = ticker_init,
                                        .handle = ticker_handle};

Test(runtime_timer, one_shot_fires_once)
{
    kt_runtime *rt = start_rt(1, 0);
    tick_cfg c = {.ms = 5, .tag = 42};
    tick_cfg r = {.ms = 5, .repeat = true, .tag = 7};

    spawn_ok(rt, &ticker_ops, &c, NULL);
    spawn_ok(rt, &ticker_ops, &r, NULL);
    cr_assert(wait_atomic(&c.ticks, 1, 5000));
    // The repeating timer ticking 5 more times bounds how long a second
    // one-shot tick would have had to show up.
    cr_assert(wait_atomic(&r.ticks, 6, 5000));
    cr_assert_eq(atomic_load(&c.ticks), 1);
    stop_checked(rt);
}

Test(runtime_timer, repeat_fires_until_cancelled)
{
    kt_runtime *rt = start_rt(2, 0);
    tick_cfg c = {.ms = 2, .repeat = true, .tag = 9};
    tick_cfg probe = {.ms = 2, .repeat = true, .tag = 1};
    kt_aid a = spawn_ok(rt, &ticker_ops, &c, NULL);
    long at_cancel;

    cr_assert(wait_atomic(&c.ticks, 3, 5000));
    cr_assert_eq(kt_send(NULL, a, msg_new(T_CANCEL, NULL, 0)), KT_OK);
    cr_assert(wait_atomic(&c.cancels, 1, 5000));
    cr_assert_eq(c.cancel_rv, KT_OK);
    cr_assert_eq(c.cancel_again_rv, KT_ENOENT);
    at_cancel = atomic_load(&c.ticks);
    spawn_ok(rt, &ticker_ops, &probe, NULL);
    cr_assert(wait_atomic(&probe.ticks, 10, 5000));
    cr_assert_eq(atomic_load(&c.ticks), at_cancel, "ticks after cancel");
    stop_checked(rt);
}

Test(runtime_timer, cancelled_one_shot_never_fires)
{
    kt_runtime *rt = start_rt(1, 0);
    tick_cfg c = {.ms = 30, .tag = 3};
    tick_cfg probe = {.ms = 60, .tag = 4};
    kt_aid a = spawn_ok(rt, &ticker_ops, &c, NULL);

    cr_assert_eq(kt_send(NULL, a, msg_new(T_CANCEL, NULL, 0)), KT_OK);
    cr_assert(wait_atomic(&c.cancels, 1, 5000));
    cr_assert_eq(c.cancel_rv, KT_OK);
    spawn_ok(rt, &ticker_ops, &probe, NULL);
    cr_assert(wait_atomic(&probe.ticks, 1, 5000));
    cr_assert_eq(atomic_load(&c.ticks), 0);
    stop_checked(rt);
}

Test(runtime_timer, bad_timer_arguments)
{
    kt_runtime *rt = start_rt(1, 0);
    tick_cfg c = {.ms = 0, .repeat = true};
    kt_aid a = 0;

    // A repeating timer needs a period: init fails with KT_EINVAL.
    cr_assert_eq(kt_spawn(rt, &ticker_ops, &c, NULL, &a), KT_EINVAL);
    stop_checked(rt);
}

Test(runtime_timer, pending_timers_are_freed_at_stop)
{
    kt_runtime *rt = start_rt(2, 0);
    tick_cfg c[4] = {{.ms = 100000},
                     {.ms = 100000, .repeat = true},
                     {.ms = 1, .repeat = true},
                     {.ms = 0}};

    for (int i = 0; i < 4; i++) {
        spawn_ok(rt, &ticker_ops, &c[i], NULL);
    }
    cr_assert(wait_atomic(&c[2].ticks, 2, 5000));
    stop_checked(rt);
}
