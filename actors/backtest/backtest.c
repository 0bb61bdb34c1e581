// backtest.c: the backtest actor's messages: slices of at most 100 bars,
// periodic checkpoints every N bars, cancel / shutdown / failure with their
// terminal checkpoints (the engine is exact at any bar), restore on resume
// and the result at the end.
#include "backtest/backtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kt/log.h>

#include "backtest/bt_int.h"
#include "operations/pbmsg.h"
#include "persistence/persistence.h"

// bt_self_step schedules the next slice with a 0 ms timer (see
// training.c): the loop polls its socket between slices.
static kt_err
bt_self_step(bt_actor *b)
{
    uint64_t id;

    return kt_timer_start(b->w.self, 0, false, KT_BT_STEP, &id);
}

// bt_terminal saves a terminal checkpoint of the current bar, then ends.
static void
bt_terminal(bt_actor *b, Ktpb__V1__CheckpointType type, Ktpb__V1__OpStatus end,
            const char *text)
{
    Ktpb__V1__CheckpointSummary sum;
    uint8_t *buf;
    size_t len;
    kt_err rv;

    if (b->bt == NULL) {
        kt__worker_done(&b->w, end, text, NULL, 0);
        return;
    }
    if ((rv = kt_backtest_export(b->bt, &buf, &len)) != KT_OK) {
        kt__worker_done(&b->w, KTPB__V1__OP_STATUS__OP_FAILED,
                        "Checkpoint save failed: cannot export the state", NULL,
                        0);
        return;
    }
    kt__bt_summary(b, &sum);
    kt__worker_terminal(&b->w, type, end, text, &sum, KT_BACKTEST_ARTIFACT, buf,
                        len);
    kt_backtest_buf_free(buf);
}

static void
bt_fail(bt_actor *b, const char *text)
{
    kt_log(KT_LOG_ERR, "backtest",
           "actor=backtest op=%s event=failed "
           "why=\"%s\"",
           b->w.op_id, text);
    bt_terminal(b, KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_FAILURE,
                KTPB__V1__OP_STATUS__OP_FAILED, text);
}

static void
bt_progress(bt_actor *b, bool force)
{
    Ktpb__V1__ProgressEvent ev;
    uint64_t next = kt_backtest_next_bar(b->bt);
    uint64_t total = kt_backtest_n_bars(b->bt);
    const kt_book *book = kt_backtest_book(b->bt);
    size_t ne = 0;
    const double *eq = kt_backtest_equity(b->bt, &ne);
    char step[64];

    (void)book;
    ktpb__v1__progress_event__init(&ev);
    ev.percent = total > 0 ? 100.0 * (double)next / (double)total : 0;
    (void)snprintf(step, sizeof(step), "Bar %llu/%llu",
                   (unsigned long long)next, (unsigned long long)total);
    ev.current_step = step;
    ev.bar = next;
    ev.total_bars = total;
    ev.equity =
        ne > 0 ? eq[ne - 1] : kt_backtest_config(b->bt)->initial_capital;
    ev.pnl = ev.equity - kt_backtest_config(b->bt)->initial_capital;
    ev.status = KTPB__V1__OP_STATUS__OP_RUNNING;
    kt__worker_progress(&b->w, &ev, force);
}

static void
bt_checkpoint(bt_actor *b)
{
    Ktpb__V1__CheckpointSummary sum;
    uint8_t *buf;
    size_t len;
    kt_err rv;

    if ((rv = kt_backtest_export(b->bt, &buf, &len)) == KT_OK) {
        kt__bt_summary(b, &sum);
        rv = kt__worker_checkpoint(
            &b->w, KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_PERIODIC, &sum,
            KT_BACKTEST_ARTIFACT, buf, len);
        kt_backtest_buf_free(buf);
    }
    if (rv != KT_OK) {
        char text[128];
        (void)snprintf(text, sizeof(text), "Checkpoint save failed: %s",
                       kt_strerror(rv));
        bt_fail(b, text);
        return;
    }
    b->last_ckpt_bar = kt_backtest_next_bar(b->bt);
}

static void
bt_complete(bt_actor *b)
{
    uint8_t *res = NULL;
    size_t len = 0;

    bt_progress(b, true);
    if (kt__bt_result(b, &res, &len) != KT_OK) {
        bt_fail(b, "cannot pack the backtest result");
        return;
    }
    kt__worker_done(&b->w, KTPB__V1__OP_STATUS__OP_COMPLETED, "", res, len);
    free(res);
}

static bool
bt_due(bt_actor *b)
{
    if (!b->periodic) {
        return false;
    }
    if (kt_backtest_next_bar(b->bt) - b->last_ckpt_bar >= b->every) {
        return true;
    }
    return b->interval_ms > 0 &&
           kt__mono_ms() - b->w.last_ckpt_ms >= b->interval_ms;
}

static void
bt_prepare(bt_actor *b)
{
    char err[1024];

    b->rq = (Ktpb__V1__StartBacktestRequest *)protobuf_c_message_unpack(
        &ktpb__v1__start_backtest_request__descriptor, NULL, b->w.request_len,
        b->w.request);
    if (b->rq == NULL) {
        kt__worker_done(&b->w, KTPB__V1__OP_STATUS__OP_FAILED,
                        "malformed backtest request", NULL, 0);
        return;
    }
    b->every = b->rq->checkpoint_frequency != 0 ? b->rq->checkpoint_frequency
                                                : KT_OPS_BT_CKPT_EVERY;
    b->periodic =
        b->rq->opt_checkpoint_enabled_case == 0 || b->rq->checkpoint_enabled;
    b->interval_ms = (int64_t)b->rq->checkpoint_interval_s * 1000;
    if (kt__bt_setup(b, err, sizeof(err)) != KT_OK) {
        kt__worker_done(&b->w, KTPB__V1__OP_STATUS__OP_FAILED, err, NULL, 0);
        return;
    }
    b->last_ckpt_bar = kt_backtest_next_bar(b->bt);
    (void)kt__worker_hook(&b->w, "loaded", 0);
    if (b->w.resume && kt__worker_load(&b->w) != KT_OK) {
        kt__worker_done(&b->w, KTPB__V1__OP_STATUS__OP_FAILED,
                        "cannot ask for the checkpoint", NULL, 0);
    }
}

static kt_err
bt_step(bt_actor *b)
{
    char text[256];
    kt_err rv;

    if (b->rq == NULL && b->w.state != KT_W_DONE) {
        bt_prepare(b);
    }
    if (b->w.state != KT_W_RUNNING || b->bt == NULL ||
        !kt__worker_may_step(&b->w)) {
        return KT_OK;
    }
    if ((rv = kt_backtest_step(b->bt, b->w.slice, NULL)) != KT_OK) {
        (void)snprintf(text, sizeof(text), "backtest failed at bar %llu: %s",
                       (unsigned long long)kt_backtest_next_bar(b->bt),
                       kt_strerror(rv));
        bt_fail(b, text);
        return KT_OK;
    }
    rv = kt__worker_hook(&b->w, "bar", (int64_t)kt_backtest_next_bar(b->bt));
    if (rv != KT_OK) {
        (void)snprintf(text, sizeof(text), "Injected failure at bar %llu: %s",
                       (unsigned long long)kt_backtest_next_bar(b->bt),
                       kt_strerror(rv));
        bt_fail(b, text);
        return KT_OK;
    }
    if (kt_backtest_finished(b->bt)) {
        bt_complete(b);
        return KT_OK;
    }
    bt_progress(b, false);
    if (bt_due(b)) {
        bt_checkpoint(b);
    }
    return b->w.state == KT_W_RUNNING ? bt_self_step(b) : KT_OK;
}

static void
bt_stop(bt_actor *b, const kt_msg *msg)
{
    bool shutdown = kt_msg_type(msg) == KT_BT_SHUTDOWN;
    Ktpb__V1__OpControl *c = (Ktpb__V1__OpControl *)kt__pb_unpack(
        &ktpb__v1__op_control__descriptor, msg, "backtest");
    char reason[256];

    kt__strlcpy(reason,
                shutdown ? "Graceful shutdown - checkpoint saved"
                : c != NULL && c->reason[0] ? c->reason
                                            : "Cancelled by user",
                sizeof(reason));
    if (c != NULL) {
        ktpb__v1__op_control__free_unpacked(c, NULL);
    }
    if (b->w.state == KT_W_STOPPING || b->w.state == KT_W_DONE) {
        return;
    }
    if (b->w.state == KT_W_LOADING || b->bt == NULL) {
        kt__worker_done(&b->w, KTPB__V1__OP_STATUS__OP_CANCELLED, reason, NULL,
                        0);
        return;
    }
    bt_terminal(b,
                shutdown ? KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_SHUTDOWN
                         : KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_CANCELLATION,
                KTPB__V1__OP_STATUS__OP_CANCELLED, reason);
}

static kt_err
bt_restored(bt_actor *b, kt_msg *msg)
{
    char err[1024];
    kt_err rv;

    b->w.load_corr = 0;
    rv = kt__bt_restore(b, msg, err, sizeof(err));
    kt_msg_free(msg);
    if (b->w.state != KT_W_LOADING) {
        return KT_OK;
    }
    if (rv != KT_OK) {
        kt__worker_done(&b->w, KTPB__V1__OP_STATUS__OP_FAILED, err, NULL, 0);
        return KT_OK;
    }
    b->w.state = KT_W_RUNNING;
    (void)kt__worker_hook(&b->w, "restored",
                          (int64_t)kt_backtest_next_bar(b->bt));
    bt_progress(b, true);
    return bt_self_step(b);
}

static kt_err
bt_handle(void *state, kt_actor *self, kt_msg *msg)
{
    bt_actor *b = state;
    bool again = false;

    if (kt_msg_type(msg) == KT_MSG_TIMER && kt_msg_corr(msg) == KT_BT_STEP) {
        kt_msg_free(msg);
        return bt_step(b);
    }
    switch (kt_msg_type(msg)) {
    case KT_BT_RELEASE:
        kt_msg_free(msg);
        kt_exit(self, KT_OK);
        return KT_OK;
    case KT_BT_CANCEL:
    case KT_BT_SHUTDOWN:
        bt_stop(b, msg);
        kt_msg_free(msg);
        return KT_OK;
    default:
        break;
    }
    if (b->w.load_corr != 0 && kt_msg_corr(msg) == b->w.load_corr) {
        return bt_restored(b, msg);
    }
    if (kt__worker_reply(&b->w, msg, &again)) {
        return again ? bt_self_step(b) : KT_OK;
    }
    kt_msg_free(msg);
    return KT_OK;
}

static kt_err
bt_init(void *state, kt_actor *self, const void *cfg)
{
    bt_actor *b = state;
    kt_err rv;

    if ((rv = kt__worker_init(&b->w, self, cfg)) != KT_OK) {
        return rv;
    }
    if (b->w.slice == 0 || b->w.slice > KT_BACKTEST_MAX_SLICE) {
        b->w.slice = KT_BACKTEST_MAX_SLICE;
    }
    if ((rv = bt_self_step(b)) != KT_OK) {
        kt__worker_fini(&b->w);
    }
    return rv;
}

static void
bt_fini(void *state)
{
    bt_actor *b = state;

    kt__worker_fini(&b->w);
    kt__bt_release(b);
}

const kt_actor_ops backtest_ops = {
    .name = "backtest",
    .state_size = sizeof(bt_actor),
    .init = bt_init,
    .handle = bt_handle,
    .fini = bt_fini,
};
