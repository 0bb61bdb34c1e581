// ops_ctl.c: cancel, graceful shutdown and resume of operations; the end
// of an operation (WorkerDone, or its actor's unexpected stop).
#include <inttypes.h>
#include <ktpb/v1/envelope.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kt/log.h>

#include "operations/ops_int.h"
#include "operations/pbmsg.h"
#include "persistence/persistence.h"

static const char *
ops_phase_status(const ops_job *j)
{
    if (j->phase == J_STARTING) {
        return j->resuming ? "resuming" : "pending";
    }
    return "running";
}

// ops_stop_job asks a job to stop (kind = KT_TRAIN_CANCEL/SHUTDOWN); req
// (may be NULL) is answered when the operation has ended.
static void
ops_stop_job(ops *o, ops_job *j, const kt_msg *req, int kind,
             const char *reason)
{
    bool train = strcmp(j->type, "training") == 0;
    Ktpb__V1__OpControl c;
    uint32_t type;

    if (req != NULL) {
        kt__ops_job_wait(j, req, KT_OPS_REPLY);
    }
    if (j->stop != 0 || j->phase == J_FINISHING) {
        return;
    }
    j->stop = kind;
    kt__strlcpy(j->reason, reason, sizeof(j->reason));
    if (j->phase != J_RUNNING || j->worker == 0) {
        return; // the create / resume step that is in flight stops it
    }
    if (j->remote) {
        kt__ops_remote_stop(o, j, kind);
        return;
    }
    if (kind == KT_TRAIN_CANCEL) {
        type = train ? KT_TRAIN_CANCEL : KT_BT_CANCEL;
    } else {
        type = train ? KT_TRAIN_SHUTDOWN : KT_BT_SHUTDOWN;
    }
    ktpb__v1__op_control__init(&c);
    c.op_id = j->id;
    c.reason = j->reason;
    if (kt__pb_send(o->self, j->worker, type, &c.base) != KT_OK) {
        kt_log(KT_LOG_WARN, "operations",
               "actor=operations op=%s "
               "event=stop_undelivered",
               j->id);
    }
}

// ops_to_research hands cancel / resume of an agent research to the
// research manager (KT_RESEARCH_NAME), which owns those operations, and
// relays its answer. False when id is no research or nothing runs them.
static bool
ops_to_research(ops *o, const char *id, const kt_msg *msg)
{
    ops_pend *p;
    kt_msg *fwd;
    kt_aid to;

    if (strncmp(id, "op_agent_research_", 18) != 0 ||
        kt_lookup(kt_actor_runtime(o->self), "research", &to) != KT_OK ||
        (p = calloc(1, sizeof(*p))) == NULL) {
        return false;
    }
    if (kt_msg_alloc(&fwd, kt_msg_type(msg), kt_msg_len(msg)) != KT_OK) {
        free(p);
        return false;
    }
    memcpy(kt_msg_body(fwd), kt_msg_cbody(msg), kt_msg_len(msg));
    if (kt_ask(o->self, to, fwd, o->cfg.ask_timeout_ms, &p->corr) != KT_OK) {
        kt_msg_free(fwd);
        free(p);
        return false;
    }
    p->kind = PK_RELAY;
    kt__strlcpy(p->op_id, id, sizeof(p->op_id));
    p->from = kt_msg_sender(msg);
    p->from_corr = kt_msg_corr(msg);
    p->reply_type = KT_OPS_REPLY;
    p->next = o->pends;
    o->pends = p;
    return true;
}

kt_err
kt__ops_cancel(ops *o, kt_msg *msg)
{
    Ktpb__V1__OpsCancelRequest *c = (Ktpb__V1__OpsCancelRequest *)kt__pb_unpack(
        &ktpb__v1__ops_cancel_request__descriptor, msg, "operations");
    Ktpb__V1__OpTransitionRequest t;
    const char *reason;
    ops_job *j;

    if (c == NULL) {
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_EPROTO, "malformed request");
        return KT_OK;
    }
    reason = c->reason[0] != '\0' ? c->reason : "Cancelled by user";
    if (ops_to_research(o, c->id, msg)) {
        // the research manager answers
    } else if ((j = kt__ops_job_find(o, c->id)) != NULL) {
        ops_stop_job(o, j, msg, KT_TRAIN_CANCEL, reason);
    } else {
        // Not running here: persistence decides (pending -> cancelled, or
        // "cannot go from completed to cancelled").
        ktpb__v1__op_transition_request__init(&t);
        t.id = c->id;
        t.to = KTPB__V1__OP_STATUS__OP_CANCELLED;
        t.error = KT_PB_STR(reason);
        if (kt__ops_ask(o, KT_PERSIST_OP_TRANSITION, &t.base, PK_RELAY, c->id,
                        msg, KT_OPS_REPLY) != KT_OK) {
            kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_ECLOSED,
                              "persistence unreachable");
        }
    }
    ktpb__v1__ops_cancel_request__free_unpacked(c, NULL);
    return KT_OK;
}

static void
ops_shutdown_all(ops *o, const kt_msg *msg)
{
    ops_group *g = calloc(1, sizeof(*g));

    if (g == NULL) {
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_ENOMEM, "out of memory");
        return;
    }
    g->aid = kt_msg_sender(msg);
    g->corr = kt_msg_corr(msg);
    g->remaining = 1; // released below, after every job joined
    g->next = o->groups;
    o->groups = g;
    for (ops_job *j = o->jobs; j != NULL; j = j->next) {
        if (j->group == NULL) {
            j->group = g;
            g->remaining++;
        }
        ops_stop_job(o, j, NULL, KT_TRAIN_SHUTDOWN,
                     "Graceful shutdown - checkpoint saved");
    }
    if (--g->remaining == 0) {
        o->groups = g->next;
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_OK, "");
        free(g);
    }
}

kt_err
kt__ops_shutdown(ops *o, kt_msg *msg)
{
    Ktpb__V1__OpsShutdownRequest *s =
        (Ktpb__V1__OpsShutdownRequest *)kt__pb_unpack(
            &ktpb__v1__ops_shutdown_request__descriptor, msg, "operations");
    char text[160];
    ops_job *j;

    if (s == NULL) {
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_EPROTO, "malformed request");
        return KT_OK;
    }
    if (s->id[0] == '\0') {
        ops_shutdown_all(o, msg);
    } else if ((j = kt__ops_job_find(o, s->id)) != NULL) {
        ops_stop_job(o, j, msg, KT_TRAIN_SHUTDOWN,
                     "Graceful shutdown - checkpoint saved");
    } else {
        (void)snprintf(text, sizeof(text), "Operation %s is not running here",
                       s->id);
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_ENOENT, text);
    }
    ktpb__v1__ops_shutdown_request__free_unpacked(s, NULL);
    return KT_OK;
}

kt_err
kt__ops_resume(ops *o, kt_msg *msg)
{
    Ktpb__V1__OpsResumeRequest *r = (Ktpb__V1__OpsResumeRequest *)kt__pb_unpack(
        &ktpb__v1__ops_resume_request__descriptor, msg, "operations");
    Ktpb__V1__OpTransitionRequest t;
    char text[200];
    ops_job *j;

    if (r == NULL) {
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_EPROTO, "malformed request");
        return KT_OK;
    }
    if (ops_to_research(o, r->id, msg)) {
        // the research manager answers
    } else if ((j = kt__ops_job_find(o, r->id)) != NULL) {
        (void)snprintf(text, sizeof(text),
                       "Operation is not in a resumable state (%s: %s)", j->id,
                       ops_phase_status(j));
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_ESTATE, text);
    } else if (r->id[0] == '\0' ||
               (j = kt__ops_job_new(o, r->id, "")) == NULL) {
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_EINVAL,
                          "an operation id is required");
    } else {
        j->resuming = true;
        j->starter.aid = kt_msg_sender(msg);
        j->starter.corr = kt_msg_corr(msg);
        j->requested_at_ms = kt__mono_ms();
        ktpb__v1__op_transition_request__init(&t);
        t.id = r->id;
        t.to = KTPB__V1__OP_STATUS__OP_RESUMING;
        t.count_restart = r->count_restart;
        if (kt__ops_ask(o, KT_PERSIST_OP_TRANSITION, &t.base, PK_CLAIM, r->id,
                        NULL, 0) != KT_OK) {
            kt__ops_job_remove(o, j);
            kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_ECLOSED,
                              "persistence unreachable");
        }
    }
    ktpb__v1__ops_resume_request__free_unpacked(r, NULL);
    return KT_OK;
}

void
kt__ops_on_claim(ops *o, ops_job *j, const Ktpb__V1__OpReply *r)
{
    Ktpb__V1__CheckpointLoadRequest l;

    if (r->status != KT_OK || r->op == NULL || r->op->metadata.len == 0) {
        kt__ops_reply_starter(o, j, r->status != KT_OK ? r->status : KT_EPROTO,
                              r->status != KT_OK ? r->message
                                                 : "operation has no request",
                              r->op);
        kt__ops_job_remove(o, j);
        return;
    }
    kt__strlcpy(j->type, r->op->type, sizeof(j->type));
    j->attempt = r->op->attempt;
    if ((j->request = malloc(r->op->metadata.len)) == NULL) {
        j->phase = J_FINISHING;
        kt__ops_reply_starter(o, j, KT_ENOMEM, "out of memory", NULL);
        kt__ops_transition(o, j, KTPB__V1__OP_STATUS__OP_CANCELLED,
                           "out of memory", NULL, 0, PK_DONE);
        return;
    }
    memcpy(j->request, r->op->metadata.data, r->op->metadata.len);
    j->request_len = r->op->metadata.len;
    if (j->stop != 0) {
        kt__ops_stop_early(o, j);
        return;
    }
    ktpb__v1__checkpoint_load_request__init(&l);
    l.op_id = j->id;
    l.format_version = KT_OPS_CKPT_FORMAT;
    if (kt__ops_ask(o, KT_PERSIST_CKPT_LOAD, &l.base, PK_CHECK, j->id, NULL,
                    0) != KT_OK) {
        j->phase = J_FINISHING;
        kt__ops_reply_starter(o, j, KT_ECLOSED, "persistence unreachable",
                              NULL);
        kt__ops_transition(o, j, KTPB__V1__OP_STATUS__OP_CANCELLED,
                           "persistence unreachable", NULL, 0, PK_DONE);
    }
}

void
kt__ops_on_check(ops *o, ops_job *j, const kt_msg *reply)
{
    Ktpb__V1__CheckpointLoadReply *r = NULL;
    int32_t status = KT_ETIMEDOUT;
    char text[600] = "persistence did not answer in time";

    if (kt_msg_type(reply) != KT_MSG_TIMEOUT) {
        r = (Ktpb__V1__CheckpointLoadReply *)kt__pb_unpack(
            &ktpb__v1__checkpoint_load_reply__descriptor, reply, "operations");
        status = r != NULL ? r->status : KT_EPROTO;
        kt__strlcpy(text, r != NULL ? r->message : "malformed reply",
                    sizeof(text));
    }
    if (r != NULL) {
        ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
    }
    if (status != KT_OK) {
        // No usable checkpoint (missing, damaged, other format): the
        // operation goes back to failed with the reason.
        j->phase = J_FINISHING;
        kt__ops_reply_starter(o, j, status, text, NULL);
        j->final = KTPB__V1__OP_STATUS__OP_FAILED;
        kt__strlcpy(j->error, text, sizeof(j->error));
        kt__ops_transition(o, j, KTPB__V1__OP_STATUS__OP_FAILED, text, NULL, 0,
                           PK_DONE);
        return;
    }
    if (j->stop != 0) {
        kt__ops_stop_early(o, j);
        return;
    }
    kt__ops_spawn(o, j, true);
}

static void
ops_finish(ops *o, ops_job *j, Ktpb__V1__OpStatus st, const char *error,
           const uint8_t *result, size_t len)
{
    j->phase = J_FINISHING;
    j->final = st;
    kt__strlcpy(j->error, error, sizeof(j->error));
    if (st == KTPB__V1__OP_STATUS__OP_COMPLETED && j->units_total > 0) {
        // The record ends at the end, whatever progress events were last.
        j->percent = 100.0;
        j->units_done = j->units_total;
        (void)snprintf(j->step, sizeof(j->step), "%s %" PRId64 "/%" PRId64,
                       j->by_epoch ? "Epoch" : "Bar", j->units_total,
                       j->units_total);
        j->dirty = true;
    }
    kt__ops_flush_progress(o, j);
    kt__ops_transition(o, j, st, error, result, len, PK_DONE);
}

// ops_release lets a worker that reported WorkerDone exit.
static void
ops_release(ops *o, const char *type, kt_aid worker, const char *op_id)
{
    Ktpb__V1__OpControl c;

    ktpb__v1__op_control__init(&c);
    c.op_id = KT_PB_STR(op_id);
    (void)kt__pb_send(o->self, worker,
                      strcmp(type, "backtesting") == 0 ? KT_BT_RELEASE
                                                       : KT_TRAIN_RELEASE,
                      &c.base);
}

kt_err
kt__ops_worker_done(ops *o, kt_msg *msg)
{
    Ktpb__V1__WorkerDone *d = (Ktpb__V1__WorkerDone *)kt__pb_unpack(
        &ktpb__v1__worker_done__descriptor, msg, "operations");
    ops_job *j;

    if (d == NULL) {
        return KT_OK;
    }
    j = kt__ops_job_find(o, d->op_id);
    ops_release(o, j != NULL ? j->type : "", kt_msg_sender(msg), d->op_id);
    if (j == NULL || j->attempt != d->attempt || j->phase != J_RUNNING) {
        kt_log(KT_LOG_WARN, "operations",
               "actor=operations op=%s "
               "event=stale_worker_done attempt=%u",
               d->op_id, d->attempt);
        if (kt_msg_corr(msg) != 0) { // the supervisor failing a lost op
            kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_ESTATE,
                              "no running job at that attempt");
        }
    } else {
        if (kt_msg_corr(msg) != 0) {
            kt__ops_job_wait(j, msg, KT_OPS_REPLY); // answered at the end
        }
        ops_finish(o, j, d->status, d->error, d->result.data, d->result.len);
    }
    ktpb__v1__worker_done__free_unpacked(d, NULL);
    return KT_OK;
}

void
kt__ops_on_done(ops *o, ops_job *j, const Ktpb__V1__OpReply *r)
{
    Ktpb__V1__CheckpointDeleteRequest del;

    if (r->status != KT_OK) {
        kt_log(KT_LOG_ERR, "operations",
               "actor=operations op=%s "
               "event=terminal_transition_failed why=\"%s\"",
               j->id, r->message);
    } else if (j->final == KTPB__V1__OP_STATUS__OP_COMPLETED) {
        ktpb__v1__checkpoint_delete_request__init(&del);
        del.op_id = j->id;
        if (kt__ops_ask(o, KT_PERSIST_CKPT_DELETE, &del.base, PK_IGNORE, j->id,
                        NULL, 0) != KT_OK) {
            kt_log(KT_LOG_ERR, "operations",
                   "actor=operations op=%s "
                   "event=checkpoint_delete_lost",
                   j->id);
        }
    }
    for (int i = 0; i < j->nwaiters; i++) {
        kt__ops_reply(o, j->waiters[i].aid, j->waiters[i].corr,
                      j->waiters[i].type, r->status, r->message, r->op);
    }
    kt__ops_reply_starter(o, j, r->status != KT_OK ? r->status : KT_ECANCELED,
                          r->status != KT_OK ? r->message : j->error, r->op);
    kt__ops_publish_final(o, j, j->final, j->error);
    kt__ops_job_remove(o, j);
}

kt_err
kt__ops_down(ops *o, kt_msg *msg)
{
    Ktpb__V1__Down *d = (Ktpb__V1__Down *)kt__pb_unpack(
        &ktpb__v1__down__descriptor, msg, "operations");
    char text[300];

    if (d == NULL) {
        return KT_OK;
    }
    for (ops_job *j = o->jobs; j != NULL; j = j->next) {
        if (j->worker == d->aid && j->phase == J_RUNNING) {
            (void)snprintf(text, sizeof(text),
                           "Worker stopped unexpectedly: %s%s%s",
                           kt_strerror((kt_err)d->reason),
                           d->detail[0] ? " - " : "", d->detail);
            ops_finish(o, j, KTPB__V1__OP_STATUS__OP_FAILED, text, NULL, 0);
            break;
        }
    }
    // A down with KT_ENOENT is the monitor of something that is not a local
    // actor (a remote subscriber's stub): fan-out drops it when it is gone.
    for (ops_sub **pp = &o->subs; *pp != NULL && d->reason != KT_ENOENT;) {
        if ((*pp)->aid == d->aid) {
            ops_sub *s = *pp;
            *pp = s->next;
            free(s);
        } else {
            pp = &(*pp)->next;
        }
    }
    ktpb__v1__down__free_unpacked(d, NULL);
    return KT_OK;
}
