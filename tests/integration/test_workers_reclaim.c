// The worker registry actor with fake workers (registry_fx.h): stale ends,
// control routing, reclaim after a backend restart (adopt, abort, grace
// expiry) and replacement of a process.
#include "registry_fx.h"

static void
op_ended(kt_aid w, const char *id, uint64_t inst, const char *op,
         uint32_t attempt)
{
    Ktpb__V1__WorkerDone d;
    Ktpb__V1__WorkerOpEnded e;
    uint8_t buf[256];

    ktpb__v1__worker_done__init(&d);
    d.op_id = (char *)(uintptr_t)op;
    d.attempt = attempt;
    d.status = KTPB__V1__OP_STATUS__OP_COMPLETED;
    ktpb__v1__worker_op_ended__init(&e);
    e.worker_id = (char *)(uintptr_t)id;
    e.instance = inst;
    e.op_id = (char *)(uintptr_t)op;
    e.attempt = attempt;
    e.done.data = buf;
    e.done.len = ktpb__v1__worker_done__pack(&d, buf);
    as(w, KT_WK_OP_ENDED, &e.base);
}

static int32_t
last_status(kt_aid w)
{
    Ktpb__V1__WorkersReply *r = (Ktpb__V1__WorkersReply *)last(
        w, KT_WK_REPLY, &ktpb__v1__workers_reply__descriptor);
    int32_t st = r->status;

    protobuf_c_message_free_unpacked(&r->base, NULL);
    return st;
}

Test(workers_registry, op_end_is_forwarded_once_and_stale_ends_refused)
{
    Ktpb__V1__WorkerControl c;
    Ktpb__V1__WhereRequest q;
    kt_aid w;

    start(500, 3000, false);
    w = fake_worker(0);
    register_as(w, "w1", 7, s_training, NULL, 0);
    cr_assert_eq(status_of(dispatch("op_e", "training", 8)), KT_OK);
    ktpb__v1__where_request__init(&q);
    q.op_id = (char *)(uintptr_t) "op_e";
    cr_assert_eq(status_of(ask_pb(KT_WK_WHERE, &q.base)), KT_OK);
    ktpb__v1__worker_control__init(&c);
    c.op_id = (char *)(uintptr_t) "op_e";
    c.kind = KTPB__V1__WORKER_CONTROL_KIND__WORKER_CONTROL_CANCEL;
    cr_assert_eq(status_of(ask_pb(KT_WK_CONTROL, &c.base)), KT_OK);
    cr_assert(wait_count(w, KT_WK_CONTROL, 1, 3000), "control not routed");
    op_ended(w, "w1", 8, "op_e", 1); // wrong instance
    cr_assert(wait_count(w, KT_WK_REPLY, 1, 3000));
    cr_assert_eq(last_status(w), KT_ESTATE);
    op_ended(w, "w1", 7, "op_e", 2); // wrong attempt
    cr_assert(wait_count(w, KT_WK_REPLY, 2, 3000));
    cr_assert_eq(last_status(w), KT_ESTATE);
    op_ended(w, "w1", 7, "op_e", 1);
    cr_assert(wait_count(w, KT_WK_REPLY, 3, 3000));
    cr_assert_eq(last_status(w), KT_OK);
    cr_assert(wait_count(opsa, KT_OPS_WORKER_DONE, 1, 3000));
    op_ended(w, "w1", 7, "op_e", 1); // again: no longer its claim
    cr_assert(wait_count(w, KT_WK_REPLY, 4, 3000));
    cr_assert_eq(last_status(w), KT_ESTATE);
    cr_assert_eq(count(opsa, KT_OPS_WORKER_DONE), 1, "forwarded once");
    cr_assert_eq(status_of(ask_pb(KT_WK_WHERE, &q.base)), KT_ENOENT);
    cr_assert_eq(status_of(ask_pb(KT_WK_CONTROL, &c.base)), KT_ENOENT);
    cr_assert_eq(status_of(ask(KT_WK_CONTROL, "\xff", 1)), KT_EPROTO);
    cr_assert_eq(status_of(ask(KT_WK_WHERE, "\xff", 1)), KT_EPROTO);
    cr_assert_eq(status_of(ask(KT_WK_OP_ENDED, "\xff", 1)), KT_EPROTO);
}

static Ktpb__V1__OpClaim
claim(const char *op, uint32_t attempt)
{
    Ktpb__V1__OpClaim c;

    ktpb__v1__op_claim__init(&c);
    c.op_id = (char *)(uintptr_t)op;
    c.attempt = attempt;
    c.type = s_training;
    return c;
}

static void
reclaim(Ktpb__V1__OpClaim **ops, size_t n, uint32_t grace_ms)
{
    Ktpb__V1__RegistryReclaim rc;

    ktpb__v1__registry_reclaim__init(&rc);
    rc.ops = ops;
    rc.n_ops = n;
    rc.grace_ms = grace_ms;
    cr_assert_eq(status_of(ask_pb(KT_WK_RECLAIM, &rc.base)), KT_OK);
}

Test(workers_registry, reclaim_adopts_known_claims_and_aborts_the_rest)
{
    Ktpb__V1__OpClaim a = claim("op_a", 2), b = claim("op_b", 1),
                      c = claim("op_c", 1), c_old = claim("op_c", 0);
    Ktpb__V1__OpClaim *early[2] = {&a, &b}, *known[2] = {&a, &c};
    Ktpb__V1__OpClaim *late[1] = {&c_old};
    Ktpb__V1__WorkerRegisterReply *rr;
    Ktpb__V1__WorkerControl *ctl;
    Ktpb__V1__OpsAdoptRequest *ad;
    Ktpb__V1__WorkerLost *lost;
    kt_aid w1, w2;

    start(500, 3000, true);
    w1 = fake_worker(0);
    w2 = fake_worker(0);
    // Before the list of running operations arrives, claims are taken on
    // trust ...
    register_as(w1, "w1", 1, s_training, early, 2);
    rr = last_reg(w1);
    cr_assert_eq(rr->n_stale, 0);
    protobuf_c_message_free_unpacked(&rr->base, NULL);
    // ... and checked when it does: op_a is adopted, op_b aborted.
    reclaim(known, 2, 100);
    cr_assert(wait_count(opsa, KT_OPS_ADOPT, 1, 3000));
    ad = (Ktpb__V1__OpsAdoptRequest *)last(
        opsa, KT_OPS_ADOPT, &ktpb__v1__ops_adopt_request__descriptor);
    cr_assert_str_eq(ad->op_id, "op_a");
    cr_assert_eq(ad->attempt, 2);
    cr_assert_str_eq(ad->worker_id, "w1");
    protobuf_c_message_free_unpacked(&ad->base, NULL);
    cr_assert(wait_count(w1, KT_WK_CONTROL, 1, 3000));
    ctl = (Ktpb__V1__WorkerControl *)last(
        w1, KT_WK_CONTROL, &ktpb__v1__worker_control__descriptor);
    cr_assert_str_eq(ctl->op_id, "op_b");
    cr_assert_eq(ctl->kind,
                 KTPB__V1__WORKER_CONTROL_KIND__WORKER_CONTROL_ABORT);
    protobuf_c_message_free_unpacked(&ctl->base, NULL);
    // After it, an older attempt of a known op is stale at once.
    register_as(w2, "w2", 1, s_training, late, 1);
    rr = last_reg(w2);
    cr_assert_eq(rr->n_stale, 1);
    cr_assert_str_eq(rr->stale[0]->op_id, "op_c");
    protobuf_c_message_free_unpacked(&rr->base, NULL);
    // op_c is not reclaimed within the grace: reported lost, no worker.
    cr_assert(wait_count(supa, KT_WK_LOST, 1, 3000));
    lost = (Ktpb__V1__WorkerLost *)last(supa, KT_WK_LOST,
                                        &ktpb__v1__worker_lost__descriptor);
    cr_assert_str_eq(lost->worker_id, "");
    cr_assert_eq(lost->n_ops, 1);
    cr_assert_str_eq(lost->ops[0]->op_id, "op_c");
    protobuf_c_message_free_unpacked(&lost->base, NULL);
}

Test(workers_registry, a_new_process_with_the_same_id_replaces_the_old)
{
    Ktpb__V1__WorkerLost *lost;
    kt_aid w;

    start(500, 3000, true);
    w = fake_worker(0);
    reclaim(NULL, 0, 100);
    register_as(w, "same", 1, s_training, NULL, 0);
    cr_assert_eq(status_of(dispatch("op_r", "training", 8)), KT_OK);
    register_as(w, "same", 2, s_training, NULL, 0); // restarted process
    cr_assert(wait_count(supa, KT_WK_LOST, 1, 3000));
    lost = (Ktpb__V1__WorkerLost *)last(supa, KT_WK_LOST,
                                        &ktpb__v1__worker_lost__descriptor);
    cr_assert_str_eq(lost->worker_id, "same");
    cr_assert_eq(lost->n_ops, 1);
    cr_assert_str_eq(lost->ops[0]->op_id, "op_r");
    cr_assert(strstr(lost->reason, "replaced") != NULL, "%s", lost->reason);
    protobuf_c_message_free_unpacked(&lost->base, NULL);
}

Test(workers_registry, backend_shutdown_is_broadcast)
{
    kt_aid w1, w2;

    start(500, 3000, false);
    w1 = fake_worker(0);
    w2 = fake_worker(0);
    register_as(w1, "n1", 1, s_training, NULL, 0);
    register_as(w2, "n2", 1, s_backtesting, NULL, 0);
    cr_assert_eq(status_of(ask(KT_WK_NOTIFY_SHUTDOWN, NULL, 0)), KT_OK);
    cr_assert(wait_count(w1, KT_WK_BACKEND_SHUTDOWN, 1, 3000));
    cr_assert(wait_count(w2, KT_WK_BACKEND_SHUTDOWN, 1, 3000));
}
