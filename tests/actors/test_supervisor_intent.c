// The supervisor's restart intents against scripted neighbours: fake
// operations, persistence and registry actors that hold the answers to
// resume requests until the test lets them go. That makes the race of
// issue 7 deterministic: an operation is lost again while the resume of its
// previous loss is still in flight. The late answer to that resume must
// not remove the restart intent the new loss wrote, or a backend crash
// before the new restart leaves the operation failed for good.
#include <ktpb/v1/ops.pb-c.h>
#include <ktpb/v1/workers.pb-c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "operations/operations.h"
#include "persistence/persistence.h"
#include "supervisor/supervisor.h"
#include "support/kt_test.h"
#include "workers/workers.h"

#define OP_ID     "op_training_20261127_000000_abcdef"
#define T_RELEASE 9001 // test -> fake operations: answer the oldest resume
#define HELD_MAX  8

TestSuite(supervisor_intent, .timeout = 30.0);

typedef struct shared {
    atomic_long resumes; // resume requests held so far
    atomic_long dones;   // failures recorded (WorkerDone)
} shared;

typedef enum role { R_OPS, R_PERSIST, R_REGISTRY } role;

typedef struct fake_cfg {
    shared *sh;
    role role;
} fake_cfg;

typedef struct fake {
    fake_cfg c;
    kt_aid held_to[HELD_MAX];
    uint64_t held_corr[HELD_MAX];
    int nheld;
} fake;

// answer: an OpsReply (same wire shape as OpReply and an empty
// OpListReply / WorkersReply) with the operation in `status`, or none.
static void
answer(kt_actor *self, kt_aid to, uint64_t corr, Ktpb__V1__OpStatus status)
{
    Ktpb__V1__OperationRecord rec;
    Ktpb__V1__OpsReply r;
    kt_msg *m;

    ktpb__v1__operation_record__init(&rec);
    rec.id = (char *)(uintptr_t)OP_ID;
    rec.type = (char *)(uintptr_t) "training";
    rec.status = status;
    rec.error = (char *)(uintptr_t) "Worker w1 lost: killed by signal 9";
    ktpb__v1__ops_reply__init(&r);
    r.op = status != 0 ? &rec : NULL;
    cr_assert_eq(kt_msg_alloc(&m, KT_OPS_REPLY,
                              ktpb__v1__ops_reply__get_packed_size(&r)),
                 KT_OK);
    ktpb__v1__ops_reply__pack(&r, kt_msg_body(m));
    cr_assert_eq(kt_reply_to(self, to, corr, m), KT_OK);
}

static kt_err
fake_init(void *state, kt_actor *self, const void *cfg)
{
    fake *f = state;

    (void)self;
    memcpy(&f->c, cfg, sizeof(f->c));
    return KT_OK;
}

static void
ops_handle(fake *f, kt_actor *self, kt_msg *m)
{
    switch (kt_msg_type(m)) {
    case KT_OPS_WORKER_DONE: // the failure is recorded
        atomic_fetch_add(&f->c.sh->dones, 1);
        answer(self, kt_msg_sender(m), kt_msg_corr(m),
               KTPB__V1__OP_STATUS__OP_FAILED);
        break;
    case KT_OPS_RESUME: // held until the test says
        cr_assert_lt(f->nheld, HELD_MAX);
        f->held_to[f->nheld] = kt_msg_sender(m);
        f->held_corr[f->nheld++] = kt_msg_corr(m);
        atomic_fetch_add(&f->c.sh->resumes, 1);
        break;
    case T_RELEASE:
        cr_assert_gt(f->nheld, 0);
        answer(self, f->held_to[0], f->held_corr[0],
               KTPB__V1__OP_STATUS__OP_RUNNING);
        memmove(f->held_to, f->held_to + 1,
                sizeof(kt_aid) * (size_t)--f->nheld);
        memmove(f->held_corr, f->held_corr + 1,
                sizeof(uint64_t) * (size_t)f->nheld);
        break;
    default:
        break;
    }
}

static kt_err
fake_handle(void *state, kt_actor *self, kt_msg *m)
{
    fake *f = state;

    if (f->c.role == R_OPS) {
        ops_handle(f, self, m);
    } else if (kt_msg_corr(m) != 0) {
        // persistence: the boot list (empty), gets and transitions (the
        // operation failed); the registry: reclaim accepted.
        answer(self, kt_msg_sender(m), kt_msg_corr(m),
               f->c.role == R_PERSIST && kt_msg_type(m) != KT_PERSIST_OP_LIST
                   ? KTPB__V1__OP_STATUS__OP_FAILED
                   : 0);
    }
    kt_msg_free(m);
    return KT_OK;
}

static const kt_actor_ops fake_ops = {.name = "fake",
                                      .state_size = sizeof(fake),
                                      .init = fake_init,
                                      .handle = fake_handle};

static void
lose(kt_runtime *rt, kt_aid sup, uint32_t attempt)
{
    Ktpb__V1__OpClaim c, *cp = &c;
    Ktpb__V1__WorkerLost l;
    kt_msg *m;

    ktpb__v1__op_claim__init(&c);
    c.op_id = (char *)(uintptr_t)OP_ID;
    c.attempt = attempt;
    c.type = (char *)(uintptr_t) "training";
    ktpb__v1__worker_lost__init(&l);
    l.worker_id = (char *)(uintptr_t) "w1";
    l.reason = (char *)(uintptr_t) "killed by signal 9";
    l.ops = &cp;
    l.n_ops = 1;
    cr_assert_eq(kt_msg_alloc(&m, KT_WK_LOST,
                              ktpb__v1__worker_lost__get_packed_size(&l)),
                 KT_OK);
    ktpb__v1__worker_lost__pack(&l, kt_msg_body(m));
    cr_assert_eq(kt_runtime_send(rt, sup, m), KT_OK);
}

static uint32_t
restarts(kt_runtime *rt, kt_aid sup)
{
    Ktpb__V1__SupervisorStatusReply *r;
    kt_msg *q, *a = NULL;
    uint32_t n;

    cr_assert_eq(kt_msg_alloc(&q, KT_SUP_STATUS, 0), KT_OK);
    cr_assert_eq(kt_runtime_ask(rt, sup, q, 5000, &a), KT_OK);
    r = ktpb__v1__supervisor_status_reply__unpack(NULL, kt_msg_len(a),
                                                  kt_msg_cbody(a));
    cr_assert_not_null(r);
    n = r->restarts;
    ktpb__v1__supervisor_status_reply__free_unpacked(r, NULL);
    kt_msg_free(a);
    return n;
}

static bool
intent_exists(const char *dir)
{
    char p[512];
    struct stat st;

    snprintf(p, sizeof(p), "%s/supervisor/%s.restart", dir, OP_ID);
    return stat(p, &st) == 0;
}

Test(supervisor_intent, a_late_resume_answer_keeps_the_intent_of_a_newer_loss)
{
    char dir[] = "/tmp/kt-sup-intent-XXXXXX";
    shared sh = {0};
    fake_cfg oc = {&sh, R_OPS}, pc = {&sh, R_PERSIST}, rc = {&sh, R_REGISTRY};
    kt__sup_actor_cfg sc = {0};
    kt_runtime *rt = start_rt(1, 0);
    kt_aid ops, sup;

    cr_assert_not_null(mkdtemp(dir));
    sc.sup.policy = (kt_restart_policy){.max_restarts = 10,
                                        .window_ms = 60000,
                                        .backoff_base_ms = 1,
                                        .backoff_max_ms = 2};
    sc.sup.policy_set = true;
    sc.sup.seed = 1;
    sc.sup.data_dir = dir;
    ops = spawn_ok(rt, &fake_ops, &oc, KT_OPS_NAME);
    spawn_ok(rt, &fake_ops, &pc, KT_PERSIST_NAME);
    spawn_ok(rt, &fake_ops, &rc, KT_WORKERS_NAME);
    sup = spawn_ok(rt, &supervisor_ops, &sc, KT_SUP_NAME);

    // Lost once: recorded failed, intent written, resume asked (held).
    lose(rt, sup, 1);
    cr_assert(wait_atomic(&sh.resumes, 1, 5000));
    cr_expect(intent_exists(dir));
    // Lost again while that resume is in flight: a second failure and a
    // second resume (held too).
    lose(rt, sup, 2);
    cr_assert(wait_atomic(&sh.resumes, 2, 5000));
    cr_expect_eq(atomic_load(&sh.dones), 2);
    // The first resume's answer arrives late: the restart counts, but the
    // intent belongs to the second loss, whose restart is still to come.
    cr_assert_eq(kt_runtime_send(rt, ops, msg_new(T_RELEASE, NULL, 0)), KT_OK);
    for (int i = 0; i < 500 && restarts(rt, sup) < 1; i++) {
        usleep(2000);
    }
    cr_assert_eq(restarts(rt, sup), 1);
    cr_expect(intent_exists(dir), "the newer loss's restart intent is gone");
    // The second resume is answered: now the intent is done.
    cr_assert_eq(kt_runtime_send(rt, ops, msg_new(T_RELEASE, NULL, 0)), KT_OK);
    for (int i = 0; i < 500 && restarts(rt, sup) < 2; i++) {
        usleep(2000);
    }
    cr_assert_eq(restarts(rt, sup), 2);
    cr_expect_not(intent_exists(dir));
    kt_runtime_stop(rt);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}
