// The operations actor's refusals and edge cases (ops_actor_fx.h): start
// validation (the missing file and the command that makes it), resume
// refused in every wrong state, two concurrent resumes with one winner,
// resume after the checkpoint was deleted or with another format, and
// checkpoint_enabled=false (more: test_operations_more.c).
#include "ops_actor_fx.h"

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
