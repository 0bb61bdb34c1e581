// kt_remote_connect: a proxy actor that forwards its mail to a named actor
// in another runtime and hands what comes back to the local receivers.
// Sends never block its thread: when the connection cannot take more, the
// proxy stops taking mail until NNG's send descriptor says it can.
#include <inttypes.h>
#include <string.h>

#include <kt/actor.h>
#include <kt/log.h>

#include "base/alloc.h"
#include "core/actor.h"
#include "core/inbox.h"
#include "core/msg.h"
#include "core/remote.h"
#include "core/sched.h"
#include "io/loop.h"
#include "io/net.h"

#define PROXY_BATCH_MAX 65536 // bytes gathered before sending early

typedef struct proxy_cfg {
    const char *url;
    const char *name;
} proxy_cfg;

typedef struct proxy {
    kt_actor *self;
    kt__sock *sock;
    kt__inbox in;
    kt__ev *tx;     // socket writable again, armed while paused
    kt__ev *flush;  // end of turn: send the batch
    kt__batch *out; // envelopes gathered this turn (ktpb.v1.Batch)
    bool flush_armed;
    char *name; // the remote actor's registered name
} proxy;

// Replies and messages from the far side, for local actors.
static kt_err
proxy_deliver(void *arg, kt_msg *m, kt__addr *to)
{
    proxy *p = arg;

    if (to->receiver == 0) {
        kt_log(KT_LOG_NOTICE, "remote",
               "event=drop actor=remote#%" PRIu64 " reason=\"no receiver\"",
               kt_self(p->self));
        kt_msg_free(m);
        return KT_EPROTO;
    }
    return kt__remote_deliver(kt_actor_runtime(p->self), kt_self(p->self), m,
                              to);
}

static void
proxy_drop(proxy *p, kt_msg *m, kt_err why)
{
    kt_log(KT_LOG_NOTICE, "remote",
           "event=drop actor=remote#%" PRIu64 " name=%s type=%u "
           "reason=\"%s\"",
           kt_self(p->self), p->name, m->type, kt_strerror(why));
    kt_msg_free(m);
}

// Send what this turn gathered. A full socket (or a connection not up
// yet) pauses the proxy: its mail waits in the mailbox, senders meet the
// mailbox limit, and the send descriptor's signal resumes it.
static void
proxy_flush(proxy *p)
{
    kt_err err;

    if (p->out == NULL) {
        return;
    }
    if ((err = kt__net_batch_send(p->sock, p->out)) == KT_EAGAIN) {
        if (!p->self->paused) {
            p->self->paused = true;
            if (kt__ev_start(p->tx, 0) != KT_OK) {
                kt__ev_activate(p->tx);
            }
        }
        return;
    }
    if (err != KT_OK) {
        kt_log(KT_LOG_NOTICE, "remote",
               "event=drop actor=remote#%" PRIu64 " name=%s bytes=%zu "
               "reason=\"%s\"",
               kt_self(p->self), p->name, kt__net_batch_len(p->out),
               kt_strerror(err));
        kt__net_batch_free(p->out);
    }
    p->out = NULL;
    if (p->self->paused) {
        kt__ev_stop(p->tx);
        kt__sched_resume(p->self->sched, p->self);
    }
}

static void
proxy_flush_cb(void *arg)
{
    proxy *p = arg;

    p->flush_armed = false;
    proxy_flush(p);
}

static void
proxy_tx_cb(void *arg)
{
    proxy_flush(arg);
}

static kt_err
proxy_handle(void *state, kt_actor *self, kt_msg *msg)
{
    proxy *p = state;
    kt_err err = kt__net_env_add(&p->out, msg, 0, p->name);

    (void)self;
    if (err != KT_OK) {
        proxy_drop(p, msg, err);
        return KT_OK;
    }
    kt_msg_free(msg); // copied into the batch
    if (kt__net_batch_len(p->out) >= PROXY_BATCH_MAX) {
        proxy_flush(p);
    } else if (!p->flush_armed) {
        p->flush_armed = true;
        kt__ev_activate(p->flush); // after this turn's callbacks
    }
    return KT_OK;
}

static kt_err
proxy_init(void *state, kt_actor *self, const void *cfg)
{
    const proxy_cfg *c = cfg;
    proxy *p = state;
    kt_err err;

    p->self = self;
    self->forwards_replies = true;
    if ((p->name = kt__strdup(c->name)) == NULL) {
        return KT_ENOMEM;
    }
    if ((err = kt__net_peer_dial(&p->sock, c->url)) != KT_OK) {
        goto free_name;
    }
    if ((err = kt__ev_alloc(self->sched->loop, kt__net_send_fd(p->sock), true,
                            proxy_tx_cb, p, &p->tx)) != KT_OK) {
        goto close_sock;
    }
    if ((err = kt__ev_alloc(self->sched->loop, -1, false, proxy_flush_cb, p,
                            &p->flush)) != KT_OK) {
        goto free_tx;
    }
    if ((err = kt__inbox_start(&p->in, self->sched->loop, p->sock,
                               proxy_deliver, p)) != KT_OK) {
        goto free_flush;
    }
    kt_log(KT_LOG_INFO, "remote",
           "event=connect actor=remote#%" PRIu64 " url=%s name=%s",
           kt_self(self), c->url, c->name);
    return KT_OK;
free_flush:
    kt__ev_free(p->flush);
free_tx:
    kt__ev_free(p->tx);
close_sock:
    (void)kt__net_close(p->sock);
free_name:
    kt__strfree(p->name);
    return err;
}

static void
proxy_stop(void *state, kt_actor *self)
{
    proxy *p = state;

    (void)self;
    kt__inbox_stop(&p->in);
    kt__ev_free(p->tx);
    p->tx = NULL;
    (void)kt__net_close(p->sock);
    p->sock = NULL;
    kt__ev_free(p->flush);
    p->flush = NULL;
    kt__net_batch_free(p->out);
    p->out = NULL;
}

static void
proxy_fini(void *state)
{
    proxy *p = state;

    kt__strfree(p->name);
}

static const kt_actor_ops proxy_ops = {
    .name = "remote",
    .state_size = sizeof(proxy),
    .init = proxy_init,
    .handle = proxy_handle,
    .stop = proxy_stop,
    .fini = proxy_fini,
};

kt_err
kt_remote_connect(kt_runtime *rt, const char *url, const char *name,
                  kt_aid *aidp)
{
    proxy_cfg c = {.url = url, .name = name};

    if (rt == NULL || url == NULL || name == NULL || name[0] == '\0' ||
        strlen(name) > KT__NAME_MAX || aidp == NULL) {
        return KT_EINVAL;
    }
    return kt_spawn(rt, &proxy_ops, &c, NULL, aidp);
}
