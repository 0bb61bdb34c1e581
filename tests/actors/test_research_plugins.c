// The research plug-ins and helpers on their own: the external command
// runner (output, exit status, timeout, cancellation), the command
// designer/assessor output parsing, the offline designer (always valid,
// seeded, keyword-guided), the rules assessor, the gates, the budget file
// and the memory files.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "domain/strategy.h"
#include "research/rs_int.h"

static char dir[64];

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/kt-rsp-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(research_plugins, .init = setup, .fini = teardown, .timeout = 30.0);

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Test(research_plugins, command_output_is_collected_with_the_input_on_stdin)
{
    char *out = NULL, why[256] = "";

    cr_assert_eq(kt__rs_run_cmd("tr a-z A-Z", "hello prompt", 2000, -1, &out,
                                why, sizeof(why)),
                 KT_OK, "%s", why);
    cr_expect_str_eq(out, "HELLO PROMPT");
    free(out);
    // A command that does not read its input still succeeds.
    cr_assert_eq(
        kt__rs_run_cmd("echo ok", "ignored", 2000, -1, &out, why, sizeof(why)),
        KT_OK, "%s", why);
    cr_expect_str_eq(out, "ok\n");
    free(out);
}

Test(research_plugins, command_exit_status_and_stderr_are_reported)
{
    char *out = NULL, why[256] = "";

    cr_expect_eq(kt__rs_run_cmd("echo bad thing >&2; exit 3", "", 2000, -1,
                                &out, why, sizeof(why)),
                 KT_EINVAL);
    cr_expect_null(out);
    cr_expect(strstr(why, "exited with status 3") != NULL, "%s", why);
    cr_expect(strstr(why, "bad thing") != NULL, "%s", why);
}

Test(research_plugins, command_past_its_deadline_is_killed)
{
    char *out = NULL, why[256] = "";
    int64_t t0 = now_ms();

    cr_expect_eq(kt__rs_run_cmd("sleep 5; echo late", "", 150, -1, &out, why,
                                sizeof(why)),
                 KT_ETIMEDOUT);
    cr_expect_lt(now_ms() - t0, 2000, "not killed in time");
    cr_expect(strstr(why, "timed out after 150 ms") != NULL, "%s", why);
    cr_expect_null(out);
}

Test(research_plugins, command_is_killed_when_the_cancel_pipe_hangs_up)
{
    char *out = NULL, why[256] = "";
    int fds[2];
    int64_t t0;

    cr_assert_eq(pipe(fds), 0);
    close(fds[1]); // the research was cancelled
    t0 = now_ms();
    cr_expect_eq(
        kt__rs_run_cmd("sleep 5", "", 10000, fds[0], &out, why, sizeof(why)),
        KT_ECANCELED);
    cr_expect_lt(now_ms() - t0, 2000);
    close(fds[0]);
}

Test(research_plugins, command_that_cannot_start_is_an_error)
{
    char *out = NULL, why[256] = "";

    cr_expect_eq(kt__rs_run_cmd("/nonexistent/designer", "", 2000, -1, &out,
                                why, sizeof(why)),
                 KT_EINVAL); // sh reports 127
    cr_expect(strstr(why, "status 127") != NULL, "%s", why);
}

static Ktpb__V1__DesignRequest
design_req(const char *brief, uint64_t seed)
{
    Ktpb__V1__DesignRequest d;

    ktpb__v1__design_request__init(&d);
    d.brief = (char *)(uintptr_t)brief;
    d.symbol = (char *)(uintptr_t) "AAPL";
    d.timeframe = (char *)(uintptr_t) "1h";
    d.seed = seed;
    d.attempt = 1;
    return d;
}

static void
design_free(Ktpb__V1__DesignResult *r)
{
    char **fields[] = {&r->yaml, &r->name, &r->message, &r->transcript};

    for (size_t i = 0; i < 4; i++) {
        if (*fields[i] != protobuf_c_empty_string) {
            free(*fields[i]);
        }
    }
}

Test(research_plugins, offline_designs_always_validate)
{
    static const char *briefs[] = {"",
                                   "momentum",
                                   "mean reversion rsi",
                                   "trend strength",
                                   "volatility squeeze",
                                   "everything: momentum trend volatility"};

    for (uint64_t seed = 0; seed < 40; seed++) {
        const char *b = briefs[seed % 6];
        Ktpb__V1__DesignRequest in = design_req(b, seed * 7919);
        Ktpb__V1__DesignResult out;
        kt_strategy *s = NULL;
        char err[512];

        ktpb__v1__design_result__init(&out);
        kt_rs_offline_designer.design(NULL, &in, -1, &out);
        cr_assert_eq(out.status, 0);
        cr_assert_eq(kt_strategy_parse(out.yaml, strlen(out.yaml), out.name, &s,
                                       err, sizeof(err)),
                     KT_OK, "seed %llu: %s\n%s", (unsigned long long)seed, err,
                     out.yaml);
        cr_expect_str_eq(s->name, out.name);
        cr_expect_geq(s->n_indicators, 2);
        cr_expect_gt(out.cost_usd, 0.0);
        kt_strategy_free(s);
        design_free(&out);
    }
}

Test(research_plugins, offline_designer_is_seeded_and_follows_keywords)
{
    Ktpb__V1__DesignRequest in = design_req("volatility squeeze", 42);
    Ktpb__V1__DesignResult a, b, c;

    ktpb__v1__design_result__init(&a);
    ktpb__v1__design_result__init(&b);
    ktpb__v1__design_result__init(&c);
    kt_rs_offline_designer.design(NULL, &in, -1, &a);
    kt_rs_offline_designer.design(NULL, &in, -1, &b);
    cr_expect_str_eq(a.yaml, b.yaml);
    cr_expect(strstr(a.yaml, "bollingerbandwidth") != NULL, "%s", a.yaml);
    in.seed = 43;
    kt_rs_offline_designer.design(NULL, &in, -1, &c);
    cr_expect_str_neq(a.yaml, c.yaml);
    design_free(&a);
    design_free(&b);
    design_free(&c);
}

Test(research_plugins, command_designer_reads_json_or_plain_yaml)
{
    kt_rs_cmd c = {.cmd = "printf '{\"name\":\"n1\",\"yaml\":\"a: 1\\\\n\","
                          "\"tokens_in\":1000,\"tokens_out\":2000}'",
                   .timeout_ms = 2000};
    Ktpb__V1__DesignRequest in = design_req("x", 1);
    Ktpb__V1__DesignResult out;
    kt_rs_designer d;

    kt_rs_cmd_designer(&c, &d);
    ktpb__v1__design_result__init(&out);
    d.design(d.arg, &in, -1, &out);
    cr_assert_eq(out.status, 0, "%s", out.message);
    cr_expect_str_eq(out.name, "n1");
    cr_expect_str_eq(out.yaml, "a: 1\n");
    cr_expect_eq(out.tokens_in, 1000);
    cr_expect_gt(out.cost_usd, 0.0); // priced from the tokens
    design_free(&out);
    c.cmd = "echo 'name: plain'";
    ktpb__v1__design_result__init(&out);
    d.design(d.arg, &in, -1, &out);
    cr_expect_str_eq(out.yaml, "name: plain\n");
    design_free(&out);
    c.cmd = "exit 9";
    ktpb__v1__design_result__init(&out);
    d.design(d.arg, &in, -1, &out);
    cr_expect_eq(out.status, KT_EINVAL);
    cr_expect(strstr(out.message, "status 9") != NULL, "%s", out.message);
    design_free(&out);
}

static Ktpb__V1__AssessResult *
assess_with(const kt_rs_assessor *a, const Ktpb__V1__AssessRequest *in)
{
    Ktpb__V1__AssessResult *out = malloc(sizeof(*out));

    ktpb__v1__assess_result__init(out);
    a->assess(a->arg, in, -1, out);
    return out;
}

Test(research_plugins, command_assessor_validates_its_json)
{
    kt_rs_cmd c = {.cmd = "echo '{\"verdict\":\"promising\",\"strengths\":"
                          "[\"s\"],\"hypotheses\":[{\"text\":\"t\","
                          "\"rationale\":\"r\"}]}'",
                   .timeout_ms = 2000};
    Ktpb__V1__AssessRequest in;
    Ktpb__V1__AssessResult *out;
    kt_rs_assessor a;

    ktpb__v1__assess_request__init(&in);
    kt_rs_cmd_assessor(&c, &a);
    out = assess_with(&a, &in);
    cr_assert_eq(out->status, 0, "%s", out->message);
    cr_expect_str_eq(out->verdict, "promising");
    cr_assert_eq(out->n_strengths, 1);
    cr_assert_eq(out->n_hypotheses, 1);
    cr_expect_str_eq(out->hypotheses[0]->rationale, "r");
    ktpb__v1__assess_result__free_unpacked(out, NULL);
    c.cmd = "echo '{\"verdict\":\"great\"}'";
    out = assess_with(&a, &in);
    cr_expect_eq(out->status, KT_EPROTO);
    cr_expect(strstr(out->message, "promising, neutral or poor") != NULL);
    ktpb__v1__assess_result__free_unpacked(out, NULL);
    c.cmd = "echo not json at all";
    out = assess_with(&a, &in);
    cr_expect_eq(out->status, KT_EPROTO);
    cr_expect(strstr(out->message, "not a JSON object") != NULL, "%s",
              out->message);
    ktpb__v1__assess_result__free_unpacked(out, NULL);
}

static const char *
rules_verdict(double sharpe, double dd, uint64_t trades, const char *gate)
{
    static char v[16];
    Ktpb__V1__BacktestMetrics m;
    Ktpb__V1__BacktestSummary s;
    Ktpb__V1__AssessRequest in;
    Ktpb__V1__AssessResult *out;

    ktpb__v1__backtest_metrics__init(&m);
    ktpb__v1__backtest_summary__init(&s);
    ktpb__v1__assess_request__init(&in);
    m.sharpe_ratio = sharpe;
    m.max_drawdown_pct = dd;
    m.total_trades = trades;
    s.metrics = &m;
    in.backtest = &s;
    in.gate_reason = (char *)(uintptr_t)gate;
    out = assess_with(&kt_rs_rules_assessor, &in);
    snprintf(v, sizeof(v), "%s", out->verdict);
    cr_expect_gt(out->n_hypotheses, 0);
    ktpb__v1__assess_result__free_unpacked(out, NULL);
    return v;
}

Test(research_plugins, rules_assessor_applies_the_rubric)
{
    cr_expect_str_eq(rules_verdict(1.5, 0.10, 80, ""), "promising");
    cr_expect_str_eq(rules_verdict(0.5, 0.10, 80, ""), "neutral");
    cr_expect_str_eq(rules_verdict(1.5, 0.25, 80, ""), "neutral");
    cr_expect_str_eq(rules_verdict(-0.1, 0.10, 80, ""), "poor");
    cr_expect_str_eq(rules_verdict(1.5, 0.35, 80, ""), "poor");
    cr_expect_str_eq(rules_verdict(1.5, 0.10, 10, ""), "poor");
    cr_expect_str_eq(rules_verdict(1.5, 0.10, 80, "Training gate failed"),
                     "poor");
}

Test(research_plugins, gates_use_ktrdr_thresholds)
{
    Ktpb__V1__TestMetrics t;
    Ktpb__V1__TrainingResult tr;
    Ktpb__V1__BacktestMetrics m;
    Ktpb__V1__BacktestSummary s;
    kt_rs_gates g;
    char why[200];

    kt_rs_gates_default(&g);
    ktpb__v1__test_metrics__init(&t);
    ktpb__v1__training_result__init(&tr);
    cr_expect_not(kt_rs_gate_training(&g, &tr, why, sizeof(why)));
    cr_expect_str_eq(why, "Training gate failed: no test metrics");
    tr.test = &t;
    t.accuracy = 0.5;
    t.loss = 0.7;
    cr_expect(kt_rs_gate_training(&g, &tr, why, sizeof(why)));
    t.loss = 1.0986; // chance level, 3 classes
    cr_expect_not(kt_rs_gate_training(&g, &tr, why, sizeof(why)));
    cr_expect_str_eq(why, "Training gate failed: test loss 1.099 > 0.800");
    t.loss = 0.5;
    t.accuracy = 0.05;
    cr_expect_not(kt_rs_gate_training(&g, &tr, why, sizeof(why)));
    t.accuracy = 0.0 / 0.0; // NaN never passes
    cr_expect_not(kt_rs_gate_training(&g, &tr, why, sizeof(why)));
    // The training loss from the first to the last epoch.
    Ktpb__V1__TrainMetrics tm;
    ktpb__v1__train_metrics__init(&tm);
    tr.train = &tm;
    t.accuracy = 0.5;
    tm.first_train_loss = 1.0;
    tm.final_train_loss = 1.5; // grew by exactly half: still passes
    cr_expect(kt_rs_gate_training(&g, &tr, why, sizeof(why)));
    tm.final_train_loss = 1.6;
    cr_expect_not(kt_rs_gate_training(&g, &tr, why, sizeof(why)));
    cr_expect_str_eq(why, "Training gate failed: train loss decrease -60.0% < "
                          "-50.0% (1.000 -> 1.600)");
    tm.final_train_loss = 0.0 / 0.0;
    cr_expect_not(kt_rs_gate_training(&g, &tr, why, sizeof(why)));
    tm.first_train_loss = 0.0; // not recorded (older model): not judged
    cr_expect(kt_rs_gate_training(&g, &tr, why, sizeof(why)));
    tr.train = NULL;
    ktpb__v1__backtest_metrics__init(&m);
    ktpb__v1__backtest_summary__init(&s);
    s.metrics = &m;
    m.win_rate = 0.4;
    m.max_drawdown_pct = 0.2;
    m.sharpe_ratio = -0.4;
    cr_expect(kt_rs_gate_backtest(&g, &s, why, sizeof(why)));
    m.sharpe_ratio = -0.6;
    cr_expect_not(kt_rs_gate_backtest(&g, &s, why, sizeof(why)));
    cr_expect(strstr(why, "Sharpe") != NULL);
    m.sharpe_ratio = 0;
    m.max_drawdown_pct = 0.5;
    cr_expect_not(kt_rs_gate_backtest(&g, &s, why, sizeof(why)));
    m.max_drawdown_pct = 0.1;
    m.win_rate = 0.05;
    cr_expect_not(kt_rs_gate_backtest(&g, &s, why, sizeof(why)));
}

Test(research_plugins, budget_counts_spend_per_day_and_refuses_past_the_limit)
{
    double spent = -1;
    char why[200] = "", path[400];
    FILE *fp;

    cr_assert_eq(kt__rs_budget_spent(dir, &spent), KT_OK);
    cr_expect_eq(spent, 0.0);
    cr_expect_eq(kt__rs_budget_check(dir, 1.0, why, sizeof(why)), KT_OK);
    cr_assert_eq(kt__rs_budget_add(dir, 1.0, 0.6, "op_a"), KT_OK);
    cr_assert_eq(kt__rs_budget_add(dir, 1.0, 0.5, "op_b"), KT_OK);
    cr_assert_eq(kt__rs_budget_spent(dir, &spent), KT_OK);
    cr_expect_float_eq(spent, 1.1, 1e-9);
    cr_expect_eq(kt__rs_budget_check(dir, 1.0, why, sizeof(why)), KT_ESTATE);
    cr_expect(strstr(why, "Daily budget exhausted: $1.1000 of $1.00") != NULL,
              "%s", why);
    cr_expect_eq(kt__rs_budget_check(dir, -1, why, sizeof(why)), KT_OK);
    // A damaged file is read as an empty day, never as a crash.
    snprintf(path, sizeof(path), "%s/budget", dir);
    DIR *d = opendir(path);
    struct dirent *e;
    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof(path), "%s/budget/%s", dir, e->d_name);
        }
    }
    closedir(d);
    cr_assert_not_null(fp = fopen(path, "w"));
    fputs("{not json", fp);
    fclose(fp);
    cr_assert_eq(kt__rs_budget_spent(dir, &spent), KT_OK);
    cr_expect_eq(spent, 0.0);
}

static char *
slurp(const char *path)
{
    char *text = NULL;

    cr_assert_eq(kt__rs_read_file(path, &text, NULL), KT_OK, "%s", path);
    return text;
}

Test(research_plugins, memory_records_experiments_and_appends_hypotheses)
{
    Ktpb__V1__ResearchState st;
    Ktpb__V1__ResearchTriggerRequest rq;
    Ktpb__V1__AssessResult a;
    Ktpb__V1__Hypothesis h, *hs[] = {&h};
    char *weak[] = {(char *)(uintptr_t) "quote \" and\nnewline"};
    char path[600], hyp[300], *text, *sum;

    ktpb__v1__research_state__init(&st);
    ktpb__v1__research_trigger_request__init(&rq);
    ktpb__v1__assess_result__init(&a);
    ktpb__v1__hypothesis__init(&h);
    rq.brief = (char *)(uintptr_t) "find: momentum";
    st.request = &rq;
    st.strategy_name = (char *)(uintptr_t) "s1";
    st.gate_reason = (char *)(uintptr_t) "Backtest gate failed: Sharpe";
    a.verdict = (char *)(uintptr_t) "poor";
    a.weaknesses = weak;
    a.n_weaknesses = 1;
    h.text = (char *)(uintptr_t) "RSI works on hourly bars";
    h.rationale = (char *)(uintptr_t) "seen twice";
    a.hypotheses = hs;
    a.n_hypotheses = 1;
    cr_assert_eq(kt__rs_memory_record(dir, "op_x", &st, &a, path, sizeof(path)),
                 KT_OK);
    text = slurp(path);
    cr_expect(strstr(text, "brief: \"find: momentum\"") != NULL, "%s", text);
    cr_expect(strstr(text, "\"quote \\\" and\\nnewline\"") != NULL, "%s", text);
    cr_expect(strstr(text, "status: gate_rejected_backtest") != NULL);
    free(text);
    cr_assert_eq(kt__rs_memory_record(dir, "op_y", &st, &a, path, sizeof(path)),
                 KT_OK);
    snprintf(hyp, sizeof(hyp), "%s/memory/hypotheses.yaml", dir);
    text = slurp(hyp);
    cr_expect(strstr(text, "id: H_001") != NULL, "%s", text);
    cr_expect(strstr(text, "id: H_002") != NULL, "%s", text);
    cr_expect(strstr(text, "source_experiment: \"op_y\"") != NULL);
    free(text);
    sum = kt__rs_memory_summary(dir);
    cr_expect(strstr(sum, "2 earlier experiments") != NULL, "%s", sum);
    cr_expect(strstr(sum, "RSI works on hourly bars") != NULL, "%s", sum);
    free(sum);
}

Test(research_plugins, atomic_write_refuses_an_unwritable_place)
{
    char path[300];

    snprintf(path, sizeof(path), "%s/f", dir);
    cr_assert_eq(kt__rs_write_atomic(path, "x", 1), KT_OK);
    snprintf(path, sizeof(path), "%s/f/under_a_file", dir);
    cr_expect_neq(kt__rs_write_atomic(path, "x", 1), KT_OK);
    cr_expect_eq(kt__rs_read_file("/nonexistent/x", &(char *){NULL}, NULL),
                 KT_ENOENT);
}
