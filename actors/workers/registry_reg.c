// registry_reg.c: registration and heartbeats of worker processes, and the
// reconciliation of the operations they claim to run.
#include <inttypes.h>
#include <ktpb/v1/ops.pb-c.h>
#include <stdlib.h>
#include <string.h>

#include <kt/log.h>

#include "operations/operations.h"
#include "workers/registry_int.h"
#include "workers/wk_msg.h"

int
kt__wk_claim_find(const wk_worker *w, const char *op_id)
{
    for (uint32_t i = 0; i < w->nclaims; i++) {
        if (strcmp(w->claims[i].op_id, op_id) == 0) {
            return (int)i;
        }
    }
    return -1;
}

bool
kt__wk_reclaim_take(registry *r, const wk_claim *c)
{
    for (wk_reclaim **pp = &r->reclaim; *pp != NULL; pp = &(*pp)->next) {
        wk_reclaim *e = *pp;
        if (strcmp(e->c.op_id, c->op_id) == 0 && e->c.attempt == c->attempt) {
            *pp = e->next;
            free(e);
            return true;
        }
    }
    return false;
}

static uint32_t
wk_caps(char **v, size_t n)
{
    uint32_t caps = 0;

    for (size_t i = 0; i < n; i++) {
        caps |= kt_wk_capability_of(v[i]);
    }
    return caps;
}

// Sorts one claimed operation: kept, adopted (reclaimed after a backend
// restart), or stale (the registry gave it up: the worker must drop it).
static void
wk_sort_claim(registry *r, wk_worker *w, const Ktpb__V1__OpClaim *pb,
              wk_claim *adopted, uint32_t *na, wk_claim *stale, uint32_t *ns)
{
    wk_claim c = {0};
    int i;

    kt__wk_claim_from_pb(&c, pb);
    if ((i = kt__wk_claim_find(w, c.op_id)) >= 0 &&
        w->claims[i].attempt == c.attempt) {
        return; // known here
    }
    if (i < 0 && w->nclaims < KT_WK_MAX_SLOTS &&
        (kt__wk_reclaim_take(r, &c) || !r->reclaim_known)) {
        c.unverified = !r->reclaim_known;
        w->claims[w->nclaims++] = c;
        if (!c.unverified) {
            adopted[(*na)++] = c;
        }
        return;
    }
    stale[(*ns)++] = c;
}

// The operations actor tracks an adopted operation from now on (its
// progress, cancel and end go through this registry).
void
kt__wk_adopt(registry *r, const wk_worker *w, const wk_claim *c)
{
    Ktpb__V1__OpsAdoptRequest a;

    ktpb__v1__ops_adopt_request__init(&a);
    a.op_id = (char *)(uintptr_t)c->op_id;
    a.attempt = c->attempt;
    a.type = (char *)(uintptr_t)c->type;
    a.worker_id = (char *)(uintptr_t)w->id;
    if (kt__wk_send(r->self, kt__wk_ops_aid(r), KT_OPS_ADOPT, &a.base) !=
        KT_OK) {
        kt_log(KT_LOG_ERR, "workers", "event=adopt_lost op=%s", c->op_id);
    }
}

static void
wk_up(registry *r, const wk_worker *w, const wk_claim *adopted, uint32_t n)
{
    Ktpb__V1__WorkerUp u;

    ktpb__v1__worker_up__init(&u);
    Ktpb__V1__OpClaim pbs[KT_WK_MAX_SLOTS], *pp[KT_WK_MAX_SLOTS];

    for (uint32_t i = 0; i < n; i++) {
        kt__wk_adopt(r, w, &adopted[i]);
    }
    if (kt__wk_sup_aid(r) == 0) {
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        kt__wk_claim_to_pb(&pbs[i], &adopted[i]);
        pp[i] = &pbs[i];
    }
    u.worker_id = (char *)(uintptr_t)w->id;
    u.ops = pp;
    u.n_ops = n;
    u.pid = w->pid;
    if (kt__wk_send(r->self, r->sup, KT_WK_UP, &u.base) != KT_OK) {
        kt_log(KT_LOG_WARN, "workers", "event=up_lost worker=%s", w->id);
    }
}

static wk_worker *
wk_admit(registry *r, const Ktpb__V1__WorkerRegister *g)
{
    wk_worker *w = kt__wk_find(r, g->worker_id);

    if (w != NULL && w->instance != g->instance) {
        kt__wk_lost(r, w, "replaced by a new process with the same id");
        w = NULL;
    }
    if (w == NULL) {
        if ((w = calloc(1, sizeof(*w))) == NULL) {
            return NULL;
        }
        kt__wk_copy(w->id, sizeof(w->id), g->worker_id);
        w->instance = g->instance;
        w->registered_at_ns = kt__wk_mono_ns();
        w->next = r->workers;
        r->workers = w;
    }
    w->caps = wk_caps(g->capabilities, g->n_capabilities);
    w->slots = g->slots == 0                ? 1
               : g->slots > KT_WK_MAX_SLOTS ? KT_WK_MAX_SLOTS
                                            : g->slots;
    w->pid = g->pid;
    w->draining = g->draining;
    w->refused = false;
    kt__wk_copy(w->host, sizeof(w->host), g->host);
    w->registrations++;
    return w;
}

static kt_err
wk_register_check(const Ktpb__V1__WorkerRegister *g, const char **why)
{
    if (g->worker_id == NULL || g->worker_id[0] == '\0' ||
        strlen(g->worker_id) > KT_WK_ID_MAX) {
        *why = "worker_id must be 1-63 characters";
        return KT_EINVAL;
    }
    if (wk_caps(g->capabilities, g->n_capabilities) == 0) {
        *why = "no known capability (training, backtesting)";
        return KT_EINVAL;
    }
    if (g->n_ops > KT_WK_MAX_SLOTS) {
        *why = "too many operations claimed";
        return KT_EINVAL;
    }
    return KT_OK;
}

void
kt__wk_register(registry *r, const kt_msg *m)
{
    Ktpb__V1__WorkerRegister *g =
        ktpb__v1__worker_register__unpack(NULL, kt_msg_len(m), kt_msg_cbody(m));
    Ktpb__V1__WorkerRegisterReply rep;

    ktpb__v1__worker_register_reply__init(&rep);
    wk_claim adopted[KT_WK_MAX_SLOTS], stale[KT_WK_MAX_SLOTS];
    Ktpb__V1__OpClaim pbs[KT_WK_MAX_SLOTS], *pp[KT_WK_MAX_SLOTS];
    uint32_t na = 0, ns = 0;
    const char *why = "malformed WorkerRegister";
    kt_err err = KT_EPROTO;
    wk_worker *w;

    if (g == NULL || (err = wk_register_check(g, &why)) != KT_OK) {
        (void)kt__wk_status(r->self, m, err, why, NULL);
        goto out;
    }
    if ((w = wk_admit(r, g)) == NULL) {
        (void)kt__wk_status(r->self, m, KT_ENOMEM, "out of memory", NULL);
        goto out;
    }
    kt__wk_watch(r, w, kt_msg_sender(m));
    w->last_seen_ns = kt__wk_mono_ns();
    w->last_seen_ms = kt__wk_now_ms();
    for (size_t i = 0; i < g->n_ops; i++) {
        wk_sort_claim(r, w, g->ops[i], adopted, &na, stale, &ns);
    }
    for (uint32_t i = 0; i < ns; i++) {
        kt__wk_claim_to_pb(&pbs[i], &stale[i]);
        pp[i] = &pbs[i];
    }
    rep.backend_boot = r->boot;
    rep.heartbeat_ms = r->cfg.heartbeat_ms;
    rep.stale = pp;
    rep.n_stale = ns;
    kt_log(KT_LOG_INFO, "workers",
           "event=register actor=workers worker=%s pid=%d ops=%zu adopted=%u "
           "stale=%u n=%u",
           w->id, (int)w->pid, g->n_ops, na, ns, w->registrations);
    if (kt__wk_reply(r->self, m, KT_WK_REGISTER_REPLY, &rep.base) != KT_OK) {
        kt_log(KT_LOG_NOTICE, "workers", "event=reply_lost worker=%s", w->id);
    }
    wk_up(r, w, adopted, na);
    kt__wk_table_put(r, w);
    kt__wk_try_dispatch(r);
out:
    ktpb__v1__worker_register__free_unpacked(g, NULL);
}

void
kt__wk_heartbeat(registry *r, const kt_msg *m)
{
    Ktpb__V1__WorkerHeartbeat *h = ktpb__v1__worker_heartbeat__unpack(
        NULL, kt_msg_len(m), kt_msg_cbody(m));
    Ktpb__V1__WorkerHeartbeatReply rep;

    ktpb__v1__worker_heartbeat_reply__init(&rep);
    Ktpb__V1__OpClaim pbs[KT_WK_MAX_SLOTS], *pp[KT_WK_MAX_SLOTS];
    wk_worker *w;

    rep.backend_boot = r->boot;
    if (h == NULL || h->worker_id == NULL) {
        rep.status = KT_EPROTO;
        rep.message = (char *)(uintptr_t) "malformed WorkerHeartbeat";
    } else if ((w = kt__wk_find(r, h->worker_id)) == NULL ||
               w->instance != h->instance) {
        rep.status = KT_ENOENT;
        rep.message = (char *)(uintptr_t) "unknown worker: register";
    } else {
        kt__wk_watch(r, w, kt_msg_sender(m));
        w->last_seen_ns = kt__wk_mono_ns();
        w->last_seen_ms = kt__wk_now_ms();
        w->draining = h->draining;
        w->refused = false;
        for (size_t i = 0; i < h->n_ops && rep.n_stale < KT_WK_MAX_SLOTS; i++) {
            int k = kt__wk_claim_find(w, h->ops[i]->op_id);
            if (k < 0 || w->claims[k].attempt != h->ops[i]->attempt) {
                pbs[rep.n_stale] = *h->ops[i];
                pp[rep.n_stale] = &pbs[rep.n_stale];
                rep.n_stale++;
            }
        }
        rep.stale = pp;
    }
    if (kt__wk_reply(r->self, m, KT_WK_HEARTBEAT_REPLY, &rep.base) != KT_OK) {
        kt_log(KT_LOG_NOTICE, "workers", "event=hb_reply_lost");
    }
    ktpb__v1__worker_heartbeat__free_unpacked(h, NULL);
}
