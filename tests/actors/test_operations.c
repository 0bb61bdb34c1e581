// The operations actor's refusals and edge cases: start validation (the
// missing file and the command that makes it), resume refused in every
// wrong state, two concurrent resumes with one winner, resume after the
// checkpoint was deleted or with another format, checkpoint_enabled=false,
// a failed save, cancel/results refusals, progress to subscribers.
#include <errno.h>
#include <ktpb/v1/persist.pb-c.h>
#include <stdatomic.h>

#include "../integration/ops_fixture.h"
#include "persistence/persistence.h"

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

TestSuite(operations, .init = setup, .fini = teardown, .timeout = 60.0);

// pask asks the persistence actor directly and unpacks the reply.
static ProtobufCMessage *
pask(uint32_t type, const ProtobufCMessage *m,
     const ProtobufCMessageDescriptor *d)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    kt_msg *req, *rep = NULL;
    ProtobufCMessage *r;

    cr_assert_eq(kt_msg_alloc(&req, type, n), KT_OK);
    protobuf_c_message_pack(m, kt_msg_body(req));
    cr_assert_eq(kt_runtime_ask(f.rt, kt_backend_persistence(f.b), req,
                                FX_TIMEOUT_MS, &rep),
                 KT_OK);
    r = protobuf_c_message_unpack(d, NULL, kt_msg_len(rep), kt_msg_body(rep));
    kt_msg_free(rep);
    cr_assert_not_null(r);
    return r;
}

static int32_t
ptransition(const char *id, Ktpb__V1__OpStatus to)
{
    Ktpb__V1__OpTransitionRequest t;
    Ktpb__V1__OpReply *r;
    int32_t st;

    ktpb__v1__op_transition_request__init(&t);
    t.id = FX_S(id);
    t.to = to;
    r = (Ktpb__V1__OpReply *)pask(KT_PERSIST_OP_TRANSITION, &t.base,
                                  &ktpb__v1__op_reply__descriptor);
    st = r->status;
    ktpb__v1__op_reply__free_unpacked(r, NULL);
    return st;
}

// pcreate makes an operation straight in persistence (status pending).
static void
pcreate(const char *id)
{
    Ktpb__V1__OpCreateRequest c;
    Ktpb__V1__StartTrainingRequest rq;
    uint8_t meta[512];
    Ktpb__V1__OpReply *r;

    ktpb__v1__start_training_request__init(&rq);
    rq.strategy_path = f.strat;
    rq.symbol = FX_S("AAPL");
    ktpb__v1__op_create_request__init(&c);
    c.id = FX_S(id);
    c.type = FX_S("training");
    c.metadata.len = ktpb__v1__start_training_request__pack(&rq, meta);
    c.metadata.data = meta;
    r = (Ktpb__V1__OpReply *)pask(KT_PERSIST_OP_CREATE, &c.base,
                                  &ktpb__v1__op_reply__descriptor);
    cr_assert_eq(r->status, 0, "%s", r->message);
    ktpb__v1__op_reply__free_unpacked(r, NULL);
}

// psave stores a checkpoint of the given format for a running op.
static void
psave(const char *id, uint32_t format)
{
    Ktpb__V1__CheckpointEvent e;
    Ktpb__V1__CheckpointAck *a;
    uint8_t state[4] = {1, 2, 3, 4};

    ktpb__v1__checkpoint_event__init(&e);
    e.op_id = FX_S(id);
    e.seq = 1;
    e.attempt = 1;
    e.type = KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_PERIODIC;
    e.unit = FX_S("epoch");
    e.unit_value = 1;
    e.state.data = state;
    e.state.len = sizeof(state);
    e.format_version = format;
    a = (Ktpb__V1__CheckpointAck *)pask(KT_PERSIST_CKPT_SAVE, &e.base,
                                        &ktpb__v1__checkpoint_ack__descriptor);
    cr_assert_eq(a->status, 0, "%s", a->message);
    ktpb__v1__checkpoint_ack__free_unpacked(a, NULL);
}

static Ktpb__V1__CheckpointListReply *
plist(const char *id)
{
    Ktpb__V1__CheckpointListRequest q;

    ktpb__v1__checkpoint_list_request__init(&q);
    q.op_id = FX_S(id);
    return (Ktpb__V1__CheckpointListReply *)pask(
        KT_PERSIST_CKPT_LIST, &q.base,
        &ktpb__v1__checkpoint_list_reply__descriptor);
}

static void
expect_reply(Ktpb__V1__OpsReply *r, int32_t status, const char *needle)
{
    cr_expect_eq(r->status, status, "status %d (%s)", r->status, r->message);
    cr_expect(strstr(r->message, needle) != NULL, "'%s' lacks '%s'", r->message,
              needle);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
}

static Ktpb__V1__OpsReply *
train_req(const char *strat, const char *sym, const char *tf, const char *start,
          const char *end)
{
    Ktpb__V1__StartTrainingRequest rq;

    ktpb__v1__start_training_request__init(&rq);
    rq.strategy_path = FX_S(strat);
    rq.symbol = FX_S(sym);
    rq.timeframe = FX_S(tf);
    rq.start_date = FX_S(start);
    rq.end_date = FX_S(end);
    return fx_ask_op(&f, KT_OPS_START_TRAINING, &rq.base);
}

// cancelled_op trains with a cancel at epoch `at` and returns the id.
static char *
cancelled_op(uint32_t epochs, int64_t at)
{
    char *id;

    fx_gate_set(&f, "epoch", at, false);
    id = fx_train_ok(&f, epochs, 0, -1);
    fx_cancel_held(&f, id);
    cr_assert(fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_CANCELLED,
                             FX_TIMEOUT_MS));
    return id;
}

Test(operations, start_refuses_missing_strategy_and_data)
{
    char missing[300];

    snprintf(missing, sizeof(missing), "%s/nope.yaml", f.dir);
    expect_reply(train_req(missing, "AAPL", "1h", "", ""), KT_ENOENT,
                 "Strategy file not found");
    expect_reply(train_req(f.strat, "MSFT", "1h", "2024-01-01", "2024-04-30"),
                 KT_ENOENT,
                 "kt-data generate MSFT 1h --start 2024-01-01 --end "
                 "2024-04-30");
    expect_reply(train_req(f.strat, "MSFT", "1h", "", ""), KT_ENOENT,
                 "MSFT_1h.csv does not exist");
}

Test(operations, start_refuses_bad_input)
{
    Ktpb__V1__StartBacktestRequest bt;
    kt_msg *req, *rep = NULL;

    expect_reply(train_req(f.strat, "AAPL", "4h", "", ""), KT_EINVAL,
                 "does not match");
    expect_reply(train_req(f.strat, "AAPL", "1h", "2024-13-01", ""), KT_EINVAL,
                 "bad date range");
    expect_reply(train_req(f.strat, "AAPL", "1h", "2024-05-01", "2024-01-01"),
                 KT_EINVAL, "bad date range");
    expect_reply(train_req(f.strat, "", "1h", "", ""), KT_EINVAL,
                 "symbol is required");
    expect_reply(train_req("", "AAPL", "1h", "", ""), KT_EINVAL,
                 "strategy_path is required");
    ktpb__v1__start_backtest_request__init(&bt);
    bt.strategy_path = f.strat;
    bt.symbol = FX_S("AAPL");
    bt.model_path = FX_S("/nonexistent/model");
    expect_reply(fx_ask_op(&f, KT_OPS_START_BACKTEST, &bt.base), KT_ENOENT,
                 "Model not found: /nonexistent/model");
    // A body that is not a StartTrainingRequest.
    cr_assert_eq(kt_msg_alloc(&req, KT_OPS_START_TRAINING, 3), KT_OK);
    memcpy(kt_msg_body(req), "\xff\xff\xff", 3);
    cr_assert_eq(kt_runtime_ask(f.rt, f.ops, req, FX_TIMEOUT_MS, &rep), KT_OK);
    {
        Ktpb__V1__OpsReply *r = ktpb__v1__ops_reply__unpack(
            NULL, kt_msg_len(rep), kt_msg_body(rep));
        expect_reply(r, KT_EPROTO, "malformed");
    }
    kt_msg_free(rep);
    // An unknown request type gets an ErrorReply.
    cr_assert_eq(kt_msg_alloc(&req, 398, 0), KT_OK);
    cr_assert_eq(kt_runtime_ask(f.rt, f.ops, req, FX_TIMEOUT_MS, &rep), KT_OK);
    cr_expect_eq(kt_msg_type(rep), KT_OPS_ERROR_REPLY);
    kt_msg_free(rep);
}

Test(operations, resume_refused_in_every_wrong_state)
{
    char *id;

    expect_reply(fx_resume(&f, "op_training_20240101_000000_aaaaaa"), KT_ENOENT,
                 "Operation not found");
    expect_reply(fx_resume(&f, ""), KT_EINVAL, "id is required");
    pcreate("op_training_20240101_000000_000001");
    expect_reply(fx_resume(&f, "op_training_20240101_000000_000001"), KT_ESTATE,
                 "Operation is not in a resumable state");
    expect_reply(fx_resume(&f, "op_training_20240101_000000_000001"), KT_ESTATE,
                 "pending");
    // resuming in the database (nobody here runs it).
    pcreate("op_training_20240101_000000_000002");
    cr_assert_eq(ptransition("op_training_20240101_000000_000002",
                             KTPB__V1__OP_STATUS__OP_RUNNING),
                 0);
    psave("op_training_20240101_000000_000002", KT_OPS_CKPT_FORMAT);
    cr_assert_eq(ptransition("op_training_20240101_000000_000002",
                             KTPB__V1__OP_STATUS__OP_CANCELLED),
                 0);
    cr_assert_eq(ptransition("op_training_20240101_000000_000002",
                             KTPB__V1__OP_STATUS__OP_RESUMING),
                 0);
    expect_reply(fx_resume(&f, "op_training_20240101_000000_000002"), KT_ESTATE,
                 "resuming");
    // running, held at epoch 2.
    fx_gate_set(&f, "epoch", 2, false);
    id = fx_train_ok(&f, 6, 0, -1);
    cr_assert(fx_gate_wait(&f));
    expect_reply(fx_resume(&f, id), KT_ESTATE,
                 "Operation is not in a resumable state");
    expect_reply(fx_resume(&f, id), KT_ESTATE, "running");
    fx_gate_release(&f);
    cr_assert(fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED,
                             FX_TIMEOUT_MS));
    expect_reply(fx_resume(&f, id), KT_ESTATE, "completed");
    free(id);
}

typedef struct resumer {
    fx *f;
    const char *id;
    Ktpb__V1__OpsReply *r;
} resumer;

static void *
resume_thread(void *arg)
{
    resumer *r = arg;
    Ktpb__V1__OpsResumeRequest q;
    size_t n;
    kt_msg *req, *rep = NULL;

    ktpb__v1__ops_resume_request__init(&q);
    q.id = FX_S(r->id);
    n = ktpb__v1__ops_resume_request__get_packed_size(&q);
    if (kt_msg_alloc(&req, KT_OPS_RESUME, n) != KT_OK) {
        return NULL;
    }
    ktpb__v1__ops_resume_request__pack(&q, kt_msg_body(req));
    if (kt_runtime_ask(r->f->rt, r->f->ops, req, FX_TIMEOUT_MS, &rep) ==
        KT_OK) {
        r->r = ktpb__v1__ops_reply__unpack(NULL, kt_msg_len(rep),
                                           kt_msg_body(rep));
        kt_msg_free(rep);
    }
    return NULL;
}

Test(operations, concurrent_resumes_have_exactly_one_winner)
{
    char *id = cancelled_op(8, 3);
    resumer rs[3];
    pthread_t th[3];
    int ok = 0, refused = 0;

    for (int i = 0; i < 3; i++) {
        rs[i] = (resumer){.f = &f, .id = id};
        cr_assert_eq(pthread_create(&th[i], NULL, resume_thread, &rs[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        cr_assert_not_null(rs[i].r);
        if (rs[i].r->status == 0) {
            ok++;
        } else if (rs[i].r->status == KT_ESTATE &&
                   strstr(rs[i].r->message, "not in a resumable state")) {
            refused++;
        }
        ktpb__v1__ops_reply__free_unpacked(rs[i].r, NULL);
    }
    cr_expect_eq(ok, 1);
    cr_expect_eq(refused, 2);
    cr_assert(fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED,
                             FX_TIMEOUT_MS));
    free(id);
}

Test(operations, resume_after_checkpoint_deleted_is_refused)
{
    Ktpb__V1__CheckpointDeleteRequest d;
    Ktpb__V1__CheckpointDeleteReply *dr;
    char *id = cancelled_op(8, 2);
    char want[160];

    ktpb__v1__checkpoint_delete_request__init(&d);
    d.op_id = id;
    dr = (Ktpb__V1__CheckpointDeleteReply *)pask(
        KT_PERSIST_CKPT_DELETE, &d.base,
        &ktpb__v1__checkpoint_delete_reply__descriptor);
    cr_assert_eq(dr->status, 0);
    cr_expect(dr->deleted >= 1);
    ktpb__v1__checkpoint_delete_reply__free_unpacked(dr, NULL);
    snprintf(want, sizeof(want), "No checkpoint found for operation %s", id);
    expect_reply(fx_resume(&f, id), KT_ENOENT, want);
    cr_expect_eq(fx_status(&f, id), KTPB__V1__OP_STATUS__OP_CANCELLED);
    free(id);
}

Test(operations, resume_refuses_another_checkpoint_format)
{
    const char *id = "op_training_20240101_000000_000003";

    pcreate(id);
    cr_assert_eq(ptransition(id, KTPB__V1__OP_STATUS__OP_RUNNING), 0);
    psave(id, KT_OPS_CKPT_FORMAT + 98);
    cr_assert_eq(ptransition(id, KTPB__V1__OP_STATUS__OP_CANCELLED), 0);
    expect_reply(fx_resume(&f, id), KT_EVERSION, "Checkpoint version mismatch");
    cr_expect(
        fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_FAILED, FX_TIMEOUT_MS));
}

// newest_unit returns the unit value of the newest stored checkpoint of id
// (-1 when there is none) and its type in *type.
static int64_t
newest_unit(const char *id, Ktpb__V1__CheckpointType *type)
{
    Ktpb__V1__CheckpointListReply *l = plist(id);
    int64_t v = -1;
    uint64_t seq = 0;

    for (size_t i = 0; i < l->n_checkpoints; i++) {
        if (l->checkpoints[i]->seq > seq) {
            seq = l->checkpoints[i]->seq;
            v = l->checkpoints[i]->unit_value;
            *type = l->checkpoints[i]->type;
        }
    }
    ktpb__v1__checkpoint_list_reply__free_unpacked(l, NULL);
    return v;
}

Test(operations, checkpoint_enabled_false_keeps_only_cancellation)
{
    Ktpb__V1__CheckpointType type = 0;
    char *on, *off;

    // Enabled (default), every 2 epochs: held at epoch 7, epoch 6 is saved
    // (its save may still be on its way: the worker does not wait for it).
    fx_gate_set(&f, "epoch", 7, false);
    on = fx_train_ok(&f, 10, 2, -1);
    cr_assert(fx_gate_wait(&f));
    for (int i = 0; i < 500 && newest_unit(on, &type) != 6; i++) {
        usleep(10000);
    }
    cr_expect_eq(newest_unit(on, &type), 6);
    cr_expect_eq(type, KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_PERIODIC);
    fx_gate_release(&f);
    cr_assert(fx_wait_status(&f, on, KTPB__V1__OP_STATUS__OP_COMPLETED,
                             FX_TIMEOUT_MS));
    // Disabled: nothing periodic, but a cancel still saves.
    fx_gate_set(&f, "epoch", 7, false);
    off = fx_train_ok(&f, 10, 2, 0);
    cr_assert(fx_gate_wait(&f));
    cr_expect_eq(newest_unit(off, &type), -1);
    fx_cancel_held(&f, off);
    cr_assert(fx_wait_status(&f, off, KTPB__V1__OP_STATUS__OP_CANCELLED,
                             FX_TIMEOUT_MS));
    cr_expect(newest_unit(off, &type) >= 7);
    cr_expect_eq(type, KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_CANCELLATION);
    free(on);
    free(off);
}

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
