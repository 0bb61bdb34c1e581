// The worker registry actor with fake workers (registry_fx.h): every bad
// request, placement, dispatch deadline and loss by heartbeat timeout
// (ends, control routing and reclaim: test_workers_reclaim.c).
#include "registry_fx.h"

Test(workers_registry, register_refuses_bad_requests)
{
    Ktpb__V1__WorkerRegister g;
    Ktpb__V1__OpClaim c[KT_WK_MAX_SLOTS + 1], *pc[KT_WK_MAX_SLOTS + 1];
    char *capv[1] = {s_training}, unknown[] = "cooking";
    char longid[80];
    kt_msg *rep;

    start(500, 1000, false);
    ktpb__v1__worker_register__init(&g);
    g.capabilities = capv;
    g.n_capabilities = 1;
    g.worker_id = (char *)(uintptr_t) "";
    cr_assert_eq(status_of(ask_pb(KT_WK_REGISTER, &g.base)), KT_EINVAL);
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    g.worker_id = longid;
    cr_assert_eq(status_of(ask_pb(KT_WK_REGISTER, &g.base)), KT_EINVAL);
    g.worker_id = (char *)(uintptr_t) "w";
    capv[0] = unknown;
    cr_assert_eq(status_of(ask_pb(KT_WK_REGISTER, &g.base)), KT_EINVAL);
    g.n_capabilities = 0;
    cr_assert_eq(status_of(ask_pb(KT_WK_REGISTER, &g.base)), KT_EINVAL);
    capv[0] = s_training;
    g.n_capabilities = 1;
    for (int i = 0; i <= (int)KT_WK_MAX_SLOTS; i++) {
        ktpb__v1__op_claim__init(&c[i]);
        c[i].op_id = (char *)(uintptr_t) "op";
        pc[i] = &c[i];
    }
    g.ops = pc;
    g.n_ops = KT_WK_MAX_SLOTS + 1;
    cr_assert_eq(status_of(ask_pb(KT_WK_REGISTER, &g.base)), KT_EINVAL);
    cr_assert_eq(status_of(ask(KT_WK_REGISTER, "\xff\xff\xff", 3)), KT_EPROTO);
    // Nothing got registered.
    Ktpb__V1__RegistryListRequest q;
    ktpb__v1__registry_list_request__init(&q);
    rep = ask_pb(KT_WK_LIST, &q.base);
    Ktpb__V1__RegistryListReply *l = ktpb__v1__registry_list_reply__unpack(
        NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    kt_msg_free(rep);
    cr_assert_not_null(l);
    cr_expect_eq(l->n_workers, 0);
    ktpb__v1__registry_list_reply__free_unpacked(l, NULL);
}

Test(workers_registry, heartbeat_of_unknown_worker_asks_to_register)
{
    Ktpb__V1__WorkerHeartbeat h;
    Ktpb__V1__WorkerHeartbeatReply *r;
    kt_msg *rep;

    start(500, 1000, false);
    ktpb__v1__worker_heartbeat__init(&h);
    h.worker_id = (char *)(uintptr_t) "ghost";
    rep = ask_pb(KT_WK_HEARTBEAT, &h.base);
    cr_assert_eq(kt_msg_type(rep), KT_WK_HEARTBEAT_REPLY);
    r = ktpb__v1__worker_heartbeat_reply__unpack(NULL, kt_msg_len(rep),
                                                 kt_msg_cbody(rep));
    kt_msg_free(rep);
    cr_assert_eq(r->status, KT_ENOENT);
    cr_assert_neq(r->backend_boot, 0);
    ktpb__v1__worker_heartbeat_reply__free_unpacked(r, NULL);
    rep = ask(KT_WK_HEARTBEAT, "\xff\xff", 2);
    r = ktpb__v1__worker_heartbeat_reply__unpack(NULL, kt_msg_len(rep),
                                                 kt_msg_cbody(rep));
    kt_msg_free(rep);
    cr_assert_eq(r->status, KT_EPROTO);
    ktpb__v1__worker_heartbeat_reply__free_unpacked(r, NULL);
}

Test(workers_registry, dispatch_refuses_bad_requests_and_times_out)
{
    kt_msg *rep;
    Ktpb__V1__WorkersReply *r;

    start(500, 100, false);
    cr_assert_eq(status_of(dispatch("", "training", 8)), KT_EINVAL);
    cr_assert_eq(status_of(dispatch("op_a", "cooking", 8)), KT_EINVAL);
    cr_assert_eq(status_of(dispatch("op_a", "training", 0)), KT_EINVAL);
    cr_assert_eq(status_of(ask(KT_WK_DISPATCH, "\xff", 1)), KT_EPROTO);
    int64_t t0 = kt_mono_ns();
    rep = dispatch("op_a", "training", 8); // nobody to run it
    r = ktpb__v1__workers_reply__unpack(NULL, kt_msg_len(rep),
                                        kt_msg_cbody(rep));
    kt_msg_free(rep);
    cr_assert_eq(r->status, KT_ETIMEDOUT);
    cr_assert_str_eq(r->message, "no worker available for training operations");
    cr_assert_geq(kt_mono_ns() - t0, 90000000LL, "waited for a worker");
    ktpb__v1__workers_reply__free_unpacked(r, NULL);
}

Test(workers_registry, dispatch_goes_to_a_capable_worker)
{
    kt_aid bt, tr;
    Ktpb__V1__WorkerRun *run;
    kt_msg *rep;
    Ktpb__V1__WorkersReply *r;

    start(500, 300, false);
    bt = fake_worker(0);
    tr = fake_worker(0);
    register_as(bt, "bt-1", 1, s_backtesting, NULL, 0);
    register_as(tr, "tr-1", 2, s_training, NULL, 0);
    rep = dispatch("op_t", "training", 8);
    r = ktpb__v1__workers_reply__unpack(NULL, kt_msg_len(rep),
                                        kt_msg_cbody(rep));
    kt_msg_free(rep);
    cr_assert_eq(r->status, KT_OK, "%s", r->message);
    cr_assert_str_eq(r->worker_id, "tr-1");
    ktpb__v1__workers_reply__free_unpacked(r, NULL);
    cr_assert_eq(count(bt, KT_WK_RUN), 0);
    run = (Ktpb__V1__WorkerRun *)last(tr, KT_WK_RUN,
                                      &ktpb__v1__worker_run__descriptor);
    cr_assert_str_eq(run->op_id, "op_t");
    cr_assert_eq(run->assign.len, 8);
    protobuf_c_message_free_unpacked(&run->base, NULL);
    // The training worker's one slot is taken: the next training op
    // waits, then times out.
    rep = dispatch("op_u", "training", 8);
    cr_assert_eq(status_of(rep), KT_ETIMEDOUT);
}

Test(workers_registry, a_refused_run_is_reported_to_the_requester)
{
    kt_aid w;

    start(500, 3000, false);
    w = fake_worker(KT_EINVAL);
    register_as(w, "picky", 1, s_training, NULL, 0);
    cr_assert_eq(status_of(dispatch("op_b", "training", 8)), KT_EINVAL);
}

Test(workers_registry, a_full_worker_is_skipped_until_it_heartbeats)
{
    kt_aid w;

    start(500, 200, false);
    w = fake_worker(KT_EAGAIN);
    register_as(w, "full", 1, s_training, NULL, 0);
    // Refused once, then skipped: the dispatch waits and times out.
    cr_assert_eq(status_of(dispatch("op_f", "training", 8)), KT_ETIMEDOUT);
    cr_assert_eq(count(w, KT_WK_RUN), 1, "asked once, not in a loop");
}

Test(workers_registry, silent_worker_is_lost_and_its_ops_failed)
{
    Ktpb__V1__WorkerDone *d;
    kt_aid w;

    start(50, 3000, false); // 2 misses x 50 ms
    w = fake_worker(0);
    register_as(w, "quiet", 1, s_training, NULL, 0);
    cr_assert_eq(status_of(dispatch("op_q", "training", 8)), KT_OK);
    cr_assert(wait_count(opsa, KT_OPS_WORKER_DONE, 1, 3000),
              "no failure reported");
    d = (Ktpb__V1__WorkerDone *)last(opsa, KT_OPS_WORKER_DONE,
                                     &ktpb__v1__worker_done__descriptor);
    cr_assert_str_eq(d->op_id, "op_q");
    cr_assert_eq(d->status, KTPB__V1__OP_STATUS__OP_FAILED);
    cr_assert(strstr(d->error, "Worker quiet lost: no heartbeat") != NULL, "%s",
              d->error);
    protobuf_c_message_free_unpacked(&d->base, NULL);
}
