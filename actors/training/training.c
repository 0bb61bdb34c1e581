// training.c: the training actor's messages: slices of batches, epoch ends
// (snapshot, progress, periodic checkpoints), cancel / shutdown / failure
// with their terminal checkpoints, restore on resume, the model at the end.
#include "training/training.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kt/log.h>

#include "operations/pbmsg.h"
#include "persistence/persistence.h"
#include "training/training_int.h"

#define TRAIN_DEFAULT_SLICE 4

// training_self_step schedules the next slice with a 0 ms timer rather
// than a self-send: the loop then polls its socket between slices, so a
// cancel or shutdown from another thread is seen before the next slice.
static kt_err
training_self_step(training *tr)
{
    uint64_t id;

    return kt_timer_start(tr->w.self, 0, false, KT_TRAIN_STEP, &id);
}

// training_fail ends the operation as failed: with a failure checkpoint of
// the last completed epoch when there is one.
static void
training_fail(training *tr, const char *text)
{
    kt_log(KT_LOG_ERR, "training",
           "actor=training#%llu op=%s event=failed "
           "why=\"%s\"",
           (unsigned long long)kt_self(tr->w.self), tr->w.op_id, text);
    if (tr->snap == NULL) {
        kt__worker_done(&tr->w, KTPB__V1__OP_STATUS__OP_FAILED, text, NULL, 0);
        return;
    }
    kt__worker_terminal(&tr->w, KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_FAILURE,
                        KTPB__V1__OP_STATUS__OP_FAILED, text, &tr->sum,
                        KT_TRAINING_ARTIFACT, tr->snap, tr->snap_len);
}

static void
training_progress(training *tr, bool force)
{
    Ktpb__V1__ProgressEvent ev;
    double total = tr->tc.epochs > 0 ? tr->tc.epochs : 1;
    double part = 0;
    size_t bpe = kt_trainer_batches_per_epoch(tr->t);
    int epoch = kt_trainer_epoch(tr->t);
    char step[64];

    ktpb__v1__progress_event__init(&ev);
    if (bpe > 0) {
        part = (double)kt_trainer_batch_cursor(tr->t) / (double)bpe;
    }
    ev.percent = 100.0 * ((double)epoch + part) / total;
    if (ev.percent > 100.0) {
        ev.percent = 100.0;
    }
    (void)snprintf(step, sizeof(step), "Epoch %d/%d", epoch, tr->tc.epochs);
    ev.current_step = step;
    ev.epoch = (uint32_t)epoch;
    ev.total_epochs = (uint32_t)tr->tc.epochs;
    ev.train_loss = tr->sum.train_loss;
    ev.val_loss = tr->sum.val_loss;
    ev.status = KTPB__V1__OP_STATUS__OP_RUNNING;
    kt__worker_progress(&tr->w, &ev, force);
}

static void
training_complete(training *tr)
{
    uint8_t *res = NULL;
    size_t len = 0;
    char err[512];
    kt_err rv;

    if ((rv = kt__training_finish(tr, &res, &len, err, sizeof(err))) != KT_OK) {
        training_fail(tr, err);
        return;
    }
    kt__worker_done(&tr->w, KTPB__V1__OP_STATUS__OP_COMPLETED, "", res, len);
    free(res);
}

static bool
training_due(training *tr, int epoch)
{
    if (!tr->periodic) {
        return false;
    }
    if ((uint32_t)(epoch - tr->last_ckpt_epoch) >= tr->every) {
        return true;
    }
    return tr->interval_ms > 0 &&
           kt__mono_ms() - tr->w.last_ckpt_ms >= tr->interval_ms;
}

static void
training_epoch_end(training *tr)
{
    int epoch = kt_trainer_epoch(tr->t);
    char text[256];
    kt_err rv;

    if ((rv = kt__training_snapshot(tr)) != KT_OK) {
        (void)snprintf(text, sizeof(text), "snapshot failed: %s",
                       kt_strerror(rv));
        training_fail(tr, text);
        return;
    }
    if ((rv = kt__worker_hook(&tr->w, "epoch", epoch)) != KT_OK) {
        (void)snprintf(text, sizeof(text), "Injected failure at epoch %d: %s",
                       epoch, kt_strerror(rv));
        training_fail(tr, text);
        return;
    }
    training_progress(tr, true);
    if (kt_trainer_done(tr->t)) {
        training_complete(tr);
        return;
    }
    if (training_due(tr, epoch)) {
        rv = kt__worker_checkpoint(
            &tr->w, KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_PERIODIC, &tr->sum,
            KT_TRAINING_ARTIFACT, tr->snap, tr->snap_len);
        if (rv != KT_OK) {
            (void)snprintf(text, sizeof(text), "Checkpoint save failed: %s",
                           kt_strerror(rv));
            training_fail(tr, text);
            return;
        }
        tr->last_ckpt_epoch = epoch;
    }
}

// training_prepare runs once, on the first step: data, then either a fresh
// trainer (snapshot at epoch 0) or a checkpoint load.
static void
training_prepare(training *tr)
{
    char err[1024];
    kt_err rv;

    tr->rq = (Ktpb__V1__StartTrainingRequest *)protobuf_c_message_unpack(
        &ktpb__v1__start_training_request__descriptor, NULL, tr->w.request_len,
        tr->w.request);
    if (tr->rq == NULL) {
        kt__worker_done(&tr->w, KTPB__V1__OP_STATUS__OP_FAILED,
                        "malformed training request", NULL, 0);
        return;
    }
    tr->every = tr->rq->checkpoint_frequency != 0 ? tr->rq->checkpoint_frequency
                                                  : KT_OPS_TRAIN_CKPT_EVERY;
    tr->periodic =
        tr->rq->opt_checkpoint_enabled_case ==
            KTPB__V1__START_TRAINING_REQUEST__OPT_CHECKPOINT_ENABLED__NOT_SET ||
        tr->rq->checkpoint_enabled;
    tr->interval_ms = (int64_t)tr->rq->checkpoint_interval_s * 1000;
    (void)kt__worker_hook(&tr->w, "start", 0);
    if ((rv = kt__training_setup(tr, err, sizeof(err))) != KT_OK) {
        kt__worker_done(&tr->w, KTPB__V1__OP_STATUS__OP_FAILED, err, NULL, 0);
        return;
    }
    (void)kt__worker_hook(&tr->w, "loaded", 0);
    if (tr->w.resume) {
        if ((rv = kt__worker_load(&tr->w)) != KT_OK) {
            kt__worker_done(&tr->w, KTPB__V1__OP_STATUS__OP_FAILED,
                            "cannot ask for the checkpoint", NULL, 0);
        }
        return;
    }
    if ((rv = kt__training_snapshot(tr)) != KT_OK) {
        training_fail(tr, kt_strerror(rv));
    }
}

static kt_err
training_step(training *tr)
{
    kt_epoch_stats st;
    int done = 0;
    char text[256];
    kt_err rv;

    if (tr->rq == NULL && tr->w.state != KT_W_DONE) {
        training_prepare(tr);
    }
    if (tr->w.state != KT_W_RUNNING || tr->t == NULL ||
        !kt__worker_may_step(&tr->w)) {
        return KT_OK;
    }
    rv = kt_trainer_run_batches(tr->t, tr->w.slice, &done, &st);
    if (rv != KT_OK) {
        (void)snprintf(text, sizeof(text), "training failed at epoch %d: %s",
                       kt_trainer_epoch(tr->t) + 1, kt_strerror(rv));
        training_fail(tr, text);
        return KT_OK;
    }
    if (done) {
        training_epoch_end(tr);
    } else {
        training_progress(tr, false);
    }
    return tr->w.state == KT_W_RUNNING ? training_self_step(tr) : KT_OK;
}

// training_stop: cancel or shutdown. The terminal checkpoint holds the last
// completed epoch (the in-memory snapshot), so a resume stays exact.
static void
training_stop(training *tr, const kt_msg *msg)
{
    bool shutdown = kt_msg_type(msg) == KT_TRAIN_SHUTDOWN;
    Ktpb__V1__OpControl *c = (Ktpb__V1__OpControl *)kt__pb_unpack(
        &ktpb__v1__op_control__descriptor, msg, "training");
    char reason[256];

    kt__strlcpy(reason,
                shutdown ? "Graceful shutdown - checkpoint saved"
                : c != NULL && c->reason[0] ? c->reason
                                            : "Cancelled by user",
                sizeof(reason));
    if (c != NULL) {
        ktpb__v1__op_control__free_unpacked(c, NULL);
    }
    if (tr->w.state == KT_W_STOPPING || tr->w.state == KT_W_DONE) {
        return;
    }
    if (tr->snap == NULL || tr->t == NULL) {
        // Nothing computed yet: the previous checkpoint (if any) stays.
        kt__worker_done(&tr->w, KTPB__V1__OP_STATUS__OP_CANCELLED, reason, NULL,
                        0);
        return;
    }
    kt__worker_terminal(
        &tr->w,
        shutdown ? KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_SHUTDOWN
                 : KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_CANCELLATION,
        KTPB__V1__OP_STATUS__OP_CANCELLED, reason, &tr->sum,
        KT_TRAINING_ARTIFACT, tr->snap, tr->snap_len);
}

static kt_err
training_restored(training *tr, kt_msg *msg)
{
    char err[1024];
    kt_err rv;

    tr->w.load_corr = 0;
    rv = kt__training_restore(tr, msg, err, sizeof(err));
    kt_msg_free(msg);
    if (tr->w.state != KT_W_LOADING) {
        return KT_OK; // cancelled meanwhile
    }
    if (rv != KT_OK) {
        kt__worker_done(&tr->w, KTPB__V1__OP_STATUS__OP_FAILED, err, NULL, 0);
        return KT_OK;
    }
    if ((rv = kt__training_snapshot(tr)) != KT_OK) {
        kt__worker_done(&tr->w, KTPB__V1__OP_STATUS__OP_FAILED, kt_strerror(rv),
                        NULL, 0);
        return KT_OK;
    }
    tr->w.state = KT_W_RUNNING;
    (void)kt__worker_hook(&tr->w, "restored", kt_trainer_epoch(tr->t));
    training_progress(tr, true);
    return training_self_step(tr);
}

static kt_err
training_handle(void *state, kt_actor *self, kt_msg *msg)
{
    training *tr = state;
    bool again = false;

    if (kt_msg_type(msg) == KT_MSG_TIMER && kt_msg_corr(msg) == KT_TRAIN_STEP) {
        kt_msg_free(msg);
        return training_step(tr);
    }
    switch (kt_msg_type(msg)) {
    case KT_TRAIN_RELEASE:
        kt_msg_free(msg);
        kt_exit(self, KT_OK);
        return KT_OK;
    case KT_TRAIN_CANCEL:
    case KT_TRAIN_SHUTDOWN:
        training_stop(tr, msg);
        kt_msg_free(msg);
        return KT_OK;
    default:
        break;
    }
    if (tr->w.load_corr != 0 && kt_msg_corr(msg) == tr->w.load_corr) {
        return training_restored(tr, msg);
    }
    if (kt__worker_reply(&tr->w, msg, &again)) {
        return again ? training_self_step(tr) : KT_OK;
    }
    kt_log(KT_LOG_DEBUG, "training",
           "actor=training op=%s event=dropped "
           "type=%u",
           tr->w.op_id, kt_msg_type(msg));
    kt_msg_free(msg);
    return KT_OK;
}

static kt_err
training_init(void *state, kt_actor *self, const void *cfg)
{
    training *tr = state;
    kt_err rv;

    if ((rv = kt__worker_init(&tr->w, self, cfg)) != KT_OK) {
        return rv;
    }
    if (tr->w.slice == 0) {
        tr->w.slice = TRAIN_DEFAULT_SLICE;
    }
    if ((rv = training_self_step(tr)) != KT_OK) {
        kt__worker_fini(&tr->w);
    }
    return rv;
}

static void
training_fini(void *state)
{
    training *tr = state;

    kt__worker_fini(&tr->w);
    kt__training_release(tr);
}

const kt_actor_ops training_ops = {
    .name = "training",
    .state_size = sizeof(training),
    .init = training_init,
    .handle = training_handle,
    .fini = training_fini,
};
