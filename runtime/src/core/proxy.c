// kt_remote_connect: a proxy actor that forwards its mail to a named actor
// in another runtime and hands what comes back to the local receivers.
#include <inttypes.h>
#include <string.h>

#include <kt/actor.h>
#include <kt/log.h>

#include "base/alloc.h"
#include "core/actor.h"
#include "core/msg.h"
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
    kt__ev *ev;
    char *name; // the remote actor's registered name
} proxy;

// On the proxy's scheduler thread: messages for local actors.
static void
proxy_rx_cb(void *arg)
{
    proxy *p = arg;
    kt_runtime *rt = kt_actor_runtime(p->self);
    kt__addr to;
    kt_msg *m;

    for (int i = 0; i < 1024; i++) {
        kt_err err = kt__net_recv(p->sock, &m, &to);
        if (err == KT_EAGAIN) {
            break;
        }
        if (err != KT_OK) {
            continue; // malformed: logged by net.c
        }
        if (to.receiver == 0 ||
            (err = kt__send(rt, kt_self(p->self), to.receiver, m)) != KT_OK) {
            kt_log(KT_LOG_NOTICE, "remote",
                   "event=drop actor=remote#%" PRIu64 " to=#%" PRIu64
                   " type=%u reason=\"%s\"",
                   kt_self(p->self), to.receiver, m->type,
                   kt_strerror(to.receiver == 0 ? KT_EPROTO : err));
            kt_msg_free(m);
        }
    }
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
    if ((err = kt__ev_alloc(self->sched->loop, kt__net_fd(p->sock), true,
                            proxy_rx_cb, p, &p->ev)) != KT_OK) {
        goto close_sock;
    }
    if ((err = kt__ev_start(p->ev, 0)) != KT_OK) {
        goto free_ev;
    }
    kt_log(KT_LOG_INFO, "remote",
           "event=connect actor=remote#%" PRIu64 " url=%s name=%s",
           kt_self(self), c->url, c->name);
    return KT_OK;
free_ev:
    kt__ev_free(p->ev);
close_sock:
    kt__net_close(p->sock);
free_name:
    kt__strfree(p->name);
    return err;
}

static kt_err
proxy_handle(void *state, kt_actor *self, kt_msg *msg)
{
    proxy *p = state;
    kt_err err = kt__net_send(p->sock, msg, 0, p->name, 0);

    if (err != KT_OK) {
        // Connection down or buffers full: an ask will time out.
        kt_log(KT_LOG_NOTICE, "remote",
               "event=drop actor=remote#%" PRIu64 " name=%s type=%u "
               "reason=\"%s\"",
               kt_self(self), p->name, msg->type, kt_strerror(err));
    }
    kt_msg_free(msg);
    return KT_OK;
}

static void
proxy_stop(void *state, kt_actor *self)
{
    proxy *p = state;

    (void)self;
    kt__ev_free(p->ev);
    p->ev = NULL;
    kt__net_close(p->sock);
    p->sock = NULL;
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
