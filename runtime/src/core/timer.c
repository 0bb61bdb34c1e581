// Timers and ask deadlines: libevent timers on the actor's loop whose
// callbacks only queue a message; the bookkeeping happens at dispatch, on
// the thread that runs the actor's callbacks.
#include <inttypes.h>

#include <kt/actor.h>
#include <kt/log.h>

#include "base/alloc.h"
#include "core/actor.h"
#include "core/msg.h"
#include "core/sched.h"
#include "io/loop.h"

typedef struct timer {
    kt__idnode node; // id: the timer id, or the corr of an ask
    kt_actor *a;
    kt__ev *ev; // NULL for an ask without deadline
    uint64_t tag;
    bool repeat;
    bool ask;
} timer;

static void
timer_free(timer *t)
{
    kt__ev_free(t->ev);
    kt__free(t, sizeof(*t));
}

// On the scheduler thread: queue the tick (or the timeout) as mail.
static void
timer_cb(void *arg)
{
    timer *t = arg;
    kt_actor *a = t->a;
    kt_msg *m;

    if (kt__msg_new(&m, t->ask ? KT_MSG_TIMEOUT : KT_MSG_TIMER, 0,
                    t->ask ? 0 : a->ep.byid.id, t->ask ? t->node.id : t->tag,
                    0) != KT_OK) {
        kt_log(KT_LOG_ERR, "timer",
               "event=tick_lost actor=%s#%" PRIu64 " reason=\"%s\"",
               kt_actor_name(a), a->ep.byid.id, kt_strerror(KT_ENOMEM));
        return;
    }
    m->aux = t->node.id;
    atomic_fetch_add_explicit(&a->queued, 1, memory_order_relaxed);
    kt__sched_push(a->sched, a, m);
}

static kt_err
timer_new(kt_actor *a, uint64_t id, uint32_t ms, bool repeat, bool ask,
          uint64_t tag)
{
    timer *t;
    kt_err err;

    if ((t = kt__zalloc(sizeof(*t))) == NULL) {
        return KT_ENOMEM;
    }
    t->node.id = id;
    t->a = a;
    t->tag = tag;
    t->repeat = repeat;
    t->ask = ask;
    if (!ask || ms > 0) {
        err = kt__ev_alloc(a->sched->loop, -1, repeat, timer_cb, t, &t->ev);
        if (err != KT_OK) {
            kt__free(t, sizeof(*t));
            return err;
        }
    }
    if ((err = kt__idmap_put(&a->timers, &t->node)) != KT_OK) {
        timer_free(t);
        return err;
    }
    if (t->ev != NULL && (err = kt__ev_start(t->ev, ms)) != KT_OK) {
        kt__idmap_del(&a->timers, id);
        timer_free(t);
    }
    return err;
}

kt_err
kt_timer_start(kt_actor *self, uint32_t ms, bool repeat, uint64_t tag,
               uint64_t *idp)
{
    uint64_t id;
    kt_err err;

    if (self == NULL || idp == NULL || (repeat && ms == 0)) {
        return KT_EINVAL;
    }
    id = kt__next_id();
    if ((err = timer_new(self, id, ms, repeat, false, tag)) == KT_OK) {
        *idp = id;
    }
    return err;
}

kt_err
kt_timer_cancel(kt_actor *self, uint64_t id)
{
    kt__idnode *n;

    if (self == NULL) {
        return KT_EINVAL;
    }
    n = kt__idmap_get(&self->timers, id);
    if (n == NULL || ((timer *)(void *)n)->ask) {
        return KT_ENOENT;
    }
    kt__idmap_del(&self->timers, id);
    timer_free((timer *)(void *)n); // a tick already queued is dropped
    return KT_OK;
}

kt_err
kt__ask_arm(kt_actor *a, uint64_t corr, uint32_t ms)
{
    return timer_new(a, corr, ms, false, true, 0);
}

void
kt__ask_disarm(kt_actor *a, uint64_t corr)
{
    kt__idnode *n = kt__idmap_del(&a->timers, corr);

    if (n != NULL) {
        timer_free((timer *)(void *)n);
    }
}

void
kt__timers_fire(kt_actor *a, kt_msg *m, bool *dropp)
{
    uint64_t id;
    timer *t;

    if (m->flags & KT__MSG_REPLY) {
        if (a->forwards_replies) {
            return;
        }
        id = m->corr; // a reply settles its ask; a late one is dropped
    } else if ((m->type == KT_MSG_TIMER || m->type == KT_MSG_TIMEOUT) &&
               m->aux != 0) {
        id = m->aux;
    } else {
        return;
    }
    t = (timer *)(void *)kt__idmap_get(&a->timers, id);
    if (t == NULL || t->ask != (m->type != KT_MSG_TIMER)) {
        *dropp = true; // cancelled timer, answered or expired ask
        return;
    }
    if (!t->repeat) {
        kt__idmap_del(&a->timers, id);
        timer_free(t);
    }
}

void
kt__timers_clear(kt_actor *a)
{
    kt__idnode *n;

    while ((n = kt__idmap_pop(&a->timers)) != NULL) {
        timer_free((timer *)(void *)n);
    }
}
