// Runtime basics: spawn, send, ask, names, dead actors, mailbox limits,
// bad arguments and allocation accounting.
#include <stdatomic.h>
#include <string.h>

#include <criterion/criterion.h>

#include <kt/kt.h>

#include "base/alloc.h"
#include "support/kt_test.h"

TestSuite(runtime_basic, .timeout = 20.0);

Test(runtime_basic, send_reaches_actor_on_every_thread)
{
    kt_runtime *rt = start_rt(2, 0);
    atomic_long n = 0;
    kt_aid a[4];

    for (int i = 0; i < 4; i++) {
        a[i] = spawn_ok(rt, &counter_ops, &n, NULL);
    }
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(kt_send(NULL, a[i], msg_new(T_PING, "x", 1)), KT_OK);
        cr_assert_eq(kt_runtime_send(rt, a[i], msg_new(T_PING, "y", 1)), KT_OK);
    }
    cr_assert(wait_atomic(&n, 8, 5000));
    stop_checked(rt);
}

Test(runtime_basic, runtime_ask_gets_reply_with_body)
{
    kt_runtime *rt = start_rt(2, 0);
    kt_aid e = spawn_ok(rt, &echo_ops, NULL, "echo");
    kt_msg *rep = NULL;

    cr_assert_eq(kt_runtime_ask(rt, e, msg_new(T_PING, "hello", 6), 5000, &rep),
                 KT_OK);
    cr_assert_eq(kt_msg_type(rep), T_PING);
    cr_assert_eq(kt_msg_len(rep), 6);
    cr_assert_str_eq(kt_msg_cbody(rep), "hello");
    cr_assert_eq(kt_msg_sender(rep), e);
    cr_assert_neq(kt_msg_corr(rep), 0);
    kt_msg_free(rep);
    stop_checked(rt);
}

Test(runtime_basic, runtime_ask_times_out_without_reply)
{
    kt_runtime *rt = start_rt(1, 0);
    atomic_long n = 0;
    kt_aid c = spawn_ok(rt, &counter_ops, &n, NULL); // never replies
    kt_msg *rep = NULL;

    cr_assert_eq(kt_runtime_ask(rt, c, msg_new(T_PING, NULL, 0), 50, &rep),
                 KT_ETIMEDOUT);
    cr_assert_null(rep);
    cr_assert(wait_atomic(&n, 1, 5000)); // it was delivered, just unanswered
    stop_checked(rt);
}

// asker: on T_PING asks cfg->target; records the reply or the timeout.
typedef struct asker_cfg {
    kt_aid target;
    uint32_t timeout_ms;
    atomic_long replies, timeouts;
    uint64_t corr;
} asker_cfg;

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
    asker_cfg *c;
    kt_err rv = KT_OK;

    memcpy(&c, state, sizeof(c));
    if (kt_msg_type(msg) == KT_MSG_TIMEOUT) {
        cr_expect_eq(kt_msg_corr(msg), c->corr);
        atomic_fetch_add(&c->timeouts, 1);
    } else if (kt_msg_corr(msg) != 0) {
        cr_expect_eq(kt_msg_corr(msg), c->corr);
        cr_expect_eq(kt_msg_sender(msg), c->target);
        atomic_fetch_add(&c->replies, 1);
    } else {
        rv = kt_ask(self, c->target, msg, c->timeout_ms, &c->corr);
        if (rv == KT_OK) {
            return KT_OK;
        }
    }
    kt_msg_free(msg);
    return rv;
}

static const kt_actor_ops asker_ops = {.name = "asker",
                                       .state_size = sizeof(void *),
                                       .init = asker_init,
                                       .handle = asker_handle};

Test(runtime_basic, ask_between_actors_gets_reply_once)
{
    kt_runtime *rt = start_rt(2, 0);
    asker_cfg c = {.timeout_ms = 5000};
    kt_aid a;

    c.target = spawn_ok(rt, &echo_ops, NULL, NULL);
    a = spawn_ok(rt, &asker_ops, &c, NULL);
    cr_assert_eq(kt_send(NULL, a, msg_new(T_PING, "q", 1)), KT_OK);
    cr_assert(wait_atomic(&c.replies, 1, 5000));
    stop_checked(rt);
    cr_assert_eq(atomic_load(&c.timeouts), 0);
}

Test(runtime_basic, ask_timeout_arrives_as_timeout_message)
{
    kt_runtime *rt = start_rt(2, 0);
    atomic_long n = 0;
    asker_cfg c = {.timeout_ms = 30};
    kt_aid a;

    c.target = spawn_ok(rt, &counter_ops, &n, NULL);
    a = spawn_ok(rt, &asker_ops, &c, NULL);
    cr_assert_eq(kt_send(NULL, a, msg_new(T_PING, NULL, 0)), KT_OK);
    cr_assert(wait_atomic(&c.timeouts, 1, 5000));
    cr_assert_eq(atomic_load(&c.replies), 0);
    stop_checked(rt);
}

static bool
name_free(void *rt)
{
    kt_aid a;

    return kt_lookup(rt, "svc", &a) == KT_ENOENT;
}

Test(runtime_basic, names_are_unique_and_looked_up)
{
    kt_runtime *rt = start_rt(1, 0);
    kt_spawn_opts o = {.name = "svc"};
    kt_aid a = spawn_ok(rt, &echo_ops, NULL, "svc"), b = 0, found = 0;

    cr_assert_eq(kt_spawn(rt, &echo_ops, NULL, &o, &b), KT_ESTATE);
    cr_assert_eq(b, 0);
    cr_assert_eq(kt_lookup(rt, "svc", &found), KT_OK);
    cr_assert_eq(found, a);
    cr_assert_eq(kt_lookup(rt, "nobody", &found), KT_ENOENT);
    cr_assert_eq(kt_kill(rt, a), KT_OK);
    // The name is released once the actor stopped.
    cr_assert(run_until(name_free, rt, 5000));
    cr_assert_eq(kt_spawn(rt, &echo_ops, NULL, &o, &b), KT_OK);
    cr_assert_neq(b, a, "ids are never reused");
    stop_checked(rt);
}

static bool
gone(void *arg)
{
    void **p = arg;
    kt_msg *m = msg_new(T_PING, NULL, 0);
    kt_err rv = kt_send(NULL, *(kt_aid *)p[1], m);

    if (rv != KT_OK) {
        kt_msg_free(m);
    }
    return rv == KT_ENOENT;
}

Test(runtime_basic, send_to_dead_actor_is_enoent)
{
    kt_runtime *rt = start_rt(2, 0);
    atomic_long n = 0;
    kt_aid c = spawn_ok(rt, &counter_ops, &n, NULL);
    void *arg[2] = {rt, &c};
    kt_msg *m = msg_new(T_PING, NULL, 0);

    cr_assert_eq(kt_kill(rt, c), KT_OK);
    cr_assert(run_until(gone, arg, 5000));
    cr_assert_eq(kt_send(NULL, c, m), KT_ENOENT);
    cr_assert_eq(kt_runtime_send(rt, c, m), KT_ENOENT);
    cr_assert_eq(kt_send(NULL, 999999999, m), KT_ENOENT);
    kt_msg_free(m); // a failed send leaves the message with us
    cr_assert_eq(kt_kill(rt, c), KT_ENOENT);
    stop_checked(rt);
}

// blocker: its first message makes it wait until gate != 0, so its
// mailbox fills up behind it; entered says it is waiting.
typedef struct blocker_cfg {
    atomic_long gate, entered;
} blocker_cfg;

static kt_err
blocker_handle(void *state, kt_actor *self, kt_msg *msg)
{
    blocker_cfg *c;

    (void)self;
    memcpy(&c, state, sizeof(c));
    atomic_store(&c->entered, 1);
    while (atomic_load(&c->gate) == 0) {
    }
    kt_msg_free(msg);
    return KT_OK;
}

static kt_err
blocker_init(void *state, kt_actor *self, const void *cfg)
{
    (void)self;
    memcpy(state, &cfg, sizeof(cfg));
    return KT_OK;
}

static const kt_actor_ops blocker_ops = {.name = "blocker",
                                         .state_size = sizeof(void *),
                                         .init = blocker_init,
                                         .handle = blocker_handle};

Test(runtime_basic, full_mailbox_is_eagain)
{
    kt_runtime *rt = start_rt(1, 4);
    blocker_cfg c = {0};
    kt_aid b = spawn_ok(rt, &blocker_ops, &c, NULL);
    kt_msg *m;
    int sent = 0;

    // The first message is being handled (no longer queued) before the
    // mailbox is filled, so the count below does not race the handler.
    cr_assert_eq(kt_send(NULL, b, msg_new(T_PING, NULL, 0)), KT_OK);
    cr_assert(wait_atomic(&c.entered, 1, 5000));
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(kt_send(NULL, b, msg_new(T_PING, NULL, 0)), KT_OK);
        sent++;
    }
    m = msg_new(T_PING, NULL, 0);
    cr_assert_eq(kt_send(NULL, b, m), KT_EAGAIN);
    atomic_store(&c.gate, 1);
    kt_msg_free(m);
    stop_checked(rt);
    cr_assert_eq(sent, 4);
}

static kt_err
failing_init(void *state, kt_actor *self, const void *cfg)
{
    uint64_t id;

    (void)state;
    (void)cfg;
    // Whatever init set up before failing is undone by the runtime too.
    cr_assert_eq(kt_timer_start(self, 10000, false, 1, &id), KT_OK);
    return KT_EPROTO;
}

static const kt_actor_ops failing_ops = {
    .name = "failing", .init = failing_init, .handle = blocker_handle};

Test(runtime_basic, init_failure_is_returned_and_frees_name)
{
    kt_runtime *rt = start_rt(1, 0);
    kt_spawn_opts o = {.name = "x"};
    kt_aid a = 0;

    cr_assert_eq(kt_spawn(rt, &failing_ops, NULL, &o, &a), KT_EPROTO);
    cr_assert_eq(a, 0);
    cr_assert_eq(kt_lookup(rt, "x", &a), KT_ENOENT);
    cr_assert_eq(kt_spawn(rt, &echo_ops, NULL, &o, &a), KT_OK);
    stop_checked(rt);
}

Test(runtime_basic, bad_arguments_are_einval)
{
    kt_runtime *rt = start_rt(1, 0);
    kt_runtime_cfg bad = {.threads = -1};
    kt_spawn_opts empty = {.name = ""};
    char longname[200];
    kt_spawn_opts toolong = {.name = longname};
    kt_actor_ops nohandle = {.name = "x"};
    kt_msg *m = msg_new(T_PING, NULL, 0), *rep = NULL;
    kt_aid a = 0;
    uint64_t corr;
    kt_runtime *rt2 = NULL;

    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    cr_assert_eq(kt_runtime_start(NULL, NULL), KT_EINVAL);
    cr_assert_eq(kt_runtime_start(&rt2, &bad), KT_EINVAL);
    cr_assert_eq(kt_spawn(NULL, &echo_ops, NULL, NULL, &a), KT_EINVAL);
    cr_assert_eq(kt_spawn(rt, NULL, NULL, NULL, &a), KT_EINVAL);
    cr_assert_eq(kt_spawn(rt, &nohandle, NULL, NULL, &a), KT_EINVAL);
    cr_assert_eq(kt_spawn(rt, &echo_ops, NULL, NULL, NULL), KT_EINVAL);
    cr_assert_eq(kt_spawn(rt, &echo_ops, NULL, &empty, &a), KT_EINVAL);
    cr_assert_eq(kt_spawn(rt, &echo_ops, NULL, &toolong, &a), KT_EINVAL);
    cr_assert_eq(kt_lookup(rt, NULL, &a), KT_EINVAL);
    cr_assert_eq(kt_kill(rt, 0), KT_EINVAL);
    cr_assert_eq(kt_send(NULL, 0, m), KT_EINVAL);
    cr_assert_eq(kt_send(NULL, 1, NULL), KT_EINVAL);
    cr_assert_eq(kt_runtime_send(NULL, 1, m), KT_EINVAL);
    cr_assert_eq(kt_ask(NULL, 1, m, 10, &corr), KT_EINVAL);
    cr_assert_eq(kt_reply(NULL, m, m), KT_EINVAL);
    cr_assert_eq(kt_reply_to(NULL, 1, 1, m), KT_EINVAL);
    cr_assert_eq(kt_monitor(NULL, 1), KT_EINVAL);
    cr_assert_eq(kt_link(NULL, 1), KT_EINVAL);
    cr_assert_eq(kt_timer_start(NULL, 1, false, 0, &corr), KT_EINVAL);
    cr_assert_eq(kt_timer_cancel(NULL, 1), KT_EINVAL);
    cr_assert_eq(kt_runtime_ask(rt, 0, m, 10, &rep), KT_EINVAL);
    cr_assert_eq(kt_runtime_ask(rt, 1, m, 10, NULL), KT_EINVAL);
    cr_assert_eq(kt_runtime_listen(rt, NULL), KT_EINVAL);
    cr_assert_eq(kt_runtime_listen(rt, "nonsense://x"), KT_EINVAL);
    cr_assert_eq(kt_remote_connect(rt, "ipc:///tmp/x", NULL, &a), KT_EINVAL);
    cr_assert_eq(kt_msg_alloc(NULL, 1, 0), KT_EINVAL);
    cr_assert_eq(kt_self(NULL), 0);
    cr_assert_null(kt_actor_name(NULL));
    kt_msg_free(m);
    kt_msg_free(NULL);
    stop_checked(rt);
}

Test(runtime_basic, spawn_fails_cleanly_when_allocation_fails)
{
    kt_runtime *rt = start_rt(1, 0);
    kt_spawn_opts o = {.name = "oom"};
    kt_err rv = KT_ENOMEM;
    kt_aid a = spawn_ok(rt, &echo_ops, NULL, "warm"); // registry tables
    int64_t live = kt__alloc_live();

    for (int64_t n = 0; rv == KT_ENOMEM; n++) {
        kt__alloc_fail_after(n);
        rv = kt_spawn(rt, &echo_ops, NULL, &o, &a);
        kt__alloc_fail_after(-1);
        if (rv == KT_ENOMEM) {
            cr_assert_eq(kt__alloc_live(), live, "leak at n=%lld",
                         (long long)n);
        }
    }
    cr_assert_eq(rv, KT_OK);
    stop_checked(rt);
}

Test(runtime_basic, stopped_runtime_refuses_nothing_and_leaks_nothing)
{
    // Start and stop with no actors, then with a dedicated one.
    kt_runtime *rt = start_rt(0, 0);
    kt_spawn_opts d = {.name = "solo", .dedicated = true};
    atomic_long n = 0;
    kt_aid a = 0;

    stop_checked(rt);
    rt = start_rt(2, 0);
    cr_assert_eq(kt_spawn(rt, &counter_ops, &n, &d, &a), KT_OK);
    cr_assert_eq(kt_send(NULL, a, msg_new(T_PING, NULL, 0)), KT_OK);
    cr_assert(wait_atomic(&n, 1, 5000));
    stop_checked(rt);
}
