// kt_remote_connect: a proxy actor that forwards its mail to a named actor
// in another runtime and hands what comes back to the local receivers.
// Sends never block its thread: when the connection cannot take more, the
// proxy stops taking mail until NNG's send descriptor says it can. A
// connection that stays silent after the proxy sent something gets a
// keepalive ping, answered by the peer's listener; unanswered, the proxy
// dials again (a peer that accepted the connection and then froze, or a
// connection NNG left leading nowhere, would otherwise swallow every
// message sent after it).
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

#define PROXY_BATCH_MAX  65536 // bytes gathered before sending early
#define PROXY_DEAD_TICKS 4     // keepalive periods a ping may go unanswered

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
    // Keepalive (the proxy's thread only), in keepalive periods: ticks
    // since anything came back, whether something was sent since, and
    // ticks since the unanswered ping (0 = none out).
    kt__ev *keep;
    uint32_t quiet, ping_age;
    bool sent;
    uint64_t connects; // kt__net_connects at the last tick
    uint64_t redials;
} proxy;

// Replies and messages from the far side, for local actors.
static kt_err
proxy_deliver(void *arg, kt_msg *m, kt__addr *to)
{
    proxy *p = arg;

    p->quiet = 0; // the connection works
    p->ping_age = 0;
    p->sent = false;
    if (m->type == KT_MSG_PONG) {
        kt_msg_free(m);
        return KT_OK;
    }
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
    p->sent = true;
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

static void
proxy_redial(proxy *p, kt_log_level lvl, const char *why)
{
    p->redials++;
    kt_log(lvl, "remote",
           "event=redial actor=remote#%" PRIu64 " name=%s redials=%" PRIu64
           " reason=\"%s\"",
           kt_self(p->self), p->name, p->redials, why);
    (void)kt__net_redial(p->sock);
    p->ping_age = 0;
    p->quiet = 0;
}

// Every keepalive period: after a period without an answer to what was
// sent, ping; after PROXY_DEAD_TICKS more without any, dial again.
static void
proxy_keep_cb(void *arg)
{
    proxy *p = arg;
    uint64_t connects = kt__net_connects(p->sock);
    kt_msg *m;

    if (connects != p->connects) { // a fresh connection: judge it afresh
        p->connects = connects;
        p->ping_age = 0;
        p->quiet = 0;
        return;
    }
    if (p->ping_age > 0 && ++p->ping_age > PROXY_DEAD_TICKS) {
        proxy_redial(p, KT_LOG_WARN, "keepalive unanswered");
        return;
    }
    if (p->ping_age > 0 || !p->sent || ++p->quiet < 2) {
        return; // a ping is out, nothing awaits an answer, or not quiet yet
    }
    if (kt__msg_new(&m, KT_MSG_PING, 0, kt_self(p->self), 0, 0) != KT_OK) {
        return;
    }
    if (kt__net_send(p->sock, m, 0, p->name, 0) == KT_OK) {
        p->ping_age = 1;
    }
    kt_msg_free(m);
}

static kt_err
proxy_handle(void *state, kt_actor *self, kt_msg *msg)
{
    proxy *p = state;
    kt_err err;

    (void)self;
    if (kt_msg_type(msg) == KT_MSG_REDIAL) {   // its owner knows better
        proxy_redial(p, KT_LOG_INFO, "asked"); // its owner logs why
        kt_msg_free(msg);
        return KT_OK;
    }
    err = kt__net_env_add(&p->out, msg, 0, p->name);
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
    if ((err = kt__ev_alloc(self->sched->loop, -1, true, proxy_keep_cb, p,
                            &p->keep)) != KT_OK) {
        goto free_flush;
    }
    if ((err = kt__ev_start(p->keep, kt_actor_runtime(self)->keepalive_ms)) !=
            KT_OK ||
        (err = kt__inbox_start(&p->in, self->sched->loop, p->sock,
                               proxy_deliver, p)) != KT_OK) {
        goto free_keep;
    }
    kt_log(KT_LOG_INFO, "remote",
           "event=connect actor=remote#%" PRIu64 " url=%s name=%s",
           kt_self(self), c->url, c->name);
    return KT_OK;
free_keep:
    kt__ev_free(p->keep);
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
    kt__ev_free(p->keep);
    p->keep = NULL;
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
