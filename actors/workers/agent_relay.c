// agent_relay.c: the agent as the operation actors' operations and
// persistence actor: their requests go to the backend and are retried
// until answered; progress is forwarded (only the newest is kept while the
// backend is away); an operation's end is kept until the registry
// acknowledged it.
#include <inttypes.h>
#include <ktpb/v1/ops.pb-c.h>
#include <ktpb/v1/workers.pb-c.h>
#include <stdlib.h>
#include <string.h>

#include <kt/log.h>

#include "persistence/persistence.h"
#include "workers/agent_int.h"
#include "workers/wk_msg.h"

// Checkpoint saves of one operation actor reach persistence in seq order:
// a newer one waits while an older one is unanswered (after a backend
// restart a retried older save would otherwise arrive after a newer one
// and be refused as out of date).
static bool
relay_blocked(const agent *a, const ag_relay *r)
{
    if (r->type != KT_PERSIST_CKPT_SAVE) {
        return false;
    }
    for (const ag_relay *o = a->relays; o != NULL; o = o->next) {
        if (o != r && o->from == r->from && o->type == KT_PERSIST_CKPT_SAVE &&
            o->n < r->n) {
            return true;
        }
    }
    return false;
}

static kt_err
relay_send(agent *a, ag_relay *r)
{
    kt_msg *m;
    kt_err err;

    if (relay_blocked(a, r)) {
        r->out_corr = 0; // sent when the older save is answered
        return KT_OK;
    }
    if ((err = kt_msg_alloc(&m, r->type, r->len)) != KT_OK) {
        return err;
    }
    if (r->len > 0) {
        memcpy(kt_msg_body(m), r->body, r->len);
    }
    if ((err = kt_ask(a->self, r->to, m, a->cfg.relay_timeout_ms,
                      &r->out_corr)) != KT_OK) {
        kt_msg_free(m);
        r->out_corr = 0; // retried by the tick
    }
    return err;
}

// A request (an ask) of an operation actor for the backend.
static void
relay_new(agent *a, kt_msg *msg, kt_aid to)
{
    ag_relay *r = calloc(1, sizeof(*r));
    size_t len = kt_msg_len(msg);

    if (r == NULL || (len > 0 && (r->body = malloc(len)) == NULL)) {
        free(r);
        kt_log(KT_LOG_ERR, "worker", "event=relay_oom type=%u",
               kt_msg_type(msg));
        kt_msg_free(msg); // the asker times out: loud
        return;
    }
    if (len > 0) {
        memcpy(r->body, kt_msg_cbody(msg), len);
    }
    r->len = len;
    r->type = kt_msg_type(msg);
    r->from = kt_msg_sender(msg);
    r->from_corr = kt_msg_corr(msg);
    r->to = to;
    r->n = ++a->nrelays;
    r->next = a->relays;
    a->relays = r;
    kt_msg_free(msg);
    (void)relay_send(a, r);
}

static void
relay_free(agent *a, ag_relay *r)
{
    for (ag_relay **pp = &a->relays; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    free(r->body);
    free(r);
}

void
kt__ag_drop_relays(agent *a, kt_aid aid)
{
    for (ag_relay *r = a->relays, *next; r != NULL; r = next) {
        next = r->next;
        if (r->from == aid) {
            relay_free(a, r);
        }
    }
}

void
kt__ag_free_relays(agent *a)
{
    while (a->relays != NULL) {
        relay_free(a, a->relays);
    }
}

void
kt__ag_send_end(agent *a, ag_op *op)
{
    Ktpb__V1__WorkerOpEnded e;

    ktpb__v1__worker_op_ended__init(&e);
    if (!a->registered || op->end_corr != 0 || !op->ended) {
        return;
    }
    e.worker_id = a->id;
    e.instance = a->instance;
    e.done.data = op->done;
    e.done.len = op->done_len;
    e.op_id = op->op_id;
    e.attempt = op->attempt;
    if (kt__wk_ask(a->self, a->cfg.registry, KT_WK_OP_ENDED, &e.base,
                   a->cfg.relay_timeout_ms, &op->end_corr) != KT_OK) {
        op->end_corr = 0;
    }
}

static void
ag_progress(agent *a, ag_op *op, kt_msg *msg)
{
    kt_err err = KT_ECLOSED;

    if (a->registered && (err = kt_send(a->self, a->cfg.ops, msg)) == KT_OK) {
        return;
    }
    kt_msg_free(op->progress); // only the newest matters
    op->progress = msg;
}

static void
ag_release(agent *a, const ag_op *op)
{
    Ktpb__V1__OpControl c;
    bool train = strcmp(op->type, "training") == 0;

    ktpb__v1__op_control__init(&c);
    c.op_id = (char *)(uintptr_t)op->op_id;
    if (kt__wk_send(a->self, op->aid, train ? KT_TRAIN_RELEASE : KT_BT_RELEASE,
                    &c.base) != KT_OK) {
        kt_log(KT_LOG_DEBUG, "worker", "event=release_lost op=%s", op->op_id);
    }
}

static void
ag_done(agent *a, ag_op *op, kt_msg *msg)
{
    Ktpb__V1__WorkerDone *d =
        ktpb__v1__worker_done__unpack(NULL, kt_msg_len(msg), kt_msg_cbody(msg));

    if (d == NULL || op->ended) {
        kt_log(KT_LOG_WARN, "worker", "event=bad_done op=%s", op->op_id);
        ktpb__v1__worker_done__free_unpacked(d, NULL);
        kt_msg_free(msg);
        return;
    }
    kt_log(KT_LOG_INFO, "worker", "event=op_end op=%s attempt=%u status=%d",
           op->op_id, op->attempt, (int)d->status);
    ktpb__v1__worker_done__free_unpacked(d, NULL);
    if ((op->done = malloc(kt_msg_len(msg) + 1)) == NULL) {
        kt_log(KT_LOG_ERR, "worker", "event=done_oom op=%s", op->op_id);
        kt_msg_free(msg);
        return;
    }
    memcpy(op->done, kt_msg_cbody(msg), kt_msg_len(msg));
    op->done_len = kt_msg_len(msg);
    op->ended = true;
    kt_msg_free(msg);
    ag_release(a, op); // its end is ours to deliver now
    kt__ag_send_end(a, op);
}

bool
kt__ag_from_op(agent *a, kt_msg *msg)
{
    ag_op *op = kt__ag_op_by_aid(a, kt_msg_sender(msg));
    uint32_t t = kt_msg_type(msg);

    if (op == NULL || t < KT_MSG_USER) {
        return false;
    }
    if (t == KT_OPS_PROGRESS) {
        ag_progress(a, op, msg);
    } else if (t == KT_OPS_WORKER_DONE) {
        ag_done(a, op, msg);
    } else if (kt_msg_corr(msg) != 0) {
        relay_new(a, msg,
                  t >= 200 && t < 300 ? a->cfg.persistence : a->cfg.ops);
    } else if (kt_send(a->self,
                       t >= 200 && t < 300 ? a->cfg.persistence : a->cfg.ops,
                       msg) != KT_OK) {
        kt_msg_free(msg);
    }
    return true;
}

static bool
ag_end_reply(agent *a, kt_msg *msg)
{
    uint64_t corr = kt_msg_corr(msg);
    Ktpb__V1__WorkersReply *r;
    ag_op *op;

    for (op = a->ops; op != NULL && op->end_corr != corr; op = op->next) {
    }
    if (op == NULL) {
        return false;
    }
    op->end_corr = 0;
    if (kt_msg_type(msg) == KT_WK_REPLY &&
        (r = ktpb__v1__workers_reply__unpack(NULL, kt_msg_len(msg),
                                             kt_msg_cbody(msg))) != NULL) {
        // OK: delivered; ESTATE: fenced out (a newer attempt owns it).
        bool gone = r->status == KT_OK || r->status == KT_ESTATE;
        ktpb__v1__workers_reply__free_unpacked(r, NULL);
        if (gone) {
            kt__ag_op_remove(a, op);
        }
    } // a timeout or a transient error: the tick sends it again
    kt_msg_free(msg);
    return true;
}

static void
relay_kick(agent *a)
{
    for (ag_relay *r = a->relays; r != NULL; r = r->next) {
        if (r->out_corr == 0 && !relay_blocked(a, r)) {
            (void)relay_send(a, r);
        }
    }
}

bool
kt__ag_relay_reply(agent *a, kt_msg *msg)
{
    uint64_t corr = kt_msg_corr(msg);
    ag_relay *r;

    if (corr == 0) {
        return false;
    }
    if (ag_end_reply(a, msg)) {
        return true;
    }
    for (r = a->relays; r != NULL && r->out_corr != corr; r = r->next) {
    }
    if (r == NULL) {
        return false;
    }
    if (kt_msg_type(msg) == KT_MSG_TIMEOUT) {
        kt_msg_free(msg);
        (void)relay_send(a, r); // the backend is away: ask again
        return true;
    }
    if (kt_reply_to(a->self, r->from, r->from_corr, msg) != KT_OK) {
        kt_msg_free(msg); // the asker is gone
    }
    relay_free(a, r);
    relay_kick(a); // the next save of that actor may go now
    return true;
}

void
kt__ag_flush(agent *a)
{
    for (ag_op *op = a->ops; op != NULL; op = op->next) {
        if (op->progress != NULL &&
            kt_send(a->self, a->cfg.ops, op->progress) == KT_OK) {
            op->progress = NULL;
        }
        kt__ag_send_end(a, op);
    }
    for (ag_relay *r = a->relays; r != NULL; r = r->next) {
        if (r->out_corr == 0) {
            (void)relay_send(a, r);
        }
    }
}
