// Sends, asks and replies; kt_runtime_ask for threads outside the runtime.
#include <errno.h>
#include <time.h>

#include <kt/actor.h>

#include "core/actor.h"
#include "core/msg.h"
#include "core/sched.h"

kt_err
kt__send(kt_runtime *rt, kt_aid from, kt_aid to, kt_msg *msg)
{
    kt__ep *ep;
    kt_err err = KT_ENOENT;

    msg->sender = from;
    kt__reg_rdlock(&rt->reg);
    if ((ep = kt__reg_find(&rt->reg, to)) != NULL) {
        err = ep->ops->deliver(ep, msg);
    }
    kt__reg_unlock(&rt->reg);
    return err;
}

static kt_err
send_check(const kt_msg *msg, kt_aid to)
{
    if (msg == NULL || to == 0 || msg->type == 0) {
        return KT_EINVAL;
    }
    return KT_OK;
}

kt_err
kt_send(kt_actor *self, kt_aid to, kt_msg *msg)
{
    kt_runtime *rt;
    kt_err err;

    if ((err = send_check(msg, to)) != KT_OK) {
        return err;
    }
    msg->corr = 0;
    msg->flags = 0;
    if (self != NULL) {
        return kt__send(self->rt, self->ep.byid.id, to, msg);
    }
    if ((err = kt__runtime_find(to, &rt)) != KT_OK) {
        return err;
    }
    return kt__send(rt, 0, to, msg);
}

kt_err
kt_runtime_send(kt_runtime *rt, kt_aid to, kt_msg *msg)
{
    kt_err err;

    if (rt == NULL) {
        return KT_EINVAL;
    }
    if ((err = send_check(msg, to)) != KT_OK) {
        return err;
    }
    msg->corr = 0;
    msg->flags = 0;
    return kt__send(rt, 0, to, msg);
}

kt_err
kt_ask(kt_actor *self, kt_aid to, kt_msg *msg, uint32_t timeout_ms,
       uint64_t *corrp)
{
    uint64_t corr;
    kt_err err;

    if (self == NULL || corrp == NULL) {
        return KT_EINVAL;
    }
    if ((err = send_check(msg, to)) != KT_OK) {
        return err;
    }
    corr = kt__next_id();
    if ((err = kt__ask_arm(self, corr, timeout_ms)) != KT_OK) {
        return err;
    }
    msg->corr = corr;
    msg->flags = 0;
    if ((err = kt__send(self->rt, self->ep.byid.id, to, msg)) != KT_OK) {
        kt__ask_disarm(self, corr);
        msg->corr = 0;
        return err;
    }
    *corrp = corr;
    return KT_OK;
}

kt_err
kt_reply_to(kt_actor *self, kt_aid to, uint64_t corr, kt_msg *rep)
{
    kt_err err;

    if (self == NULL || corr == 0) {
        return KT_EINVAL;
    }
    if ((err = send_check(rep, to)) != KT_OK) {
        return err;
    }
    rep->corr = corr;
    rep->flags = KT__MSG_REPLY;
    return kt__send(self->rt, self->ep.byid.id, to, rep);
}

kt_err
kt_reply(kt_actor *self, const kt_msg *req, kt_msg *rep)
{
    if (req == NULL) {
        return KT_EINVAL;
    }
    // Read req first: it may be rep itself.
    return kt_reply_to(self, req->sender, req->corr, rep);
}

// A thread blocked in kt_runtime_ask: an endpoint that takes one reply.
typedef struct waiter {
    kt__ep ep;
    pthread_mutex_t mtx;
    pthread_cond_t cv;
    uint64_t corr;
    kt_msg *rep;
} waiter;

static kt_err
waiter_deliver(kt__ep *ep, kt_msg *m)
{
    waiter *w = (waiter *)(void *)ep;

    pthread_mutex_lock(&w->mtx);
    if (w->rep == NULL && (m->flags & KT__MSG_REPLY) && m->corr == w->corr) {
        w->rep = m;
        m = NULL;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mtx);
    kt_msg_free(m); // anything else sent to a waiter is dropped
    return KT_OK;
}

static const kt__ep_ops waiter_ops = {.deliver = waiter_deliver};

static void
waiter_wait(waiter *w, uint32_t timeout_ms)
{
    struct timespec dl;

    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mtx);
    while (w->rep == NULL) {
        if (timeout_ms == 0) {
            pthread_cond_wait(&w->cv, &w->mtx);
        } else if (pthread_cond_timedwait(&w->cv, &w->mtx, &dl) == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&w->mtx);
}

kt_err
kt_runtime_ask(kt_runtime *rt, kt_aid to, kt_msg *req, uint32_t timeout_ms,
               kt_msg **repp)
{
    pthread_condattr_t ca;
    waiter w = {.ep = {.ops = &waiter_ops}};
    kt_err err;

    if (rt == NULL || repp == NULL || (err = send_check(req, to)) != KT_OK) {
        return KT_EINVAL;
    }
    if (kt__sched_current() != NULL) {
        return KT_ESTATE; // would block a scheduler thread
    }
    w.ep.byid.id = kt__next_id();
    w.corr = kt__next_id();
    pthread_mutex_init(&w.mtx, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cv, &ca);
    pthread_condattr_destroy(&ca);
    kt__reg_wrlock(&rt->reg);
    err = kt__reg_add(&rt->reg, &w.ep);
    kt__reg_unlock(&rt->reg);
    if (err == KT_OK) {
        req->corr = w.corr;
        req->flags = 0;
        if ((err = kt__send(rt, w.ep.byid.id, to, req)) == KT_OK) {
            waiter_wait(&w, timeout_ms);
        }
        kt__reg_wrlock(&rt->reg); // after this nobody can deliver to w
        kt__reg_del(&rt->reg, &w.ep);
        kt__reg_unlock(&rt->reg);
    }
    if (err == KT_OK) {
        if (w.rep != NULL) {
            *repp = w.rep;
        } else {
            err = KT_ETIMEDOUT;
        }
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mtx);
    return err;
}
