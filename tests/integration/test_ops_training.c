// Training operations end to end over a real backend: the guide's
// Scenario 1 (train, cancel, list resumable, show, resume, complete), an
// injected failure with its failure checkpoint and a resume, graceful
// shutdown, and bit-identical weights after one and two resumes.
#include <math.h>
#include <sys/stat.h>

#include "domain/mlp.h"
#include "domain/model.h"
#include "ops_fixture.h"

static fx f;

static void
setup(void)
{
    fx_setup(&f);
}

static void
teardown(void)
{
    fx_teardown(&f);
}

TestSuite(ops_training, .init = setup, .fini = teardown, .timeout = 60.0);

static Ktpb__V1__CheckpointShowReply *
show(const char *id)
{
    Ktpb__V1__CheckpointShowRequest q;
    Ktpb__V1__CheckpointShowReply *r;
    kt_msg *rep;

    ktpb__v1__checkpoint_show_request__init(&q);
    q.op_id = FX_S(id);
    rep = fx_ask(&f, KT_OPS_CKPT_SHOW, &q.base);
    cr_assert_eq(kt_msg_type(rep), KT_OPS_CKPT_SHOW_REPLY);
    r = ktpb__v1__checkpoint_show_reply__unpack(NULL, kt_msg_len(rep),
                                                kt_msg_body(rep));
    kt_msg_free(rep);
    cr_assert_not_null(r);
    return r;
}

static Ktpb__V1__OpsListReply *
list(bool resumable, Ktpb__V1__OpStatus st)
{
    Ktpb__V1__OpsListRequest q;
    Ktpb__V1__OpsListReply *r;
    kt_msg *rep;

    ktpb__v1__ops_list_request__init(&q);
    q.resumable = resumable;
    if (st != 0) {
        q.n_statuses = 1;
        q.statuses = &st;
    }
    rep = fx_ask(&f, KT_OPS_LIST, &q.base);
    cr_assert_eq(kt_msg_type(rep), KT_OPS_LIST_REPLY);
    r = ktpb__v1__ops_list_reply__unpack(NULL, kt_msg_len(rep),
                                         kt_msg_body(rep));
    kt_msg_free(rep);
    cr_assert_not_null(r);
    return r;
}

static Ktpb__V1__OperationRecord *
get_rec(const char *id, Ktpb__V1__OpsReply **keep)
{
    *keep = fx_get(&f, id);
    cr_assert_eq((*keep)->status, 0, "%s", (*keep)->message);
    return (*keep)->op;
}

// model_params copies the weights of the model a completed op saved.
static float *
model_params(const char *id, size_t *n, char *path, size_t pathlen)
{
    Ktpb__V1__OpsResultsReply *r = fx_results(&f, id, false, false);
    kt_model *m;
    char err[256];
    float *p;

    cr_assert_eq(r->status, 0, "%s", r->message);
    cr_assert_not_null(r->training);
    snprintf(path, pathlen, "%s", r->training->model_path);
    cr_assert_eq(kt_model_load(r->training->model_path, &m, err, sizeof(err)),
                 KT_OK, "%s", err);
    *n = kt_mlp_n_params(kt_model_mlp(m));
    p = malloc(*n * sizeof(float));
    memcpy(p, kt_mlp_params_const(kt_model_mlp(m)), *n * sizeof(float));
    kt_model_free(m);
    ktpb__v1__ops_results_reply__free_unpacked(r, NULL);
    return p;
}

Test(ops_training, scenario1_cancel_list_show_resume_complete)
{
    Ktpb__V1__CheckpointShowReply *s;
    Ktpb__V1__OperationRecord *op;
    Ktpb__V1__OpsListReply *l;
    Ktpb__V1__OpsReply *keep, *r;
    char path[512];
    struct stat st;
    int64_t epoch;
    size_t n;
    char *id;
    float *w;

    fx_gate_set(&f, "epoch", 7, false);
    id = fx_train_ok(&f, 10, 0, -1);
    cr_assert(strncmp(id, "op_training_", 12) == 0, "id %s", id);
    cr_assert_eq(strlen(id), strlen("op_training_20241213_143022_abc123"));
    fx_cancel_held(&f, id);
    cr_assert(fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_CANCELLED,
                             FX_TIMEOUT_MS));
    op = get_rec(id, &keep);
    cr_expect_str_eq(op->error, "Cancelled by user");
    // Cancelled at the gate (epoch 7), or one epoch later at the latest.
    cr_expect(op->checkpoint_unit_value == 7 || op->checkpoint_unit_value == 8,
              "cancelled at epoch %lld", (long long)op->checkpoint_unit_value);
    cr_expect_float_eq(op->progress_percent,
                       10.0 * (double)op->checkpoint_unit_value, 1e-9);
    cr_expect_eq(op->checkpoint_type,
                 KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_CANCELLATION);
    epoch = op->checkpoint_unit_value;
    ktpb__v1__ops_reply__free_unpacked(keep, NULL);

    l = list(true, 0);
    cr_assert_eq(l->n_ops, 1);
    cr_expect_str_eq(l->ops[0]->id, id);
    ktpb__v1__ops_list_reply__free_unpacked(l, NULL);
    l = list(false, KTPB__V1__OP_STATUS__OP_CANCELLED);
    cr_expect_eq(l->n_ops, 1);
    ktpb__v1__ops_list_reply__free_unpacked(l, NULL);

    s = show(id);
    cr_assert_eq(s->status, 0, "%s", s->message);
    cr_expect_eq(s->type, KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_CANCELLATION);
    cr_expect_str_eq(s->op_type, "training");
    cr_expect_str_eq(s->unit, "epoch");
    cr_expect_eq(s->unit_value, epoch);
    cr_expect_eq(s->unit_total, 10);
    cr_expect(s->has_val && s->train_loss > 0 && s->val_loss > 0);
    cr_expect(s->best_val_loss > 0 && s->best_val_loss <= s->val_loss);
    cr_expect_float_eq(s->learning_rate, 0.005, 1e-12);
    cr_expect(strstr(s->created_at, " UTC") != NULL, "%s", s->created_at);
    cr_expect(stat(s->artifacts_path, &st) == 0, "%s", s->artifacts_path);
    ktpb__v1__checkpoint_show_reply__free_unpacked(s, NULL);

    r = fx_resume(&f, id);
    cr_assert_eq(r->status, 0, "%s", r->message);
    cr_expect_str_eq(r->op->id, id);
    cr_expect_eq(r->op->status, KTPB__V1__OP_STATUS__OP_RUNNING);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    cr_assert(fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED,
                             FX_TIMEOUT_MS));
    op = get_rec(id, &keep);
    cr_expect_float_eq(op->progress_percent, 100.0, 1e-9);
    cr_expect_eq(op->checkpoint_seq, 0, "checkpoints deleted on completion");
    ktpb__v1__ops_reply__free_unpacked(keep, NULL);
    w = model_params(id, &n, path, sizeof(path));
    cr_expect(strstr(path, "/models/ops_test/1h_v1") != NULL, "%s", path);
    cr_expect(n > 0 && isfinite(w[0]));
    free(w);
    s = show(id);
    cr_expect_eq(s->status, KT_ENOENT);
    cr_expect(strstr(s->message, "No checkpoint found for operation") != NULL,
              "%s", s->message);
    ktpb__v1__checkpoint_show_reply__free_unpacked(s, NULL);
    free(id);
}

Test(ops_training, injected_failure_saves_failure_checkpoint_then_resumes)
{
    Ktpb__V1__CheckpointShowReply *s;
    Ktpb__V1__OperationRecord *op;
    Ktpb__V1__OpsReply *keep, *r;
    char *id;

    fx_gate_set(&f, "epoch", 4, true);
    id = fx_train_ok(&f, 8, 0, -1);
    cr_assert(
        fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_FAILED, FX_TIMEOUT_MS));
    op = get_rec(id, &keep);
    cr_expect(strstr(op->error, "Injected failure at epoch 4") != NULL, "%s",
              op->error);
    ktpb__v1__ops_reply__free_unpacked(keep, NULL);
    s = show(id);
    cr_assert_eq(s->status, 0, "%s", s->message);
    cr_expect_eq(s->type, KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_FAILURE);
    cr_expect_eq(s->unit_value, 4);
    ktpb__v1__checkpoint_show_reply__free_unpacked(s, NULL);
    r = fx_resume(&f, id);
    cr_assert_eq(r->status, 0, "%s", r->message);
    cr_expect_eq(r->op->attempt, 2);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    cr_assert(fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED,
                             FX_TIMEOUT_MS));
    free(id);
}

Test(ops_training, shutdown_saves_shutdown_checkpoint_and_cancels)
{
    Ktpb__V1__OpsShutdownRequest q;
    Ktpb__V1__CheckpointShowReply *s;
    Ktpb__V1__OperationRecord *op;
    Ktpb__V1__OpsReply *keep, *r;
    char *id;

    fx_gate_set(&f, "epoch", 2, false);
    id = fx_train_ok(&f, 10, 0, -1);
    cr_assert(fx_gate_wait(&f));
    ktpb__v1__ops_shutdown_request__init(&q);
    fx_send(&f, KT_OPS_SHUTDOWN, &q.base); // every operation
    (void)fx_status(&f, id);
    fx_gate_release(&f);
    cr_assert(fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_CANCELLED,
                             FX_TIMEOUT_MS));
    op = get_rec(id, &keep);
    cr_expect_str_eq(op->error, "Graceful shutdown - checkpoint saved");
    ktpb__v1__ops_reply__free_unpacked(keep, NULL);
    s = show(id);
    cr_expect_eq(s->type, KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_SHUTDOWN);
    cr_expect(s->unit_value == 2 || s->unit_value == 3);
    ktpb__v1__checkpoint_show_reply__free_unpacked(s, NULL);
    r = fx_resume(&f, id);
    cr_expect_eq(r->status, 0, "%s", r->message);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    cr_assert(fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED,
                             FX_TIMEOUT_MS));
    free(id);
}

// run_interrupted trains 12 epochs, cancelling at each epoch in stops[]
// and resuming; returns the final weights.
static float *
run_interrupted(const int64_t *stops, int nstops, size_t *n)
{
    Ktpb__V1__OpsReply *r;
    char path[512];
    char *id;
    float *w;

    fx_gate_set(&f, "epoch", nstops > 0 ? stops[0] : -1, false);
    f.g.calls = 0;
    id = fx_train_ok(&f, 12, 0, -1);
    for (int i = 0; i < nstops; i++) {
        fx_cancel_held(&f, id);
        cr_assert(fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_CANCELLED,
                                 FX_TIMEOUT_MS));
        fx_gate_set(&f, "epoch", i + 1 < nstops ? stops[i + 1] : -1, false);
        r = fx_resume(&f, id);
        cr_assert_eq(r->status, 0, "%s", r->message);
        ktpb__v1__ops_reply__free_unpacked(r, NULL);
    }
    cr_assert(fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED,
                             FX_TIMEOUT_MS));
    // Each epoch ran exactly once: the resumes continued, not restarted.
    cr_expect_eq(f.g.calls, 12, "epochs run: %d", f.g.calls);
    w = model_params(id, n, path, sizeof(path));
    free(id);
    return w;
}

Test(ops_training, resumed_weights_are_bit_identical_to_uninterrupted)
{
    const int64_t once[] = {5};
    const int64_t twice[] = {3, 9};
    size_t n0, n1, n2;
    float *w0 = run_interrupted(NULL, 0, &n0);
    float *w1 = run_interrupted(once, 1, &n1);
    float *w2 = run_interrupted(twice, 2, &n2);

    cr_assert_eq(n0, n1);
    cr_assert_eq(n0, n2);
    cr_expect_eq(memcmp(w0, w1, n0 * sizeof(float)), 0,
                 "one resume changed the weights");
    cr_expect_eq(memcmp(w0, w2, n0 * sizeof(float)), 0,
                 "two resumes changed the weights");
    free(w0);
    free(w1);
    free(w2);
}
