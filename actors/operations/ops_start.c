// ops_start.c: starting an operation: validate the request, make its id,
// create it (pending), spawn its training or backtest actor on a thread of
// its own, mark it running, answer the caller.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kt/log.h>

#include "backtest/backtest.h"
#include "operations/opreq.h"
#include "operations/ops_int.h"
#include "operations/pbmsg.h"
#include "persistence/persistence.h"
#include "training/training.h"

// ops_make_id: op_<type>_<YYYYMMDD>_<HHMMSS>_<6 hex>.
static void
ops_make_id(ops *o, const char *type, char *id, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    uint64_t x;

    (void)gmtime_r(&now, &tm);
    o->rng ^= o->rng << 13; // xorshift64
    o->rng ^= o->rng >> 7;
    o->rng ^= o->rng << 17;
    x = o->rng;
    (void)snprintf(id, n, "op_%s_%04d%02d%02d_%02d%02d%02d_%06llx", type,
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, (unsigned long long)(x & 0xffffff));
}

// ops_validate checks a start request; *type gets the operation type and
// parent[KT_OPS_ID_MAX] its parent operation ("" = none).
static kt_err
ops_validate(ops *o, const kt_msg *msg, const char **type, char *parent,
             char *err, size_t n)
{
    bool train = kt_msg_type(msg) == KT_OPS_START_TRAINING;
    ProtobufCMessage *m =
        kt__pb_unpack(train ? &ktpb__v1__start_training_request__descriptor
                            : &ktpb__v1__start_backtest_request__descriptor,
                      msg, "operations");
    kt_err rv;

    if (m == NULL) {
        (void)snprintf(err, n, "malformed start request");
        return KT_EPROTO;
    }
    *type = train ? "training" : "backtesting";
    kt__strlcpy(parent,
                train ? ((Ktpb__V1__StartTrainingRequest *)m)->parent_id
                      : ((Ktpb__V1__StartBacktestRequest *)m)->parent_id,
                KT_OPS_ID_MAX);
    rv = train ? kt__opreq_check_train((Ktpb__V1__StartTrainingRequest *)m,
                                       o->data_dir, err, n)
               : kt__opreq_check_backtest((Ktpb__V1__StartBacktestRequest *)m,
                                          o->data_dir, err, n);
    protobuf_c_message_free_unpacked(m, NULL);
    return rv;
}

kt_err
kt__ops_start(ops *o, kt_msg *msg)
{
    Ktpb__V1__OpCreateRequest c;
    char err[1200], id[KT_OPS_ID_MAX], parent[KT_OPS_ID_MAX] = "";
    const char *type = "";
    ops_job *j;
    kt_err rv;

    if ((rv = ops_validate(o, msg, &type, parent, err, sizeof(err))) != KT_OK) {
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, (int32_t)rv, err);
        return KT_OK;
    }
    ops_make_id(o, type, id, sizeof(id));
    if ((j = kt__ops_job_new(o, id, type)) == NULL ||
        (j->request = malloc(kt_msg_len(msg))) == NULL) {
        if (j != NULL) {
            kt__ops_job_remove(o, j);
        }
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_ENOMEM, "out of memory");
        return KT_OK;
    }
    memcpy(j->request, kt_msg_cbody(msg), kt_msg_len(msg));
    j->request_len = kt_msg_len(msg);
    j->starter.aid = kt_msg_sender(msg);
    j->starter.corr = kt_msg_corr(msg);
    j->requested_at_ms = kt__mono_ms();
    ktpb__v1__op_create_request__init(&c);
    c.id = id;
    c.type = j->type;
    c.parent_id = parent;
    c.metadata.data = j->request;
    c.metadata.len = j->request_len;
    rv = kt__ops_ask(o, KT_PERSIST_OP_CREATE, &c.base, PK_CREATE, id, NULL, 0);
    if (rv != KT_OK) {
        kt__ops_job_remove(o, j);
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, (int32_t)rv,
                          "persistence unreachable");
    }
    return KT_OK;
}

// kt__ops_reply_starter answers the start / resume request (once).
void
kt__ops_reply_starter(ops *o, ops_job *j, int32_t status, const char *message,
                      const Ktpb__V1__OperationRecord *op)
{
    kt__ops_reply(o, j->starter.aid, j->starter.corr, KT_OPS_REPLY, status,
                  message, op);
    j->starter.aid = 0;
}

void
kt__ops_spawn(ops *o, ops_job *j, bool resume)
{
    bool train = strcmp(j->type, "training") == 0;
    kt_spawn_opts so = {.name = NULL, .dedicated = true};
    kt_worker_cfg w = {
        .op_id = j->id,
        .attempt = j->attempt,
        .resume = resume,
        .request = j->request,
        .request_len = j->request_len,
        .data_dir = o->data_dir,
        .ops = kt_self(o->self),
        .persistence = o->persist,
        .ask_timeout_ms = o->cfg.ask_timeout_ms,
        .slice = train ? o->cfg.train_batches : o->cfg.bt_bars,
        .requested_at_ms = j->requested_at_ms,
        .hook = o->cfg.hook,
        .hook_arg = o->cfg.hook_arg,
    };
    kt_err rv;

    if (o->cfg.use_workers) {
        kt__ops_dispatch(o, j, resume); // a worker process runs it
        return;
    }
    rv = kt_spawn(kt_actor_runtime(o->self),
                  train ? &training_ops : &backtest_ops, &w, &so, &j->worker);
    if (rv == KT_OK && (rv = kt_monitor(o->self, j->worker)) != KT_OK) {
        if (kt_kill(kt_actor_runtime(o->self), j->worker) != KT_OK) {
            kt_log(KT_LOG_WARN, "operations", "op=%s event=kill_failed", j->id);
        }
    }
    if (rv != KT_OK) {
        char why[128];
        (void)snprintf(why, sizeof(why), "cannot start the %s actor: %s",
                       j->type, kt_strerror(rv));
        j->worker = 0;
        j->phase = J_FINISHING;
        j->final = KTPB__V1__OP_STATUS__OP_FAILED;
        kt__strlcpy(j->error, why, sizeof(j->error));
        kt__ops_transition(o, j, KTPB__V1__OP_STATUS__OP_FAILED, why, NULL, 0,
                           PK_DONE);
        kt__ops_reply_starter(o, j, (int32_t)rv, why, NULL);
        return;
    }
    j->phase = J_RUNNING;
    kt__ops_transition(o, j, KTPB__V1__OP_STATUS__OP_RUNNING, NULL, NULL, 0,
                       PK_RUNNING);
}

// ops_stop_before_run: a cancel / shutdown arrived before any worker ran.
static void
ops_stop_before_run(ops *o, ops_job *j)
{
    j->phase = J_FINISHING;
    j->final = KTPB__V1__OP_STATUS__OP_CANCELLED;
    kt__strlcpy(j->error, j->reason, sizeof(j->error));
    kt__ops_transition(o, j, KTPB__V1__OP_STATUS__OP_CANCELLED, j->reason, NULL,
                       0, PK_DONE);
    kt__ops_reply_starter(o, j, KT_ECANCELED, j->reason, NULL);
}

void
kt__ops_on_create(ops *o, ops_job *j, const Ktpb__V1__OpReply *r)
{
    if (r->status != KT_OK) {
        kt__ops_reply_starter(o, j, r->status, r->message, NULL);
        kt__ops_job_remove(o, j);
        return;
    }
    j->attempt = r->op != NULL ? r->op->attempt : 0;
    if (j->stop != 0) {
        ops_stop_before_run(o, j);
        return;
    }
    kt__ops_spawn(o, j, false);
}

void
kt__ops_on_running(ops *o, ops_job *j, const Ktpb__V1__OpReply *r)
{
    if (r->status != KT_OK) {
        kt_log(KT_LOG_ERR, "operations",
               "actor=operations op=%s event=running_refused why=\"%s\"", j->id,
               r->message);
        kt__ops_reply_starter(o, j, r->status, r->message, r->op);
        return;
    }
    kt__ops_reply_starter(o, j, KT_OK, "", r->op);
}

void
kt__ops_stop_early(ops *o, ops_job *j)
{
    ops_stop_before_run(o, j);
}
