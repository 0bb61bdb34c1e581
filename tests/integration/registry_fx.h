// registry_fx.h: the worker registry actor in one process with fake
// workers (actors that forward the test's requests as their own and record
// what they receive), shared by test_workers_registry.c and
// test_workers_reclaim.c (header-only).
#ifndef KT_TESTS_REGISTRY_FX_H
#define KT_TESTS_REGISTRY_FX_H

#include <ktpb/v1/ops.pb-c.h>
#include <ktpb/v1/workers.pb-c.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <kt/kt.h>

#include "operations/operations.h"
#include "supervisor/pool.h"
#include "workers/workers.h"

#define FWD     9000 // test -> fake: body = uint32 type + request
#define CAP_MAX 256

typedef struct cap {
    kt_aid who;
    uint32_t type;
    uint64_t corr;
    size_t len;
    uint8_t body[2048];
} cap;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static cap caps[CAP_MAX];
static int ncaps;

typedef struct fake {
    kt_actor *self;
    kt_aid to;
    int run_status; // answer to WorkerRun
} fake;

typedef struct fake_cfg {
    kt_aid to;
    int run_status;
} fake_cfg;

static inline void
record(kt_actor *self, const kt_msg *m)
{
    pthread_mutex_lock(&mu);
    if (ncaps < CAP_MAX && kt_msg_len(m) <= sizeof(caps[0].body)) {
        cap *c = &caps[ncaps++];
        c->who = kt_self(self);
        c->type = kt_msg_type(m);
        c->corr = kt_msg_corr(m);
        c->len = kt_msg_len(m);
        memcpy(c->body, kt_msg_cbody(m), c->len);
    }
    pthread_mutex_unlock(&mu);
}

static inline kt_err
fake_init(void *state, kt_actor *self, const void *cfg)
{
    fake *f = state;
    const fake_cfg *c = cfg;

    f->self = self;
    f->to = c != NULL ? c->to : 0;
    f->run_status = c != NULL ? c->run_status : 0;
    return KT_OK;
}

static inline kt_err
fake_handle(void *state, kt_actor *self, kt_msg *m)
{
    fake *f = state;
    uint64_t corr;

    if (kt_msg_type(m) == FWD) {
        uint32_t type;
        kt_msg *out;
        memcpy(&type, kt_msg_cbody(m), 4);
        cr_assert_eq(kt_msg_alloc(&out, type, kt_msg_len(m) - 4), KT_OK);
        memcpy(kt_msg_body(out), (const uint8_t *)kt_msg_cbody(m) + 4,
               kt_msg_len(m) - 4);
        if (kt_ask(self, f->to, out, 5000, &corr) != KT_OK) {
            kt_msg_free(out);
        }
    } else {
        record(self, m);
        if (kt_msg_type(m) == KT_OPS_WORKER_DONE && kt_msg_corr(m) != 0) {
            Ktpb__V1__OpsReply r; // the operations actor recorded it
            kt_msg *rep;
            ktpb__v1__ops_reply__init(&r);
            cr_assert_eq(kt_msg_alloc(&rep, KT_OPS_REPLY,
                                      ktpb__v1__ops_reply__get_packed_size(&r)),
                         KT_OK);
            ktpb__v1__ops_reply__pack(&r, kt_msg_body(rep));
            if (kt_reply(self, m, rep) != KT_OK) {
                kt_msg_free(rep);
            }
        }
        if (kt_msg_type(m) == KT_WK_RUN) {
            Ktpb__V1__WorkersReply r;
            kt_msg *rep;
            ktpb__v1__workers_reply__init(&r);
            r.status = f->run_status;
            cr_assert_eq(
                kt_msg_alloc(&rep, KT_WK_REPLY,
                             ktpb__v1__workers_reply__get_packed_size(&r)),
                KT_OK);
            ktpb__v1__workers_reply__pack(&r, kt_msg_body(rep));
            if (kt_reply(self, m, rep) != KT_OK) {
                kt_msg_free(rep);
            }
        }
    }
    kt_msg_free(m);
    return KT_OK;
}

static const kt_actor_ops fake_ops = {
    .name = "fake",
    .state_size = sizeof(fake),
    .init = fake_init,
    .handle = fake_handle,
};

static kt_runtime *rt;
static kt_aid reg, opsa, supa;

static inline void
setup(void)
{
    ncaps = 0;
    cr_assert_eq(kt_runtime_start(&rt, NULL), KT_OK);
}

static inline void
teardown(void)
{
    kt_runtime_stop(rt);
}

TestSuite(workers_registry, .init = setup, .fini = teardown, .timeout = 20.0);

// start: the registry with a fake operations actor (and supervisor).
static inline void
start(uint32_t hb_ms, uint32_t disp_ms, bool supervised)
{
    kt_workers_cfg c = {.heartbeat_ms = hb_ms,
                        .heartbeat_misses = 2,
                        .dispatch_timeout_ms = disp_ms,
                        .supervised = supervised};
    kt_spawn_opts so = {.name = KT_OPS_NAME};
    kt_spawn_opts ro = {.name = KT_WORKERS_NAME};
    kt_spawn_opts sp = {.name = "supervisor"};

    cr_assert_eq(kt_spawn(rt, &fake_ops, NULL, &so, &opsa), KT_OK);
    if (supervised) {
        cr_assert_eq(kt_spawn(rt, &fake_ops, NULL, &sp, &supa), KT_OK);
    }
    cr_assert_eq(kt_spawn(rt, &workers_ops, &c, &ro, &reg), KT_OK);
}

static inline kt_aid
fake_worker(int run_status)
{
    fake_cfg c = {.to = reg, .run_status = run_status};
    kt_aid a;

    cr_assert_eq(kt_spawn(rt, &fake_ops, &c, NULL, &a), KT_OK);
    return a;
}

static inline int
count(kt_aid who, uint32_t type)
{
    int n = 0;

    pthread_mutex_lock(&mu);
    for (int i = 0; i < ncaps; i++) {
        n += (who == 0 || caps[i].who == who) && caps[i].type == type;
    }
    pthread_mutex_unlock(&mu);
    return n;
}

static inline bool
wait_count(kt_aid who, uint32_t type, int n, int ms)
{
    int64_t end = kt_mono_ns() / 1000000 + ms;

    while (count(who, type) < n) {
        if (kt_mono_ns() / 1000000 > end) {
            return false;
        }
        usleep(1000);
    }
    return true;
}

// The last message of `type` received by who, unpacked with desc.
static inline ProtobufCMessage *
last(kt_aid who, uint32_t type, const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *m = NULL;

    pthread_mutex_lock(&mu);
    for (int i = ncaps - 1; i >= 0 && m == NULL; i--) {
        if (caps[i].who == who && caps[i].type == type) {
            m = protobuf_c_message_unpack(desc, NULL, caps[i].len,
                                          caps[i].body);
        }
    }
    pthread_mutex_unlock(&mu);
    cr_assert_not_null(m, "no message %u", type);
    return m;
}

// as: the fake worker `who` asks the registry (reply recorded by it).
static inline void
as(kt_aid who, uint32_t type, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    kt_msg *msg;

    cr_assert_eq(kt_msg_alloc(&msg, FWD, n + 4), KT_OK);
    memcpy(kt_msg_body(msg), &type, 4);
    protobuf_c_message_pack(m, (uint8_t *)kt_msg_body(msg) + 4);
    cr_assert_eq(kt_runtime_send(rt, who, msg), KT_OK);
}

// ask: from the test thread; returns the WorkersReply-like head.
static inline kt_msg *
ask(uint32_t type, const void *body, size_t len)
{
    kt_msg *m, *rep = NULL;

    cr_assert_eq(kt_msg_alloc(&m, type, len), KT_OK);
    if (len > 0) {
        memcpy(kt_msg_body(m), body, len);
    }
    cr_assert_eq(kt_runtime_ask(rt, reg, m, 5000, &rep), KT_OK);
    return rep;
}

static inline kt_msg *
ask_pb(uint32_t type, const ProtobufCMessage *m)
{
    uint8_t buf[4096];
    size_t n = protobuf_c_message_pack(m, buf);

    return ask(type, buf, n);
}

static inline int32_t
status_of(kt_msg *rep)
{
    Ktpb__V1__WorkersReply *r = ktpb__v1__workers_reply__unpack(
        NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    int32_t st;

    cr_assert_not_null(r);
    st = r->status;
    ktpb__v1__workers_reply__free_unpacked(r, NULL);
    kt_msg_free(rep);
    return st;
}

static char s_training[] = "training", s_backtesting[] = "backtesting";

static inline void
register_as(kt_aid w, const char *id, uint64_t inst, char *capa,
            Ktpb__V1__OpClaim **ops, size_t nops)
{
    Ktpb__V1__WorkerRegister g;
    char *capv[1] = {capa};
    int before = count(w, KT_WK_REGISTER_REPLY);

    ktpb__v1__worker_register__init(&g);
    g.worker_id = (char *)(uintptr_t)id;
    g.instance = inst;
    g.capabilities = capv;
    g.n_capabilities = 1;
    g.slots = 1;
    g.pid = 1234;
    g.ops = ops;
    g.n_ops = nops;
    as(w, KT_WK_REGISTER, &g.base);
    cr_assert(wait_count(w, KT_WK_REGISTER_REPLY, before + 1, 5000));
}

static inline Ktpb__V1__WorkerRegisterReply *
last_reg(kt_aid w)
{
    return (Ktpb__V1__WorkerRegisterReply *)last(
        w, KT_WK_REGISTER_REPLY, &ktpb__v1__worker_register_reply__descriptor);
}

// dispatch: asks the registry to run op (type) with assign_len bytes.
static inline kt_msg *
dispatch(const char *op, const char *type, size_t assign_len)
{
    Ktpb__V1__DispatchRequest d;
    uint8_t as_bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};

    ktpb__v1__dispatch_request__init(&d);
    d.op_id = (char *)(uintptr_t)op;
    d.type = (char *)(uintptr_t)type;
    d.attempt = 1;
    d.assign.data = as_bytes;
    d.assign.len = assign_len;
    return ask_pb(KT_WK_DISPATCH, &d.base);
}

#endif // KT_TESTS_REGISTRY_FX_H
