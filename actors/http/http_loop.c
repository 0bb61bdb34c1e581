// http_loop.c: the request flow of one evhttp loop: a request that needs
// the backend takes a slot and goes to the bridge actor as a KT_HTTP_CALL;
// the actor hands the reply back (kt__http_srv_complete wakes the loop
// that asked) and the loop writes the response.
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

typedef struct http_done {
    uint64_t slot;
    kt_msg *rep;
    struct http_done *next;
} http_done;

static int
slot_take(http_loop *l)
{
    if (l->nfree == 0) {
        return -1;
    }
    return (int)l->free_idx[--l->nfree];
}

static void
slot_put(http_loop *l, uint32_t i)
{
    http_slot *sl = &l->slots[i];

    sl->busy = false;
    sl->req = NULL;
    sl->evcon = NULL;
    sl->mut = HTTP_MUT_NONE;
    sl->ticket = 0;
    sl->gen++;
    l->free_idx[l->nfree++] = i;
}

// A connection closes: its waiting requests are gone with it (evhttp
// frees them); their replies will be dropped (and still end a mutation).
static void
conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
    http_loop *l = arg;

    for (uint32_t i = 0; i < HTTP_SLOTS; i++) {
        if (l->slots[i].busy && l->slots[i].evcon == evcon) {
            l->slots[i].req = NULL;
            l->slots[i].evcon = NULL;
        }
    }
}

bool
kt__http_ask(http_ctx *c, uint32_t target, uint32_t type,
             const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    http_call_hdr h = {.target = target, .type = type};
    kt_msg *msg;

    if (kt_msg_alloc(&msg, KT_HTTP_CALL, sizeof(h) + n) != KT_OK) {
        kt__http_send_error(c->req, 503, "out of memory");
        return false;
    }
    memcpy(kt_msg_body(msg), &h, sizeof(h));
    protobuf_c_message_pack(m, (uint8_t *)kt_msg_body(msg) + sizeof(h));
    c->call = msg;
    return true;
}

// kt__http_park sends the call to the actor and keeps the request until
// the reply comes. A mutation begins (for the view) before it leaves.
void
kt__http_park(http_loop *l, http_ctx *c, const http_route *r)
{
    int i = slot_take(l);
    http_slot *sl;
    http_call_hdr h;

    if (i < 0) {
        kt_msg_free(c->call);
        kt__http_send_error(c->req, 503, "too many requests in flight");
        return;
    }
    sl = &l->slots[i];
    memcpy(&h, kt_msg_body(c->call), sizeof(h));
    h.slot =
        ((uint64_t)sl->gen << 24) | ((uint64_t)l->index << 16) | (uint64_t)i;
    memcpy(kt_msg_body(c->call), &h, sizeof(h));
    kt__http_view_mut_begin(l->srv, r->mut, c->id);
    if (kt_runtime_send(l->srv->rt, l->srv->actor, c->call) != KT_OK) {
        kt__http_view_mut_end(l->srv, r->mut, c->id);
        kt_msg_free(c->call);
        slot_put(l, (uint32_t)i);
        kt__http_send_error(c->req, 503,
                            "the backend is not accepting requests");
        return;
    }
    sl->busy = true;
    sl->req = c->req;
    sl->evcon = evhttp_request_get_connection(c->req);
    sl->route = r;
    sl->loop = l;
    sl->mut = r->mut;
    sl->ticket = c->ticket;
    snprintf(sl->id, sizeof(sl->id), "%s", c->id);
    if (sl->evcon != NULL) {
        evhttp_connection_set_closecb(sl->evcon, conn_closed_cb, l);
    }
}

void
kt__http_srv_complete(http_srv *s, uint64_t slot, kt_msg *rep)
{
    uint32_t li = (uint32_t)(slot >> 16) & 0xffU;
    http_loop *l = li < s->nloops ? s->loops[li] : NULL;
    http_done *d = l != NULL ? malloc(sizeof(*d)) : NULL;
    bool first;

    if (d == NULL) {
        // The request times out on the client side; a mutation's stripe
        // stays bypassed (safe, only slower) — out of memory only.
        kt_msg_free(rep);
        return;
    }
    d->slot = slot;
    d->rep = rep;
    d->next = NULL;
    pthread_mutex_lock(&l->mtx);
    first = l->done == NULL;
    if (first) {
        l->done = d;
    } else {
        l->done_tail->next = d;
    }
    l->done_tail = d;
    pthread_mutex_unlock(&l->mtx);
    if (first) {
        event_active(l->wake, EV_READ, 0);
    }
}

static void
finish(http_loop *l, const http_done *d)
{
    uint32_t i = (uint32_t)(d->slot & 0xffffU);
    http_slot *sl = i < HTTP_SLOTS ? &l->slots[i] : NULL;

    if (sl == NULL || !sl->busy || sl->gen != (uint32_t)(d->slot >> 24)) {
        return;
    }
    // The mutation is over (the backend answered, or gave up) before its
    // client can see the answer and ask again.
    kt__http_view_mut_end(l->srv, sl->mut, sl->id);
    if (sl->req != NULL) {
        if (kt_msg_type(d->rep) == KT_MSG_TIMEOUT) {
            kt__http_send_timeout(sl->req);
        } else {
            sl->route->reply(sl->req, sl, d->rep);
        }
    }
    slot_put(l, i);
}

void
kt__http_loop_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    http_loop *l = arg;
    http_done *d;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&l->mtx);
    d = l->done;
    l->done = l->done_tail = NULL;
    pthread_mutex_unlock(&l->mtx);
    while (d != NULL) {
        http_done *next = d->next;
        finish(l, d);
        kt_msg_free(d->rep);
        free(d);
        d = next;
    }
}

// kt__http_loop_drain frees completions nobody will read (loop stopped).
void
kt__http_loop_drain(http_loop *l)
{
    http_done *d;

    while ((d = l->done) != NULL) {
        l->done = d->next;
        kt_msg_free(d->rep);
        free(d);
    }
    l->done_tail = NULL;
}
