// The worker registry actor in one process, with fake workers (actors
// that forward the test's requests as their own and record what they
// receive): every bad request, placement, dispatch deadline, loss by
// heartbeat timeout, stale ends, control routing, reclaim after a backend
// restart (adopt, abort, grace expiry) and replacement of a process.
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

static void
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

static kt_err
fake_init(void *state, kt_actor *self, const void *cfg)
{
    fake *f = state;
    const fake_cfg *c = cfg;

    f->self = self;
    f->to = c != NULL ? c->to : 0;
    f->run_status = c != NULL ? c->run_status : 0;
    return KT_OK;
}

static kt_err
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

static void
setup(void)
{
    ncaps = 0;
    cr_assert_eq(kt_runtime_start(&rt, NULL), KT_OK);
}

static void
teardown(void)
{
    kt_runtime_stop(rt);
}

TestSuite(workers_registry, .init = setup, .fini = teardown, .timeout = 20.0);

// start: the registry with a fake operations actor (and supervisor).
static void
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

static kt_aid
fake_worker(int run_status)
{
    fake_cfg c = {.to = reg, .run_status = run_status};
    kt_aid a;

    cr_assert_eq(kt_spawn(rt, &fake_ops, &c, NULL, &a), KT_OK);
    return a;
}

static int
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

static bool
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
static ProtobufCMessage *
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
static void
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
static kt_msg *
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

static kt_msg *
ask_pb(uint32_t type, const ProtobufCMessage *m)
{
    uint8_t buf[4096];
    size_t n = protobuf_c_message_pack(m, buf);

    return ask(type, buf, n);
}

static int32_t
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

static void
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

static Ktpb__V1__WorkerRegisterReply *
last_reg(kt_aid w)
{
    return (Ktpb__V1__WorkerRegisterReply *)last(
        w, KT_WK_REGISTER_REPLY, &ktpb__v1__worker_register_reply__descriptor);
}

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

static kt_msg *
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
