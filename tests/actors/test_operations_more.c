// The operations actor (ops_actor_fx.h): a failed save fails the operation
// loudly, cancel/results refusals, and progress reaching subscribers over
// a whole job, resume included.
#include "ops_actor_fx.h"

static atomic_int fsync_fail;

static int
fail_fsync(void *arg, kt_persist_fault_op op, const char *path)
{
    (void)arg;
    (void)path;
    return op == KT_PERSIST_OP_FSYNC && atomic_load(&fsync_fail) ? EIO : 0;
}

Test(operations, failed_checkpoint_save_fails_the_operation_loudly)
{
    kt_backend_cfg bc = {.data_dir = f.dir, .threads = 2};
    Ktpb__V1__OpsReply *keep;
    char *id;

    kt_backend_close(f.b);
    bc.ops.hook = fx_hook;
    bc.ops.hook_arg = &f.g;
    bc.persist.fault = fail_fsync;
    bc.persist.inline_max_bytes = -1; // checkpoints as files: fsynced
    atomic_store(&fsync_fail, 1);
    cr_assert_eq(kt_backend_open(&bc, &f.b), KT_OK);
    f.rt = kt_backend_runtime(f.b);
    f.ops = kt_backend_ops(f.b);
    id = fx_train_ok(&f, 6, 1, -1);
    cr_assert(
        fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_FAILED, FX_TIMEOUT_MS));
    keep = fx_get(&f, id);
    cr_expect(strstr(keep->op->error, "Checkpoint save failed") != NULL, "%s",
              keep->op->error);
    ktpb__v1__ops_reply__free_unpacked(keep, NULL);
    free(id);
}

Test(operations, cancel_and_results_refusals)
{
    Ktpb__V1__OpsCancelRequest c;
    Ktpb__V1__OpsResultsReply *res;
    char *id = cancelled_op(6, 2);

    ktpb__v1__ops_cancel_request__init(&c);
    c.id = FX_S("op_training_20240101_000000_ffffff");
    expect_reply(fx_ask_op(&f, KT_OPS_CANCEL, &c.base), KT_ENOENT,
                 "Operation not found");
    c.id = id;
    expect_reply(fx_ask_op(&f, KT_OPS_CANCEL, &c.base), KT_ESTATE,
                 "cannot go from cancelled");
    res = fx_results(&f, id, true, true);
    cr_expect_eq(res->status, KT_ESTATE);
    cr_expect(strstr(res->message, "not completed") != NULL, "%s",
              res->message);
    ktpb__v1__ops_results_reply__free_unpacked(res, NULL);
    free(id);
}

// The collector: subscribes to every operation from its init and keeps
// the percent of each event it receives.
static pthread_mutex_t col_mu = PTHREAD_MUTEX_INITIALIZER;
static double col_pct[256];
static int col_n;
static atomic_int col_final = -1;
static atomic_int col_subscribed;

static kt_err
col_init(void *state, kt_actor *self, const void *cfg)
{
    Ktpb__V1__OpsSubscribeRequest s;
    kt_msg *m;
    size_t n;

    (void)state;
    ktpb__v1__ops_subscribe_request__init(&s);
    n = ktpb__v1__ops_subscribe_request__get_packed_size(&s);
    if (kt_msg_alloc(&m, KT_OPS_SUBSCRIBE, n) != KT_OK) {
        return KT_ENOMEM;
    }
    ktpb__v1__ops_subscribe_request__pack(&s, kt_msg_body(m));
    if (kt_send(self, *(const kt_aid *)cfg, m) != KT_OK) {
        kt_msg_free(m);
        return KT_ECLOSED;
    }
    return KT_OK;
}

static kt_err
col_handle(void *state, kt_actor *self, kt_msg *msg)
{
    Ktpb__V1__ProgressEvent *e;

    (void)state;
    (void)self;
    if (kt_msg_type(msg) == KT_OPS_REPLY) {
        atomic_store(&col_subscribed, 1);
    } else if (kt_msg_type(msg) == KT_OPS_PROGRESS &&
               (e = ktpb__v1__progress_event__unpack(NULL, kt_msg_len(msg),
                                                     kt_msg_body(msg)))) {
        pthread_mutex_lock(&col_mu);
        if (col_n < 256) {
            col_pct[col_n++] = e->final ? -e->percent - 1 : e->percent;
        }
        pthread_mutex_unlock(&col_mu);
        if (e->final) {
            atomic_store(&col_final, (int)e->status);
        }
        ktpb__v1__progress_event__free_unpacked(e, NULL);
    }
    kt_msg_free(msg);
    return KT_OK;
}

static const kt_actor_ops collector_ops = {
    .name = "collector",
    .init = col_init,
    .handle = col_handle,
};

static bool
run_until(bool (*cond)(void *), void *arg, int ms)
{
    for (int i = 0; i < ms / 2 && !cond(arg); i++) {
        usleep(2000);
    }
    return cond(arg);
}

static bool
col_done(void *arg)
{
    (void)arg;
    return atomic_load(&col_final) >= 0;
}

static bool
col_ready(void *arg)
{
    (void)arg;
    return atomic_load(&col_subscribed) == 1;
}

Test(operations, progress_reaches_subscribers_over_the_whole_job)
{
    kt_aid col;
    char *id;
    int first_after = -1, cancel_final = -1;

    cr_assert_eq(kt_spawn(f.rt, &collector_ops, &f.ops, NULL, &col), KT_OK);
    cr_assert(run_until(col_ready, NULL, FX_TIMEOUT_MS));
    id = cancelled_op(10, 5);
    cr_assert(run_until(col_done, NULL, FX_TIMEOUT_MS));
    cr_expect_eq(atomic_load(&col_final), KTPB__V1__OP_STATUS__OP_CANCELLED);
    atomic_store(&col_final, -1);
    pthread_mutex_lock(&col_mu);
    cancel_final = col_n;
    pthread_mutex_unlock(&col_mu);
    expect_reply(fx_resume(&f, id), 0, "");
    cr_assert(run_until(col_done, NULL, FX_TIMEOUT_MS));
    cr_expect_eq(atomic_load(&col_final), KTPB__V1__OP_STATUS__OP_COMPLETED);
    pthread_mutex_lock(&col_mu);
    first_after = cancel_final < col_n ? cancel_final : -1;
    cr_assert(first_after >= 0);
    // The resumed run starts at 50 % (epoch 5 of 10), not at 0.
    cr_expect_float_eq(col_pct[first_after], 50.0, 1e-9);
    for (int i = first_after + 1; i < col_n - 1; i++) {
        cr_expect(col_pct[i] >= col_pct[i - 1], "progress went back");
    }
    cr_expect_float_eq(col_pct[col_n - 1], -101.0, 1e-9); // final, 100 %
    pthread_mutex_unlock(&col_mu);
    free(id);
}
