// Signals to worker processes: SIGTERM saves a shutdown checkpoint, marks
// the operation cancelled ("Graceful shutdown - checkpoint saved"), exits
// 0, and the operation resumes on another worker; a stopped (hung) worker
// is found by its missed heartbeats, reaped, and its operation restarted.
#include "sup_fixture.h"

static sf t;

static void
setup(void)
{
    sf_prepare(&t);
}

static void
teardown(void)
{
    sf_close(&t);
}

TestSuite(supervisor_signals, .init = setup, .fini = teardown, .timeout = 60.0);

static kt_restart_policy
policy(uint32_t max)
{
    kt_restart_policy p = {.max_restarts = max,
                           .window_ms = 60000,
                           .backoff_base_ms = 10,
                           .backoff_max_ms = 500,
                           .jitter = 0.1};
    return p;
}

Test(supervisor_signals, sigterm_saves_shutdown_checkpoint_then_resumes)
{
    kt_restart_policy p = policy(3);
    Ktpb__V1__OpsReply *keep, *r;
    Ktpb__V1__OperationRecord *op;
    pid_t w1, w2;
    int status;
    char *id;

    setenv("KTRDR_TEST_STEP_MS", "25", 1);
    sf_open(&t, 0, &p, 200);
    w1 = sf_worker(t.url, "term-1");
    cr_assert(sf_wait_workers(&t, 1, 10000));
    id = fx_train_ok(&t.f, 20, 5, -1);
    cr_assert(sf_wait_ckpt(&t, id, 5, 20000));
    cr_assert_eq(kill(w1, SIGTERM), 0);
    status = sf_reap(w1, 10000);
    cr_assert_neq(status, -1, "the worker did not exit after SIGTERM");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d",
              status);
    cr_assert(
        fx_wait_status(&t.f, id, KTPB__V1__OP_STATUS__OP_CANCELLED, 5000));
    op = sf_record(&t, id, &keep);
    cr_expect_str_eq(op->error, "Graceful shutdown - checkpoint saved");
    cr_expect_eq(op->checkpoint_type,
                 KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_SHUTDOWN);
    cr_expect_geq(op->checkpoint_unit_value, 5);
    cr_expect_eq(op->restart_count, 0, "a graceful stop is no failure");
    ktpb__v1__ops_reply__free_unpacked(keep, NULL);
    // Resumable on a different worker.
    w2 = sf_worker(t.url, "term-2");
    cr_assert(sf_wait_workers(&t, 1, 10000));
    r = fx_resume(&t.f, id);
    cr_assert_eq(r->status, 0, "%s", r->message);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    cr_assert(
        fx_wait_status(&t.f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, 20000));
    op = sf_record(&t, id, &keep);
    cr_expect_eq(op->attempt, 2);
    cr_expect_str_eq(op->worker_id, "term-2");
    ktpb__v1__ops_reply__free_unpacked(keep, NULL);
    cr_assert_eq(kill(w2, SIGTERM), 0);
    status = sf_reap(w2, 10000);
    cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "idle worker exit %d", status);
    free(id);
}

Test(supervisor_signals, hung_worker_found_by_heartbeat_and_restarted)
{
    kt_restart_policy p = policy(3);
    Ktpb__V1__SupervisorStatusReply *st;
    Ktpb__V1__OpsReply *keep;
    Ktpb__V1__OperationRecord *op;
    char *victim, *ref;
    int slot;

    setenv("KTRDR_TEST_STEP_MS", "25", 1);
    sf_open(&t, 2, &p, 100); // 3 missed heartbeats = 300 ms
    cr_assert(sf_wait_workers(&t, 2, 10000));
    victim = fx_train_ok(&t.f, 24, 2, -1);
    ref = fx_train_ok(&t.f, 24, 2, -1);
    cr_assert(sf_wait_ckpt(&t, victim, 4, 20000));
    cr_assert_geq(slot = sf_slot_of(&t, victim), 0);
    int64_t t0 = kt_mono_ns();
    cr_assert_eq(kt_supervision_kill_worker(t.s, (uint32_t)slot, SIGSTOP, NULL),
                 KT_OK);
    cr_assert(
        fx_wait_status(&t.f, victim, KTPB__V1__OP_STATUS__OP_COMPLETED, 30000));
    cr_assert(
        fx_wait_status(&t.f, ref, KTPB__V1__OP_STATUS__OP_COMPLETED, 30000));
    st = sf_sup_status(&t);
    cr_assert_eq(st->n_ops, 1);
    int64_t detect = st->ops[0]->lost_at_ns - t0;
    cr_expect_geq(detect, 150000000LL, "too early: %lld ms",
                  (long long)(detect / 1000000));
    cr_expect_lt(detect, 1000000000LL, "detected after %lld ms",
                 (long long)(detect / 1000000));
    cr_expect(strstr(st->ops[0]->last_error, "no heartbeat") != NULL, "%s",
              st->ops[0]->last_error);
    ktpb__v1__supervisor_status_reply__free_unpacked(st, NULL);
    op = sf_record(&t, victim, &keep);
    cr_expect_eq(op->restart_count, 1);
    ktpb__v1__ops_reply__free_unpacked(keep, NULL);
    sf_same_weights(&t, victim, ref);
    free(victim);
    free(ref);
}
