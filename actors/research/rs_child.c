// rs_child.c: the training and backtest children of a research. They are
// ordinary operations started through the operations actor with the
// research as their persisted parent; the research subscribes to their
// progress and reacts to their final event. After a resume it re-attaches
// to the child it had: waits for a live one, resumes a stopped one from
// its own checkpoint, and treats a "running" child that stays silent past
// the grace period as orphaned (failed, then resumed).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kt/log.h>

#include "operations/operations.h"
#include "operations/pbmsg.h"
#include "persistence/persistence.h"
#include "research/rs_actor.h"

#define RS_WATCH_TAG 1

static bool
rs_training(const rs *r)
{
    return strcmp(r->phase, "training") == 0;
}

static void
rs_child_start(rs *r)
{
    Ktpb__V1__StartTrainingRequest t;
    Ktpb__V1__StartBacktestRequest b;
    const Ktpb__V1__ResearchTriggerRequest *q = r->rq;
    kt_err rv;

    r->reattach = false;
    r->child_starting = true;
    if (rs_training(r)) {
        ktpb__v1__start_training_request__init(&t);
        t.strategy_path = r->strategy_path;
        t.symbol = r->symbol;
        t.timeframe = r->timeframe;
        t.start_date = q->start_date;
        t.end_date = q->end_date;
        t.epochs = q->epochs;
        t.parent_id = r->id;
        rv = kt__rs_ask(r, r->ops, KT_OPS_START_TRAINING, &t.base,
                        RP_CHILD_START, RA_NONE);
    } else {
        ktpb__v1__start_backtest_request__init(&b);
        b.strategy_path = r->strategy_path;
        b.model_path = r->model_path;
        b.symbol = r->symbol;
        b.timeframe = r->timeframe;
        b.start_date = q->bt_start_date[0] ? q->bt_start_date : q->start_date;
        // The backtest range: its own, else the training range (an own
        // start alone runs to the end of the data).
        b.end_date = q->bt_end_date[0]     ? q->bt_end_date
                     : q->bt_start_date[0] ? KT_PB_STR("")
                                           : q->end_date;
        b.parent_id = r->id;
        rv = kt__rs_ask(r, r->ops, KT_OPS_START_BACKTEST, &b.base,
                        RP_CHILD_START, RA_NONE);
    }
    if (rv != KT_OK) {
        r->child_starting = false;
        kt__rs_fail(r, "%s could not start: %s",
                    rs_training(r) ? "Training" : "Backtest", kt_strerror(rv));
    }
}

static void
rs_child_ask(rs *r, uint32_t type, rs_pk kind)
{
    Ktpb__V1__OpsGetRequest g; // OpsSubscribe/Resume/Get share id = 1

    ktpb__v1__ops_get_request__init(&g);
    g.id = r->child;
    if (kt__rs_ask(r, r->ops, type, &g.base, kind, RA_NONE) != KT_OK) {
        kt__rs_fail(r, "operations actor unreachable");
    }
}

void
kt__rs_child_run(rs *r, bool training)
{
    const char *id = training ? r->training_id : r->backtest_id;

    if (id[0] == '\0') {
        rs_child_start(r);
        return;
    }
    kt__strlcpy(r->child, id, sizeof(r->child));
    r->reattach = true;
    r->heard = false;
    rs_child_ask(r, KT_OPS_SUBSCRIBE, RP_SUB);
}

void
kt__rs_child_cancel(rs *r)
{
    Ktpb__V1__OpsCancelRequest c;

    ktpb__v1__ops_cancel_request__init(&c);
    c.id = r->child;
    c.reason = r->error[0] ? r->error : KT_PB_STR("Parent research cancelled");
    if (kt__rs_ask(r, r->ops, KT_OPS_CANCEL, &c.base,
                   r->finishing ? RP_IGNORE : RP_CHILD_CANCEL,
                   RA_NONE) != KT_OK &&
        !r->finishing) {
        kt__rs_cancelled(r, r->error);
    }
}

static void
rs_child_results(rs *r)
{
    Ktpb__V1__OpsResultsRequest q;

    ktpb__v1__ops_results_request__init(&q);
    q.id = r->child;
    if (kt__rs_ask(r, r->ops, KT_OPS_RESULTS, &q.base, RP_RESULTS, RA_NONE) !=
        KT_OK) {
        kt__rs_fail(r, "operations actor unreachable");
    }
}

// rs_child_end: the child reached a final status.
static void
rs_child_end(rs *r, Ktpb__V1__OpStatus st, const char *error)
{
    const char *what = rs_training(r) ? "Training" : "Backtest";

    if (r->child_done || r->finishing) {
        return;
    }
    r->child_done = true;
    if (r->watch_timer != 0) {
        if (kt_timer_cancel(r->self, r->watch_timer) != KT_OK) {
            kt_log(KT_LOG_DEBUG, "research", "op=%s event=timer_gone", r->id);
        }
        r->watch_timer = 0;
    }
    if (r->stopping) {
        return; // our own cancel: its reply ends the research
    }
    if (st == KTPB__V1__OP_STATUS__OP_COMPLETED) {
        rs_child_results(r);
    } else if (st == KTPB__V1__OP_STATUS__OP_CANCELLED) {
        char why[700];
        (void)snprintf(why, sizeof(why), "%s %s was cancelled: %s", what,
                       r->child, error);
        kt__rs_cancelled(r, why);
    } else {
        kt__rs_fail(r, "%s %s failed: %s", what, r->child, error);
    }
}

static void
rs_on_record(rs *r, const Ktpb__V1__OperationRecord *op, bool watchdog)
{
    switch (op->status) {
    case KTPB__V1__OP_STATUS__OP_COMPLETED:
        rs_child_end(r, op->status, "");
        break;
    case KTPB__V1__OP_STATUS__OP_FAILED:
    case KTPB__V1__OP_STATUS__OP_CANCELLED:
        if (r->reattach && !r->child_done) {
            r->reattach = false; // resume it once, from its checkpoint
            rs_child_ask(r, KT_OPS_RESUME, RP_CHILD_RESUME);
        } else {
            rs_child_end(r, op->status, op->error);
        }
        break;
    default: // running, pending, resuming: wait for its events
        if (watchdog && !r->heard) {
            Ktpb__V1__OpTransitionRequest t;
            kt_log(KT_LOG_WARN, "research",
                   "actor=research op=%s child=%s event=child_orphaned", r->id,
                   r->child);
            ktpb__v1__op_transition_request__init(&t);
            t.id = r->child;
            t.to = KTPB__V1__OP_STATUS__OP_FAILED;
            t.error = KT_PB_STR("Orphaned: no progress after its backend "
                                "restarted");
            if (kt__rs_ask(r, r->persist, KT_PERSIST_OP_TRANSITION, &t.base,
                           RP_CHILD_FAIL, RA_NONE) != KT_OK) {
                kt__rs_fail(r, "persistence unreachable");
            }
        } else if (r->reattach && !r->heard && r->watch_timer == 0 &&
                   kt_timer_start(
                       r->self,
                       r->cfg.child_grace_ms ? r->cfg.child_grace_ms : 10000,
                       false, RS_WATCH_TAG, &r->watch_timer) != KT_OK) {
            r->watch_timer = 0;
        }
        break;
    }
}

void
kt__rs_child_watchdog(rs *r)
{
    r->watch_timer = 0;
    if (!r->heard && !r->child_done && !r->finishing && r->child[0]) {
        rs_child_ask(r, KT_OPS_GET, RP_WATCH_GET);
    }
}

static void
rs_on_started(rs *r, const Ktpb__V1__OpsReply *o)
{
    r->child_starting = false;
    if (o == NULL || o->status != KT_OK || o->op == NULL) {
        if (r->stopping) {
            kt__rs_cancelled(r, r->error);
        } else {
            kt__rs_fail(r, "%s could not start: %s",
                        rs_training(r) ? "Training" : "Backtest",
                        o != NULL ? o->message : "no answer");
        }
        return;
    }
    kt__strlcpy(r->child, o->op->id, sizeof(r->child));
    kt__strlcpy(rs_training(r) ? r->training_id : r->backtest_id, o->op->id,
                RS_ID_MAX);
    if (r->stopping) {
        kt__rs_child_cancel(r);
        return;
    }
    kt_log(KT_LOG_NOTICE, "research",
           "actor=research op=%s event=child_started child=%s", r->id,
           r->child);
    // The child reference is durable before anything else happens.
    kt__rs_save(r, KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_PERIODIC, RA_NONE);
    rs_child_ask(r, KT_OPS_SUBSCRIBE, RP_SUB);
    kt__rs_publish(r, false);
}

static void
rs_on_results(rs *r, const kt_msg *msg)
{
    Ktpb__V1__OpsResultsReply *q = (Ktpb__V1__OpsResultsReply *)kt__pb_unpack(
        &ktpb__v1__ops_results_reply__descriptor, msg, "research");
    bool training = rs_training(r);
    uint8_t **buf = training ? &r->training : &r->backtest;
    size_t *len = training ? &r->training_len : &r->backtest_len;
    const ProtobufCMessage *m = NULL;
    bool pass;

    if (q != NULL && q->status == KT_OK) {
        m = training ? &q->training->base : &q->backtest->base;
        m = (training ? (void *)q->training : (void *)q->backtest) ? m : NULL;
    }
    if (m == NULL) {
        kt__rs_fail(r, "no results for %s: %s", r->child,
                    q != NULL ? q->message : "malformed reply");
        goto out;
    }
    free(*buf);
    *len = protobuf_c_message_get_packed_size(m);
    if ((*buf = malloc(*len + 1)) != NULL) {
        (void)protobuf_c_message_pack(m, *buf);
    }
    if (training) {
        kt__strlcpy(r->model_path, q->training->model_path,
                    sizeof(r->model_path));
        pass = r->rq->bypass_gates ||
               kt_rs_gate_training(&r->cfg.gates, q->training, r->gate_reason,
                                   sizeof(r->gate_reason));
    } else {
        pass = r->rq->bypass_gates ||
               kt_rs_gate_backtest(&r->cfg.gates, q->backtest, r->gate_reason,
                                   sizeof(r->gate_reason));
    }
    if (!pass) {
        kt_log(KT_LOG_NOTICE, "research",
               "actor=research op=%s event=gate_rejected why=\"%s\"", r->id,
               r->gate_reason);
    }
    r->child_pct = 100;
    kt__rs_enter(r, training && pass ? "backtesting" : "assessing");
out:
    if (q != NULL) {
        ktpb__v1__ops_results_reply__free_unpacked(q, NULL);
    }
}

static void
rs_on_resumed(rs *r, const Ktpb__V1__OpsReply *o)
{
    if (o != NULL && o->status == KT_OK) {
        kt_log(KT_LOG_NOTICE, "research",
               "actor=research op=%s event=child_resumed child=%s", r->id,
               r->child);
        r->heard = true;
        return;
    }
    kt_log(KT_LOG_WARN, "research",
           "actor=research op=%s event=child_not_resumable child=%s why=\"%s\"",
           r->id, r->child, o != NULL ? o->message : "no answer");
    r->child[0] = '\0'; // start a fresh one
    (rs_training(r) ? r->training_id : r->backtest_id)[0] = '\0';
    rs_child_start(r);
}

void
kt__rs_child_reply(rs *r, const rs_pend *p, const kt_msg *msg)
{
    Ktpb__V1__OpsReply *o = NULL;

    if (r->finishing) {
        return;
    }
    if (p->kind == RP_RESULTS) {
        rs_on_results(r, msg);
        return;
    }
    if (kt_msg_type(msg) != KT_MSG_TIMEOUT) {
        o = (Ktpb__V1__OpsReply *)kt__pb_unpack(
            &ktpb__v1__ops_reply__descriptor, msg, "research");
    }
    switch (p->kind) {
    case RP_CHILD_START:
        rs_on_started(r, o);
        break;
    case RP_SUB:
        rs_child_ask(r, KT_OPS_GET, RP_CHILD_GET);
        break;
    case RP_CHILD_GET:
    case RP_WATCH_GET:
        if (o != NULL && o->status == KT_OK && o->op != NULL) {
            rs_on_record(r, o->op, p->kind == RP_WATCH_GET);
        } else {
            kt__rs_fail(r, "child %s unknown: %s", r->child,
                        o != NULL ? o->message : "no answer");
        }
        break;
    case RP_CHILD_FAIL:
        rs_child_ask(r, KT_OPS_RESUME, RP_CHILD_RESUME);
        break;
    case RP_CHILD_RESUME:
        rs_on_resumed(r, o);
        break;
    case RP_CHILD_CANCEL:
        kt__rs_cancelled(r, r->error);
        break;
    default:
        break;
    }
    if (o != NULL) {
        ktpb__v1__ops_reply__free_unpacked(o, NULL);
    }
}

void
kt__rs_child_progress(rs *r, const kt_msg *msg)
{
    Ktpb__V1__ProgressEvent *e = (Ktpb__V1__ProgressEvent *)kt__pb_unpack(
        &ktpb__v1__progress_event__descriptor, msg, "research");

    if (e == NULL) {
        return;
    }
    if (strcmp(e->op_id, r->child) == 0 && !r->child_done) {
        r->heard = true;
        if (!e->final) {
            r->child_pct = e->percent;
            kt__strlcpy(r->child_step, e->current_step, sizeof(r->child_step));
            kt__rs_progress(r, false);
            kt__rs_publish(r, false);
        } else {
            rs_child_end(r, e->status, e->error);
        }
    }
    ktpb__v1__progress_event__free_unpacked(e, NULL);
}
