// registry_disp.c: placement of operations on workers (a queue of
// dispatches waiting for a capable free worker, each answered once a worker
// runs it), operation ends reported by workers, control routing.
#include <inttypes.h>
#include <ktpb/v1/ops.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kt/log.h>

#include "operations/operations.h"
#include "workers/registry_int.h"
#include "workers/wk_msg.h"

static void
disp_reply(registry *r, wk_disp *d, kt_err st, const char *msg)
{
    Ktpb__V1__WorkersReply rep;

    ktpb__v1__workers_reply__init(&rep);

    rep.status = (int32_t)st;
    rep.message = (char *)(uintptr_t)(msg != NULL ? msg : "");
    rep.worker_id = d->worker;
    if (d->from != 0 && kt__wk_reply_to(r->self, d->from, d->corr, KT_WK_REPLY,
                                        &rep.base) != KT_OK) {
        kt_log(KT_LOG_NOTICE, "workers", "event=dispatch_reply_lost op=%s",
               d->c.op_id);
    }
}

static void
disp_remove(registry *r, wk_disp *d)
{
    for (wk_disp **pp = &r->disp; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    }
    free(d->assign);
    free(d);
}

void
kt__wk_dispatch(registry *r, const kt_msg *m)
{
    Ktpb__V1__DispatchRequest *q = ktpb__v1__dispatch_request__unpack(
        NULL, kt_msg_len(m), kt_msg_cbody(m));
    wk_disp *d, **pp;

    if (q == NULL || q->op_id == NULL || q->op_id[0] == '\0' ||
        strlen(q->op_id) > WK_OPID_MAX || q->assign.len == 0 ||
        kt_wk_capability_of(q->type) == 0) {
        (void)kt__wk_status(r->self, m, q == NULL ? KT_EPROTO : KT_EINVAL,
                            "dispatch needs op_id, a known type and assign",
                            NULL);
        goto out;
    }
    if ((d = calloc(1, sizeof(*d))) == NULL ||
        (d->assign = malloc(q->assign.len)) == NULL) {
        free(d);
        (void)kt__wk_status(r->self, m, KT_ENOMEM, "out of memory", NULL);
        goto out;
    }
    memcpy(d->assign, q->assign.data, q->assign.len);
    d->len = q->assign.len;
    kt__wk_copy(d->c.op_id, sizeof(d->c.op_id), q->op_id);
    kt__wk_copy(d->c.type, sizeof(d->c.type), q->type);
    kt__wk_copy(d->avoid, sizeof(d->avoid), q->avoid_worker);
    d->c.attempt = q->attempt;
    d->from = kt_msg_sender(m);
    d->corr = kt_msg_corr(m);
    d->deadline_ns =
        kt__wk_mono_ns() + (int64_t)r->cfg.dispatch_timeout_ms * 1000000;
    for (pp = &r->disp; *pp != NULL; pp = &(*pp)->next) {
    }
    *pp = d; // FIFO
    kt__wk_try_dispatch(r);
out:
    ktpb__v1__dispatch_request__free_unpacked(q, NULL);
}

static bool
wk_holds(const wk_worker *w, const char *op_id)
{
    return kt__wk_claim_find(w, op_id) >= 0;
}

static wk_worker *
disp_pick(registry *r, const wk_disp *d)
{
    uint32_t cap = kt_wk_capability_of(d->c.type);
    wk_worker *best = NULL;
    bool best_avoided = true;

    for (wk_worker *w = r->workers; w != NULL; w = w->next) {
        if ((w->caps & cap) == 0 || w->draining || w->refused ||
            w->nclaims >= w->slots || wk_holds(w, d->c.op_id)) {
            continue;
        }
        bool avoided = d->avoid[0] != '\0' && strcmp(w->id, d->avoid) == 0;
        if (best == NULL || (best_avoided && !avoided) ||
            (avoided == best_avoided && w->last_pick < best->last_pick)) {
            best = w;
            best_avoided = avoided;
        }
    }
    return best;
}

static kt_err
disp_send(registry *r, wk_disp *d, wk_worker *w)
{
    Ktpb__V1__WorkerRun run;

    ktpb__v1__worker_run__init(&run);
    kt_err err;

    run.assign.data = d->assign;
    run.assign.len = d->len;
    run.op_id = d->c.op_id;
    run.attempt = d->c.attempt;
    run.type = d->c.type;
    if ((err = kt__wk_ask(r->self, w->aid, KT_WK_RUN, &run.base,
                          r->cfg.run_timeout_ms, &d->run_corr)) != KT_OK) {
        return err;
    }
    w->claims[w->nclaims++] = d->c;
    w->last_pick = ++r->picks;
    kt__wk_copy(d->worker, sizeof(d->worker), w->id);
    kt_log(KT_LOG_INFO, "workers",
           "event=dispatch actor=workers op=%s attempt=%u worker=%s",
           d->c.op_id, d->c.attempt, w->id);
    kt__wk_table_put(r, w);
    return KT_OK;
}

void
kt__wk_try_dispatch(registry *r)
{
    for (wk_disp *d = r->disp; d != NULL; d = d->next) {
        wk_worker *w;
        if (d->run_corr != 0 || (w = disp_pick(r, d)) == NULL) {
            continue;
        }
        if (disp_send(r, d, w) != KT_OK) {
            d->run_corr = 0;
        }
    }
}

bool
kt__wk_run_reply(registry *r, const kt_msg *m)
{
    uint64_t corr = kt_msg_corr(m);
    Ktpb__V1__WorkersReply *rep = NULL;
    wk_worker *w;
    wk_disp *d;

    for (d = r->disp; d != NULL && d->run_corr != corr; d = d->next) {
    }
    if (corr == 0 || d == NULL) {
        return false;
    }
    w = kt__wk_find(r, d->worker);
    if (kt_msg_type(m) == KT_MSG_TIMEOUT) {
        if (w != NULL) {
            kt__wk_abort(r, w, &d->c);
            (void)kt__wk_claim_drop(w, d->c.op_id);
        }
        disp_reply(r, d, KT_ETIMEDOUT, "the worker did not start it in time");
    } else if ((rep = ktpb__v1__workers_reply__unpack(
                    NULL, kt_msg_len(m), kt_msg_cbody(m))) != NULL &&
               (rep->status == KT_ESTATE || rep->status == KT_EAGAIN)) {
        // The worker is shutting down or full: another one may take it.
        if (w != NULL) {
            (void)kt__wk_claim_drop(w, d->c.op_id);
            w->refused = true;
            w->draining |= rep->status == KT_ESTATE;
        }
        d->run_corr = 0;
        d->worker[0] = '\0';
        ktpb__v1__workers_reply__free_unpacked(rep, NULL);
        kt__wk_try_dispatch(r);
        return true;
    } else if (rep == NULL || rep->status != KT_OK) {
        if (w != NULL) {
            (void)kt__wk_claim_drop(w, d->c.op_id);
        }
        disp_reply(r, d, rep != NULL ? (kt_err)rep->status : KT_EPROTO,
                   rep != NULL ? rep->message : "malformed worker reply");
    } else {
        disp_reply(r, d, KT_OK, NULL);
    }
    ktpb__v1__workers_reply__free_unpacked(rep, NULL);
    disp_remove(r, d);
    kt__wk_try_dispatch(r);
    return true;
}

// A failed operation goes to the supervisor, which records the failure
// with the operations actor and then applies the restart policy.
static bool
disp_failed_to_sup(registry *r, const wk_worker *w, const wk_claim *c,
                   const Ktpb__V1__WorkerOpEnded *e)
{
    Ktpb__V1__WorkerDone *d;
    Ktpb__V1__WorkerLost l;
    Ktpb__V1__OpClaim pb, *pp = &pb;
    bool sent = false;

    if (kt__wk_sup_aid(r) == 0 ||
        (d = ktpb__v1__worker_done__unpack(NULL, e->done.len, e->done.data)) ==
            NULL) {
        return false;
    }
    if (d->status == KTPB__V1__OP_STATUS__OP_FAILED) {
        ktpb__v1__worker_lost__init(&l);
        kt__wk_claim_to_pb(&pb, c);
        l.worker_id = (char *)(uintptr_t)w->id;
        l.reason = d->error;
        l.ops = &pp;
        l.n_ops = 1;
        l.detected_at_ns = kt__wk_mono_ns();
        l.pid = w->pid;
        l.op_failed = true;
        sent = kt__wk_send(r->self, r->sup, KT_WK_LOST, &l.base) == KT_OK;
    }
    ktpb__v1__worker_done__free_unpacked(d, NULL);
    return sent;
}

// Hands the end to the operations actor as an ask; the worker hears back
// when it is recorded. A retry while that is pending only updates whom
// to answer.
static kt_err
disp_end_ask(registry *r, const kt_msg *m, const wk_worker *w,
             const wk_claim *c, kt_msg *fw)
{
    wk_end *e;
    kt_err err;

    for (e = r->ends; e != NULL; e = e->next) {
        if (strcmp(e->c.op_id, c->op_id) == 0 && e->c.attempt == c->attempt) {
            e->to = kt_msg_sender(m);
            e->to_corr = kt_msg_corr(m);
            kt_msg_free(fw);
            return KT_OK;
        }
    }
    if ((e = calloc(1, sizeof(*e))) == NULL) {
        return KT_ENOMEM;
    }
    if ((err = kt_ask(r->self, kt__wk_ops_aid(r), fw, 10000, &e->corr)) !=
        KT_OK) {
        free(e);
        return err;
    }
    e->to = kt_msg_sender(m);
    e->to_corr = kt_msg_corr(m);
    kt__wk_copy(e->worker, sizeof(e->worker), w->id);
    e->c = *c;
    e->next = r->ends;
    r->ends = e;
    return KT_OK;
}

bool
kt__wk_end_reply(registry *r, const kt_msg *m)
{
    Ktpb__V1__WorkersReply rep;
    Ktpb__V1__OpsReply *o = NULL;
    wk_end **pp, *e;
    wk_worker *w;

    for (pp = &r->ends; *pp != NULL && (*pp)->corr != kt_msg_corr(m);
         pp = &(*pp)->next) {
    }
    if ((e = *pp) == NULL || kt_msg_corr(m) == 0) {
        return false;
    }
    *pp = e->next;
    ktpb__v1__workers_reply__init(&rep);
    rep.status = KT_EAGAIN; // a timeout: the worker sends it again
    rep.worker_id = e->worker;
    if (kt_msg_type(m) == KT_OPS_REPLY &&
        (o = ktpb__v1__ops_reply__unpack(NULL, kt_msg_len(m),
                                         kt_msg_cbody(m))) != NULL) {
        // OK: recorded; ESTATE: no such running job (stale): dropped.
        rep.status = o->status == KT_OK ? KT_OK : KT_ESTATE;
        rep.message = o->message;
        if ((w = kt__wk_find(r, e->worker)) != NULL) {
            (void)kt__wk_claim_drop(w, e->c.op_id);
        }
    }
    if (kt__wk_reply_to(r->self, e->to, e->to_corr, KT_WK_REPLY, &rep.base) !=
        KT_OK) {
        kt_log(KT_LOG_NOTICE, "workers", "event=end_ack_lost op=%s",
               e->c.op_id);
    }
    ktpb__v1__ops_reply__free_unpacked(o, NULL);
    free(e);
    kt__wk_try_dispatch(r);
    return true;
}

void
kt__wk_op_ended(registry *r, const kt_msg *m)
{
    Ktpb__V1__WorkerOpEnded *e =
        ktpb__v1__worker_op_ended__unpack(NULL, kt_msg_len(m), kt_msg_cbody(m));
    wk_worker *w;
    kt_msg *fw;
    int k;

    if (e == NULL || e->worker_id == NULL || e->op_id == NULL) {
        (void)kt__wk_status(r->self, m, KT_EPROTO, "malformed op end", NULL);
        goto out;
    }
    if ((w = kt__wk_find(r, e->worker_id)) == NULL ||
        w->instance != e->instance ||
        (k = kt__wk_claim_find(w, e->op_id)) < 0 ||
        w->claims[k].attempt != e->attempt) {
        // Not (or no longer) this worker's: fenced out, drop it.
        (void)kt__wk_status(r->self, m, KT_ESTATE, "stale operation end", NULL);
        goto out;
    }
    if (kt_msg_alloc(&fw, KT_OPS_WORKER_DONE, e->done.len) != KT_OK) {
        (void)kt__wk_status(r->self, m, KT_ENOMEM, "out of memory", NULL);
        goto out;
    }
    memcpy(kt_msg_body(fw), e->done.data, e->done.len);
    if (disp_failed_to_sup(r, w, &w->claims[k], e)) {
        kt_msg_free(fw); // the supervisor records the failure
        w->claims[k] = w->claims[--w->nclaims];
        (void)kt__wk_status(r->self, m, KT_OK, NULL, w->id);
        kt__wk_try_dispatch(r);
    } else if (disp_end_ask(r, m, w, &w->claims[k], fw) != KT_OK) {
        kt_msg_free(fw);
        (void)kt__wk_status(r->self, m, KT_EAGAIN, "operations unreachable",
                            NULL);
    }
out:
    ktpb__v1__worker_op_ended__free_unpacked(e, NULL);
}

static wk_worker *
wk_holder(registry *r, const char *op_id, uint32_t attempt)
{
    for (wk_worker *w = r->workers; w != NULL; w = w->next) {
        int k = kt__wk_claim_find(w, op_id);
        if (k >= 0 && (attempt == 0 || w->claims[k].attempt == attempt)) {
            return w;
        }
    }
    return NULL;
}

void
kt__wk_control(registry *r, const kt_msg *m)
{
    Ktpb__V1__WorkerControl *c =
        ktpb__v1__worker_control__unpack(NULL, kt_msg_len(m), kt_msg_cbody(m));
    wk_worker *w;

    if (c == NULL || c->op_id == NULL) {
        (void)kt__wk_status(r->self, m, KT_EPROTO, "malformed control", NULL);
    } else if ((w = wk_holder(r, c->op_id, c->attempt)) == NULL) {
        (void)kt__wk_status(r->self, m, KT_ENOENT,
                            "no worker runs this operation", NULL);
    } else if (kt__wk_send(r->self, w->aid, KT_WK_CONTROL, &c->base) != KT_OK) {
        (void)kt__wk_status(r->self, m, KT_ECLOSED, "worker unreachable",
                            w->id);
    } else {
        (void)kt__wk_status(r->self, m, KT_OK, NULL, w->id);
    }
    ktpb__v1__worker_control__free_unpacked(c, NULL);
}

void
kt__wk_where(registry *r, const kt_msg *m)
{
    Ktpb__V1__WhereRequest *q =
        ktpb__v1__where_request__unpack(NULL, kt_msg_len(m), kt_msg_cbody(m));
    wk_worker *w;

    if (q == NULL || q->op_id == NULL) {
        (void)kt__wk_status(r->self, m, KT_EPROTO, "malformed where", NULL);
    } else if ((w = wk_holder(r, q->op_id, 0)) == NULL) {
        (void)kt__wk_status(r->self, m, KT_ENOENT,
                            "no worker runs this operation", NULL);
    } else {
        (void)kt__wk_status(r->self, m, KT_OK, NULL, w->id);
    }
    ktpb__v1__where_request__free_unpacked(q, NULL);
}

void
kt__wk_disp_expire(registry *r, int64_t now_ns)
{
    char why[96];

    for (wk_disp *d = r->disp, *next; d != NULL; d = next) {
        next = d->next;
        if (d->run_corr == 0 && d->deadline_ns <= now_ns) {
            snprintf(why, sizeof(why), "no worker available for %s operations",
                     d->c.type);
            disp_reply(r, d, KT_ETIMEDOUT, why);
            disp_remove(r, d);
        }
    }
}

bool
kt__wk_disp_requeue(registry *r, const char *worker, const char *op_id)
{
    for (wk_disp *d = r->disp; d != NULL; d = d->next) {
        if (d->run_corr != 0 && strcmp(d->worker, worker) == 0 &&
            strcmp(d->c.op_id, op_id) == 0) {
            d->run_corr = 0; // its reply or timeout no longer matches
            d->worker[0] = '\0';
            return true;
        }
    }
    return false;
}

void
kt__wk_disp_free_all(registry *r)
{
    while (r->ends != NULL) {
        wk_end *e = r->ends;
        r->ends = e->next;
        free(e);
    }
    while (r->disp != NULL) {
        disp_remove(r, r->disp);
    }
}
