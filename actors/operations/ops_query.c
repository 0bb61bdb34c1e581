// ops_query.c: get / list / results / `checkpoints show`, subscriptions
// and progress: rows written at most every progress_every_ms, events
// fanned out to subscribers as they come.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kt/log.h>

#include "operations/ops_int.h"
#include "operations/pbmsg.h"
#include "persistence/persistence.h"

kt_err
kt__ops_get(ops *o, kt_msg *msg)
{
    Ktpb__V1__OpsGetRequest *g = (Ktpb__V1__OpsGetRequest *)kt__pb_unpack(
        &ktpb__v1__ops_get_request__descriptor, msg, "operations");
    Ktpb__V1__OpGetRequest q;

    if (g == NULL) {
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_EPROTO, "malformed request");
        return KT_OK;
    }
    ktpb__v1__op_get_request__init(&q);
    q.id = g->id;
    if (kt__ops_ask(o, KT_PERSIST_OP_GET, &q.base, PK_RELAY, g->id, msg,
                    KT_OPS_REPLY) != KT_OK) {
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_ECLOSED,
                          "persistence unreachable");
    }
    ktpb__v1__ops_get_request__free_unpacked(g, NULL);
    return KT_OK;
}

kt_err
kt__ops_list(ops *o, kt_msg *msg)
{
    Ktpb__V1__OpsListRequest *l = (Ktpb__V1__OpsListRequest *)kt__pb_unpack(
        &ktpb__v1__ops_list_request__descriptor, msg, "operations");
    Ktpb__V1__OpListRequest q;

    if (l == NULL) {
        kt__ops_reply_req(o, msg, KT_OPS_LIST_REPLY, KT_EPROTO,
                          "malformed request");
        return KT_OK;
    }
    ktpb__v1__op_list_request__init(&q);
    q.n_statuses = l->n_statuses;
    q.statuses = l->statuses;
    q.type = l->type;
    q.resumable = l->resumable;
    q.limit = l->limit;
    q.parent_id = l->parent_id;
    if (kt__ops_ask(o, KT_PERSIST_OP_LIST, &q.base, PK_RELAY, "", msg,
                    KT_OPS_LIST_REPLY) != KT_OK) {
        kt__ops_reply_req(o, msg, KT_OPS_LIST_REPLY, KT_ECLOSED,
                          "persistence unreachable");
    }
    ktpb__v1__ops_list_request__free_unpacked(l, NULL);
    return KT_OK;
}

kt_err
kt__ops_show(ops *o, kt_msg *msg)
{
    Ktpb__V1__CheckpointShowRequest *s =
        (Ktpb__V1__CheckpointShowRequest *)kt__pb_unpack(
            &ktpb__v1__checkpoint_show_request__descriptor, msg, "operations");
    Ktpb__V1__CheckpointLoadRequest q;

    if (s == NULL) {
        kt__ops_reply_req(o, msg, KT_OPS_CKPT_SHOW_REPLY, KT_EPROTO,
                          "malformed request");
        return KT_OK;
    }
    ktpb__v1__checkpoint_load_request__init(&q);
    q.op_id = s->op_id;
    if (kt__ops_ask(o, KT_PERSIST_CKPT_LOAD, &q.base, PK_SHOW, s->op_id, msg,
                    KT_OPS_CKPT_SHOW_REPLY) != KT_OK) {
        kt__ops_reply_req(o, msg, KT_OPS_CKPT_SHOW_REPLY, KT_ECLOSED,
                          "persistence unreachable");
    }
    ktpb__v1__checkpoint_show_request__free_unpacked(s, NULL);
    return KT_OK;
}

static void
show_fill(Ktpb__V1__CheckpointShowReply *out,
          const Ktpb__V1__CheckpointRecord *c, char *when, size_t n)
{
    time_t t = (time_t)(c->created_at_ms / 1000);
    struct tm tm;

    out->type = c->type;
    out->created_at_ms = c->created_at_ms;
    (void)gmtime_r(&t, &tm);
    (void)strftime(when, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
    out->created_at = when;
    out->unit = c->unit;
    out->unit_value = c->unit_value;
    out->artifacts_path = c->path;
    out->seq = c->seq;
    out->size_bytes = c->artifacts_size + c->state.len;
}

void
kt__ops_on_show(ops *o, const ops_pend *p, const kt_msg *reply)
{
    Ktpb__V1__CheckpointLoadReply *r = NULL;
    Ktpb__V1__OpCheckpointState *st = NULL;
    Ktpb__V1__CheckpointShowReply out;
    char when[64];

    if (kt_msg_type(reply) == KT_MSG_TIMEOUT ||
        (r = (Ktpb__V1__CheckpointLoadReply *)kt__pb_unpack(
             &ktpb__v1__checkpoint_load_reply__descriptor, reply,
             "operations")) == NULL) {
        kt__ops_reply(o, p->from, p->from_corr, p->reply_type, KT_ETIMEDOUT,
                      "persistence did not answer", NULL);
        return;
    }
    ktpb__v1__checkpoint_show_reply__init(&out);
    out.status = r->status;
    out.message = r->message;
    out.op_id = KT_PB_STR(p->op_id);
    if (r->status == KT_OK && r->checkpoint != NULL) {
        show_fill(&out, r->checkpoint, when, sizeof(when));
        st = ktpb__v1__op_checkpoint_state__unpack(
            NULL, r->checkpoint->state.len, r->checkpoint->state.data);
    }
    if (st != NULL && st->summary != NULL) {
        const Ktpb__V1__CheckpointSummary *s = st->summary;
        out.op_type = s->op_type;
        out.unit_total = s->unit_total;
        out.train_loss = s->train_loss;
        out.val_loss = s->val_loss;
        out.best_val_loss = s->best_val_loss;
        out.has_val = s->has_val;
        out.learning_rate = s->learning_rate;
        out.equity = s->equity;
        out.trades = s->trades;
    }
    (void)kt__pb_reply_to(o->self, p->from, p->from_corr, p->reply_type,
                          &out.base);
    if (st != NULL) {
        ktpb__v1__op_checkpoint_state__free_unpacked(st, NULL);
    }
    ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
}

kt_err
kt__ops_results(ops *o, kt_msg *msg)
{
    Ktpb__V1__OpsResultsRequest *r =
        (Ktpb__V1__OpsResultsRequest *)kt__pb_unpack(
            &ktpb__v1__ops_results_request__descriptor, msg, "operations");
    Ktpb__V1__OpGetRequest q;
    ops_pend *p;

    if (r == NULL) {
        kt__ops_reply_req(o, msg, KT_OPS_RESULTS_REPLY, KT_EPROTO,
                          "malformed request");
        return KT_OK;
    }
    ktpb__v1__op_get_request__init(&q);
    q.id = r->id;
    if (kt__ops_ask(o, KT_PERSIST_OP_GET, &q.base, PK_RESULTS, r->id, msg,
                    KT_OPS_RESULTS_REPLY) != KT_OK) {
        kt__ops_reply_req(o, msg, KT_OPS_RESULTS_REPLY, KT_ECLOSED,
                          "persistence unreachable");
    } else {
        p = o->pends; // kt__ops_ask pushes at the head
        p->flags = (r->with_trades ? 1U : 0U) | (r->with_equity ? 2U : 0U);
    }
    ktpb__v1__ops_results_request__free_unpacked(r, NULL);
    return KT_OK;
}

static void
results_fill(Ktpb__V1__OpsResultsReply *out,
             const Ktpb__V1__OperationRecord *op, uint32_t flags,
             ProtobufCMessage **decoded)
{
    if (strcmp(op->type, "training") == 0) {
        out->training = ktpb__v1__training_result__unpack(NULL, op->result.len,
                                                          op->result.data);
        *decoded = out->training != NULL ? &out->training->base : NULL;
        return;
    }
    Ktpb__V1__BacktestRunResult *b = ktpb__v1__backtest_run_result__unpack(
        NULL, op->result.len, op->result.data);
    *decoded = b != NULL ? &b->base : NULL;
    if (b != NULL) {
        out->backtest = b->summary;
        out->trades = (flags & 1U) ? b->trades : NULL;
        out->equity = (flags & 2U) ? b->equity : NULL;
    }
}

void
kt__ops_on_results(ops *o, const ops_pend *p, const kt_msg *reply)
{
    Ktpb__V1__OpReply *r = NULL;
    Ktpb__V1__OpsResultsReply out;
    ProtobufCMessage *decoded = NULL;
    char text[200];

    if (kt_msg_type(reply) == KT_MSG_TIMEOUT ||
        (r = (Ktpb__V1__OpReply *)kt__pb_unpack(&ktpb__v1__op_reply__descriptor,
                                                reply, "operations")) == NULL) {
        kt__ops_reply(o, p->from, p->from_corr, p->reply_type, KT_ETIMEDOUT,
                      "persistence did not answer", NULL);
        return;
    }
    ktpb__v1__ops_results_reply__init(&out);
    out.status = r->status;
    out.message = r->message;
    out.op = r->op;
    if (r->status == KT_OK && r->op != NULL &&
        r->op->status != KTPB__V1__OP_STATUS__OP_COMPLETED) {
        (void)snprintf(text, sizeof(text),
                       "Operation %s has no results: it is not completed",
                       p->op_id);
        out.status = KT_ESTATE;
        out.message = text;
    } else if (r->status == KT_OK && r->op != NULL) {
        results_fill(&out, r->op, p->flags, &decoded);
        if (decoded == NULL) {
            out.status = KT_ECORRUPT;
            out.message = KT_PB_STR("the stored result does not decode");
        }
    }
    (void)kt__pb_reply_to(o->self, p->from, p->from_corr, p->reply_type,
                          &out.base);
    if (decoded != NULL) {
        protobuf_c_message_free_unpacked(decoded, NULL);
    }
    ktpb__v1__op_reply__free_unpacked(r, NULL);
}

static void
sub_remove(ops *o, kt_aid aid, const char *op_id)
{
    for (ops_sub **pp = &o->subs; *pp != NULL;) {
        if ((*pp)->aid == aid && strcmp((*pp)->op_id, op_id) == 0) {
            ops_sub *s = *pp;
            *pp = s->next;
            free(s);
        } else {
            pp = &(*pp)->next;
        }
    }
}

kt_err
kt__ops_subscribe(ops *o, kt_msg *msg)
{
    // Subscribe and Unsubscribe have the same layout (op_id = 1).
    Ktpb__V1__OpsSubscribeRequest *s =
        (Ktpb__V1__OpsSubscribeRequest *)kt__pb_unpack(
            &ktpb__v1__ops_subscribe_request__descriptor, msg, "operations");
    kt_aid who = kt_msg_sender(msg);
    ops_sub *n;

    if (s == NULL || who == 0) {
        kt__ops_reply_req(
            o, msg, KT_OPS_REPLY, s == NULL ? KT_EPROTO : KT_EINVAL,
            s == NULL ? "malformed request" : "a subscriber must be an actor");
    } else if (kt_msg_type(msg) == KT_OPS_UNSUBSCRIBE) {
        sub_remove(o, who, s->op_id);
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_OK, "");
    } else if ((n = calloc(1, sizeof(*n))) == NULL) {
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_ENOMEM, "out of memory");
    } else {
        sub_remove(o, who, s->op_id); // no duplicates
        n->aid = who;
        kt__strlcpy(n->op_id, s->op_id, sizeof(n->op_id));
        n->next = o->subs;
        o->subs = n;
        if (kt_monitor(o->self, who) != KT_OK) { // its down removes it
            kt_log(KT_LOG_WARN, "operations",
                   "actor=operations "
                   "event=subscriber_unmonitored aid=%llu",
                   (unsigned long long)who);
        }
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_OK, "");
    }
    if (s != NULL) {
        ktpb__v1__ops_subscribe_request__free_unpacked(s, NULL);
    }
    return KT_OK;
}

// ops_fanout sends an event body to every subscriber of op_id. One that
// is gone (KT_ENOENT: a stopped actor, or the stub of a closed remote
// connection, which cannot be monitored) is dropped.
static void
ops_fanout(ops *o, const char *op_id, const void *body, size_t len)
{
    for (ops_sub **pp = &o->subs; *pp != NULL;) {
        ops_sub *s = *pp;
        kt_msg *m;
        kt_err rv;
        if (s->op_id[0] != '\0' && strcmp(s->op_id, op_id) != 0) {
            pp = &s->next;
            continue;
        }
        if (kt_msg_alloc(&m, KT_OPS_PROGRESS, len) != KT_OK) {
            return;
        }
        if (len > 0) {
            memcpy(kt_msg_body(m), body, len);
        }
        if ((rv = kt_send(o->self, s->aid, m)) != KT_OK) {
            kt_msg_free(m);
        }
        if (rv == KT_ENOENT) {
            *pp = s->next;
            free(s);
        } else {
            pp = &s->next;
        }
    }
}

void
kt__ops_flush_progress(ops *o, ops_job *j)
{
    Ktpb__V1__OpProgressRequest q;

    if (!j->dirty) {
        return;
    }
    ktpb__v1__op_progress_request__init(&q);
    q.id = j->id;
    q.percent = j->percent;
    q.current_step = j->step;
    q.units_done = j->units_done;
    q.units_total = j->units_total;
    // Fire and forget: the reply is dropped (ops_dispatch).
    (void)kt__pb_send(o->self, o->persist, KT_PERSIST_OP_PROGRESS, &q.base);
    j->dirty = false;
    j->last_write_ms = kt__mono_ms();
}

kt_err
kt__ops_progress(ops *o, kt_msg *msg)
{
    Ktpb__V1__ProgressEvent *e = (Ktpb__V1__ProgressEvent *)kt__pb_unpack(
        &ktpb__v1__progress_event__descriptor, msg, "operations");
    ops_job *j;

    if (e == NULL) {
        return KT_OK;
    }
    j = kt__ops_job_find(o, e->op_id);
    if (j != NULL && j->phase == J_RUNNING && e->attempt == j->attempt) {
        j->percent = e->percent < 0 ? 0 : e->percent > 100 ? 100 : e->percent;
        kt__strlcpy(j->step, e->current_step, sizeof(j->step));
        j->units_done = e->total_epochs ? (int64_t)e->epoch : (int64_t)e->bar;
        j->units_total =
            e->total_epochs ? (int64_t)e->total_epochs : (int64_t)e->total_bars;
        j->by_epoch = e->total_epochs > 0;
        j->train_loss = e->train_loss;
        j->val_loss = e->val_loss;
        j->equity = e->equity;
        j->dirty = true;
        if (kt__mono_ms() - j->last_write_ms >= o->cfg.progress_every_ms) {
            kt__ops_flush_progress(o, j);
        }
        ops_fanout(o, e->op_id, kt_msg_cbody(msg), kt_msg_len(msg));
    }
    ktpb__v1__progress_event__free_unpacked(e, NULL);
    return KT_OK;
}

void
kt__ops_publish_final(ops *o, ops_job *j, Ktpb__V1__OpStatus st,
                      const char *error)
{
    Ktpb__V1__ProgressEvent e;
    uint8_t *buf;
    size_t len;
    int64_t done;
    char step[64];

    if (o->subs == NULL) {
        return;
    }
    ktpb__v1__progress_event__init(&e);
    e.op_id = j->id;
    e.percent = st == KTPB__V1__OP_STATUS__OP_COMPLETED ? 100.0 : j->percent;
    e.current_step = j->step;
    // The final event says where the job ended even when a subscriber
    // missed the last progress events (they are best effort).
    done = st == KTPB__V1__OP_STATUS__OP_COMPLETED ? j->units_total
                                                   : j->units_done;
    if (j->by_epoch) {
        e.epoch = (uint32_t)done;
        e.total_epochs = (uint32_t)j->units_total;
        e.train_loss = j->train_loss;
        e.val_loss = j->val_loss;
        (void)snprintf(step, sizeof(step), "Epoch %" PRId64 "/%" PRId64, done,
                       j->units_total);
        e.current_step = step;
    } else if (j->units_total > 0) {
        e.bar = (uint64_t)done;
        e.total_bars = (uint64_t)j->units_total;
        e.equity = j->equity;
    }
    e.status = st;
    e.final = true;
    e.error = KT_PB_STR(error);
    e.attempt = j->attempt;
    len = ktpb__v1__progress_event__get_packed_size(&e);
    if ((buf = malloc(len > 0 ? len : 1)) == NULL) {
        return;
    }
    (void)ktpb__v1__progress_event__pack(&e, buf);
    ops_fanout(o, j->id, buf, len);
    free(buf);
}
