// The persistence actor with its default inline threshold: small periodic
// checkpoints come back from their row (no directory, path ""), big ones
// and terminal ones from files; a writer's hash is checked inline and on
// load; damage to an inline row falls back with the warn line.
#include <ktpb/v1/persist.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include <kt/kt.h>
#include <kt/sha256.h>

#include "persistence/persistence.h"
#include "support/kt_test.h"

#define S(x) ((char *)(uintptr_t)(x))

static char dir[256];
static kt_runtime *rt;
static kt_aid pa;

static void
setup(void)
{
    kt_persist_cfg c = {0};
    kt_spawn_opts o = {.name = KT_PERSIST_NAME, .dedicated = true};
    snprintf(dir, sizeof(dir), "/tmp/kt_pinl_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    rt = start_rt(2, 0);
    c.data_dir = dir;
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

TestSuite(persist_inline, .init = setup, .fini = teardown, .timeout = 30.0);

static kt_msg *
ask(uint32_t type, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    kt_msg *req, *rep = NULL;
    cr_assert_eq(kt_msg_alloc(&req, type, n), KT_OK);
    protobuf_c_message_pack(m, kt_msg_body(req));
    cr_assert_eq(kt_runtime_ask(rt, pa, req, 10000, &rep), KT_OK);
    return rep;
}

static int
head_status(kt_msg *rep)
{
    Ktpb__V1__ReplyHead *h =
        ktpb__v1__reply_head__unpack(NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    cr_assert_not_null(h);
    int st = h->status;
    ktpb__v1__reply_head__free_unpacked(h, NULL);
    kt_msg_free(rep);
    return st;
}

static void
create_running(const char *id)
{
    Ktpb__V1__OpCreateRequest c;
    Ktpb__V1__OpTransitionRequest t;
    ktpb__v1__op_create_request__init(&c);
    c.id = S(id);
    c.type = S("training");
    cr_assert_eq(head_status(ask(KT_PERSIST_OP_CREATE, &c.base)), 0);
    ktpb__v1__op_transition_request__init(&t);
    t.id = S(id);
    t.to = KTPB__V1__OP_STATUS__OP_RUNNING;
    cr_assert_eq(head_status(ask(KT_PERSIST_OP_TRANSITION, &t.base)), 0);
}

// save sends one artifact of len bytes (value fill) with an optional hash.
static int
save(const char *op, uint64_t seq, Ktpb__V1__CheckpointType type, size_t len,
     uint8_t fill, const uint8_t *sha)
{
    Ktpb__V1__CheckpointEvent e;
    Ktpb__V1__Artifact a, *pa1[1] = {&a};
    uint8_t *buf = malloc(len + 1);
    memset(buf, fill, len);
    ktpb__v1__checkpoint_event__init(&e);
    ktpb__v1__artifact__init(&a);
    a.name = S("model.bin");
    a.data.data = buf;
    a.data.len = len;
    if (sha != NULL) {
        a.sha256.data = (uint8_t *)(uintptr_t)sha;
        a.sha256.len = 32;
    }
    e.op_id = S(op);
    e.attempt = 1;
    e.seq = seq;
    e.type = type;
    e.unit = S("epoch");
    e.format_version = 1;
    e.n_artifacts = 1;
    e.artifacts = pa1;
    int st = head_status(ask(KT_PERSIST_CKPT_SAVE, &e.base));
    free(buf);
    return st;
}

static Ktpb__V1__CheckpointLoadReply *
load(const char *op)
{
    Ktpb__V1__CheckpointLoadRequest l;
    ktpb__v1__checkpoint_load_request__init(&l);
    l.op_id = S(op);
    l.format_version = 1;
    l.with_artifacts = true;
    kt_msg *rep = ask(KT_PERSIST_CKPT_LOAD, &l.base);
    Ktpb__V1__CheckpointLoadReply *r = ktpb__v1__checkpoint_load_reply__unpack(
        NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    kt_msg_free(rep);
    cr_assert_not_null(r);
    return r;
}

static const int PERIODIC = KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_PERIODIC;

Test(persist_inline, small_periodic_inline_big_and_terminal_as_files)
{
    struct stat st;
    char p[400];
    create_running("op_k");
    cr_assert_eq(save("op_k", 1, PERIODIC, 4096, 7, NULL), 0);
    snprintf(p, sizeof(p), "%s/checkpoints/op_k", dir);
    cr_expect_neq(stat(p, &st), 0, "no directory for an inline checkpoint");
    Ktpb__V1__CheckpointLoadReply *r = load("op_k");
    cr_assert_eq(r->status, 0, "%s", r->message);
    cr_expect_str_eq(r->checkpoint->path, "");
    cr_assert_eq(r->checkpoint->n_artifacts, 1);
    cr_assert_eq(r->checkpoint->artifacts[0]->data.len, 4096);
    cr_expect_eq(r->checkpoint->artifacts[0]->data.data[4095], 7);
    ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
    cr_assert_eq(save("op_k", 2, PERIODIC, 70000, 9, NULL), 0);
    r = load("op_k");
    cr_expect(strstr(r->checkpoint->path, "checkpoints/op_k/2") != NULL);
    cr_expect_eq(r->checkpoint->artifacts[0]->data.len, 70000);
    ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
    cr_assert_eq(save("op_k", 3,
                      KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_CANCELLATION, 10, 1,
                      NULL),
                 0);
    r = load("op_k");
    cr_expect(strstr(r->checkpoint->path, "checkpoints/op_k/3") != NULL);
    cr_expect_eq(stat(r->checkpoint->path, &st), 0);
    ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
}

Test(persist_inline, writer_hash_mismatch_is_refused_inline)
{
    uint8_t wrong[32] = {1}, right[32], buf[100];
    create_running("op_h");
    cr_expect_eq(save("op_h", 1, PERIODIC, 100, 3, wrong), KT_ECORRUPT);
    memset(buf, 3, sizeof(buf));
    kt_sha256(buf, sizeof(buf), right);
    cr_expect_eq(save("op_h", 1, PERIODIC, 100, 3, right), 0);
}

Test(persist_inline, damaged_inline_row_falls_back_and_logs)
{
    char p[400];
    sqlite3 *db;
    create_running("op_f");
    cr_assert_eq(save("op_f", 1, PERIODIC, 50, 1, NULL), 0);
    cr_assert_eq(save("op_f", 2, PERIODIC, 50, 2, NULL), 0);
    // Another connection damages seq 2's bytes (WAL allows it).
    snprintf(p, sizeof(p), "%s/ktrdr.db", dir);
    cr_assert_eq(sqlite3_open(p, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    cr_assert_eq(sqlite3_exec(db,
                              "UPDATE checkpoint_artifacts SET data ="
                              " zeroblob(50) WHERE seq = 2",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    log_capture_start();
    Ktpb__V1__CheckpointLoadReply *r = load("op_f");
    cr_assert_eq(r->status, 0, "%s", r->message);
    cr_expect(r->fell_back);
    cr_expect_eq(r->checkpoint->seq, 1);
    cr_expect_eq(r->checkpoint->artifacts[0]->data.data[0], 1);
    cr_expect(strstr(r->message, "fails its sha256") != NULL, "%s", r->message);
    ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
    cr_expect(log_wait("event=checkpoint_fallback op=op_f", 5000));
    log_capture_stop();
}
