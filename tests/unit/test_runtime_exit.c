// Sends made in the callback that stops an actor: every message it sent
// before it stopped, and its downs, are delivered, whether it runs on a
// dedicated thread (whose loop ends in that turn) or on a shared one, and
// whether it stops by kt_exit, a handler error or kt_kill.
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include <kt/kt.h>

#include "core/actor.h"
#include "ktpb/v1/envelope.pb-c.h"
#include "support/kt_test.h"

TestSuite(runtime_exit, .timeout = 20.0);

#define BURST 200 // messages sent in the last callback

enum { T_GO = 110, T_SEQ = 111 };
enum how { BY_EXIT, BY_ERROR, BY_KILL };

// sink: monitors cfg->target in init, counts T_SEQ in order, notes how
// many had arrived when the down came.
typedef struct sink_cfg {
    kt_aid target;
    kt_actor *self;
    atomic_long seq, bad_order, downs, seq_at_down;
    atomic_int down_reason;
    char detail[64];
} sink_cfg;

static kt_err
sink_init(void *state, kt_actor *self, const void *cfg)
{
    sink_cfg *c = (sink_cfg *)(uintptr_t)cfg;

    memcpy(state, &c, sizeof(c));
    c->self = self;
    return kt_monitor(self, c->target);
}

static void
sink_down(sink_cfg *c, const kt_msg *msg)
{
    Ktpb__V1__Down *d =
        ktpb__v1__down__unpack(NULL, kt_msg_len(msg), kt_msg_cbody(msg));

    cr_assert_not_null(d);
    snprintf(c->detail, sizeof(c->detail), "%s", d->detail);
    atomic_store(&c->down_reason, d->reason);
    ktpb__v1__down__free_unpacked(d, NULL);
    atomic_store(&c->seq_at_down, atomic_load(&c->seq));
    atomic_fetch_add(&c->downs, 1);
}

static kt_err
sink_handle(void *state, kt_actor *self, kt_msg *msg)
{
    sink_cfg *c;
    int i;

    (void)self;
    memcpy(&c, state, sizeof(c));
    if (kt_msg_type(msg) == KT_MSG_DOWN) {
        sink_down(c, msg);
    } else if (kt_msg_type(msg) == T_SEQ) {
        memcpy(&i, kt_msg_cbody(msg), sizeof(i));
        if (i != atomic_load(&c->seq)) {
            atomic_fetch_add(&c->bad_order, 1);
        }
        atomic_fetch_add(&c->seq, 1);
    }
    kt_msg_free(msg);
    return KT_OK;
}

static const kt_actor_ops sink_ops = {.name = "sink",
                                      .state_size = sizeof(void *),
                                      .init = sink_init,
                                      .handle = sink_handle};

// quitter: on T_GO sends BURST numbered messages to each of its sinks
// and stops in the same callback, as `how` says.
typedef struct quit_cfg {
    enum how how;
    kt_aid to[2];
    kt_actor *self;
} quit_cfg;

static kt_err
quit_init(void *state, kt_actor *self, const void *cfg)
{
    quit_cfg *c = (quit_cfg *)(uintptr_t)cfg;

    memcpy(state, &c, sizeof(c));
    c->self = self;
    return KT_OK;
}

static kt_err
quit_handle(void *state, kt_actor *self, kt_msg *msg)
{
    quit_cfg *c;

    memcpy(&c, state, sizeof(c));
    kt_msg_free(msg);
    if (c->how == BY_KILL) {
        // Posted first, so the kill is applied before the end-of-turn
        // flush would run: the worst order for the sends below.
        cr_assert_eq(kt_kill(kt_actor_runtime(self), kt_self(self)), KT_OK);
    }
    for (int i = 0; i < BURST; i++) {
        for (int k = 0; k < 2; k++) {
            if (c->to[k] != 0) {
                cr_assert_eq(kt_send(self, c->to[k], msg_new(T_SEQ, &i, 4)),
                             KT_OK);
            }
        }
    }
    if (c->how == BY_EXIT) {
        kt_exit(self, KT_ECANCELED);
    }
    return c->how == BY_ERROR ? KT_EPROTO : KT_OK;
}

static const kt_actor_ops quit_ops = {.name = "quitter",
                                      .state_size = sizeof(void *),
                                      .init = quit_init,
                                      .handle = quit_handle};

static kt_aid
spawn_quitter(kt_runtime *rt, quit_cfg *q, bool dedicated)
{
    kt_spawn_opts o = {.name = "quitter", .dedicated = dedicated};
    kt_aid aid = 0;

    cr_assert_eq(kt_spawn(rt, &quit_ops, q, &o, &aid), KT_OK);
    return aid;
}

static void
expect_all(sink_cfg *s, enum how how)
{
    static const char *detail[] = {"exit", "handler failed: malformed message",
                                   "killed"};
    static const kt_err reason[] = {KT_ECANCELED, KT_EPROTO, KT_OK};

    cr_assert(wait_atomic(&s->downs, 1, 5000), "no down (got %ld of %d)",
              atomic_load(&s->seq), BURST);
    cr_assert_eq(atomic_load(&s->seq_at_down), BURST,
                 "%ld of %d messages before the down",
                 atomic_load(&s->seq_at_down), BURST);
    cr_assert_eq(atomic_load(&s->bad_order), 0);
    cr_assert_eq(atomic_load(&s->down_reason), reason[how]);
    cr_assert_str_eq(s->detail, detail[how]);
}

// Two sinks: one on another scheduler thread (batched outbox) and, for a
// shared-thread quitter, one on its own thread (direct push).
static void
run_case(bool dedicated, enum how how)
{
    kt_runtime *rt = start_rt(2, 0);
    quit_cfg q = {.how = how};
    sink_cfg far = {0}, near = {0};
    kt_aid qa = spawn_quitter(rt, &q, dedicated);

    far.target = near.target = qa;
    q.to[0] = spawn_ok(rt, &sink_ops, &far, NULL);
    if (!dedicated) {
        q.to[1] = spawn_ok(rt, &sink_ops, &near, NULL);
        // Round-robin placement: quitter on thread 0, far on 1, near on 0.
        cr_assert(near.self->sched == q.self->sched);
    }
    cr_assert(far.self->sched != q.self->sched);
    cr_assert_eq(kt_send(NULL, qa, msg_new(T_GO, NULL, 0)), KT_OK);
    expect_all(&far, how);
    if (!dedicated) {
        expect_all(&near, how);
    }
    stop_checked(rt);
}

Test(runtime_exit, dedicated_exit_delivers_sends_and_down)
{
    run_case(true, BY_EXIT);
}

Test(runtime_exit, dedicated_handler_error_delivers_sends_and_down)
{
    run_case(true, BY_ERROR);
}

Test(runtime_exit, dedicated_kill_delivers_sends_and_down)
{
    run_case(true, BY_KILL);
}

Test(runtime_exit, shared_exit_delivers_sends_and_down)
{
    run_case(false, BY_EXIT);
}

Test(runtime_exit, shared_handler_error_delivers_sends_and_down)
{
    run_case(false, BY_ERROR);
}

Test(runtime_exit, shared_kill_delivers_sends_and_down)
{
    run_case(false, BY_KILL);
}
