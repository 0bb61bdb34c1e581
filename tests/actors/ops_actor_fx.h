// ops_actor_fx.h: the operations actor's edge-case tests share a backend
// (ops_fixture.h) and these asks and helpers (header-only), used by
// test_operations.c and test_operations_more.c.
#ifndef KT_TESTS_OPS_ACTOR_FX_H
#define KT_TESTS_OPS_ACTOR_FX_H

#include <errno.h>
#include <ktpb/v1/persist.pb-c.h>
#include <stdatomic.h>

#include "../integration/ops_fixture.h"
#include "persistence/persistence.h"

static fx f;

static inline void
setup(void)
{
    fx_setup(&f);
}

static inline void
teardown(void)
{
    fx_teardown(&f);
}

TestSuite(operations, .init = setup, .fini = teardown, .timeout = 60.0);

// pask asks the persistence actor directly and unpacks the reply.
static inline ProtobufCMessage *
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

static inline int32_t
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
static inline void
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
static inline void
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

static inline Ktpb__V1__CheckpointListReply *
plist(const char *id)
{
    Ktpb__V1__CheckpointListRequest q;

    ktpb__v1__checkpoint_list_request__init(&q);
    q.op_id = FX_S(id);
    return (Ktpb__V1__CheckpointListReply *)pask(
        KT_PERSIST_CKPT_LIST, &q.base,
        &ktpb__v1__checkpoint_list_reply__descriptor);
}

static inline void
expect_reply(Ktpb__V1__OpsReply *r, int32_t status, const char *needle)
{
    cr_expect_eq(r->status, status, "status %d (%s)", r->status, r->message);
    cr_expect(strstr(r->message, needle) != NULL, "'%s' lacks '%s'", r->message,
              needle);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
}

static inline Ktpb__V1__OpsReply *
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
static inline char *
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

#endif // KT_TESTS_OPS_ACTOR_FX_H
