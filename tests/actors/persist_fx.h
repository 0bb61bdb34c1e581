// persist_fx.h: the persistence actor through the real runtime, shared by
// test_persistence.c and test_persistence_admin.c (header-only): a data
// directory, the actor with a fault hook, and synchronous requests.
#ifndef KT_TESTS_PERSIST_FX_H
#define KT_TESTS_PERSIST_FX_H

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

static inline int
fault(void *arg, kt_persist_fault_op op, const char *path)
{
    (void)arg;
    (void)path;
    return (int)op == fail_op ? fail_err : 0;
}

static inline void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/kt_persist_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    rt = start_rt(2, 0);
}

static inline void
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

static inline void
teardown(void)
{
    char cmd[300];
    stop_checked(rt);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(persistence, .init = setup, .fini = teardown, .timeout = 30.0);

// ask packs m as type, asks the actor and returns the reply (caller frees).
static inline kt_msg *
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

static inline int
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

static inline void
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

static inline Ktpb__V1__CheckpointAck *
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

static inline int
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

static inline Ktpb__V1__CheckpointLoadReply *
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

#endif // KT_TESTS_PERSIST_FX_H
