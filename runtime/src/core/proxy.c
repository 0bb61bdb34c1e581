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

typedef struct proxy_cfg {
    const char *url;
    const char *name;
} proxy_cfg;

typedef struct proxy {
    kt_actor *self;
    kt__sock *sock;
    kt__inbox in;
    kt__ev *tx;   // socket writable again, armed while a message is held
    kt_msg *held; // the message the socket refused
    char *name;   // the remote actor's registered name
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

// The socket can take more: send the held message and take mail again.
static void
proxy_tx_cb(void *arg)
{
    proxy *p = arg;
    kt_err err;

    if (p->held != NULL) {
        if ((err = kt__net_send(p->sock, p->held, 0, p->name, 0)) ==
            KT_EAGAIN) {
            return; // still full: wait for the next writable signal
        }
        if (err != KT_OK) {
            proxy_drop(p, p->held, err);
        } else {
            kt_msg_free(p->held);
        }
        p->held = NULL;
    }
    kt__ev_stop(p->tx);
    kt__sched_resume(p->self->sched, p->self);
}

static kt_err
proxy_handle(void *state, kt_actor *self, kt_msg *msg)
{
    proxy *p = state;
    kt_err err = kt__net_send(p->sock, msg, 0, p->name, 0);

    if (err == KT_OK) {
        kt_msg_free(msg);
    } else if (err != KT_EAGAIN) {
        proxy_drop(p, msg, err);
    } else {
        // Connection full or not up yet: hold this one and stop taking
        // mail; the mailbox fills and senders get KT_EAGAIN.
        p->held = msg;
        self->paused = true;
        if (kt__ev_start(p->tx, 0) != KT_OK) {
            kt__ev_activate(p->tx);
        }
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
    if ((err = kt__inbox_start(&p->in, self->sched->loop, p->sock,
                               proxy_deliver, p)) != KT_OK) {
        goto free_tx;
    }
    kt_log(KT_LOG_INFO, "remote",
           "event=connect actor=remote#%" PRIu64 " url=%s name=%s",
           kt_self(self), c->url, c->name);
    return KT_OK;
free_tx:
    kt__ev_free(p->tx);
close_sock:
    kt__net_close(p->sock);
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
    kt__net_close(p->sock);
    p->sock = NULL;
    kt_msg_free(p->held);
    p->held = NULL;
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
