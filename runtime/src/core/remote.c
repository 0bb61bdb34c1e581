// Other processes: listeners (a pair1 socket in polyamorous mode) and
// proxies (an actor per kt_remote_connect that owns a dialing socket).
// A sender on the far side of a connection appears locally as a "stub"
// endpoint, so replies and any later message route back through the
// connection it came from.
#include "core/remote.h"

#include <inttypes.h>
#include <ktpb/v1/envelope.pb-c.h>
#include <string.h>

#include <kt/actor.h>
#include <kt/log.h>

#include "base/alloc.h"
#include "core/actor.h"
#include "core/inbox.h"
#include "core/msg.h"
#include "core/sched.h"
#include "io/loop.h"
#include "io/net.h"

typedef struct stub stub;

struct kt__remote {
    kt_runtime *rt;
    kt__sock *sock;
    kt__inbox in; // input, on the first scheduler's loop
    pthread_mutex_t mtx;
    pthread_mutex_t wmtx; // a leaf: guards every stub's watchers
    stub *stubs;
    kt__remote *next;
};

struct stub {
    kt__ep ep;
    kt__remote *l;
    uint32_t pipe;
    kt_aid peer;      // the sender's id in its own runtime
    kt__watch *watch; // monitors: told when the connection closes
    stub *next;
};

// Read lock held: the stub stays registered (and alive) meanwhile.
static kt_err
stub_deliver(kt__ep *ep, kt_msg *m)
{
    stub *s = (stub *)(void *)ep;
    kt_err err = kt__net_send(s->l->sock, m, s->peer, NULL, s->pipe);

    if (err == KT_OK) {
        kt_msg_free(m);
    }
    return err;
}

static const kt__ep_ops stub_ops = {.deliver = stub_deliver};

static void stub_down(kt_runtime *rt, kt_aid aid, kt_aid watcher);

// stub_drop unregisters s and frees it. With `down`, its monitors get a
// KT_MSG_DOWN first: no new monitor can be added once s left the registry.
static void
stub_drop(kt__remote *l, stub *s, bool down)
{
    kt__watch *w;

    kt__reg_wrlock(&l->rt->reg);
    kt__reg_del(&l->rt->reg, &s->ep);
    kt__reg_unlock(&l->rt->reg);
    while ((w = s->watch) != NULL) {
        s->watch = w->next;
        if (down) {
            stub_down(l->rt, s->ep.byid.id, w->aid);
        }
        kt__free(w, sizeof(*w));
    }
    kt__free(s, sizeof(*s));
}

// stub_down tells watcher that the sender `aid` is gone with its
// connection (best effort, as every down: the monitor's owner also has
// heartbeats or timeouts).
static void
stub_down(kt_runtime *rt, kt_aid aid, kt_aid watcher)
{
    Ktpb__V1__Down d;
    kt_msg *m;

    ktpb__v1__down__init(&d);
    d.aid = aid;
    d.reason = KT_ECLOSED;
    d.detail = (char *)(uintptr_t) "connection lost";
    if (kt__msg_new(&m, KT_MSG_DOWN, ktpb__v1__down__get_packed_size(&d), aid,
                    0, 0) != KT_OK) {
        return;
    }
    ktpb__v1__down__pack(&d, m->body);
    if (kt__send(rt, aid, watcher, m) != KT_OK) {
        kt_msg_free(m);
    }
}

kt_err
kt__remote_watch(kt__ep *ep, kt_aid watcher)
{
    stub *s = (stub *)(void *)ep;
    kt__watch *w;

    if (ep == NULL || ep->ops != &stub_ops) {
        return KT_ENOENT;
    }
    if ((w = kt__zalloc(sizeof(*w))) == NULL) {
        return KT_ENOMEM;
    }
    w->aid = watcher;
    pthread_mutex_lock(&s->l->wmtx);
    w->next = s->watch;
    s->watch = w;
    pthread_mutex_unlock(&s->l->wmtx);
    return KT_OK;
}

// The stub id for sender `peer` on connection `pipe` (0 on failure).
static kt_aid
stub_get(kt__remote *l, uint32_t pipe, kt_aid peer)
{
    kt_aid aid = 0;
    stub *s;

    pthread_mutex_lock(&l->mtx);
    for (s = l->stubs; s != NULL; s = s->next) {
        if (s->pipe == pipe && s->peer == peer) {
            aid = s->ep.byid.id;
            break;
        }
    }
    if (s == NULL && (s = kt__zalloc(sizeof(*s))) != NULL) {
        s->ep.ops = &stub_ops;
        s->ep.byid.id = kt__next_id();
        s->l = l;
        s->pipe = pipe;
        s->peer = peer;
        kt__reg_wrlock(&l->rt->reg);
        if (kt__reg_add(&l->rt->reg, &s->ep) == KT_OK) {
            aid = s->ep.byid.id;
            s->next = l->stubs;
            l->stubs = s;
        }
        kt__reg_unlock(&l->rt->reg);
        if (aid == 0) {
            kt__free(s, sizeof(*s));
        }
    }
    pthread_mutex_unlock(&l->mtx);
    return aid;
}

// On an NNG thread: a connection closed; its stubs go with it, and their
// monitors are told.
static void
remote_pipe_gone(void *arg, uint32_t pipe)
{
    kt__remote *l = arg;
    stub **pp = &l->stubs, *gone = NULL;

    pthread_mutex_lock(&l->mtx);
    while (*pp != NULL) {
        stub *s = *pp;
        if (s->pipe == pipe) {
            *pp = s->next;
            s->next = gone;
            gone = s;
        } else {
            pp = &s->next;
        }
    }
    pthread_mutex_unlock(&l->mtx);
    while (gone != NULL) {
        stub *s = gone;
        gone = s->next;
        stub_drop(l, s, true);
    }
}

kt_err
kt__remote_deliver(kt_runtime *rt, kt_aid from, kt_msg *m, const kt__addr *to)
{
    kt_err err = KT_ENOENT;
    kt__ep *ep;

    m->sender = from;
    kt__reg_rdlock(&rt->reg);
    ep = to->receiver != 0 ? kt__reg_find(&rt->reg, to->receiver)
                           : kt__reg_find_name(&rt->reg, to->name);
    if (ep != NULL) {
        err = ep->ops->deliver(ep, m);
    }
    kt__reg_unlock(&rt->reg);
    if (err != KT_OK && err != KT_EAGAIN) {
        kt_log(KT_LOG_NOTICE, "remote",
               "event=drop actor=%s#%" PRIu64 " type=%u reason=\"%s\"",
               to->name[0] != '\0' ? to->name : "-", to->receiver, m->type,
               kt_strerror(err));
        kt_msg_free(m);
    }
    return err;
}

// A proxy's keepalive: answered here, on the connection it came over.
static void
listener_pong(kt__remote *l, const kt_msg *ping, const kt__addr *to)
{
    kt_msg *m;

    if (kt__msg_new(&m, KT_MSG_PONG, 0, 0, 0, 0) == KT_OK) {
        (void)kt__net_send(l->sock, m, ping->sender, NULL, to->pipe);
        kt_msg_free(m);
    }
}

static kt_err
listener_deliver(void *arg, kt_msg *m, kt__addr *to)
{
    kt__remote *l = arg;

    if (m->type == KT_MSG_PING) {
        listener_pong(l, m, to);
        kt_msg_free(m);
        return KT_OK;
    }
    if (!to->mapped) { // once per message, not per retry
        m->sender = m->sender != 0 ? stub_get(l, to->pipe, m->sender) : 0;
        to->mapped = true;
    }
    return kt__remote_deliver(l->rt, m->sender, m, to);
}

static void
remote_free(kt__remote *l)
{
    kt__inbox_stop(&l->in);
    // Runs remote_pipe_gone for open connections. If NNG cannot finish
    // (a half-open connection, guard.h), its callbacks may still use l:
    // leave it allocated, the process is shutting down.
    if (!kt__net_close(l->sock)) {
        kt__leak_on_purpose(l);
        return;
    }
    while (l->stubs != NULL) {
        stub *s = l->stubs;
        l->stubs = s->next;
        stub_drop(l, s, false);
    }
    pthread_mutex_destroy(&l->wmtx);
    pthread_mutex_destroy(&l->mtx);
    kt__free(l, sizeof(*l));
}

kt_err
kt_runtime_listen(kt_runtime *rt, const char *url)
{
    kt__remote *l;
    kt_err err;

    if (rt == NULL || url == NULL) {
        return KT_EINVAL;
    }
    if ((l = kt__zalloc(sizeof(*l))) == NULL) {
        return KT_ENOMEM;
    }
    l->rt = rt;
    pthread_mutex_init(&l->mtx, NULL);
    pthread_mutex_init(&l->wmtx, NULL);
    pthread_mutex_lock(&rt->mtx);
    err = rt->stopping ? KT_ECLOSED : KT_OK;
    if (err == KT_OK &&
        (err = kt__net_peer_listen(&l->sock, url, remote_pipe_gone, l)) ==
            KT_OK &&
        (err = kt__inbox_start(&l->in, rt->scheds[0]->loop, l->sock,
                               listener_deliver, l)) == KT_OK) {
        l->next = rt->remotes;
        rt->remotes = l;
    }
    pthread_mutex_unlock(&rt->mtx);
    if (err != KT_OK) {
        remote_free(l);
        return err;
    }
    kt_log(KT_LOG_INFO, "remote", "event=listen url=%s", url);
    return KT_OK;
}

void
kt__remote_close_all(kt_runtime *rt)
{
    kt__remote *l;

    pthread_mutex_lock(&rt->mtx);
    l = rt->remotes;
    rt->remotes = NULL;
    pthread_mutex_unlock(&rt->mtx);
    while (l != NULL) {
        kt__remote *next = l->next;
        remote_free(l);
        l = next;
    }
}
