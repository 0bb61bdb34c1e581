// http.c: the HTTP bridge actor. Its loops (http_srv.c) hand it each
// request as a KT_HTTP_CALL; the actor asks the operations or persistence
// actor with a deadline and hands the reply (or the timeout) back to the
// loop that asked. It never blocks. It also subscribes to every
// operation's events and turns each into a change of the operations view.
#include <stdlib.h>
#include <string.h>

#include <kt/log.h>

#include "http/http_int.h"
#include "operations/operations.h"
#include "persistence/persistence.h"

typedef struct pend {
    uint64_t corr;
    uint64_t slot;
} pend;

typedef struct http_actor {
    http_srv *srv;
    kt_aid to[3]; // HTTP_TO_OPS, HTTP_TO_PERSIST, HTTP_TO_RESEARCH
    uint32_t timeout_ms;
    pend *pending; // HTTP_SLOTS per loop
    uint32_t npending, maxpending;
} http_actor;

// subscribe asks the operations actor for every operation's events; the
// view is correct without them (the TTL bounds it), they make it fresher.
static void
subscribe(http_actor *a, kt_actor *self)
{
    Ktpb__V1__OpsSubscribeRequest q;
    size_t n;
    kt_msg *m;

    ktpb__v1__ops_subscribe_request__init(&q);
    q.op_id = (char *)(uintptr_t) "";
    n = ktpb__v1__ops_subscribe_request__get_packed_size(&q);
    if (kt_msg_alloc(&m, KT_OPS_SUBSCRIBE, n) != KT_OK) {
        return;
    }
    (void)ktpb__v1__ops_subscribe_request__pack(&q, kt_msg_body(m));
    if (kt_send(self, a->to[HTTP_TO_OPS], m) != KT_OK) {
        kt_msg_free(m);
        kt_log(KT_LOG_WARN, "http", "event=subscribe_failed");
    }
}

// on_event: an operation changed (progress or its end).
static void
on_event(http_actor *a, const kt_msg *msg)
{
    Ktpb__V1__ProgressEvent *e = ktpb__v1__progress_event__unpack(
        NULL, kt_msg_len(msg), kt_msg_cbody(msg));

    if (e != NULL) {
        kt__http_view_changed(a->srv, e->op_id);
        ktpb__v1__progress_event__free_unpacked(e, NULL);
    }
}

static kt_err
http_init(void *state, kt_actor *self, const void *cfg)
{
    const kt_http_cfg *c = cfg;
    http_actor *a = state;
    kt_runtime *rt = kt_actor_runtime(self);
    kt_err err;

    if (c == NULL) {
        return KT_EINVAL;
    }
    a->to[HTTP_TO_OPS] = c->ops;
    a->to[HTTP_TO_PERSIST] = c->persist;
    if ((a->to[HTTP_TO_OPS] == 0 &&
         (err = kt_lookup(rt, KT_OPS_NAME, &a->to[HTTP_TO_OPS])) != KT_OK) ||
        (a->to[HTTP_TO_PERSIST] == 0 &&
         (err = kt_lookup(rt, KT_PERSIST_NAME, &a->to[HTTP_TO_PERSIST])) !=
             KT_OK)) {
        return err;
    }
    a->timeout_ms = c->timeout_ms != 0 ? c->timeout_ms : 30000;
    if ((a->srv = calloc(1, sizeof(*a->srv))) == NULL) {
        return KT_ENOMEM;
    }
    if ((err = kt__http_srv_open(a->srv, c, rt)) != KT_OK) {
        goto free_srv;
    }
    a->maxpending = a->srv->nloops * HTTP_SLOTS;
    if ((a->pending = calloc(a->maxpending, sizeof(*a->pending))) == NULL) {
        err = KT_ENOMEM;
        goto close_srv;
    }
    if ((err = kt__http_srv_start(a->srv, kt_self(self))) != KT_OK) {
        goto close_srv;
    }
    if (a->srv->view_on) {
        subscribe(a, self);
    }
    if (c->port_out != NULL) {
        *c->port_out = a->srv->port;
    }
    kt_log(KT_LOG_NOTICE, "http", "event=listen actor=http#%llu port=%u",
           (unsigned long long)kt_self(self), a->srv->port);
    return KT_OK;
close_srv:
    kt__http_srv_close(a->srv);
    free(a->pending);
    a->pending = NULL;
free_srv:
    free(a->srv);
    a->srv = NULL;
    return err;
}

// on_call asks the target actor for one HTTP request.
static void
on_call(http_actor *a, kt_actor *self, const kt_msg *msg)
{
    http_call_hdr h;
    size_t n = kt_msg_len(msg);
    kt_msg *q, *t;
    uint64_t corr;

    if (n < sizeof(h)) {
        return;
    }
    memcpy(&h, kt_msg_cbody(msg), sizeof(h));
    if (h.target == HTTP_TO_RESEARCH && a->to[h.target] == 0 &&
        kt_lookup(kt_actor_runtime(self), "research", &a->to[h.target]) !=
            KT_OK) {
        goto fail; // no research manager in this backend: 503
    }
    if (h.target > HTTP_TO_RESEARCH || a->npending == a->maxpending ||
        kt_msg_alloc(&q, h.type, n - sizeof(h)) != KT_OK) {
        goto fail;
    }
    memcpy(kt_msg_body(q), (const uint8_t *)kt_msg_cbody(msg) + sizeof(h),
           n - sizeof(h));
    if (kt_ask(self, a->to[h.target], q, a->timeout_ms, &corr) != KT_OK) {
        kt_msg_free(q);
        goto fail;
    }
    a->pending[a->npending++] = (pend){.corr = corr, .slot = h.slot};
    return;
fail:
    // Answer "unavailable" at once: a timeout message for the slot.
    if (kt_msg_alloc(&t, KT_MSG_TIMEOUT, 0) == KT_OK) {
        kt__http_srv_complete(a->srv, h.slot, t);
    }
}

static kt_err
http_handle(void *state, kt_actor *self, kt_msg *msg)
{
    http_actor *a = state;
    uint64_t corr = kt_msg_corr(msg);

    if (kt_msg_type(msg) == KT_HTTP_CALL && corr == 0) {
        on_call(a, self, msg);
        kt_msg_free(msg);
        return KT_OK;
    }
    if (kt_msg_type(msg) == KT_OPS_PROGRESS && corr == 0) {
        on_event(a, msg);
        kt_msg_free(msg);
        return KT_OK;
    }
    for (uint32_t i = 0; corr != 0 && i < a->npending; i++) {
        if (a->pending[i].corr == corr) {
            uint64_t slot = a->pending[i].slot;
            a->pending[i] = a->pending[--a->npending];
            kt__http_srv_complete(a->srv, slot, msg); // takes msg
            return KT_OK;
        }
    }
    kt_msg_free(msg); // a late reply or a stray message
    return KT_OK;
}

static void
http_stop(void *state, kt_actor *self)
{
    http_actor *a = state;

    (void)self;
    if (a->srv != NULL) {
        kt__http_srv_close(a->srv);
    }
}

static void
http_fini(void *state)
{
    http_actor *a = state;

    free(a->srv);
    a->srv = NULL;
    free(a->pending);
    a->pending = NULL;
}

const kt_actor_ops http_ops = {
    .name = "http",
    .state_size = sizeof(http_actor),
    .init = http_init,
    .handle = http_handle,
    .stop = http_stop,
    .fini = http_fini,
};
