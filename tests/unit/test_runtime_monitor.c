// Monitors and links: downs on handler error, kill, exit and for actors
// already gone; links propagate errors but not normal stops.
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include <kt/kt.h>

#include "ktpb/v1/envelope.pb-c.h"
#include "support/kt_test.h"

TestSuite(runtime_monitor, .timeout = 20.0);

// watcher: monitors (or links to) cfg->target in init; records downs.
typedef struct watch_cfg {
    kt_aid target;
    bool link;
    atomic_long downs, msgs;
    _Atomic kt_aid down_aid;
    atomic_int down_reason;
    char detail[64];
    char name[32];
} watch_cfg;

static kt_err
watcher_init(void *state, kt_actor *self, const void *cfg)
{
    const watch_cfg *c = cfg;

    memcpy(state, &cfg, sizeof(cfg));
    return c->link ? kt_link(self, c->target) : kt_monitor(self, c->target);
}

static kt_err
watcher_handle(void *state, kt_actor *self, kt_msg *msg)
{
    watch_cfg *c;

    (void)self;
    memcpy(&c, state, sizeof(c));
    if (kt_msg_type(msg) == KT_MSG_DOWN) {
        Ktpb__V1__Down *d =
            ktpb__v1__down__unpack(NULL, kt_msg_len(msg), kt_msg_cbody(msg));
        cr_assert_not_null(d);
        cr_expect_eq(kt_msg_sender(msg), d->aid);
        snprintf(c->detail, sizeof(c->detail), "%s", d->detail);
        snprintf(c->name, sizeof(c->name), "%s", d->name);
        atomic_store(&c->down_aid, d->aid);
        atomic_store(&c->down_reason, d->reason);
        ktpb__v1__down__free_unpacked(d, NULL);
        atomic_fetch_add(&c->downs, 1);
    } else {
        atomic_fetch_add(&c->msgs, 1);
    }
    kt_msg_free(msg);
    return KT_OK;
}

static const kt_actor_ops watcher_ops = {.name = "watcher",
                                         .state_size = sizeof(void *),
                                         .init = watcher_init,
                                         .handle = watcher_handle};

static kt_msg *
reason_msg(uint32_t type, kt_err reason)
{
    return msg_new(type, &reason, sizeof(reason));
}

Test(runtime_monitor, down_on_handler_error_carries_reason)
{
    kt_runtime *rt = start_rt(2, 0);
    watch_cfg w = {0};

    log_capture_start();
    w.target = spawn_ok(rt, &counter_ops, NULL, "worker");
    spawn_ok(rt, &watcher_ops, &w, NULL);
    cr_assert_eq(kt_send(NULL, w.target, reason_msg(T_FAIL, KT_EPROTO)), KT_OK);
    cr_assert(wait_atomic(&w.downs, 1, 5000));
    cr_assert_eq(atomic_load(&w.down_aid), w.target);
    cr_assert_eq(atomic_load(&w.down_reason), KT_EPROTO);
    cr_assert_str_eq(w.name, "worker");
    cr_assert_str_eq(w.detail, "handler failed: malformed message");
    cr_assert(log_wait("event=stop actor=worker#", 5000));
    stop_checked(rt);
    log_capture_stop();
}

Test(runtime_monitor, down_on_kill_and_exit_is_normal_or_given)
{
    kt_runtime *rt = start_rt(2, 0);
    watch_cfg w1 = {0}, w2 = {0};

    w1.target = spawn_ok(rt, &counter_ops, NULL, NULL);
    w2.target = spawn_ok(rt, &counter_ops, NULL, NULL);
    spawn_ok(rt, &watcher_ops, &w1, NULL);
    spawn_ok(rt, &watcher_ops, &w2, NULL);
    cr_assert_eq(kt_kill(rt, w1.target), KT_OK);
    cr_assert_eq(kt_send(NULL, w2.target, reason_msg(T_EXIT, KT_ECANCELED)),
                 KT_OK);
    cr_assert(wait_atomic(&w1.downs, 1, 5000));
    cr_assert(wait_atomic(&w2.downs, 1, 5000));
    cr_assert_eq(atomic_load(&w1.down_reason), KT_OK);
    cr_assert_str_eq(w1.detail, "killed");
    cr_assert_eq(atomic_load(&w2.down_reason), KT_ECANCELED);
    cr_assert_str_eq(w2.detail, "exit");
    stop_checked(rt);
}

Test(runtime_monitor, monitor_of_dead_actor_gives_enoent_down)
{
    kt_runtime *rt = start_rt(1, 0);
    watch_cfg w = {.target = 123456789};

    spawn_ok(rt, &watcher_ops, &w, NULL);
    cr_assert(wait_atomic(&w.downs, 1, 5000));
    cr_assert_eq(atomic_load(&w.down_reason), KT_ENOENT);
    cr_assert_eq(atomic_load(&w.down_aid), 123456789);
    stop_checked(rt);
}

Test(runtime_monitor, runtime_stop_sends_normal_downs)
{
    kt_runtime *rt = start_rt(1, 0);
    watch_cfg w = {0};

    w.target = spawn_ok(rt, &counter_ops, NULL, NULL);
    spawn_ok(rt, &watcher_ops, &w, NULL);
    stop_checked(rt); // no crash, no leak, whatever order they stop in
}

Test(runtime_monitor, link_propagates_error_and_monitor_sees_it)
{
    kt_runtime *rt = start_rt(2, 0);
    watch_cfg linked = {.link = true}, mon = {0};
    kt_aid b = spawn_ok(rt, &counter_ops, NULL, NULL);

    linked.target = b;
    mon.target = spawn_ok(rt, &watcher_ops, &linked, NULL);
    spawn_ok(rt, &watcher_ops, &mon, NULL);
    cr_assert_eq(kt_send(NULL, b, reason_msg(T_FAIL, KT_EDB)), KT_OK);
    cr_assert(wait_atomic(&mon.downs, 1, 5000));
    cr_assert_eq(atomic_load(&mon.down_reason), KT_EDB);
    cr_assert(strstr(mon.detail, "linked actor #") != NULL, "%s", mon.detail);
    cr_assert_eq(atomic_load(&linked.downs), 0, "links send no downs");
    stop_checked(rt);
}

Test(runtime_monitor, link_ignores_normal_stop)
{
    kt_runtime *rt = start_rt(2, 0);
    watch_cfg linked = {.link = true}, mon = {0};
    kt_aid b = spawn_ok(rt, &counter_ops, NULL, NULL), l;

    linked.target = b;
    mon.target = b;
    l = spawn_ok(rt, &watcher_ops, &linked, NULL);
    spawn_ok(rt, &watcher_ops, &mon, NULL);
    cr_assert_eq(kt_kill(rt, b), KT_OK);
    cr_assert(wait_atomic(&mon.downs, 1, 5000));
    // The linked actor still works after b's normal stop.
    cr_assert_eq(kt_send(NULL, l, msg_new(T_PING, NULL, 0)), KT_OK);
    cr_assert(wait_atomic(&linked.msgs, 1, 5000));
    stop_checked(rt);
}

Test(runtime_monitor, link_to_missing_actor_fails_init)
{
    kt_runtime *rt = start_rt(1, 0);
    watch_cfg linked = {.link = true, .target = 987654321};
    kt_aid a = 0;

    cr_assert_eq(kt_spawn(rt, &watcher_ops, &linked, NULL, &a), KT_ENOENT);
    stop_checked(rt);
}
