// Scheduler threads: receive frames, run actors with mail in bounded
// batches (so sockets and timers stay served), apply control requests.
#include "core/sched.h"

#include <inttypes.h>
#include <stdio.h>

#include <kt/log.h>

#include "base/alloc.h"
#include "core/outbox.h"

#define RX_BATCH    1024 // frames taken from the socket per wake-up
#define RUN_BATCH   512  // messages handled before the loop polls again
#define ACTOR_BATCH 64   // messages one actor handles before yielding
// After a check of the socket found nothing yet (a frame on its way through
// NNG), messages run before the run loop checks again.
#define RX_BACKOFF 16

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
    if (was_empty && !s->running) { // sched_run_cb goes on by itself
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

// Take up to RX_BATCH frames from the socket into mailboxes; returns how
// many NNG messages were taken.
static long
sched_rx(kt__sched *s)
{
    uint64_t before = kt__net_rx_msgs(s->mbox);
    long taken;
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
    if ((taken = (long)(kt__net_rx_msgs(s->mbox) - before)) > 0) {
        kt__outbox_settle(s, taken);
    }
    return taken;
}

static void
sched_rx_cb(void *arg)
{
    (void)sched_rx(arg);
}

void
kt__sched_ext_push(kt__sched *s, kt_msg *m, kt_aid receiver)
{
    bool was_empty;

    m->next = NULL;
    m->to = receiver;
    pthread_mutex_lock(&s->ext_mtx);
    was_empty = s->ext_head == NULL;
    if (was_empty) {
        s->ext_head = m;
    } else {
        s->ext_tail->next = m;
    }
    s->ext_tail = m;
    pthread_mutex_unlock(&s->ext_mtx);
    if (was_empty) { // later ones find the loop already woken
        kt__ev_activate(s->ext_ev);
    }
}

// Messages from outside threads: all of them, into their mailboxes.
static void
sched_ext_cb(void *arg)
{
    kt__sched *s = arg;
    kt_msg *m, *next;

    pthread_mutex_lock(&s->ext_mtx);
    m = s->ext_head;
    s->ext_head = s->ext_tail = NULL;
    pthread_mutex_unlock(&s->ext_mtx);
    kt__reg_rdlock(&s->rt->reg);
    for (; m != NULL; m = next) {
        kt_actor *a = kt__actor_of(kt__reg_find(&s->rt->reg, m->to));
        next = m->next;
        if (a == NULL || a->sched != s) {
            kt_msg_free(m); // stopped meanwhile
            continue;
        }
        kt__sched_push(s, a, m);
    }
    kt__reg_unlock(&s->rt->reg);
}

// Between two messages of the run loop: mail another thread sent here is
// taken into the mailboxes now, so it is not held back by an actor that
// keeps sending itself messages (which never leave this thread). One
// relaxed load while nothing comes; a frame still on its way through NNG
// is looked for again after RX_BACKOFF messages.
static inline void
sched_run_rx(kt__sched *s)
{
    if (atomic_load_explicit(&s->rx_waiting, memory_order_relaxed) > 0) {
        if (s->rx_skip > 0) {
            s->rx_skip--;
        } else if (sched_rx(s) == 0) {
            s->rx_skip = RX_BACKOFF;
        }
    }
}

// Run actors with mail: ACTOR_BATCH messages each in turn, RUN_BATCH in
// all. Work left over waits for a 0 ms timer, so the loop polls its
// descriptors and timers first: libevent runs an event activated during
// its pass (by event_active) in that same pass, so re-activating run_ev
// from here, or from a send made here, would starve them under a
// self-send loop.
static void
sched_run_cb(void *arg)
{
    kt__sched *s = arg;
    int budget = RUN_BATCH;
    kt_actor *a;

    s->running = true;
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
            sched_run_rx(s);
        }
        budget -= n;
        if (!gone && !a->paused && a->mb_head != NULL && !a->in_runq) {
            sched_runq_push(s, a);
        }
    }
    s->running = false;
    if (s->runq != NULL && kt__ev_start(s->run_ev, 0) != KT_OK) {
        kt__ev_activate(s->run_ev);
    }
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
        // Not at once: what the actor sent in its last callback (and its
        // downs) is still in the outboxes; the flush ends the loop.
        s->ending = true;
        kt__ev_activate(s->flush_ev);
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
        (err = kt__ev_alloc(s->loop, -1, false, kt__outbox_flush_cb, s,
                            &s->flush_ev)) != KT_OK ||
        (err = kt__ev_alloc(s->loop, -1, false, sched_ext_cb, s, &s->ext_ev)) !=
            KT_OK) {
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
    kt__ev_free(s->ext_ev);
    while (s->ext_head != NULL) { // sent while it stopped
        kt_msg *m = s->ext_head;
        s->ext_head = m->next;
        kt_msg_free(m);
    }
    pthread_mutex_destroy(&s->ext_mtx);
    kt__outbox_free_all(s);
    (void)kt__net_close(s->mbox); // frames still queued are freed by NNG
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
    atomic_init(&s->rx_waiting, 0);
    pthread_mutex_init(&s->ctl_mtx, NULL);
    pthread_mutex_init(&s->ext_mtx, NULL);
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
