// agent_run.c: the operations a worker runs: WorkerRun (spawn the
// training / backtest actor with the agent as its operations and
// persistence actor), control from the registry, graceful shutdown, the
// status request and operation actors that stop.
#include <inttypes.h>
#include <ktpb/v1/ops.pb-c.h>
#include <ktpb/v1/workers.pb-c.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kt/log.h>

#include "backtest/backtest.h"
#include "operations/worker.h"
#include "training/training.h"
#include "workers/agent_int.h"
#include "workers/wk_msg.h"

static kt_err
ag_spawn(agent *a, ag_op *op, const Ktpb__V1__WorkerAssign *as)
{
    bool train = strcmp(as->type, "training") == 0;
    kt_spawn_opts so = {.name = NULL, .dedicated = true};
    kt_worker_cfg w = {
        .op_id = as->op_id,
        .attempt = as->attempt,
        .resume = as->resume,
        .request = as->request.data,
        .request_len = as->request.len,
        .data_dir = a->data_dir[0] != '\0' ? a->data_dir : as->data_dir,
        .ops = kt_self(a->self),
        .persistence = kt_self(a->self),
        .requested_at_ms = (int64_t)as->requested_at_ms,
        .hook = a->cfg.hook,
        .hook_arg = a->cfg.hook_arg,
    };
    kt_err err;

    if (!train && kt_wk_capability_of(as->type) != 2u) {
        return KT_EINVAL;
    }
    if ((err = kt_spawn(kt_actor_runtime(a->self),
                        train ? &training_ops : &backtest_ops, &w, &so,
                        &op->aid)) != KT_OK) {
        return err;
    }
    if ((err = kt_monitor(a->self, op->aid)) != KT_OK) {
        kt__ag_kill(a, op->aid);
        op->aid = 0;
    }
    return err;
}

static kt_err
ag_run_check(agent *a, const Ktpb__V1__WorkerAssign *as, const char **why)
{
    uint32_t cap = kt_wk_capability_of(as->type);

    if (as->op_id == NULL || as->op_id[0] == '\0' ||
        strlen(as->op_id) >= sizeof(((ag_op *)0)->op_id)) {
        *why = "bad operation id";
        return KT_EINVAL;
    }
    if (cap == 0 ||
        strstr(a->caps, cap == 1 ? "training" : "backtest") == NULL) {
        *why = "this worker lacks that capability";
        return KT_EINVAL;
    }
    if (a->shutting || a->draining) {
        *why = "worker is shutting down";
        return KT_ESTATE;
    }
    if (kt__ag_nops(a) >= (a->cfg.slots != 0 ? a->cfg.slots : 1)) {
        *why = "no free slot";
        return KT_EAGAIN;
    }
    return KT_OK;
}

void
kt__ag_run(agent *a, kt_msg *m)
{
    Ktpb__V1__WorkerRun *run =
        ktpb__v1__worker_run__unpack(NULL, kt_msg_len(m), kt_msg_cbody(m));
    Ktpb__V1__WorkerAssign *as = NULL;
    const char *why = "malformed WorkerRun";
    kt_err err = KT_EPROTO;
    ag_op *op;

    if (run == NULL || (as = ktpb__v1__worker_assign__unpack(
                            NULL, run->assign.len, run->assign.data)) == NULL) {
        goto reply;
    }
    if ((op = kt__ag_op_find(a, as->op_id)) != NULL) {
        if (op->attempt == as->attempt) {
            err = KT_OK; // a retried WorkerRun: already running
            goto reply;
        }
        kt__ag_op_remove(a, op); // an older attempt: superseded
    }
    if ((err = ag_run_check(a, as, &why)) != KT_OK) {
        goto reply;
    }
    if ((op = calloc(1, sizeof(*op))) == NULL) {
        err = KT_ENOMEM;
        why = "out of memory";
        goto reply;
    }
    kt__wk_copy(op->op_id, sizeof(op->op_id), as->op_id);
    kt__wk_copy(op->type, sizeof(op->type), as->type);
    op->attempt = as->attempt;
    if ((err = ag_spawn(a, op, as)) != KT_OK) {
        why = "cannot start the operation actor";
        free(op);
        goto reply;
    }
    op->next = a->ops;
    a->ops = op;
    kt_log(KT_LOG_INFO, "worker",
           "event=run worker=%s op=%s attempt=%u resume=%d", a->id, op->op_id,
           op->attempt, (int)as->resume);
reply:
    (void)kt__wk_status(a->self, m, err, err == KT_OK ? NULL : why, a->id);
    ktpb__v1__worker_assign__free_unpacked(as, NULL);
    ktpb__v1__worker_run__free_unpacked(run, NULL);
}

static void
ag_tell_op(agent *a, ag_op *op, bool shutdown, const char *reason)
{
    bool train = strcmp(op->type, "training") == 0;
    uint32_t t = shutdown ? (train ? KT_TRAIN_SHUTDOWN : KT_BT_SHUTDOWN)
                          : (train ? KT_TRAIN_CANCEL : KT_BT_CANCEL);
    Ktpb__V1__OpControl c;

    ktpb__v1__op_control__init(&c);
    c.op_id = op->op_id;
    c.reason = (char *)(uintptr_t)(reason != NULL ? reason : "");
    if (op->aid != 0 && !op->ended &&
        kt__wk_send(a->self, op->aid, t, &c.base) != KT_OK) {
        kt_log(KT_LOG_WARN, "worker", "event=control_lost op=%s", op->op_id);
    }
}

void
kt__ag_control(agent *a, kt_msg *m)
{
    Ktpb__V1__WorkerControl *c =
        ktpb__v1__worker_control__unpack(NULL, kt_msg_len(m), kt_msg_cbody(m));
    ag_op *op;

    if (c == NULL || c->op_id == NULL ||
        (op = kt__ag_op_find(a, c->op_id)) == NULL ||
        (c->attempt != 0 && c->attempt != op->attempt)) {
        goto out;
    }
    switch (c->kind) {
    case KTPB__V1__WORKER_CONTROL_KIND__WORKER_CONTROL_CANCEL:
        ag_tell_op(a, op, false, c->reason);
        break;
    case KTPB__V1__WORKER_CONTROL_KIND__WORKER_CONTROL_SHUTDOWN:
        ag_tell_op(a, op, true, c->reason);
        break;
    case KTPB__V1__WORKER_CONTROL_KIND__WORKER_CONTROL_ABORT:
        kt_log(KT_LOG_NOTICE, "worker", "event=abort op=%s attempt=%u",
               op->op_id, op->attempt);
        kt__ag_op_remove(a, op);
        break;
    default:
        break;
    }
out:
    if (c != NULL && kt_msg_corr(m) != 0) {
        (void)kt__wk_status(a->self, m, KT_OK, NULL, a->id);
    }
    ktpb__v1__worker_control__free_unpacked(c, NULL);
}

void
kt__ag_shutdown(agent *a, const kt_msg *m)
{
    if (!a->shutting) {
        a->shutting = true;
        a->deadline_ns =
            kt__wk_mono_ns() + (int64_t)a->cfg.shutdown_ms * 1000000;
        kt_log(KT_LOG_NOTICE, "worker", "event=shutdown worker=%s ops=%u",
               a->id, kt__ag_nops(a));
        for (ag_op *op = a->ops; op != NULL; op = op->next) {
            ag_tell_op(a, op, true, "Graceful shutdown");
        }
    }
    if (kt_msg_corr(m) != 0) {
        (void)kt__wk_status(a->self, m, KT_OK, NULL, a->id);
    }
}

void
kt__ag_status(agent *a, const kt_msg *m)
{
    Ktpb__V1__WorkerInfo f;
    Ktpb__V1__OpClaim pbs[KT_WK_MAX_SLOTS], *pp[KT_WK_MAX_SLOTS];

    ktpb__v1__worker_info__init(&f);
    f.worker_id = a->id;
    f.instance = a->instance;
    f.slots = a->cfg.slots;
    f.pid = (int32_t)getpid();
    f.n_ops = kt__ag_claims(a, pbs, pp);
    f.ops = pp;
    f.draining = a->draining;
    f.registrations = a->registrations;
    f.last_seen_ms = a->registered ? 1 : 0; // 1 = registered now
    if (kt__wk_reply(a->self, m, KT_WK_AGENT_STATUS_REPLY, &f.base) != KT_OK) {
        kt_log(KT_LOG_NOTICE, "worker", "event=status_reply_lost");
    }
}

void
kt__ag_down(agent *a, kt_msg *m)
{
    ag_op *op = kt__ag_op_by_aid(a, kt_msg_sender(m));

    if (op != NULL) {
        kt__ag_drop_relays(a, op->aid);
        op->aid = 0;
        op->down_at_ns = kt__wk_mono_ns();
    }
}
