// rs_main.c: the research actor's init (new or resumed research), its
// message dispatch and the answers to its asks.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kt/log.h>

#include "operations/operations.h"
#include "operations/pbmsg.h"
#include "persistence/persistence.h"
#include "research/rs_actor.h"

static rs_pend *
rs_pend_take(rs *r, uint64_t corr)
{
    for (rs_pend **pp = &r->pends; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->corr == corr) {
            rs_pend *p = *pp;
            *pp = p->next;
            return p;
        }
    }
    return NULL;
}

static void
rs_reply(rs *r, rs_waiter *w, int32_t status, const char *message,
         const Ktpb__V1__OperationRecord *op)
{
    Ktpb__V1__ResearchReply rep;
    Ktpb__V1__ResearchState st;
    Ktpb__V1__TrainingResult *tr;
    Ktpb__V1__BacktestSummary *bt;

    if (w->aid == 0) {
        return;
    }
    kt__rs_state(r, &st, &tr, &bt);
    ktpb__v1__research_reply__init(&rep);
    rep.status = status;
    rep.message = KT_PB_STR(message);
    rep.op = KT_PB_PTR(Ktpb__V1__OperationRecord, op);
    rep.state = &st;
    (void)kt__pb_reply_to(r->self, w->aid, w->corr, w->type, &rep.base);
    kt__rs_state_free(tr, bt);
    w->aid = 0;
}

// rs_restore fills r from a checkpointed ResearchState.
static kt_err
rs_restore(rs *r, const uint8_t *buf, size_t len)
{
    Ktpb__V1__ResearchState *st =
        ktpb__v1__research_state__unpack(NULL, len, buf);

    if (st == NULL || st->format_version != KT_RS_CKPT_FORMAT) {
        if (st != NULL) {
            ktpb__v1__research_state__free_unpacked(st, NULL);
        }
        return st == NULL ? KT_ECORRUPT : KT_EVERSION;
    }
    kt__strlcpy(r->phase, st->phase, sizeof(r->phase));
    kt__strlcpy(r->strategy_name, st->strategy_name, sizeof(r->strategy_name));
    kt__strlcpy(r->strategy_path, st->strategy_path, sizeof(r->strategy_path));
    r->yaml = strdup(st->strategy_yaml);
    kt__strlcpy(r->training_id, st->training_op_id, sizeof(r->training_id));
    kt__strlcpy(r->backtest_id, st->backtest_op_id, sizeof(r->backtest_id));
    kt__strlcpy(r->model_path, st->model_path, sizeof(r->model_path));
    if (st->budget != NULL) {
        r->budget.tokens_in = st->budget->tokens_in;
        r->budget.tokens_out = st->budget->tokens_out;
        r->budget.cost_usd = st->budget->cost_usd;
        r->budget.design_attempts = st->budget->design_attempts;
        r->budget.design_calls = st->budget->design_calls;
        r->budget.assess_calls = st->budget->assess_calls;
    }
    kt__strlcpy(r->gate_reason, st->gate_reason, sizeof(r->gate_reason));
    kt__strlcpy(r->verdict, st->verdict, sizeof(r->verdict));
    r->resumes = st->resumes + 1;
    kt__strlcpy(r->symbol, st->symbol, sizeof(r->symbol));
    kt__strlcpy(r->timeframe, st->timeframe, sizeof(r->timeframe));
    kt__strlcpy(r->experiment_path, st->experiment_path,
                sizeof(r->experiment_path));
    if (st->training != NULL) {
        r->training_len =
            ktpb__v1__training_result__get_packed_size(st->training);
        if ((r->training = malloc(r->training_len + 1)) != NULL) {
            (void)ktpb__v1__training_result__pack(st->training, r->training);
        }
    }
    if (st->backtest != NULL) {
        r->backtest_len =
            ktpb__v1__backtest_summary__get_packed_size(st->backtest);
        if ((r->backtest = malloc(r->backtest_len + 1)) != NULL) {
            (void)ktpb__v1__backtest_summary__pack(st->backtest, r->backtest);
        }
    }
    if (st->request != NULL) {
        r->req_len =
            ktpb__v1__research_trigger_request__get_packed_size(st->request);
        if ((r->req = malloc(r->req_len + 1)) != NULL) {
            (void)ktpb__v1__research_trigger_request__pack(st->request, r->req);
        }
    }
    ktpb__v1__research_state__free_unpacked(st, NULL);
    return KT_OK;
}

static kt_err
rs_init_request(rs *r, const kt__rs_actor_cfg *c)
{
    if (!c->resume) {
        if ((r->req = malloc(c->request_len + 1)) == NULL) {
            return KT_ENOMEM;
        }
        memcpy(r->req, c->request, c->request_len);
        r->req_len = c->request_len;
        kt__strlcpy(r->phase, "idle", sizeof(r->phase));
    } else {
        kt_err rv = rs_restore(r, c->state, c->state_len);
        if (rv != KT_OK) {
            return rv;
        }
    }
    r->rq =
        ktpb__v1__research_trigger_request__unpack(NULL, r->req_len, r->req);
    return r->rq != NULL ? KT_OK : KT_EPROTO;
}

static kt_err
rs_init(void *state, kt_actor *self, const void *cfg)
{
    const kt__rs_actor_cfg *c = cfg;
    Ktpb__V1__OpTransitionRequest t;
    rs *r = state;
    kt_err rv;

    r->self = self;
    r->cfg = *c->cfg;
    kt__strlcpy(r->data_dir, c->cfg->data_dir, sizeof(r->data_dir));
    r->cfg.data_dir = r->data_dir;
    kt__strlcpy(r->id, c->op_id, sizeof(r->id));
    r->attempt = c->attempt;
    r->seq = c->seq;
    r->resume = c->resume;
    r->manager = c->manager;
    r->persist = c->persist;
    r->ops = c->ops;
    r->cancel_wr = -1;
    r->starter = (rs_waiter){c->starter, c->starter_corr, c->starter_type};
    ktpb__v1__research_budget__init(&r->budget);
    if ((rv = rs_init_request(r, c)) != KT_OK) {
        free(r->req);
        free(r->yaml);
        free(r->training);
        free(r->backtest);
        return rv;
    }
    ktpb__v1__op_transition_request__init(&t);
    t.id = r->id;
    t.to = KTPB__V1__OP_STATUS__OP_RUNNING;
    t.worker_id = KT_PB_STR("backend");
    return kt__rs_ask(r, r->persist, KT_PERSIST_OP_TRANSITION, &t.base,
                      RP_RUNNING, RA_NONE);
}

static void
rs_on_running(rs *r, const Ktpb__V1__OpReply *o)
{
    char err[1200];

    if (o == NULL || o->status != KT_OK) {
        rs_reply(r, &r->starter, o != NULL ? o->status : KT_ETIMEDOUT,
                 o != NULL ? o->message : "persistence did not answer", NULL);
        kt_exit(r->self, KT_OK);
        return;
    }
    rs_reply(r, &r->starter, KT_OK, "", o->op);
    kt_log(KT_LOG_NOTICE, "research",
           "actor=research op=%s event=running phase=%s attempt=%u", r->id,
           r->phase, r->attempt);
    if (r->resume) {
        kt__rs_enter(r, strcmp(r->phase, "idle") == 0 ? "designing" : r->phase);
    } else if (r->rq->strategy_path[0] != '\0') {
        if (kt__rs_use_strategy(r, r->rq->strategy_path, err, sizeof(err)) !=
            KT_OK) {
            kt__rs_fail(r, "%s", err);
            return;
        }
        kt__rs_enter(r, "training");
    } else {
        kt__rs_enter(r, "designing");
    }
}

static void
rs_on_done(rs *r, const Ktpb__V1__OpReply *o)
{
    Ktpb__V1__CheckpointDeleteRequest d;

    if (o != NULL && o->status == KT_OK &&
        r->final == KTPB__V1__OP_STATUS__OP_COMPLETED) {
        ktpb__v1__checkpoint_delete_request__init(&d);
        d.op_id = r->id;
        (void)kt__pb_send(r->self, r->persist, KT_PERSIST_CKPT_DELETE, &d.base);
    }
    for (int i = 0; i < r->nwaiters; i++) {
        rs_reply(r, &r->waiters[i], o != NULL ? o->status : KT_ETIMEDOUT,
                 o != NULL ? o->message : "persistence did not answer",
                 o != NULL ? o->op : NULL);
    }
    rs_reply(r, &r->starter, KT_ECANCELED, r->error, NULL);
    kt__rs_publish(r, true);
    kt_log(KT_LOG_NOTICE, "research", "actor=research op=%s event=ended st=%d",
           r->id, (int)r->final);
    kt_exit(r->self, KT_OK);
}

static void
rs_on_ack(rs *r, const rs_pend *p, const kt_msg *msg)
{
    Ktpb__V1__CheckpointAck *a = NULL;

    if (kt_msg_type(msg) != KT_MSG_TIMEOUT) {
        a = (Ktpb__V1__CheckpointAck *)kt__pb_unpack(
            &ktpb__v1__checkpoint_ack__descriptor, msg, "research");
    }
    if (a == NULL || a->status != KT_OK) {
        char why[400];
        (void)snprintf(why, sizeof(why), "Checkpoint save failed: %s",
                       a != NULL ? a->message : "no answer");
        if (p->after == RA_FINISH) {
            kt_log(KT_LOG_ERR, "research", "actor=research op=%s %s", r->id,
                   why);
        } else {
            kt__rs_fail(r, "%s", why);
        }
    }
    if (a != NULL) {
        ktpb__v1__checkpoint_ack__free_unpacked(a, NULL);
    }
    if (p->after == RA_FINISH) {
        kt__rs_finish(r); // even after a failed save (logged above)
    } else if (p->after == RA_RUN_PHASE && !r->finishing && !r->stopping) {
        kt__rs_run_phase(r);
    }
}

static void
rs_answer(rs *r, const rs_pend *p, const kt_msg *msg)
{
    Ktpb__V1__OpReply *o = NULL;

    switch (p->kind) {
    case RP_IGNORE:
        return;
    case RP_CKPT:
        rs_on_ack(r, p, msg);
        return;
    case RP_RUNNING:
    case RP_DONE:
        if (kt_msg_type(msg) != KT_MSG_TIMEOUT) {
            o = (Ktpb__V1__OpReply *)kt__pb_unpack(
                &ktpb__v1__op_reply__descriptor, msg, "research");
        }
        if (p->kind == RP_RUNNING) {
            rs_on_running(r, o);
        } else {
            rs_on_done(r, o);
        }
        if (o != NULL) {
            ktpb__v1__op_reply__free_unpacked(o, NULL);
        }
        return;
    default:
        kt__rs_child_reply(r, p, msg);
        return;
    }
}

static void
rs_on_cancel(rs *r, const kt_msg *msg)
{
    Ktpb__V1__OpsCancelRequest *c = (Ktpb__V1__OpsCancelRequest *)kt__pb_unpack(
        &ktpb__v1__ops_cancel_request__descriptor, msg, "research");

    if (r->nwaiters < RS_WAITERS) {
        r->waiters[r->nwaiters++] =
            (rs_waiter){kt_msg_sender(msg), kt_msg_corr(msg), KT_OPS_REPLY};
    }
    if (r->stopping || r->finishing) {
        if (c != NULL) {
            ktpb__v1__ops_cancel_request__free_unpacked(c, NULL);
        }
        return;
    }
    r->stopping = true;
    kt__strlcpy(r->error,
                c != NULL && c->reason[0] ? c->reason : "Cancelled by user",
                sizeof(r->error));
    if (c != NULL) {
        ktpb__v1__ops_cancel_request__free_unpacked(c, NULL);
    }
    if (r->child_starting) {
        return; // the child's start reply cancels it, then we end
    }
    if (r->child[0] != '\0' && !r->child_done) {
        kt__rs_child_cancel(r); // its reply ends the research
        return;
    }
    kt__rs_cancelled(r, r->error);
}

static kt_err
rs_handle(void *state, kt_actor *self, kt_msg *msg)
{
    rs *r = state;
    rs_pend *p;

    (void)self;
    switch (kt_msg_type(msg)) {
    case KT_RS_CANCEL:
        rs_on_cancel(r, msg);
        break;
    case KT_RS_DESIGN_DONE:
        kt__rs_design_done(r, msg);
        break;
    case KT_RS_ASSESS_DONE:
        kt__rs_assess_done(r, msg);
        break;
    case KT_OPS_PROGRESS:
        kt__rs_child_progress(r, msg);
        break;
    case KT_MSG_TIMER:
        kt__rs_child_watchdog(r);
        break;
    default:
        if (kt_msg_corr(msg) != 0 &&
            (p = rs_pend_take(r, kt_msg_corr(msg))) != NULL) {
            rs_answer(r, p, msg);
            free(p);
        }
        break;
    }
    kt_msg_free(msg);
    return KT_OK;
}

static void
rs_fini(void *state)
{
    rs *r = state;

    while (r->pends != NULL) {
        rs_pend *p = r->pends;
        r->pends = p->next;
        free(p);
    }
    if (r->cancel_wr >= 0) {
        (void)close(r->cancel_wr);
    }
    if (r->rq != NULL) {
        ktpb__v1__research_trigger_request__free_unpacked(r->rq, NULL);
    }
    free(r->req);
    free(r->yaml);
    free(r->training);
    free(r->backtest);
}

const kt_actor_ops kt__rs_research_ops = {
    .name = "research_op",
    .state_size = sizeof(rs),
    .init = rs_init,
    .handle = rs_handle,
    .fini = rs_fini,
};
