// Scheduler threads: receive frames, run actors with mail in bounded
// batches (so sockets and timers stay served), apply control requests.
#include "core/sched.h"

#include <inttypes.h>
#include <stdio.h>

#include <kt/log.h>

#include "base/alloc.h"

#define RX_BATCH    1024  // frames taken from the socket per wake-up
#define RUN_BATCH   512   // messages handled before the loop polls again
#define ACTOR_BATCH 64    // messages one actor handles before yielding
#define OUT_MAX     65536 // bytes gathered for a thread before sending early
#define OUT_RETRY   1     // ms before retrying a full socket

static _Thread_local kt__sched *sched_cur;

kt__sched *
kt__sched_current(void)
{
    return sched_cur;
}

static void
sched_runq_push(kt__sched *s, kt_actor *a)
{
    bool was_empty = s->runq == NULL;

    a->in_runq = true;
    a->runnext = NULL;
    if (was_empty) {
        s->runq = a;
    } else {
        s->runq_tail->runnext = a;
    }
    s->runq_tail = a;
    if (was_empty) {
        kt__ev_activate(s->run_ev);
    }
}

void
kt__sched_push(kt__sched *s, kt_actor *a, kt_msg *m)
{
    m->next = NULL;
    if (a->mb_head == NULL) {
        a->mb_head = m;
    } else {
        a->mb_tail->next = m;
    }
    a->mb_tail = m;
    if (a->ready && !a->in_runq && !a->paused) {
        sched_runq_push(s, a);
    }
}

void
kt__sched_resume(kt__sched *s, kt_actor *a)
{
    a->paused = false;
    if (a->ready && a->mb_head != NULL && !a->in_runq) {
        sched_runq_push(s, a);
    }
}

static void
sched_run_cb(void *arg)
{
    kt__sched *s = arg;
    int budget = RUN_BATCH;
    kt_actor *a;

    while (budget > 0 && (a = s->runq) != NULL) {
        bool gone = false;
        int n = 0;

        if ((s->runq = a->runnext) == NULL) {
            s->runq_tail = NULL;
        }
        a->in_runq = false;
        while (!gone && !a->paused && a->mb_head != NULL && n < ACTOR_BATCH) {
            kt_msg *m = a->mb_head;
            if ((a->mb_head = m->next) == NULL) {
                a->mb_tail = NULL;
            }
            gone = kt__actor_dispatch(a, m);
            n++;
        }
        budget -= n;
        if (!gone && !a->paused && a->mb_head != NULL && !a->in_runq) {
            sched_runq_push(s, a);
        }
    }
    if (s->runq != NULL) {
        kt__ev_activate(s->run_ev);
    }
}

static void
sched_rx_cb(void *arg)
{
    kt__sched *s = arg;
    kt__addr to;
    kt_msg *m;

    kt__reg_rdlock(&s->rt->reg);
    for (int i = 0; i < RX_BATCH; i++) {
        kt_err err = kt__net_recv(s->mbox, &m, &to);
        kt_actor *a;

        if (err == KT_EAGAIN) {
            break;
        }
        if (err != KT_OK) {
            continue; // KT_EPROTO was logged by net.c
        }
        a = kt__actor_of(kt__reg_find(&s->rt->reg, to.receiver));
        if (a == NULL || a->sched != s) {
            kt_log(KT_LOG_DEBUG, "sched",
                   "event=drop reason=\"no such actor\" actor=#%" PRIu64
                   " type=%u",
                   to.receiver, m->type);
            kt_msg_free(m);
            continue;
        }
        kt__sched_push(s, a, m);
    }
    kt__reg_unlock(&s->rt->reg);
    if (kt__net_pending(s->mbox)) {
        kt__ev_activate(s->rx_ev); // the rest of a batch: after this turn
    }
}

// Send every outbox; batches a full socket refuses wait for a retry.
static void
sched_flush_cb(void *arg)
{
    kt__sched *s = arg;
    kt__outbox **pp = &s->out;

    while (*pp != NULL) {
        kt__outbox *o = *pp;
        kt_err err =
            o->b != NULL ? kt__net_batch_send(o->dst->mbox, o->b) : KT_OK;
        if (err == KT_EAGAIN) {
            pp = &o->next;
            continue;
        }
        if (err != KT_OK) {
            kt_log(KT_LOG_NOTICE, "sched", "event=drop reason=\"%s\" bytes=%zu",
                   kt_strerror(err), kt__net_batch_len(o->b));
            kt__net_batch_free(o->b);
        }
        *pp = o->next;
        kt__free(o, sizeof(*o));
    }
    if (s->out != NULL && kt__ev_start(s->flush_ev, OUT_RETRY) != KT_OK) {
        kt__ev_activate(s->flush_ev);
    }
}

kt_err
kt__sched_forward(kt__sched *s, kt__sched *dst, const kt_msg *m,
                  kt_aid receiver)
{
    kt__outbox *o;
    bool fresh = false;
    kt_err err;

    for (o = s->out; o != NULL && o->dst != dst; o = o->next) {
    }
    if (o == NULL) {
        if ((o = kt__zalloc(sizeof(*o))) == NULL) {
            return KT_ENOMEM;
        }
        o->dst = dst;
        fresh = true;
    }
    if ((err = kt__net_batch_add(&o->b, m, receiver)) != KT_OK) {
        if (fresh) {
            kt__free(o, sizeof(*o));
        }
        return err;
    }
    if (fresh) {
        o->next = s->out;
        s->out = o;
        kt__ev_activate(s->flush_ev); // runs after this turn's callbacks
    }
    if (kt__net_batch_len(o->b) >= OUT_MAX &&
        kt__net_batch_send(dst->mbox, o->b) == KT_OK) {
        o->b = NULL; // the outbox stays listed; the flush drops it empty
    }
    return KT_OK;
}

static void
sched_stop_all(kt__sched *s)
{
    while (s->actors != NULL) {
        kt__actor_stop(s->actors, KT_OK, "runtime stopping");
    }
    kt__loop_break(s->loop);
}

static void
sched_ctl_one(kt__sched *s, kt_actor *a, unsigned ctl, kt_err reason,
              kt_aid from)
{
    char detail[64];

    if (ctl & KT__CTL_REAP) {
        kt__actor_reap(a, reason);
        return;
    }
    if (ctl & KT__CTL_ACTIVATE) {
        a->ready = true;
        a->prev = NULL;
        if ((a->next = s->actors) != NULL) {
            s->actors->prev = a;
        }
        s->actors = a;
        if (a->mb_head != NULL && !a->in_runq && !a->paused) {
            sched_runq_push(s, a);
        }
    }
    if (ctl & KT__CTL_KILL) {
        a->kill_pending = true;
        a->kill_reason = reason;
        a->kill_from = from;
    }
    if (!a->ready) {
        return; // a kill waits for activation
    }
    if (a->kill_pending) {
        if (a->kill_from != 0) {
            snprintf(detail, sizeof(detail),
                     "linked actor #%" PRIu64 " stopped", a->kill_from);
        } else {
            snprintf(detail, sizeof(detail), "killed");
        }
        kt__actor_stop(a, a->kill_reason, detail);
    } else if (a->exiting) {
        kt__actor_stop(a, a->exit_reason, "exit");
    }
}

static void
sched_ctl_cb(void *arg)
{
    kt__sched *s = arg;
    bool shutdown;

    for (;;) {
        kt_actor *a;
        unsigned ctl;
        kt_err reason;
        kt_aid from;

        pthread_mutex_lock(&s->ctl_mtx);
        if ((a = s->ctlq) != NULL) {
            if ((s->ctlq = a->ctlnext) == NULL) {
                s->ctlq_tail = NULL;
            }
            a->in_ctl = false;
            ctl = a->ctl;
            reason = a->kill_reason;
            from = a->kill_from;
            a->ctl = 0;
        }
        shutdown = s->shutdown;
        pthread_mutex_unlock(&s->ctl_mtx);
        if (a == NULL) {
            break;
        }
        sched_ctl_one(s, a, ctl, reason, from);
    }
    if (shutdown) {
        sched_stop_all(s);
    }
}

void
kt__sched_post(kt_actor *a, unsigned ctl, kt_err reason, kt_aid from)
{
    kt__sched *s = a->sched;

    pthread_mutex_lock(&s->ctl_mtx);
    if ((ctl & KT__CTL_KILL) && !(a->ctl & KT__CTL_KILL)) {
        a->kill_reason = reason; // the first kill wins
        a->kill_from = from;
    } else if (ctl & KT__CTL_REAP) {
        a->kill_reason = reason;
    }
    a->ctl |= ctl;
    if (!a->in_ctl) {
        a->in_ctl = true;
        a->ctlnext = NULL;
        if (s->ctlq == NULL) {
            s->ctlq = a;
        } else {
            s->ctlq_tail->ctlnext = a;
        }
        s->ctlq_tail = a;
    }
    pthread_mutex_unlock(&s->ctl_mtx);
    kt__ev_activate(s->ctl_ev);
}

void
kt__sched_forget(kt__sched *s, kt_actor *a)
{
    kt_actor **pp;

    if (a->ready) {
        if (a->prev != NULL) {
            a->prev->next = a->next;
        } else {
            s->actors = a->next;
        }
        if (a->next != NULL) {
            a->next->prev = a->prev;
        }
    }
    if (a->in_runq) {
        for (pp = &s->runq; *pp != a; pp = &(*pp)->runnext) {
        }
        *pp = a->runnext;
        if (s->runq_tail == a) {
            s->runq_tail = NULL;
            for (kt_actor *t = s->runq; t != NULL; t = t->runnext) {
                s->runq_tail = t;
            }
        }
        a->in_runq = false;
    }
    pthread_mutex_lock(&s->ctl_mtx);
    if (a->in_ctl) {
        kt_actor *prev = NULL;
        for (pp = &s->ctlq; *pp != a; pp = &(*pp)->ctlnext) {
            prev = *pp;
        }
        *pp = a->ctlnext;
        if (s->ctlq_tail == a) {
            s->ctlq_tail = prev;
        }
        a->in_ctl = false;
    }
    pthread_mutex_unlock(&s->ctl_mtx);
    if (s->dedicated && s->actors == NULL) {
        kt__loop_break(s->loop);
    }
}

static void *
sched_main(void *arg)
{
    kt__sched *s = arg;

    sched_cur = s;
    kt__loop_run(s->loop);
    sched_cur = NULL;
    atomic_store(&s->done, true);
    return NULL;
}

static kt_err
sched_events(kt__sched *s)
{
    kt_err err;

    if ((err = kt__ev_alloc(s->loop, kt__net_fd(s->mbox), true, sched_rx_cb, s,
                            &s->rx_ev)) != KT_OK ||
        (err = kt__ev_alloc(s->loop, -1, false, sched_run_cb, s, &s->run_ev)) !=
            KT_OK ||
        (err = kt__ev_alloc(s->loop, -1, false, sched_ctl_cb, s, &s->ctl_ev)) !=
            KT_OK ||
        (err = kt__ev_alloc(s->loop, -1, false, sched_flush_cb, s,
                            &s->flush_ev)) != KT_OK) {
        return err;
    }
    return kt__ev_start(s->rx_ev, 0);
}

static void
sched_release(kt__sched *s)
{
    kt__ev_free(s->rx_ev);
    kt__ev_free(s->run_ev);
    kt__ev_free(s->ctl_ev);
    kt__ev_free(s->flush_ev);
    while (s->out != NULL) {
        kt__outbox *o = s->out;
        s->out = o->next;
        kt__net_batch_free(o->b);
        kt__free(o, sizeof(*o));
    }
    kt__net_close(s->mbox); // frames still queued are freed by NNG
    if (s->loop != NULL) {
        kt__loop_free(s->loop);
    }
    pthread_mutex_destroy(&s->ctl_mtx);
    kt__free(s, sizeof(*s));
}

kt_err
kt__sched_start(kt_runtime *rt, bool dedicated, kt__sched **sp)
{
    kt__sched *s;
    kt_err err;

    if ((s = kt__zalloc(sizeof(*s))) == NULL) {
        return KT_ENOMEM;
    }
    s->rt = rt;
    s->dedicated = dedicated;
    atomic_init(&s->done, false);
    pthread_mutex_init(&s->ctl_mtx, NULL);
    snprintf(s->url, sizeof(s->url), "inproc://kt-sched-%" PRIu64,
             kt__next_id());
    if ((err = kt__loop_alloc(&s->loop)) != KT_OK ||
        (err = kt__net_mbox_open(&s->mbox, s->url)) != KT_OK ||
        (err = sched_events(s)) != KT_OK) {
        goto fail;
    }
    if (pthread_create(&s->thread, NULL, sched_main, s) != 0) {
        err = KT_ENOMEM;
        goto fail;
    }
    *sp = s;
    return KT_OK;
fail:
    sched_release(s);
    return err;
}

void
kt__sched_shutdown(kt__sched *s)
{
    pthread_mutex_lock(&s->ctl_mtx);
    s->shutdown = true;
    pthread_mutex_unlock(&s->ctl_mtx);
    kt__ev_activate(s->ctl_ev);
}

void
kt__sched_join(kt__sched *s)
{
    pthread_join(s->thread, NULL);
}

void
kt__sched_free(kt__sched *s)
{
    sched_release(s);
}
