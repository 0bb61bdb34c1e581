// Actors: spawn (init on the caller's thread), dispatch, stop, monitors,
// links, kill and exit.
#include "core/actor.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <kt/log.h>

#include "base/alloc.h"
#include "core/msg.h"
#include "core/outbox.h"
#include "core/remote.h"
#include "core/sched.h"
#include "io/net.h"
#include "ktpb/v1/envelope.pb-c.h"

static kt_err actor_deliver(kt__ep *ep, kt_msg *m);

const kt__ep_ops kt__actor_ep_ops = {.deliver = actor_deliver};

kt_actor *
kt__actor_of(kt__ep *ep)
{
    return ep != NULL && ep->ops == &kt__actor_ep_ops ? (kt_actor *)(void *)ep
                                                      : NULL;
}

// Read lock held: a stays alive until we return.
static kt_err
actor_deliver(kt__ep *ep, kt_msg *m)
{
    kt_actor *a = (kt_actor *)(void *)ep;
    kt_err err;

    if (atomic_fetch_add_explicit(&a->queued, 1, memory_order_relaxed) >=
        a->rt->mailbox_limit) {
        atomic_fetch_sub_explicit(&a->queued, 1, memory_order_relaxed);
        return KT_EAGAIN;
    }
    kt__sched *cur = kt__sched_current();
    if (cur == a->sched) {
        kt__sched_push(a->sched, a, m); // same thread: no socket
        return KT_OK;
    }
    if (cur == NULL) { // a thread outside the runtime: handed over as is
        kt__sched_ext_push(a->sched, m, a->ep.byid.id);
        return KT_OK;
    }
    err = kt__outbox_add(cur, a->sched, m, a->ep.byid.id); // batched per turn
    if (err != KT_OK) {
        atomic_fetch_sub_explicit(&a->queued, 1, memory_order_relaxed);
        return err;
    }
    kt_msg_free(m); // the frame is a copy
    return KT_OK;
}

static void
actor_free(kt_actor *a)
{
    kt__sched_forget(a->sched, a);
    while (a->mb_head != NULL) {
        kt_msg *m = a->mb_head;
        a->mb_head = m->next;
        kt_msg_free(m);
    }
    kt__timers_clear(a);
    kt__idmap_fini(&a->timers);
    while (a->watchers != NULL) {
        kt__watch *w = a->watchers;
        a->watchers = w->next;
        kt__free(w, sizeof(*w));
    }
    pthread_mutex_destroy(&a->mtx);
    kt__free(a->state, a->ops->state_size);
    if (a->ep.name != NULL) {
        kt__strfree((char *)(uintptr_t)a->ep.name);
    }
    kt__free(a, sizeof(*a));
}

static void
actor_send_down(kt_actor *a, kt_aid to, kt_err reason, const char *detail)
{
    Ktpb__V1__Down d;

    ktpb__v1__down__init(&d);
    kt_msg *m;

    d.aid = a->ep.byid.id;
    d.name = (char *)(uintptr_t)(a->ep.name != NULL ? a->ep.name : "");
    d.reason = (int32_t)reason;
    d.detail = (char *)(uintptr_t)detail;
    if (kt__msg_new(&m, KT_MSG_DOWN, ktpb__v1__down__get_packed_size(&d), d.aid,
                    0, 0) != KT_OK) {
        kt_log(KT_LOG_ERR, "actor",
               "event=down_lost actor=%s#%" PRIu64 " reason=\"out of memory\"",
               kt_actor_name(a), d.aid);
        return;
    }
    ktpb__v1__down__pack(&d, m->body);
    if (kt__send(a->rt, d.aid, to, m) != KT_OK) {
        kt_msg_free(m); // the monitor is gone too
    }
}

// Tell monitors and links (the watchers list was taken under mtx).
static void
actor_notify(kt_actor *a, kt__watch *w, kt_err reason, const char *detail)
{
    for (; w != NULL; w = w->next) {
        if (!w->link) {
            actor_send_down(a, w->aid, reason, detail);
        } else if (reason != KT_OK) {
            kt__reg_rdlock(&a->rt->reg);
            kt_actor *o = kt__actor_of(kt__reg_find(&a->rt->reg, w->aid));
            if (o != NULL) {
                kt__sched_post(o, KT__CTL_KILL, reason, a->ep.byid.id);
            }
            kt__reg_unlock(&a->rt->reg);
        }
    }
}

static kt__watch *
actor_unregister(kt_actor *a)
{
    kt__watch *w;

    kt__reg_wrlock(&a->rt->reg);
    kt__reg_del(&a->rt->reg, &a->ep); // a no-op after a failed init
    kt__reg_unlock(&a->rt->reg);
    pthread_mutex_lock(&a->mtx);
    a->dying = true;
    w = a->watchers;
    a->watchers = NULL;
    pthread_mutex_unlock(&a->mtx);
    return w;
}

static void
actor_finish(kt_actor *a, kt__watch *w, kt_err reason, const char *detail)
{
    a->watchers = w; // freed with the actor
    actor_notify(a, w, reason, detail);
    actor_free(a);
}

void
kt__actor_stop(kt_actor *a, kt_err reason, const char *detail)
{
    kt__watch *w = actor_unregister(a);
    kt_log(reason == KT_OK ? KT_LOG_DEBUG : KT_LOG_WARN, "actor",
           "event=stop actor=%s#%" PRIu64 " reason=\"%s\" detail=\"%s\"",
           kt_actor_name(a), a->ep.byid.id, kt_strerror(reason), detail);
    if (a->ops->stop != NULL) {
        a->ops->stop(a->state, a);
    }
    kt__timers_clear(a);
    if (a->ops->fini != NULL) {
        a->ops->fini(a->state);
    }
    actor_finish(a, w, reason, detail);
}

void
kt__actor_reap(kt_actor *a, kt_err reason)
{
    // Unregistered by kt_spawn already; only watchers added by others
    // during init remain.
    kt__watch *w = actor_unregister(a);

    actor_finish(a, w, reason, "init failed");
}

bool
kt__actor_dispatch(kt_actor *a, kt_msg *m)
{
    bool drop = false;
    kt_err rv;
    char detail[64];

    atomic_fetch_sub_explicit(&a->queued, 1, memory_order_relaxed);
    kt__timers_fire(a, m, &drop);
    if (drop) {
        kt_msg_free(m);
        return false;
    }
    if ((rv = a->ops->handle(a->state, a, m)) != KT_OK) {
        snprintf(detail, sizeof(detail), "handler failed: %s", kt_strerror(rv));
        kt__actor_stop(a, rv, detail);
        return true;
    }
    if (a->exiting) {
        kt__actor_stop(a, a->exit_reason, "exit");
        return true;
    }
    return false;
}

static kt_err
actor_watch_add(kt_actor *a, kt_aid aid, bool link)
{
    kt__watch *w;

    if ((w = kt__alloc(sizeof(*w))) == NULL) {
        return KT_ENOMEM;
    }
    w->aid = aid;
    w->link = link;
    pthread_mutex_lock(&a->mtx);
    if (a->dying) {
        pthread_mutex_unlock(&a->mtx);
        kt__free(w, sizeof(*w));
        return KT_ENOENT;
    }
    w->next = a->watchers;
    a->watchers = w;
    pthread_mutex_unlock(&a->mtx);
    return KT_OK;
}

kt_err
kt_monitor(kt_actor *self, kt_aid target)
{
    kt_err err = KT_ENOENT;
    kt_actor *t;
    kt_msg *m;

    if (self == NULL || target == 0) {
        return KT_EINVAL;
    }
    kt__reg_rdlock(&self->rt->reg);
    kt__ep *ep = kt__reg_find(&self->rt->reg, target);
    if ((t = kt__actor_of(ep)) != NULL) {
        err = actor_watch_add(t, self->ep.byid.id, false);
    } else if (ep != NULL) {
        err = kt__remote_watch(ep, self->ep.byid.id); // a remote sender
    }
    kt__reg_unlock(&self->rt->reg);
    if (err != KT_ENOENT) {
        return err;
    }
    // Already gone: the monitor fires at once, with reason KT_ENOENT.
    Ktpb__V1__Down d;

    ktpb__v1__down__init(&d);
    d.aid = target;
    d.reason = KT_ENOENT;
    d.detail = (char *)(uintptr_t) "no such actor";
    if (kt__msg_new(&m, KT_MSG_DOWN, ktpb__v1__down__get_packed_size(&d),
                    target, 0, 0) != KT_OK) {
        return KT_ENOMEM;
    }
    ktpb__v1__down__pack(&d, m->body);
    if ((err = kt__send(self->rt, target, self->ep.byid.id, m)) != KT_OK) {
        kt_msg_free(m);
    }
    return err;
}

kt_err
kt_link(kt_actor *self, kt_aid other)
{
    kt_err err = KT_ENOENT;
    kt_actor *o;

    if (self == NULL || other == 0 || other == self->ep.byid.id) {
        return KT_EINVAL;
    }
    kt__reg_rdlock(&self->rt->reg);
    if ((o = kt__actor_of(kt__reg_find(&self->rt->reg, other))) != NULL &&
        (err = actor_watch_add(o, self->ep.byid.id, true)) == KT_OK) {
        err = actor_watch_add(self, other, true);
        // On failure o keeps a link to us: harmless, it only kills us.
    }
    kt__reg_unlock(&self->rt->reg);
    return err;
}

void
kt_exit(kt_actor *self, kt_err reason)
{
    if (self != NULL && !self->exiting) {
        self->exiting = true;
        self->exit_reason = reason;
    }
}

kt_aid
kt_self(const kt_actor *self)
{
    return self != NULL ? self->ep.byid.id : 0;
}

kt_runtime *
kt_actor_runtime(kt_actor *self)
{
    return self != NULL ? self->rt : NULL;
}

const char *
kt_actor_name(const kt_actor *self)
{
    if (self == NULL) {
        return NULL;
    }
    return self->ep.name != NULL ? self->ep.name : self->ops->name;
}
