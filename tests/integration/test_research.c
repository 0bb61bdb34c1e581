// Agent research end to end over a real backend and generated data: a
// full run (design, training and backtest children with their persisted
// parent, assessment, memory files, budget file), a training-gate
// rejection routed to assessing, a given strategy (no design), trigger
// refusals, invalid designs retried then failed, and an exhausted budget.
#include <errno.h>

#include <jansson.h>

#include "persistence/persistence.h"
#include "support/kt_test.h"
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

TestSuite(research, .init = setup, .fini = teardown, .timeout = 60.0);

static Ktpb__V1__ResearchInfo *
info_of(Ktpb__V1__ResearchStatusReply *r)
{
    cr_assert_eq(r->status, 0, "%s", r->message);
    cr_assert_eq(r->n_researches, 1);
    return r->researches[0];
}

static const Ktpb__V1__OperationRecord *
child_of(const Ktpb__V1__ResearchInfo *i, const char *type)
{
    for (size_t k = 0; k < i->n_children; k++) {
        if (strcmp(i->children[k]->type, type) == 0) {
            return i->children[k];
        }
    }
    return NULL;
}

static double
budget_today(void)
{
    char path[512];
    time_t now = time(NULL);
    struct tm tm;
    json_t *j;
    double v;

    gmtime_r(&now, &tm);
    snprintf(path, sizeof(path), "%s/budget/%04d-%02d-%02d.json", f.dir,
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    if ((j = json_load_file(path, 0, NULL)) == NULL) {
        return -1;
    }
    v = json_number_value(json_object_get(j, "total_spend"));
    json_decref(j);
    return v;
}

Test(research, full_run_designs_trains_backtests_assesses_and_remembers)
{
    Ktpb__V1__ResearchStatusReply *s;
    Ktpb__V1__ResearchInfo *i;
    const Ktpb__V1__OperationRecord *tr, *bt;
    char *id, path[600];

    cr_assert_eq(rx_open(&f), KT_OK);
    id = rx_start(&f, "momentum and trend following on AAPL", "", true);
    cr_assert(strncmp(id, "op_agent_research_", 18) == 0, "%s", id);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, RX_MS),
              "research did not complete");
    s = rx_info(&f, id);
    i = info_of(s);
    cr_assert_not_null(i->state);
    cr_expect_str_eq(i->state->phase, "completed");
    cr_expect_str_eq(i->state->symbol, "AAPL");
    cr_expect(strncmp(i->state->strategy_name, "research_", 9) == 0);
    cr_expect_neq(i->state->verdict[0], '\0');
    cr_expect_str_eq(i->state->gate_reason, "");
    cr_expect_eq(i->state->budget->design_calls, 1);
    cr_expect_eq(i->state->budget->assess_calls, 1);
    cr_expect_gt(i->state->budget->cost_usd, 0.0);
    cr_assert_not_null(i->state->training);
    cr_assert_not_null(i->state->backtest);
    // The children are real operations with the research as parent.
    tr = child_of(i, "training");
    bt = child_of(i, "backtesting");
    cr_assert_not_null(tr);
    cr_assert_not_null(bt);
    cr_expect_str_eq(tr->parent_id, id);
    cr_expect_str_eq(bt->parent_id, id);
    cr_expect_str_eq(tr->id, i->state->training_op_id);
    cr_expect_str_eq(bt->id, i->state->backtest_op_id);
    cr_expect_eq(tr->status, KTPB__V1__OP_STATUS__OP_COMPLETED);
    cr_expect_eq(bt->status, KTPB__V1__OP_STATUS__OP_COMPLETED);
    // Strategy, memory and budget files.
    cr_expect(rx_exists(i->state->strategy_path), "%s",
              i->state->strategy_path);
    cr_expect(strstr(i->state->strategy_path, "/strategies/research/") != NULL);
    snprintf(path, sizeof(path), "%s/memory/experiments/%s.yaml", f.dir, id);
    cr_expect(rx_exists(path), "%s", path);
    cr_expect_str_eq(i->state->experiment_path, path);
    snprintf(path, sizeof(path), "%s/memory/hypotheses.yaml", f.dir);
    cr_expect(rx_exists(path));
    cr_expect_gt(budget_today(), 0.0);
    cr_expect_gt(s->budget_spent, 0.0);
    ktpb__v1__research_status_reply__free_unpacked(s, NULL);
    free(id);
}

Test(research, training_gate_rejection_routes_to_assessing)
{
    Ktpb__V1__ResearchStatusReply *s;
    Ktpb__V1__ResearchInfo *i;
    char path[600], *text = NULL;
    FILE *fp;
    char *id;

    f.rc.gates_set = true;
    kt_rs_gates_default(&f.rc.gates);
    f.rc.gates.min_accuracy = 0.0; // only the loss gate can fail, and
    f.rc.gates.max_loss = 0.0001;  // no model passes it (the design, and so
                                   // its accuracy, varies with the op id)
    cr_assert_eq(rx_open(&f), KT_OK);
    id = rx_start(&f, "mean reversion", "", false);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, RX_MS));
    s = rx_info(&f, id);
    i = info_of(s);
    cr_expect(strncmp(i->state->gate_reason, "Training gate failed: test loss",
                      31) == 0,
              "%s", i->state->gate_reason);
    cr_expect_str_eq(i->state->backtest_op_id, "");
    cr_expect_null(child_of(i, "backtesting"));
    cr_expect_str_eq(i->state->verdict, "poor");
    snprintf(path, sizeof(path), "%s/memory/experiments/%s.yaml", f.dir, id);
    cr_assert_not_null(fp = fopen(path, "r"));
    text = calloc(1, 8192);
    cr_assert_gt(fread(text, 1, 8191, fp), 0);
    fclose(fp);
    cr_expect(strstr(text, "status: gate_rejected_training") != NULL, "%s",
              text);
    cr_expect(strstr(text, "verdict: \"poor\"") != NULL);
    free(text);
    ktpb__v1__research_status_reply__free_unpacked(s, NULL);
    free(id);
}

Test(research, given_strategy_skips_design)
{
    Ktpb__V1__ResearchStatusReply *s;
    Ktpb__V1__ResearchInfo *i;
    char *id;

    cr_assert_eq(rx_open(&f), KT_OK);
    id = rx_start(&f, "", f.strat, true);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, RX_MS));
    s = rx_info(&f, id);
    i = info_of(s);
    cr_expect_eq(i->state->budget->design_calls, 0);
    cr_expect_eq(f.design_calls, 0);
    cr_expect_str_eq(i->state->strategy_name, "rx_test");
    cr_expect_str_eq(i->state->strategy_path, f.strat);
    ktpb__v1__research_status_reply__free_unpacked(s, NULL);
    free(id);
}

static void
expect_refused(const char *brief, const char *strategy, int32_t status,
               const char *text)
{
    Ktpb__V1__ResearchReply *r = rx_trigger(&f, brief, strategy, false, 3);

    cr_expect_eq(r->status, status, "status %d: %s", r->status, r->message);
    cr_expect(strstr(r->message, text) != NULL, "message: %s", r->message);
    cr_expect_null(r->op);
    ktpb__v1__research_reply__free_unpacked(r, NULL);
}

Test(research, trigger_refuses_bad_requests)
{
    char bad[300];

    cr_assert_eq(rx_open(&f), KT_OK);
    expect_refused("x", f.strat, KT_EINVAL, "mutually exclusive");
    expect_refused("", "", KT_EINVAL, "brief or a strategy is required");
    snprintf(bad, sizeof(bad), "%s/nope.yaml", f.dir);
    expect_refused("", bad, KT_ENOENT, "nope.yaml");
    cr_expect_eq(f.design_calls, 0);
}

Test(research, trigger_refuses_when_the_daily_budget_is_spent)
{
    char path[700], dir[300];
    time_t now = time(NULL);
    struct tm tm;
    FILE *fp;

    gmtime_r(&now, &tm);
    snprintf(dir, sizeof(dir), "%s/budget", f.dir);
    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/%04d-%02d-%02d.json", dir,
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    cr_assert_not_null(fp = fopen(path, "w"));
    fputs("{\"limit\": 1.0, \"spend\": [], \"total_spend\": 1.5}", fp);
    fclose(fp);
    f.rc.budget_limit = 1.0;
    cr_assert_eq(rx_open(&f), KT_OK);
    expect_refused("momentum", "", KT_ESTATE, "Daily budget exhausted");
}

Test(research, budget_exhausted_mid_run_fails_the_research)
{
    Ktpb__V1__OpsReply *r;
    char *id;

    f.rc.budget_limit = 0.01; // the design alone costs more
    cr_assert_eq(rx_open(&f), KT_OK);
    id = rx_start(&f, "momentum", "", true);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_FAILED, RX_MS));
    r = rx_get(&f, id);
    cr_expect(strstr(r->op->error, "Daily budget exhausted") != NULL, "%s",
              r->op->error);
    cr_expect_gt(r->op->checkpoint_seq, 0); // failure checkpoint
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    cr_expect_gt(budget_today(), 0.01);
    free(id);
}

// The research's own checkpoints cannot be made durable (the commit of
// each fails with EIO; its children's saves work): it fails at its first
// phase checkpoint, loudly, and does not go on without one.
static int
fail_research_commit(void *arg, kt_persist_fault_op op, const char *path)
{
    (void)arg;
    if (op != KT_PERSIST_OP_DB_COMMIT) {
        return 0;
    }
    return strstr(path, "op_agent_research_") != NULL ? EIO : 0;
}

Test(research, failed_checkpoint_save_fails_the_research_loudly)
{
    Ktpb__V1__OpsReply *r;
    char *id;

    f.fault = fail_research_commit;
    log_capture_start();
    cr_assert_eq(rx_open(&f), KT_OK);
    id = rx_start(&f, "momentum", "", true);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_FAILED, RX_MS));
    r = rx_get(&f, id);
    cr_expect(strstr(r->op->error, "Checkpoint save failed") != NULL, "%s",
              r->op->error);
    cr_expect_eq(r->op->checkpoint_seq, 0, "no checkpoint was recorded");
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    cr_expect(log_seen("Checkpoint save failed"));
    free(id);
    log_capture_stop();
}

Test(research, invalid_designs_are_retried_with_the_validator_errors)
{
    char *id;

    f.invalid_designs = 2; // the third try is valid
    cr_assert_eq(rx_open(&f), KT_OK);
    id = rx_start(&f, "momentum", "", true);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, RX_MS));
    cr_expect_eq(f.design_calls, 3);
    free(id);
}

Test(research, invalid_designs_fail_the_phase_after_three_tries)
{
    Ktpb__V1__OpsReply *r;
    char *id;

    f.invalid_designs = 100;
    cr_assert_eq(rx_open(&f), KT_OK);
    id = rx_start(&f, "momentum", "", true);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_FAILED, RX_MS));
    r = rx_get(&f, id);
    cr_expect(strstr(r->op->error, "Design failed after 3 attempts") != NULL,
              "%s", r->op->error);
    cr_expect(strstr(r->op->error, "training_data") != NULL, "%s",
              r->op->error);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    cr_expect_eq(f.design_calls, 3);
    free(id);
}

Test(research, status_lists_live_researches_and_unknown_ids_fail)
{
    Ktpb__V1__ResearchStatusReply *s;
    char *id;

    cr_assert_eq(rx_open(&f), KT_OK);
    rx_gate_set(&f, "design", 0);
    id = rx_start(&f, "momentum", "", true);
    cr_assert(rx_gate_wait(&f));
    s = rx_info(&f, "");
    cr_assert_eq(s->n_researches, 1);
    cr_expect_str_eq(s->researches[0]->op_id, id);
    cr_expect_str_eq(s->researches[0]->phase, "designing");
    ktpb__v1__research_status_reply__free_unpacked(s, NULL);
    s = rx_info(&f, "op_agent_research_nope");
    cr_expect_eq(s->status, KT_ENOENT, "%d %s", s->status, s->message);
    ktpb__v1__research_status_reply__free_unpacked(s, NULL);
    rx_gate_release(&f);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, RX_MS));
    free(id);
}
