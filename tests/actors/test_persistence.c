// The persistence actor through the real runtime: every request type, error
// replies for bad input (malformed, unknown, oversized), fault injection,
// the cleanup timer and the fallback log line.
#include <errno.h>
#include <ktpb/v1/persist.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <kt/kt.h>
#include <kt/sha256.h>

#include "persistence/persistence.h"
#include "support/kt_test.h"

#define S(x) ((char *)(uintptr_t)(x)) // protobuf-c wants char *

static char dir[256];
static kt_runtime *rt;
static kt_aid pa;
static int fail_op = -1, fail_err;
static int64_t inline_max; // the actor's inline threshold (0 = default)

static int
fault(void *arg, kt_persist_fault_op op, const char *path)
{
    (void)arg;
    (void)path;
    return (int)op == fail_op ? fail_err : 0;
}

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/kt_persist_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    rt = start_rt(2, 0);
}

static void
spawn_persist(uint32_t cleanup_ms, size_t max_req)
{
    kt_persist_cfg c = {.data_dir = dir,
                        .cleanup_interval_ms = cleanup_ms,
                        .max_request_bytes = max_req,
                        .fault = fault,
                        .inline_max_bytes = inline_max};
    kt_spawn_opts o = {.name = KT_PERSIST_NAME, .dedicated = true};
    cr_assert_eq(kt_spawn(rt, &persistence_ops, &c, &o, &pa), KT_OK);
}

static void
teardown(void)
{
    char cmd[300];
    stop_checked(rt);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(persistence, .init = setup, .fini = teardown, .timeout = 30.0);

// ask packs m as type, asks the actor and returns the reply (caller frees).
static kt_msg *
ask(uint32_t type, const ProtobufCMessage *m)
{
    size_t n = m != NULL ? protobuf_c_message_get_packed_size(m) : 0;
    kt_msg *req, *rep = NULL;
    cr_assert_eq(kt_msg_alloc(&req, type, n), KT_OK);
    if (m != NULL) {
        protobuf_c_message_pack(m, kt_msg_body(req));
    }
    cr_assert_eq(kt_runtime_ask(rt, pa, req, 10000, &rep), KT_OK);
    return rep;
}

static int
op_call(uint32_t type, const ProtobufCMessage *m, char *msg, size_t cap)
{
    kt_msg *rep = ask(type, m);
    cr_assert_eq(kt_msg_type(rep), KT_PERSIST_OP_REPLY);
    Ktpb__V1__OpReply *r =
        ktpb__v1__op_reply__unpack(NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    cr_assert_not_null(r);
    int st = r->status;
    if (msg != NULL) {
        snprintf(msg, cap, "%s", r->message);
    }
    ktpb__v1__op_reply__free_unpacked(r, NULL);
    kt_msg_free(rep);
    return st;
}

static void
create_running(const char *id)
{
    Ktpb__V1__OpCreateRequest c;
    ktpb__v1__op_create_request__init(&c);
    c.id = (char *)(uintptr_t)id;
    c.type = S("training");
    cr_assert_eq(op_call(KT_PERSIST_OP_CREATE, &c.base, NULL, 0), KT_OK);
    Ktpb__V1__OpTransitionRequest t;
    ktpb__v1__op_transition_request__init(&t);
    t.id = c.id;
    t.to = KTPB__V1__OP_STATUS__OP_RUNNING;
    cr_assert_eq(op_call(KT_PERSIST_OP_TRANSITION, &t.base, NULL, 0), KT_OK);
}

static Ktpb__V1__CheckpointAck *
save(const char *op, uint32_t attempt, uint64_t seq, const char *art)
{
    Ktpb__V1__CheckpointEvent e;
    Ktpb__V1__Artifact a, *pa1[1] = {&a};
    ktpb__v1__checkpoint_event__init(&e);
    ktpb__v1__artifact__init(&a);
    e.op_id = (char *)(uintptr_t)op;
    e.attempt = attempt;
    e.seq = seq;
    e.type = KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_PERIODIC;
    e.unit = S("epoch");
    e.unit_value = (int64_t)seq;
    e.state.data = (uint8_t *)(uintptr_t) "st";
    e.state.len = 2;
    e.format_version = 1;
    if (art != NULL) {
        a.name = S("model.bin");
        a.data.data = (uint8_t *)(uintptr_t)art;
        a.data.len = strlen(art);
        e.n_artifacts = 1;
        e.artifacts = pa1;
    }
    kt_msg *rep = ask(KT_PERSIST_CKPT_SAVE, &e.base);
    cr_assert_eq(kt_msg_type(rep), KT_PERSIST_CKPT_ACK);
    Ktpb__V1__CheckpointAck *ack = ktpb__v1__checkpoint_ack__unpack(
        NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    kt_msg_free(rep);
    cr_assert_not_null(ack);
    return ack;
}

static int
save_status(const char *op, uint32_t attempt, uint64_t seq, const char *art)
{
    Ktpb__V1__CheckpointAck *ack = save(op, attempt, seq, art);
    int st = ack->status;
    if (st == 0) {
        cr_expect_eq(ack->seq, seq, "ack names the seq");
        cr_expect_str_eq(ack->op_id, op);
    }
    ktpb__v1__checkpoint_ack__free_unpacked(ack, NULL);
    return st;
}

static Ktpb__V1__CheckpointLoadReply *
load(const char *op, uint32_t fmt)
{
    Ktpb__V1__CheckpointLoadRequest l;
    ktpb__v1__checkpoint_load_request__init(&l);
    l.op_id = (char *)(uintptr_t)op;
    l.format_version = fmt;
    l.with_artifacts = true;
    kt_msg *rep = ask(KT_PERSIST_CKPT_LOAD, &l.base);
    cr_assert_eq(kt_msg_type(rep), KT_PERSIST_CKPT_LOAD_REPLY);
    Ktpb__V1__CheckpointLoadReply *r = ktpb__v1__checkpoint_load_reply__unpack(
        NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    kt_msg_free(rep);
    cr_assert_not_null(r);
    return r;
}

Test(persistence, operation_lifecycle_through_messages)
{
    char msg[256];
    spawn_persist(0, 0);
    create_running("op_a");
    Ktpb__V1__OpCreateRequest c;
    ktpb__v1__op_create_request__init(&c);
    c.id = S("op_a");
    c.type = S("training");
    cr_expect_eq(op_call(KT_PERSIST_OP_CREATE, &c.base, msg, sizeof(msg)),
                 KT_ESTATE);
    cr_expect_str_eq(msg, "Operation ID already exists: op_a");

    Ktpb__V1__OpProgressRequest pr;
    ktpb__v1__op_progress_request__init(&pr);
    pr.id = S("op_a");
    pr.percent = 45;
    cr_expect_eq(op_call(KT_PERSIST_OP_PROGRESS, &pr.base, NULL, 0), KT_OK);

    Ktpb__V1__OpGetRequest g;
    ktpb__v1__op_get_request__init(&g);
    g.id = S("op_a");
    kt_msg *rep = ask(KT_PERSIST_OP_GET, &g.base);
    Ktpb__V1__OpReply *r =
        ktpb__v1__op_reply__unpack(NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    cr_assert_not_null(r);
    cr_assert_not_null(r->op);
    cr_expect_eq(r->op->status, KTPB__V1__OP_STATUS__OP_RUNNING);
    cr_expect_float_eq(r->op->progress_percent, 45.0, 1e-9);
    ktpb__v1__op_reply__free_unpacked(r, NULL);
    kt_msg_free(rep);

    g.id = S("op_none");
    cr_expect_eq(op_call(KT_PERSIST_OP_GET, &g.base, msg, sizeof(msg)),
                 KT_ENOENT);
    cr_expect_str_eq(msg, "Operation not found: op_none");

    Ktpb__V1__OpTransitionRequest t;
    ktpb__v1__op_transition_request__init(&t);
    t.id = S("op_a");
    t.to = KTPB__V1__OP_STATUS__OP_RESUMING;
    cr_expect_eq(op_call(KT_PERSIST_OP_TRANSITION, &t.base, msg, sizeof(msg)),
                 KT_ESTATE);
    cr_expect(strstr(msg, "Operation is not in a resumable state") != NULL);
}

Test(persistence, list_filters_resumable)
{
    spawn_persist(0, 0);
    create_running("op_1");
    create_running("op_2");
    cr_assert_eq(save_status("op_1", 1, 1, "w"), KT_OK);
    Ktpb__V1__OpTransitionRequest t;
    ktpb__v1__op_transition_request__init(&t);
    t.to = KTPB__V1__OP_STATUS__OP_CANCELLED;
    t.id = S("op_1");
    cr_assert_eq(op_call(KT_PERSIST_OP_TRANSITION, &t.base, NULL, 0), KT_OK);
    t.id = S("op_2");
    cr_assert_eq(op_call(KT_PERSIST_OP_TRANSITION, &t.base, NULL, 0), KT_OK);
    Ktpb__V1__OpListRequest l;
    ktpb__v1__op_list_request__init(&l);
    l.resumable = true;
    kt_msg *rep = ask(KT_PERSIST_OP_LIST, &l.base);
    cr_assert_eq(kt_msg_type(rep), KT_PERSIST_OP_LIST_REPLY);
    Ktpb__V1__OpListReply *r = ktpb__v1__op_list_reply__unpack(
        NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    cr_assert_not_null(r);
    cr_assert_eq(r->n_ops, 1);
    cr_expect_str_eq(r->ops[0]->id, "op_1");
    cr_expect_eq(r->ops[0]->checkpoint_seq, 1);
    cr_expect_str_eq(r->ops[0]->checkpoint_unit, "epoch");
    ktpb__v1__op_list_reply__free_unpacked(r, NULL);
    kt_msg_free(rep);
}

Test(persistence, save_load_roundtrip_with_verified_artifact)
{
    spawn_persist(0, 0);
    create_running("op_s");
    cr_assert_eq(save_status("op_s", 1, 1, "weights-1"), KT_OK);
    cr_assert_eq(save_status("op_s", 1, 2, "weights-2"), KT_OK);
    Ktpb__V1__CheckpointLoadReply *r = load("op_s", 1);
    cr_assert_eq(r->status, KT_OK, "%s", r->message);
    cr_assert_not_null(r->checkpoint);
    cr_expect_eq(r->checkpoint->seq, 2);
    cr_expect_eq(r->fell_back, false);
    cr_assert_eq(r->checkpoint->n_artifacts, 1);
    cr_expect_eq(r->checkpoint->artifacts[0]->data.len, 9);
    cr_expect_arr_eq(r->checkpoint->artifacts[0]->data.data, "weights-2", 9);
    uint8_t h[32];
    kt_sha256("weights-2", 9, h);
    cr_expect_arr_eq(r->checkpoint->artifacts[0]->sha256.data, h, 32);
    cr_expect_eq(strlen(r->checkpoint->created_at), 20);
    cr_expect_eq(r->checkpoint->created_at[19], 'Z');
    ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
}

Test(persistence, load_errors_use_the_guides_messages)
{
    spawn_persist(0, 0);
    Ktpb__V1__CheckpointLoadReply *r = load("op_x", 1);
    cr_expect_eq(r->status, KT_ENOENT);
    cr_expect_str_eq(r->message, "No checkpoint found for operation op_x");
    cr_expect_null(r->checkpoint);
    ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
    create_running("op_v");
    cr_assert_eq(save_status("op_v", 1, 1, NULL), KT_OK);
    r = load("op_v", 2);
    cr_expect_eq(r->status, KT_EVERSION);
    cr_expect(strncmp(r->message, "Checkpoint version mismatch", 27) == 0);
    ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
}

Test(persistence, fallback_is_reported_and_logged)
{
    char p[512];
    inline_max = -1; // artifact files (test_persistence_inline: in rows)
    spawn_persist(0, 0);
    log_capture_start();
    create_running("op_f");
    cr_assert_eq(save_status("op_f", 1, 1, "good"), KT_OK);
    cr_assert_eq(save_status("op_f", 1, 2, "newer"), KT_OK);
    snprintf(p, sizeof(p), "%s/checkpoints/op_f/2/model.bin", dir);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs("NEWER", f);
    fclose(f);
    Ktpb__V1__CheckpointLoadReply *r = load("op_f", 1);
    cr_assert_eq(r->status, KT_OK);
    cr_expect(r->fell_back);
    cr_expect_eq(r->checkpoint->seq, 1);
    cr_expect(strstr(r->message, "fell back") != NULL, "%s", r->message);
    ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
    cr_expect(log_wait("event=checkpoint_fallback op=op_f", 5000));
    log_capture_stop();
}

Test(persistence, stale_attempt_gets_an_error_ack)
{
    spawn_persist(0, 0);
    create_running("op_z");
    cr_assert_eq(save_status("op_z", 2, 1, "a"), KT_OK);
    Ktpb__V1__CheckpointAck *ack = save("op_z", 1, 2, "zombie");
    cr_expect_eq(ack->status, KT_ESTATE);
    cr_expect(strstr(ack->message, "stale") != NULL, "%s", ack->message);
    ktpb__v1__checkpoint_ack__free_unpacked(ack, NULL);
}

Test(persistence, failed_save_is_loud_and_recorded_on_the_operation)
{
    char msg[256];
    spawn_persist(0, 0);
    create_running("op_e");
    cr_assert_eq(save_status("op_e", 1, 1, "ok"), KT_OK);
    fail_op = KT_PERSIST_OP_DB_COMMIT; // the step inline and file saves share
    fail_err = ENOSPC;
    Ktpb__V1__CheckpointAck *ack = save("op_e", 1, 2, "lost");
    cr_expect_eq(ack->status, (int)(KT_ESYSERR | ENOSPC));
    cr_expect(strstr(ack->message, "not saved") != NULL, "%s", ack->message);
    ktpb__v1__checkpoint_ack__free_unpacked(ack, NULL);
    fail_op = -1;
    Ktpb__V1__OpGetRequest g;
    ktpb__v1__op_get_request__init(&g);
    g.id = S("op_e");
    kt_msg *rep = ask(KT_PERSIST_OP_GET, &g.base);
    Ktpb__V1__OpReply *r =
        ktpb__v1__op_reply__unpack(NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    cr_assert_not_null(r);
    cr_expect(strstr(r->op->error, "Checkpoint save failed") != NULL, "%s",
              r->op->error);
    cr_expect_eq(r->op->checkpoint_seq, 1, "previous checkpoint kept");
    ktpb__v1__op_reply__free_unpacked(r, NULL);
    kt_msg_free(rep);
    (void)msg;
}

Test(persistence, malformed_unknown_and_oversized_requests_get_error_replies)
{
    spawn_persist(0, 4096);
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12};
    const uint32_t types[] = {KT_PERSIST_OP_CREATE, KT_PERSIST_CKPT_SAVE,
                              KT_PERSIST_CKPT_LOAD, KT_PERSIST_OP_LIST,
                              KT_PERSIST_CKPT_DELETE};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        kt_msg *req = msg_new(types[i], junk, sizeof(junk)), *rep = NULL;
        cr_assert_eq(kt_runtime_ask(rt, pa, req, 10000, &rep), KT_OK);
        Ktpb__V1__ReplyHead *e = ktpb__v1__reply_head__unpack(
            NULL, kt_msg_len(rep), kt_msg_cbody(rep));
        cr_assert_not_null(e, "type %u", types[i]);
        cr_expect_eq(e->status, KT_EPROTO, "type %u", types[i]);
        cr_expect(strstr(e->message, "malformed") != NULL);
        ktpb__v1__reply_head__free_unpacked(e, NULL);
        kt_msg_free(rep);
    }
    kt_msg *req = msg_new(298, NULL, 0), *rep = NULL;
    cr_assert_eq(kt_runtime_ask(rt, pa, req, 10000, &rep), KT_OK);
    cr_expect_eq(kt_msg_type(rep), KT_PERSIST_ERROR_REPLY);
    Ktpb__V1__ErrorReply *e =
        ktpb__v1__error_reply__unpack(NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    cr_assert_not_null(e);
    cr_expect_eq(e->status, KT_EPROTO);
    cr_expect_eq(e->request_type, 298);
    ktpb__v1__error_reply__free_unpacked(e, NULL);
    kt_msg_free(rep);
    // Oversized: a valid event bigger than max_request_bytes.
    char *big = malloc(8192);
    memset(big, 'x', 8191);
    big[8191] = '\0';
    create_running("op_big");
    Ktpb__V1__CheckpointAck *ack = save("op_big", 1, 1, big);
    cr_expect_eq(ack->status, KT_EINVAL);
    cr_expect(strstr(ack->message, "exceeds") != NULL, "%s", ack->message);
    ktpb__v1__checkpoint_ack__free_unpacked(ack, NULL);
    free(big);
    // Still alive and well.
    cr_expect_eq(save_status("op_big", 1, 1, "small"), KT_OK);
}

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
