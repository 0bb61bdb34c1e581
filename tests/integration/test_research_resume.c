// Agent research cancelled in each phase and resumed (through the
// operations actor, as `ktrdr operations cancel|resume` do), a resume of
// a running research refused, and a backend killed with SIGKILL during the
// training phase then restarted on the same data directory: the research
// resumes from its phase checkpoint, its training child resumes from the
// child's own checkpoint (same id, next attempt), and both complete.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "test_research_fx.h"

static rx f;

static void
setup(void)
{
    rx_setup(&f);
}

static void
teardown(void)
{
    rx_teardown(&f);
}

TestSuite(research_resume, .init = setup, .fini = teardown, .timeout = 60.0);

static char *
start_n(const char *brief, uint32_t epochs)
{
    Ktpb__V1__ResearchReply *r = rx_trigger(&f, brief, "", true, epochs);
    char *id;

    cr_assert_eq(r->status, 0, "trigger failed: %s", r->message);
    id = strdup(r->op->id);
    ktpb__v1__research_reply__free_unpacked(r, NULL);
    return id;
}

// cancel_async sends `operations cancel ID` without waiting for its end.
static void
cancel_async(const char *id)
{
    Ktpb__V1__OpsCancelRequest c;
    size_t n;
    kt_msg *m;

    ktpb__v1__ops_cancel_request__init(&c);
    c.id = RX_S(id);
    n = ktpb__v1__ops_cancel_request__get_packed_size(&c);
    cr_assert_eq(kt_msg_alloc(&m, KT_OPS_CANCEL, n), KT_OK);
    ktpb__v1__ops_cancel_request__pack(&c, kt_msg_body(m));
    cr_assert_eq(kt_runtime_send(f.rt, f.ops, m), KT_OK);
}

static Ktpb__V1__ResearchState *
state_of(const char *id, Ktpb__V1__ResearchStatusReply **keep)
{
    *keep = rx_info(&f, id);
    cr_assert_eq((*keep)->status, 0, "%s", (*keep)->message);
    cr_assert_eq((*keep)->n_researches, 1);
    cr_assert_not_null((*keep)->researches[0]->state);
    return (*keep)->researches[0]->state;
}

static void
resume_ok(const char *id)
{
    Ktpb__V1__OpsReply *r = rx_ops_ctl(&f, KT_OPS_RESUME, id);

    cr_assert_eq(r->status, 0, "resume: %s", r->message);
    cr_assert_not_null(r->op);
    cr_expect_eq(r->op->status, KTPB__V1__OP_STATUS__OP_RUNNING);
    cr_expect_eq(r->op->attempt, 2);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
}

static void
expect_cancelled_with_checkpoint(const char *id)
{
    Ktpb__V1__OpsReply *r = rx_get(&f, id);

    cr_expect_eq(r->op->status, KTPB__V1__OP_STATUS__OP_CANCELLED);
    cr_expect_gt(r->op->checkpoint_seq, 0);
    cr_expect_eq(r->op->checkpoint_type,
                 KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_CANCELLATION);
    cr_expect_str_eq(r->op->checkpoint_unit, "phase");
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
}

Test(research_resume, cancel_while_designing_then_resume)
{
    Ktpb__V1__OpsReply *r;
    char *id;

    cr_assert_eq(rx_open(&f), KT_OK);
    rx_gate_set(&f, "design", 0);
    id = start_n("momentum", 3);
    cr_assert(rx_gate_wait(&f));
    r = rx_ops_ctl(&f, KT_OPS_CANCEL, id); // answers once cancelled
    cr_expect_eq(r->status, 0, "%s", r->message);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    expect_cancelled_with_checkpoint(id);
    resume_ok(id);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, RX_MS));
    cr_expect_eq(f.design_calls, 2); // the cancelled try and the real one
    free(id);
}

Test(research_resume, cancel_while_training_cancels_the_child_then_resumes_it)
{
    Ktpb__V1__ResearchStatusReply *keep;
    Ktpb__V1__ResearchState *st;
    Ktpb__V1__OpsReply *c;
    char *id, *child;

    cr_assert_eq(rx_open(&f), KT_OK);
    rx_gate_set(&f, "epoch", 1);
    id = start_n("momentum", 30);
    cr_assert(rx_gate_wait(&f));
    cancel_async(id);
    cr_assert(rx_step_until(&f, id, KTPB__V1__OP_STATUS__OP_CANCELLED, RX_MS));
    expect_cancelled_with_checkpoint(id);
    st = state_of(id, &keep);
    cr_expect_str_eq(st->phase, "training");
    child = strdup(st->training_op_id);
    ktpb__v1__research_status_reply__free_unpacked(keep, NULL);
    cr_assert_neq(child[0], '\0');
    c = rx_get(&f, child);
    cr_expect_eq(c->op->status, KTPB__V1__OP_STATUS__OP_CANCELLED);
    cr_expect_str_eq(c->op->parent_id, id);
    ktpb__v1__ops_reply__free_unpacked(c, NULL);
    resume_ok(id);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, RX_MS));
    st = state_of(id, &keep);
    cr_expect_str_eq(st->training_op_id, child); // the same child, resumed
    cr_expect_eq(st->resumes, 1);
    ktpb__v1__research_status_reply__free_unpacked(keep, NULL);
    c = rx_get(&f, child);
    cr_expect_eq(c->op->status, KTPB__V1__OP_STATUS__OP_COMPLETED);
    cr_expect_eq(c->op->attempt, 2);
    ktpb__v1__ops_reply__free_unpacked(c, NULL);
    free(child);
    free(id);
}

Test(research_resume, cancel_while_backtesting_then_resume)
{
    Ktpb__V1__ResearchStatusReply *keep;
    Ktpb__V1__ResearchState *st;
    Ktpb__V1__OpsReply *c;
    char *id, *child;

    cr_assert_eq(rx_open(&f), KT_OK);
    rx_gate_set(&f, "bar", 1);
    id = start_n("momentum", 3);
    cr_assert(rx_gate_wait(&f));
    cancel_async(id);
    cr_assert(rx_step_until(&f, id, KTPB__V1__OP_STATUS__OP_CANCELLED, RX_MS));
    st = state_of(id, &keep);
    cr_expect_str_eq(st->phase, "backtesting");
    cr_assert_not_null(st->training); // the training result is kept
    child = strdup(st->backtest_op_id);
    ktpb__v1__research_status_reply__free_unpacked(keep, NULL);
    c = rx_get(&f, child);
    cr_expect_eq(c->op->status, KTPB__V1__OP_STATUS__OP_CANCELLED);
    ktpb__v1__ops_reply__free_unpacked(c, NULL);
    resume_ok(id);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, RX_MS));
    c = rx_get(&f, child);
    cr_expect_eq(c->op->status, KTPB__V1__OP_STATUS__OP_COMPLETED);
    cr_expect_eq(c->op->attempt, 2);
    ktpb__v1__ops_reply__free_unpacked(c, NULL);
    free(child);
    free(id);
}

Test(research_resume, cancel_while_assessing_then_resume)
{
    Ktpb__V1__ResearchStatusReply *keep;
    Ktpb__V1__ResearchState *st;
    Ktpb__V1__OpsReply *r;
    char *id;

    cr_assert_eq(rx_open(&f), KT_OK);
    rx_gate_set(&f, "assess", 0);
    id = start_n("momentum", 3);
    cr_assert(rx_gate_wait(&f));
    r = rx_ops_ctl(&f, KT_OPS_CANCEL, id);
    cr_expect_eq(r->status, 0, "%s", r->message);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    expect_cancelled_with_checkpoint(id);
    st = state_of(id, &keep);
    cr_expect_str_eq(st->phase, "assessing");
    ktpb__v1__research_status_reply__free_unpacked(keep, NULL);
    resume_ok(id);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, RX_MS));
    st = state_of(id, &keep);
    cr_expect_eq(st->budget->assess_calls, 2);
    cr_expect_eq(st->budget->design_calls, 1); // not designed again
    ktpb__v1__research_status_reply__free_unpacked(keep, NULL);
    free(id);
}

Test(research_resume, resume_of_a_running_or_unknown_research_is_refused)
{
    Ktpb__V1__OpsReply *r;
    char *id;

    cr_assert_eq(rx_open(&f), KT_OK);
    rx_gate_set(&f, "design", 0);
    id = start_n("momentum", 3);
    cr_assert(rx_gate_wait(&f));
    r = rx_ops_ctl(&f, KT_OPS_RESUME, id);
    cr_expect_eq(r->status, KT_ESTATE);
    cr_expect(strstr(r->message, "not in a resumable state") != NULL, "%s",
              r->message);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    r = rx_ops_ctl(&f, KT_OPS_RESUME, "op_agent_research_19990101_000000_0");
    cr_expect_neq(r->status, 0);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    rx_gate_release(&f);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, RX_MS));
    r = rx_ops_ctl(&f, KT_OPS_RESUME, id); // completed: nothing to resume
    cr_expect_neq(r->status, 0);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    free(id);
}

// child_checkpointed waits until the running child of the (only) live
// research has a durable checkpoint (its epoch-5 one).
static bool
child_checkpointed(void)
{
    for (int i = 0; i < 2000; i++) { // 10 s
        Ktpb__V1__ResearchStatusReply *s = rx_info(&f, "");
        char child[96] = "";
        bool ok = false;

        if (s->n_researches == 1) {
            snprintf(child, sizeof(child), "%s", s->researches[0]->child_id);
        }
        ktpb__v1__research_status_reply__free_unpacked(s, NULL);
        if (child[0] != '\0') {
            Ktpb__V1__OpsReply *r = rx_get(&f, child);
            ok = r->op != NULL && r->op->checkpoint_seq > 0;
            ktpb__v1__ops_reply__free_unpacked(r, NULL);
        }
        if (ok) {
            return true;
        }
        usleep(5000);
    }
    return false;
}

// The doomed backend, run in a process of its own (this binary again, by
// the test below, with RX_DOOMED_DIR set): runs a research in that data
// directory until its training child holds at epoch 8 (after the epoch-5
// checkpoint), then writes "<pid> <research id>" to DIR/doomed and waits
// to be killed. Skipped in a normal run.
Test(research_resume, doomed_backend_helper)
{
    const char *dir = getenv("RX_DOOMED_DIR");
    Ktpb__V1__ResearchReply *r;
    char path[300], tmp[310], line[200];
    FILE *fp;

    if (dir == NULL) {
        cr_skip_test(
            "helper of sigkill_during_training_then_restart_completes");
    }
    rx_rm_rf(f.dir);
    snprintf(f.dir, sizeof(f.dir), "%s", dir);
    rx_gate_set(&f, "epoch", 8);
    cr_assert_eq(rx_open(&f), KT_OK);
    r = rx_trigger(&f, "momentum", "", true, 12);
    cr_assert_eq(r->status, 0, "%s", r->message);
    snprintf(line, sizeof(line), "%ld %s\n", (long)getpid(), r->op->id);
    ktpb__v1__research_reply__free_unpacked(r, NULL);
    cr_assert(rx_gate_wait(&f));
    cr_assert(child_checkpointed(), "the child's checkpoint never landed");
    snprintf(path, sizeof(path), "%s/doomed", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    cr_assert_not_null(fp = fopen(tmp, "w"));
    fputs(line, fp);
    cr_assert_eq(fclose(fp), 0);
    cr_assert_eq(rename(tmp, path), 0);
    for (;;) {
        pause();
    }
}

// run_doomed starts the helper and returns its pid and research id.
static pid_t
run_doomed(char *id, size_t n, pid_t *runner)
{
    extern char **environ;
    char env[200], path[300],
        *argv[] = {RX_S("/proc/self/exe"), RX_S("--filter"),
                   RX_S("research_resume/doomed_*"), NULL};
    posix_spawn_file_actions_t fa;
    long pid = 0;
    FILE *fp = NULL;
    char **envp;
    size_t ne = 0;

    while (environ[ne] != NULL) {
        ne++;
    }
    cr_assert_not_null(envp = calloc(ne + 2, sizeof(char *)));
    ne = 0;
    for (char **e = environ; *e != NULL; e++) {
        if (strncmp(*e, "BXFI_", 5) != 0) { // not a boxfort worker: a runner
            envp[ne++] = *e;
        }
    }
    snprintf(env, sizeof(env), "RX_DOOMED_DIR=%s", f.dir);
    envp[ne] = env;
    snprintf(path, sizeof(path), "%s/doomed.log", f.dir);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, path, O_WRONLY | O_CREAT, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    cr_assert_eq(posix_spawn(runner, "/proc/self/exe", &fa, NULL, argv, envp),
                 0);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    snprintf(path, sizeof(path), "%s/doomed", f.dir);
    for (int i = 0; i < 2000 && fp == NULL; i++) { // 20 s
        if ((fp = fopen(path, "r")) == NULL) {
            usleep(10000);
        }
    }
    cr_assert_not_null(fp, "the doomed backend never held");
    cr_assert_eq(fscanf(fp, "%ld %95s", &pid, id), 2);
    (void)n;
    fclose(fp);
    return (pid_t)pid;
}

Test(research_resume, sigkill_during_training_then_restart_completes)
{
    Ktpb__V1__ResearchStatusReply *keep;
    Ktpb__V1__ResearchState *st;
    Ktpb__V1__OpsReply *c;
    char id[96] = "";
    pid_t pid, runner;
    int status;

    pid = run_doomed(id, sizeof(id), &runner);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    cr_assert_eq(waitpid(runner, &status, 0), runner);
    // Restart on the same data directory: reconcile, then resume.
    cr_assert_eq(rx_open(&f), KT_OK);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, RX_MS),
              "research did not complete after the restart");
    st = state_of(id, &keep);
    cr_expect_eq(st->resumes, 1);
    cr_assert_neq(st->training_op_id[0], '\0');
    c = rx_get(&f, st->training_op_id);
    cr_expect_eq(c->op->status, KTPB__V1__OP_STATUS__OP_COMPLETED);
    cr_expect_eq(c->op->attempt, 2, "the child was resumed, not restarted");
    cr_expect_str_eq(c->op->parent_id, id);
    ktpb__v1__ops_reply__free_unpacked(c, NULL);
    ktpb__v1__research_status_reply__free_unpacked(keep, NULL);
}

Test(research_resume,
     restart_without_auto_resume_leaves_it_failed_and_resumable)
{
    Ktpb__V1__OpsReply *r;
    char id[96] = "";
    pid_t pid, runner;
    int status;

    pid = run_doomed(id, sizeof(id), &runner);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    cr_assert_eq(waitpid(runner, &status, 0), runner);
    f.rc.no_auto_resume = true;
    cr_assert_eq(rx_open(&f), KT_OK);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_FAILED, RX_MS));
    r = rx_get(&f, id);
    cr_expect_str_eq(r->op->error, "Backend restarted during research");
    cr_expect_gt(r->op->checkpoint_seq, 0);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    resume_ok(id); // by hand, as `ktrdr operations resume ID`
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, RX_MS));
}

Test(research_resume, cancelling_the_child_cancels_the_research)
{
    Ktpb__V1__ResearchStatusReply *s;
    Ktpb__V1__OpsReply *r;
    char *id, child[96] = "";

    cr_assert_eq(rx_open(&f), KT_OK);
    rx_gate_set(&f, "epoch", 1);
    id = start_n("momentum", 30);
    cr_assert(rx_gate_wait(&f));
    for (int i = 0; i < 1000 && child[0] == '\0'; i++) { // its first event
        s = rx_info(&f, "");
        if (s->n_researches == 1) {
            snprintf(child, sizeof(child), "%s", s->researches[0]->child_id);
        }
        ktpb__v1__research_status_reply__free_unpacked(s, NULL);
        if (child[0] == '\0') {
            usleep(5000);
        }
    }
    cr_assert_neq(child[0], '\0', "no child in the live status");
    cancel_async(child);
    cr_assert(rx_step_until(&f, id, KTPB__V1__OP_STATUS__OP_CANCELLED, RX_MS));
    r = rx_get(&f, id);
    cr_expect(strstr(r->op->error, "was cancelled") != NULL, "%s",
              r->op->error);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    free(id);
}
