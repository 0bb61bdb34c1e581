// operations.c: the operations actor's skeleton: init / handle / fini, the
// job, pending-ask and subscriber tables, replies, and the dispatch of
// persistence's answers to the step that waits for each.
#include "operations/operations.h"

#include <ktpb/v1/envelope.pb-c.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kt/log.h>

#include "operations/ops_int.h"
#include "operations/pbmsg.h"
#include "persistence/persistence.h"

ops_job *
kt__ops_job_find(ops *o, const char *id)
{
    for (ops_job *j = o->jobs; j != NULL; j = j->next) {
        if (strcmp(j->id, id) == 0) {
            return j;
        }
    }
    return NULL;
}

ops_job *
kt__ops_job_new(ops *o, const char *id, const char *type)
{
    ops_job *j = calloc(1, sizeof(*j));

    if (j == NULL) {
        return NULL;
    }
    kt__strlcpy(j->id, id, sizeof(j->id));
    kt__strlcpy(j->type, type, sizeof(j->type));
    j->next = o->jobs;
    o->jobs = j;
    return j;
}

static void
ops_group_done(ops *o, ops_group *g)
{
    ops_group **pp = &o->groups;

    if (--g->remaining > 0) {
        return;
    }
    kt__ops_reply(o, g->aid, g->corr, KT_OPS_REPLY, KT_OK, "", NULL);
    while (*pp != g) {
        pp = &(*pp)->next;
    }
    *pp = g->next;
    free(g);
}

void
kt__ops_job_remove(ops *o, ops_job *j)
{
    ops_job **pp = &o->jobs;

    while (*pp != NULL && *pp != j) {
        pp = &(*pp)->next;
    }
    if (*pp == j) {
        *pp = j->next;
    }
    if (j->group != NULL) {
        ops_group_done(o, j->group);
    }
    free(j->request);
    free(j);
}

void
kt__ops_job_wait(ops_job *j, const kt_msg *req, uint32_t type)
{
    if (j->nwaiters < OPS_WAITERS) {
        j->waiters[j->nwaiters].aid = kt_msg_sender(req);
        j->waiters[j->nwaiters].corr = kt_msg_corr(req);
        j->waiters[j->nwaiters].type = type;
        j->nwaiters++;
    }
}

kt_err
kt__ops_ask(ops *o, uint32_t type, const ProtobufCMessage *m, ops_kind kind,
            const char *op_id, const kt_msg *req, uint32_t reply_type)
{
    ops_pend *p = calloc(1, sizeof(*p));
    kt_err rv;

    if (p == NULL) {
        return KT_ENOMEM;
    }
    rv = kt__pb_ask(o->self, o->persist, type, m, o->cfg.ask_timeout_ms,
                    &p->corr);
    if (rv != KT_OK) {
        free(p);
        return rv;
    }
    p->kind = kind;
    kt__strlcpy(p->op_id, op_id, sizeof(p->op_id));
    if (req != NULL) {
        p->from = kt_msg_sender(req);
        p->from_corr = kt_msg_corr(req);
    }
    p->reply_type = reply_type;
    p->next = o->pends;
    o->pends = p;
    return KT_OK;
}

void
kt__ops_reply(ops *o, kt_aid to, uint64_t corr, uint32_t type, int32_t status,
              const char *message, const Ktpb__V1__OperationRecord *op)
{
    Ktpb__V1__OpsReply r;

    if (to == 0) {
        return; // nobody asked
    }
    ktpb__v1__ops_reply__init(&r);
    r.status = status;
    r.message = KT_PB_STR(message != NULL ? message : "");
    r.op = KT_PB_PTR(Ktpb__V1__OperationRecord, op);
    if (type == KT_OPS_ERROR_REPLY) {
        Ktpb__V1__ErrorReply e;
        ktpb__v1__error_reply__init(&e);
        e.status = status;
        e.message = r.message;
        (void)kt__pb_reply_to(o->self, to, corr, type, &e.base);
        return;
    }
    // OpsListReply, OpsResultsReply and CheckpointShowReply share fields 1
    // and 2 with OpsReply, so an error reply packs the same way.
    (void)kt__pb_reply_to(o->self, to, corr, type, &r.base);
}

void
kt__ops_reply_req(ops *o, const kt_msg *req, uint32_t type, int32_t status,
                  const char *message)
{
    kt__ops_reply(o, kt_msg_sender(req), kt_msg_corr(req), type, status,
                  message, NULL);
}

void
kt__ops_transition(ops *o, ops_job *j, Ktpb__V1__OpStatus to, const char *error,
                   const uint8_t *result, size_t len, ops_kind kind)
{
    Ktpb__V1__OpTransitionRequest t;
    kt_err rv;

    ktpb__v1__op_transition_request__init(&t);
    t.id = j->id;
    t.to = to;
    t.error = KT_PB_STR(error != NULL ? error : "");
    t.result.data = KT_PB_BYTES(result);
    t.result.len = result != NULL ? len : 0;
    rv =
        kt__ops_ask(o, KT_PERSIST_OP_TRANSITION, &t.base, kind, j->id, NULL, 0);
    if (rv != KT_OK) {
        kt_log(KT_LOG_ERR, "operations",
               "actor=operations op=%s event=transition_lost err=%s", j->id,
               kt_strerror(rv));
    }
}

static ops_pend *
ops_pend_take(ops *o, uint64_t corr)
{
    for (ops_pend **pp = &o->pends; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->corr == corr) {
            ops_pend *p = *pp;
            *pp = p->next;
            return p;
        }
    }
    return NULL;
}

// ops_op_reply decodes an OpReply (a timeout becomes KT_ETIMEDOUT).
static Ktpb__V1__OpReply *
ops_op_reply(const kt_msg *msg)
{
    Ktpb__V1__OpReply *r;

    if (kt_msg_type(msg) != KT_MSG_TIMEOUT) {
        return (Ktpb__V1__OpReply *)kt__pb_unpack(
            &ktpb__v1__op_reply__descriptor, msg, "operations");
    }
    if ((r = malloc(sizeof(*r))) != NULL) {
        ktpb__v1__op_reply__init(r);
        r->status = KT_ETIMEDOUT;
        r->message = KT_PB_STR("persistence did not answer in time");
    }
    return r;
}

static void
ops_relay(ops *o, const ops_pend *p, const kt_msg *msg)
{
    kt_msg *out;

    if (kt_msg_type(msg) == KT_MSG_TIMEOUT) {
        kt__ops_reply(o, p->from, p->from_corr, p->reply_type, KT_ETIMEDOUT,
                      "persistence did not answer in time", NULL);
        return;
    }
    // OpReply / OpListReply have the wire layout of OpsReply / OpsListReply.
    if (kt_msg_alloc(&out, p->reply_type, kt_msg_len(msg)) != KT_OK) {
        return;
    }
    memcpy(kt_msg_body(out), kt_msg_cbody(msg), kt_msg_len(msg));
    if (kt_reply_to(o->self, p->from, p->from_corr, out) != KT_OK) {
        kt_msg_free(out);
    }
}

static void
ops_on_op_reply(ops *o, const ops_pend *p, const kt_msg *msg)
{
    Ktpb__V1__OpReply *r = ops_op_reply(msg);
    ops_job *j = kt__ops_job_find(o, p->op_id);

    if (r == NULL) {
        return;
    }
    if (j == NULL) {
        kt_log(KT_LOG_WARN, "operations",
               "actor=operations op=%s "
               "event=reply_without_job kind=%d",
               p->op_id, (int)p->kind);
    } else if (p->kind == PK_CREATE) {
        kt__ops_on_create(o, j, r);
    } else if (p->kind == PK_RUNNING) {
        kt__ops_on_running(o, j, r);
    } else if (p->kind == PK_CLAIM) {
        kt__ops_on_claim(o, j, r);
    } else if (p->kind == PK_DONE) {
        kt__ops_on_done(o, j, r);
    }
    if (kt_msg_type(msg) == KT_MSG_TIMEOUT) {
        free(r);
    } else {
        ktpb__v1__op_reply__free_unpacked(r, NULL);
    }
}

// ops_answer handles a reply (or timeout) from persistence.
static void
ops_answer(ops *o, ops_pend *p, const kt_msg *msg)
{
    ops_job *j;

    switch (p->kind) {
    case PK_IGNORE:
        break;
    case PK_RELAY:
        ops_relay(o, p, msg);
        break;
    case PK_CHECK:
        if ((j = kt__ops_job_find(o, p->op_id)) != NULL) {
            kt__ops_on_check(o, j, msg);
        }
        break;
    case PK_SHOW:
        kt__ops_on_show(o, p, msg);
        break;
    case PK_RESULTS:
        kt__ops_on_results(o, p, msg);
        break;
    case PK_DISPATCH:
        kt__ops_on_dispatch(o, p, msg);
        break;
    default:
        ops_on_op_reply(o, p, msg);
        break;
    }
}

static kt_err
ops_dispatch(ops *o, kt_msg *msg)
{
    switch (kt_msg_type(msg)) {
    case KT_OPS_START_TRAINING:
    case KT_OPS_START_BACKTEST:
        return kt__ops_start(o, msg);
    case KT_OPS_GET:
        return kt__ops_get(o, msg);
    case KT_OPS_LIST:
        return kt__ops_list(o, msg);
    case KT_OPS_CANCEL:
        return kt__ops_cancel(o, msg);
    case KT_OPS_RESUME:
        return kt__ops_resume(o, msg);
    case KT_OPS_RESULTS:
        return kt__ops_results(o, msg);
    case KT_OPS_SUBSCRIBE:
    case KT_OPS_UNSUBSCRIBE:
        return kt__ops_subscribe(o, msg);
    case KT_OPS_PROGRESS:
        return kt__ops_progress(o, msg);
    case KT_OPS_CKPT_SHOW:
        return kt__ops_show(o, msg);
    case KT_OPS_SHUTDOWN:
        return kt__ops_shutdown(o, msg);
    case KT_OPS_WORKER_DONE:
        return kt__ops_worker_done(o, msg);
    case KT_OPS_ADOPT:
        return kt__ops_adopt(o, msg);
    case KT_MSG_DOWN:
        return kt__ops_down(o, msg);
    default:
        break;
    }
    if (kt_msg_corr(msg) == 0 && kt_msg_type(msg) >= 200 &&
        kt_msg_type(msg) < 300) {
        return KT_OK; // an unasked persistence reply (progress rows)
    }
    kt__ops_reply_req(o, msg, KT_OPS_ERROR_REPLY, KT_EINVAL,
                      "unknown request type");
    return KT_OK;
}

static kt_err
ops_handle(void *state, kt_actor *self, kt_msg *msg)
{
    ops *o = state;
    ops_pend *p;
    kt_err rv = KT_OK;

    (void)self;
    if (kt_msg_corr(msg) != 0 && kt_msg_type(msg) != KT_MSG_DOWN &&
        (p = ops_pend_take(o, kt_msg_corr(msg))) != NULL) {
        ops_answer(o, p, msg);
        free(p);
    } else if (kt_msg_type(msg) == KT_MSG_TIMEOUT) {
        // an ask we no longer track
    } else {
        rv = ops_dispatch(o, msg);
    }
    kt_msg_free(msg);
    return rv;
}

static kt_err
ops_init(void *state, kt_actor *self, const void *cfg)
{
    const kt_ops_cfg *c = cfg;
    ops *o = state;

    if (c == NULL || c->data_dir == NULL ||
        strlen(c->data_dir) >= sizeof(o->data_dir)) {
        return KT_EINVAL;
    }
    o->self = self;
    o->cfg = *c;
    kt__strlcpy(o->data_dir, c->data_dir, sizeof(o->data_dir));
    o->cfg.data_dir = o->data_dir;
    if (o->cfg.ask_timeout_ms == 0) {
        o->cfg.ask_timeout_ms = 30000;
    }
    if (o->cfg.progress_every_ms == 0) {
        o->cfg.progress_every_ms = 250;
    }
    o->persist = c->persistence;
    if (o->persist == 0 && kt_lookup(kt_actor_runtime(self), KT_PERSIST_NAME,
                                     &o->persist) != KT_OK) {
        return KT_ENOENT;
    }
    o->rng = (uint64_t)kt__now_ms() ^ ((uint64_t)getpid() << 32) ^
             (kt_self(self) * 0x9E3779B97F4A7C15ULL);
    return KT_OK;
}

static void
ops_fini(void *state)
{
    ops *o = state;

    while (o->jobs != NULL) {
        ops_job *j = o->jobs;
        o->jobs = j->next;
        free(j->request);
        free(j);
    }
    while (o->pends != NULL) {
        ops_pend *p = o->pends;
        o->pends = p->next;
        free(p);
    }
    while (o->subs != NULL) {
        ops_sub *s = o->subs;
        o->subs = s->next;
        free(s);
    }
    while (o->groups != NULL) {
        ops_group *g = o->groups;
        o->groups = g->next;
        free(g);
    }
}

const kt_actor_ops operations_ops = {
    .name = "operations",
    .state_size = sizeof(ops),
    .init = ops_init,
    .handle = ops_handle,
    .fini = ops_fini,
};
