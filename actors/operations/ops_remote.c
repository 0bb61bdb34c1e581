// ops_remote.c: operations run by worker processes. With use_workers the
// operations actor asks the worker registry ("workers") to place each job
// on a capable worker instead of spawning the training / backtest actor in
// its own process; cancel and shutdown go through the registry; after a
// backend restart the registry hands over (adopts) the jobs that worker
// processes re-registered with. Written with the supervisor (issue 7);
// docs/actors/workers.md has the protocol.
#include <ktpb/v1/workers.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kt/log.h>

#include "operations/ops_int.h"
#include "operations/pbmsg.h"
#include "persistence/persistence.h"
#include "workers/workers.h"

static kt_aid
ops_registry(ops *o)
{
    kt_aid aid = 0;

    if (kt_lookup(kt_actor_runtime(o->self), KT_WORKERS_NAME, &aid) != KT_OK) {
        return 0;
    }
    return aid;
}

static void
ops_dispatch_failed(ops *o, ops_job *j, int32_t status, const char *why)
{
    char text[300];

    (void)snprintf(text, sizeof(text), "cannot start the %s operation: %s",
                   j->type, why);
    j->worker = 0;
    j->phase = J_FINISHING;
    j->final = KTPB__V1__OP_STATUS__OP_FAILED;
    kt__strlcpy(j->error, text, sizeof(j->error));
    kt__ops_transition(o, j, KTPB__V1__OP_STATUS__OP_FAILED, text, NULL, 0,
                       PK_DONE);
    kt__ops_reply_starter(o, j, status, text, NULL);
}

// kt__ops_dispatch packs the job as a WorkerAssign and asks the registry
// to run it; the answer comes once a worker runs it (PK_DISPATCH).
void
kt__ops_dispatch(ops *o, ops_job *j, bool resume)
{
    Ktpb__V1__WorkerAssign as;
    Ktpb__V1__DispatchRequest d;
    ops_pend *p = calloc(1, sizeof(*p));
    uint8_t *buf = NULL;
    kt_aid reg = ops_registry(o);
    kt_err rv = KT_ENOMEM;

    ktpb__v1__worker_assign__init(&as);
    ktpb__v1__dispatch_request__init(&d);
    as.op_id = j->id;
    as.attempt = j->attempt;
    as.type = j->type;
    as.request.data = j->request;
    as.request.len = j->request_len;
    as.resume = resume;
    as.data_dir = o->data_dir;
    as.requested_at_ms = (uint64_t)j->requested_at_ms;
    if (p == NULL ||
        (buf = malloc(ktpb__v1__worker_assign__get_packed_size(&as) + 1)) ==
            NULL) {
        goto fail;
    }
    d.assign.len = ktpb__v1__worker_assign__pack(&as, buf);
    d.assign.data = buf;
    d.op_id = j->id;
    d.attempt = j->attempt;
    d.type = j->type;
    rv = reg == 0
             ? KT_ENOENT
             : kt__pb_ask(o->self, reg, KT_WK_DISPATCH, &d.base, 0, &p->corr);
    if (rv != KT_OK) {
        goto fail;
    }
    free(buf);
    p->kind = PK_DISPATCH;
    kt__strlcpy(p->op_id, j->id, sizeof(p->op_id));
    p->next = o->pends;
    o->pends = p;
    return;
fail:
    free(buf);
    free(p);
    ops_dispatch_failed(o, j, (int32_t)rv,
                        reg == 0 ? "no worker registry" : kt_strerror(rv));
}

static void
ops_running_on(ops *o, ops_job *j, const char *worker)
{
    Ktpb__V1__OpTransitionRequest t;

    ktpb__v1__op_transition_request__init(&t);
    t.id = j->id;
    t.to = KTPB__V1__OP_STATUS__OP_RUNNING;
    t.worker_id = KT_PB_STR(worker);
    if (kt__ops_ask(o, KT_PERSIST_OP_TRANSITION, &t.base, PK_RUNNING, j->id,
                    NULL, 0) != KT_OK) {
        kt_log(KT_LOG_ERR, "operations",
               "actor=operations op=%s event=transition_lost", j->id);
    }
}

void
kt__ops_on_dispatch(ops *o, const ops_pend *p, const kt_msg *reply)
{
    Ktpb__V1__WorkersReply *r = NULL;
    ops_job *j = kt__ops_job_find(o, p->op_id);

    if (j == NULL) {
        return;
    }
    if (kt_msg_type(reply) == KT_MSG_TIMEOUT ||
        (r = (Ktpb__V1__WorkersReply *)kt__pb_unpack(
             &ktpb__v1__workers_reply__descriptor, reply, "operations")) ==
            NULL) {
        ops_dispatch_failed(o, j, KT_ETIMEDOUT, "the registry did not answer");
        return;
    }
    if (r->status != KT_OK) {
        ops_dispatch_failed(o, j, r->status, r->message);
    } else {
        j->remote = true;
        j->worker = kt_msg_sender(reply);
        j->phase = J_RUNNING;
        ops_running_on(o, j, r->worker_id);
        if (j->stop != 0) { // cancelled while it was being placed
            kt__ops_remote_stop(o, j, j->stop);
        }
    }
    ktpb__v1__workers_reply__free_unpacked(r, NULL);
}

void
kt__ops_remote_stop(ops *o, ops_job *j, int kind)
{
    Ktpb__V1__WorkerControl c;

    ktpb__v1__worker_control__init(&c);
    c.op_id = j->id;
    c.attempt = j->attempt;
    c.kind = kind == KT_TRAIN_CANCEL
                 ? KTPB__V1__WORKER_CONTROL_KIND__WORKER_CONTROL_CANCEL
                 : KTPB__V1__WORKER_CONTROL_KIND__WORKER_CONTROL_SHUTDOWN;
    c.reason = j->reason;
    if (kt__pb_send(o->self, j->worker, KT_WK_CONTROL, &c.base) != KT_OK) {
        kt_log(KT_LOG_WARN, "operations",
               "actor=operations op=%s event=stop_undelivered", j->id);
    }
}

kt_err
kt__ops_adopt(ops *o, kt_msg *msg)
{
    Ktpb__V1__OpsAdoptRequest *a = (Ktpb__V1__OpsAdoptRequest *)kt__pb_unpack(
        &ktpb__v1__ops_adopt_request__descriptor, msg, "operations");
    ops_job *j;

    if (a == NULL || a->op_id[0] == '\0') {
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_EPROTO, "malformed adopt");
    } else if (kt__ops_job_find(o, a->op_id) != NULL) {
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_ESTATE,
                          "operation already tracked");
    } else if ((j = kt__ops_job_new(o, a->op_id, a->type)) == NULL) {
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_ENOMEM, "out of memory");
    } else {
        j->attempt = a->attempt;
        j->phase = J_RUNNING;
        j->remote = true;
        j->worker = kt_msg_sender(msg);
        kt_log(KT_LOG_NOTICE, "operations",
               "actor=operations op=%s event=adopted attempt=%u worker=%s",
               j->id, j->attempt, a->worker_id);
        kt__ops_reply_req(o, msg, KT_OPS_REPLY, KT_OK, "");
    }
    if (a != NULL) {
        ktpb__v1__ops_adopt_request__free_unpacked(a, NULL);
    }
    return KT_OK;
}
