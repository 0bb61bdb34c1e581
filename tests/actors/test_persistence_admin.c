// The persistence actor through the real runtime (persist_fx.h): the
// cleanup timer, stats, delete and list, the workers table, refusing a
// bad directory or a second owner, and completion deleting checkpoints.
#include "persist_fx.h"

static bool
orphan_gone(void *arg)
{
    struct stat st;
    return stat((const char *)arg, &st) != 0;
}

Test(persistence, cleanup_timer_removes_orphans)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/checkpoints/op_orphan/3", dir);
    spawn_persist(20, 0);
    char cmd[1100];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && touch '%s/x'", p, p);
    cr_assert_eq(system(cmd), 0);
    cr_expect(run_until(orphan_gone, p, 5000), "the timer swept the orphan");
}

Test(persistence, stats_delete_cleanup_and_list)
{
    spawn_persist(0, 0);
    create_running("op_1");
    cr_assert_eq(save_status("op_1", 1, 1, "abcd"), KT_OK);
    kt_msg *rep = ask(KT_PERSIST_CKPT_STATS, NULL);
    Ktpb__V1__StatsReply *s =
        ktpb__v1__stats_reply__unpack(NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    cr_assert_not_null(s);
    cr_expect_eq(s->total_checkpoints, 1);
    cr_expect_eq(s->total_size_bytes, 4 + 2);
    cr_expect_eq(s->oldest_checkpoint[strlen(s->oldest_checkpoint) - 1], 'Z');
    ktpb__v1__stats_reply__free_unpacked(s, NULL);
    kt_msg_free(rep);

    Ktpb__V1__CheckpointListRequest lr;
    ktpb__v1__checkpoint_list_request__init(&lr);
    rep = ask(KT_PERSIST_CKPT_LIST, &lr.base);
    Ktpb__V1__CheckpointListReply *l = ktpb__v1__checkpoint_list_reply__unpack(
        NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    cr_assert_not_null(l);
    cr_assert_eq(l->n_checkpoints, 1);
    cr_expect_eq(l->checkpoints[0]->n_artifacts, 1);
    cr_expect_eq(l->checkpoints[0]->artifacts[0]->size, 4);
    ktpb__v1__checkpoint_list_reply__free_unpacked(l, NULL);
    kt_msg_free(rep);

    Ktpb__V1__CleanupRequest cr;
    ktpb__v1__cleanup_request__init(&cr);
    cr.max_age_days = 7;
    rep = ask(KT_PERSIST_CKPT_CLEANUP, &cr.base);
    Ktpb__V1__CleanupReply *c = ktpb__v1__cleanup_reply__unpack(
        NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    cr_assert_not_null(c);
    cr_expect_eq(c->status, KT_OK);
    cr_expect_eq(c->deleted_by_age, 0);
    ktpb__v1__cleanup_reply__free_unpacked(c, NULL);
    kt_msg_free(rep);

    Ktpb__V1__CheckpointDeleteRequest d;
    ktpb__v1__checkpoint_delete_request__init(&d);
    d.op_id = S("op_1");
    for (int round = 0; round < 2; round++) {
        rep = ask(KT_PERSIST_CKPT_DELETE, &d.base);
        Ktpb__V1__CheckpointDeleteReply *dr =
            ktpb__v1__checkpoint_delete_reply__unpack(NULL, kt_msg_len(rep),
                                                      kt_msg_cbody(rep));
        cr_assert_not_null(dr);
        cr_expect_eq(dr->status, round == 0 ? KT_OK : KT_ENOENT);
        cr_expect_eq(dr->deleted, round == 0 ? 1 : 0);
        ktpb__v1__checkpoint_delete_reply__free_unpacked(dr, NULL);
        kt_msg_free(rep);
    }
}

Test(persistence, workers_registry)
{
    spawn_persist(0, 0);
    Ktpb__V1__WorkerRecord w;
    ktpb__v1__worker_record__init(&w);
    w.id = S("w1");
    w.url = S("tcp://127.0.0.1:5555");
    w.capabilities = S("training,backtesting");
    Ktpb__V1__WorkerUpsertRequest u;
    ktpb__v1__worker_upsert_request__init(&u);
    u.worker = &w;
    kt_msg *rep = ask(KT_PERSIST_WORKER_UPSERT, &u.base);
    Ktpb__V1__WorkerReply *r = ktpb__v1__worker_reply__unpack(
        NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    cr_assert_not_null(r);
    cr_expect_eq(r->status, KT_OK);
    ktpb__v1__worker_reply__free_unpacked(r, NULL);
    kt_msg_free(rep);
    rep = ask(KT_PERSIST_WORKER_LIST, NULL);
    r = ktpb__v1__worker_reply__unpack(NULL, kt_msg_len(rep),
                                       kt_msg_cbody(rep));
    cr_assert_not_null(r);
    cr_assert_eq(r->n_workers, 1);
    cr_expect_str_eq(r->workers[0]->url, "tcp://127.0.0.1:5555");
    ktpb__v1__worker_reply__free_unpacked(r, NULL);
    kt_msg_free(rep);
    u.worker = NULL;
    rep = ask(KT_PERSIST_WORKER_UPSERT, &u.base);
    r = ktpb__v1__worker_reply__unpack(NULL, kt_msg_len(rep),
                                       kt_msg_cbody(rep));
    cr_assert_not_null(r);
    cr_expect_eq(r->status, KT_EINVAL);
    ktpb__v1__worker_reply__free_unpacked(r, NULL);
    kt_msg_free(rep);
}

Test(persistence, spawn_fails_on_bad_dir_or_second_owner)
{
    kt_spawn_opts o = {.dedicated = true};
    kt_persist_cfg c = {.data_dir = NULL};
    kt_aid a;
    cr_expect_neq(kt_spawn(rt, &persistence_ops, &c, &o, &a), KT_OK);
    cr_expect_neq(kt_spawn(rt, &persistence_ops, NULL, &o, &a), KT_OK);
    spawn_persist(0, 0);
    c.data_dir = dir;
    cr_expect_eq(kt_spawn(rt, &persistence_ops, &c, &o, &a), KT_ESTATE);
}

Test(persistence, completion_deletes_checkpoints)
{
    char p[512];
    struct stat st;
    spawn_persist(0, 0);
    create_running("op_done");
    cr_assert_eq(save_status("op_done", 1, 1, "w"), KT_OK);
    Ktpb__V1__OpTransitionRequest t;
    ktpb__v1__op_transition_request__init(&t);
    t.id = S("op_done");
    t.to = KTPB__V1__OP_STATUS__OP_COMPLETED;
    cr_assert_eq(op_call(KT_PERSIST_OP_TRANSITION, &t.base, NULL, 0), KT_OK);
    snprintf(p, sizeof(p), "%s/checkpoints/op_done", dir);
    cr_expect_neq(stat(p, &st), 0);
    Ktpb__V1__CheckpointLoadReply *r = load("op_done", 1);
    cr_expect_eq(r->status, KT_ENOENT);
    ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
}
