// http_view.c: the operations view. Each loop keeps its own table of
// rendered GET /operations/{id} bodies (no memory shared between loops);
// what they share is HTTP_STRIPES pairs of atomic counters, one pair per
// stripe of operation ids:
//   inflight  mutations routed through the bridge and not yet answered;
//   epoch     moved by every mutation's begin and end and by every change
//             event the operations actor publishes.
// A miss takes a ticket (the epoch, when no mutation is in flight) and the
// backend's reply fills the view only if the epoch has not moved since:
// so an entry is never older than the last mutation begun or ended, or
// event received, for its stripe. A begin does inflight++ then epoch++,
// an end epoch++ then inflight--; a ticket reads epoch then inflight.
// Read-your-writes: the end of a mutation moves the epoch before its
// client sees the answer, so no entry asked before it is served after it.
// Completed operations never change (persistence allows no transition out
// of completed and drops their checkpoints with it): they stay until
// evicted. Any other state is served for view_ttl_ms at most, which bounds
// how late a change made elsewhere (CLI, research actors, checkpoint
// saves, throttled progress rows) shows.
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_int.h"

#define VIEW_BUCKETS 1024 // power of two
#define VIEW_MAX     4096 // entries per loop; past it the table is emptied

typedef struct view_ent {
    struct view_ent *next;
    uint64_t hash;
    uint64_t epoch;     // the stripe's epoch it was asked under
    int64_t expires_ms; // monotonic; 0 = never (completed)
    size_t len;
    char *txt;
    char id[HTTP_ID_MAX];
} view_ent;

struct http_view {
    view_ent *b[VIEW_BUCKETS];
    uint32_t n;
};

static uint64_t
view_hash(const char *id)
{
    uint64_t h = 1469598103934665603ULL; // FNV-1a

    for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++) {
        h = (h ^ *p) * 1099511628211ULL;
    }
    return h;
}

static uint32_t
view_stripe(uint64_t h)
{
    return (uint32_t)(h >> 40) % HTTP_STRIPES;
}

static int64_t
view_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

kt_err
kt__http_view_new(http_view **vp)
{
    http_view *v = calloc(1, sizeof(*v));

    if (v == NULL) {
        return KT_ENOMEM;
    }
    *vp = v;
    return KT_OK;
}

static void
view_clear(http_view *v)
{
    for (uint32_t i = 0; i < VIEW_BUCKETS; i++) {
        while (v->b[i] != NULL) {
            view_ent *e = v->b[i];
            v->b[i] = e->next;
            free(e->txt);
            free(e);
        }
    }
    v->n = 0;
}

void
kt__http_view_free(http_view *v)
{
    if (v != NULL) {
        view_clear(v);
        free(v);
    }
}

// view_find returns the entry of id (unlinked and freed when stale).
static view_ent *
view_find(http_srv *s, http_view *v, const char *id, uint64_t h)
{
    view_ent **pp = &v->b[h & (VIEW_BUCKETS - 1)];

    for (; *pp != NULL; pp = &(*pp)->next) {
        view_ent *e = *pp;
        if (e->hash != h || strcmp(e->id, id) != 0) {
            continue;
        }
        if (e->epoch == atomic_load(&s->epoch[view_stripe(h)]) &&
            (e->expires_ms == 0 || view_now_ms() < e->expires_ms)) {
            return e;
        }
        *pp = e->next;
        free(e->txt);
        free(e);
        v->n--;
        return NULL;
    }
    return NULL;
}

bool
kt__http_view_get(http_srv *s, http_view *v, const char *id, const char **txt,
                  size_t *len, uint64_t *ticket)
{
    uint64_t h = view_hash(id), ep;
    uint32_t k = view_stripe(h);
    view_ent *e;

    *ticket = 0;
    if ((e = view_find(s, v, id, h)) != NULL) {
        *txt = e->txt;
        *len = e->len;
        return true;
    }
    ep = atomic_load(&s->epoch[k]);
    if (atomic_load(&s->inflight[k]) == 0) {
        *ticket = ep + 1; // 0 means "no ticket"
    }
    return false;
}

void
kt__http_view_put(http_srv *s, http_view *v, const char *id, uint64_t ticket,
                  bool completed, const char *txt, size_t len)
{
    uint64_t h = view_hash(id), ep = ticket - 1;
    view_ent *e;

    if (ticket == 0 || strlen(id) >= HTTP_ID_MAX ||
        (!completed && s->view_ttl_ms == 0) ||
        atomic_load(&s->epoch[view_stripe(h)]) != ep) {
        return; // something changed since the ask: this reply may be old
    }
    // view_find drops an older entry; a current one means two misses
    // were answered at once.
    if (view_find(s, v, id, h) != NULL) {
        return;
    }
    if (v->n >= VIEW_MAX) {
        view_clear(v);
    }
    if ((e = calloc(1, sizeof(*e))) == NULL ||
        (e->txt = malloc(len > 0 ? len : 1)) == NULL) {
        free(e);
        return;
    }
    memcpy(e->txt, txt, len);
    e->len = len;
    e->hash = h;
    e->epoch = ep;
    e->expires_ms = completed ? 0 : view_now_ms() + (int64_t)s->view_ttl_ms;
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->next = v->b[h & (VIEW_BUCKETS - 1)];
    v->b[h & (VIEW_BUCKETS - 1)] = e;
    v->n++;
}

bool
kt__http_view_serve(http_ctx *c)
{
    const char *txt;
    size_t len;

    c->ticket = 0;
    if (!c->srv->view_on || !kt__http_view_get(c->srv, c->loop->view, c->id,
                                               &txt, &len, &c->ticket)) {
        return false;
    }
    evhttp_add_header(evhttp_request_get_output_headers(c->req), "X-Ktrdr-View",
                      "hit");
    kt__http_send_text(c->req, 200, txt, len);
    return true;
}

void
kt__http_view_fill(http_loop *l, const http_slot *sl,
                   const Ktpb__V1__OperationRecord *op, const char *txt,
                   size_t len)
{
    if (strcmp(op->id, sl->id) == 0) {
        kt__http_view_put(l->srv, l->view, sl->id, sl->ticket,
                          op->status == KTPB__V1__OP_STATUS__OP_COMPLETED, txt,
                          len);
    }
}

// mut_range: the stripes a mutation of id covers (every one for
// HTTP_MUT_ALL); false for HTTP_MUT_NONE.
static bool
mut_range(uint8_t mut, const char *id, uint32_t *lo, uint32_t *hi)
{
    uint32_t k;

    if (mut == HTTP_MUT_NONE) {
        return false;
    }
    k = view_stripe(view_hash(id));
    *lo = mut == HTTP_MUT_ALL ? 0 : k;
    *hi = mut == HTTP_MUT_ALL ? HTTP_STRIPES : k + 1;
    return true;
}

void
kt__http_view_mut_begin(http_srv *s, uint8_t mut, const char *id)
{
    uint32_t lo, hi;

    if (!mut_range(mut, id, &lo, &hi)) {
        return;
    }
    for (uint32_t i = lo; i < hi; i++) {
        atomic_fetch_add(&s->inflight[i], 1);
    }
    for (uint32_t i = lo; i < hi; i++) {
        atomic_fetch_add(&s->epoch[i], 1);
    }
}

void
kt__http_view_mut_end(http_srv *s, uint8_t mut, const char *id)
{
    uint32_t lo, hi;

    if (!mut_range(mut, id, &lo, &hi)) {
        return;
    }
    for (uint32_t i = lo; i < hi; i++) {
        atomic_fetch_add(&s->epoch[i], 1);
    }
    for (uint32_t i = lo; i < hi; i++) {
        atomic_fetch_sub(&s->inflight[i], 1);
    }
}

void
kt__http_view_changed(http_srv *s, const char *id)
{
    atomic_fetch_add(&s->epoch[view_stripe(view_hash(id))], 1);
}
