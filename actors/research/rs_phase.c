// rs_phase.c: the research phases: entering one (checkpoint first), the
// design loop (validator feedback, bounded tries), the assessment and the
// memory files, the budget checks around every plug-in call.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kt/log.h>

#include "domain/strategy.h"
#include "operations/pbmsg.h"
#include "research/rs_actor.h"

void
kt__rs_enter(rs *r, const char *phase)
{
    kt__strlcpy(r->phase, phase, sizeof(r->phase));
    r->child[0] = '\0';
    r->child_done = false;
    r->child_pct = 0;
    r->child_step[0] = '\0';
    kt__rs_progress(r, true);
    kt__rs_publish(r, false);
    kt__rs_save(r, KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_PERIODIC,
                RA_RUN_PHASE);
}

// rs_spawn_runner starts a plug-in runner and sends it the request.
static kt_err
rs_spawn_runner(rs *r, uint32_t type, const ProtobufCMessage *m)
{
    kt__rs_runner_cfg c = {.reply_to = kt_self(r->self), .cancel_fd = -1};
    kt_spawn_opts so = {.name = NULL, .dedicated = true};
    int fds[2];
    kt_aid aid;
    kt_err rv;

    c.designer = r->cfg.designer;
    c.assessor = r->cfg.assessor;
    if (pipe(fds) != 0) {
        return KT_ESYSERR;
    }
    (void)fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    (void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    c.cancel_fd = fds[0];
    if ((rv = kt_spawn(kt_actor_runtime(r->self), &kt__rs_runner_ops, &c, &so,
                       &aid)) != KT_OK) {
        (void)close(fds[0]);
        (void)close(fds[1]);
        return rv;
    }
    if (r->cancel_wr >= 0) {
        (void)close(r->cancel_wr);
    }
    r->cancel_wr = fds[1];
    r->runner_busy = true;
    return kt__pb_send(r->self, aid, type, m);
}

static bool
rs_budget_ok(rs *r)
{
    char why[300];

    if (kt__rs_budget_check(r->data_dir, r->cfg.budget_limit, why,
                            sizeof(why)) != KT_OK) {
        kt__rs_fail(r, "%s", why);
        return false;
    }
    return true;
}

static void
rs_design(rs *r)
{
    Ktpb__V1__DesignRequest d;
    char *memory;
    kt_err rv;

    if (!rs_budget_ok(r)) {
        return;
    }
    memory = kt__rs_memory_summary(r->data_dir);
    ktpb__v1__design_request__init(&d);
    d.brief = r->rq->brief;
    d.symbol = r->rq->symbol[0] ? r->rq->symbol : KT_PB_STR("EURUSD");
    d.timeframe = r->rq->timeframe[0] ? r->rq->timeframe : KT_PB_STR("1h");
    d.memory = memory != NULL ? memory : KT_PB_STR("");
    d.feedback = r->feedback;
    d.seed = r->rq->opt_seed_case ? r->rq->seed : kt__rs_seed(r->id);
    d.attempt = ++r->budget.design_attempts;
    d.model = r->rq->model;
    d.op_id = r->id;
    r->budget.design_calls++;
    rv = rs_spawn_runner(r, KT_RS_DESIGN, &d.base);
    free(memory);
    if (rv != KT_OK) {
        kt__rs_fail(r, "Design failed: cannot start the designer: %s",
                    kt_strerror(rv));
    }
}

static void
rs_assess(rs *r)
{
    Ktpb__V1__AssessRequest a;
    Ktpb__V1__ResearchState st;
    Ktpb__V1__TrainingResult *tr;
    Ktpb__V1__BacktestSummary *bt;
    kt_err rv;

    if (!rs_budget_ok(r)) {
        return;
    }
    kt__rs_state(r, &st, &tr, &bt);
    ktpb__v1__assess_request__init(&a);
    a.strategy_name = r->strategy_name;
    a.training = tr;
    a.backtest = bt;
    a.gate_reason = r->gate_reason;
    a.model = r->rq->model;
    a.op_id = r->id;
    a.brief = r->rq->brief;
    r->budget.assess_calls++;
    rv = rs_spawn_runner(r, KT_RS_ASSESS, &a.base);
    kt__rs_state_free(tr, bt);
    if (rv != KT_OK) {
        kt__rs_fail(r, "Assessment failed: cannot start the assessor: %s",
                    kt_strerror(rv));
    }
}

void
kt__rs_run_phase(rs *r)
{
    if (strcmp(r->phase, "designing") == 0) {
        r->budget.design_attempts = 0;
        r->feedback[0] = '\0';
        rs_design(r);
    } else if (strcmp(r->phase, "training") == 0) {
        kt__rs_child_run(r, true);
    } else if (strcmp(r->phase, "backtesting") == 0) {
        kt__rs_child_run(r, false);
    } else if (strcmp(r->phase, "assessing") == 0) {
        rs_assess(r);
    } else {
        kt__rs_complete(r);
    }
}

// rs_spend counts a plug-in's reported cost in the research and the day.
static void
rs_spend(rs *r, uint64_t in, uint64_t out, double cost)
{
    kt_err rv;

    r->budget.tokens_in += in;
    r->budget.tokens_out += out;
    r->budget.cost_usd += cost;
    rv = kt__rs_budget_add(r->data_dir, r->cfg.budget_limit, cost, r->id);
    if (rv != KT_OK) {
        kt_log(KT_LOG_ERR, "research",
               "actor=research op=%s event=budget_write_failed err=%s", r->id,
               kt_strerror(rv));
    }
}

kt_err
kt__rs_use_strategy(rs *r, const char *path, char *err, size_t n)
{
    kt_strategy *s = NULL;
    char *text = NULL;
    size_t len = 0;
    kt_err rv;

    if ((rv = kt__rs_read_file(path, &text, &len)) != KT_OK) {
        (void)snprintf(err, n, "Strategy file not found: %s", path);
        return rv;
    }
    if ((rv = kt_strategy_parse(text, len, path, &s, err, n)) != KT_OK) {
        free(text);
        return rv;
    }
    kt__strlcpy(r->strategy_name, s->name, sizeof(r->strategy_name));
    kt__strlcpy(r->strategy_path, path, sizeof(r->strategy_path));
    kt__strlcpy(r->symbol, r->rq->symbol[0] ? r->rq->symbol : s->symbols[0],
                sizeof(r->symbol));
    kt__strlcpy(r->timeframe,
                r->rq->timeframe[0] ? r->rq->timeframe : s->timeframes[0],
                sizeof(r->timeframe));
    free(r->yaml);
    r->yaml = text;
    kt_strategy_free(s);
    return KT_OK;
}

// rs_design_accept validates the designed YAML; true when it was saved.
static bool
rs_design_accept(rs *r, const Ktpb__V1__DesignResult *d, char *err, size_t n)
{
    char path[RS_PATH_MAX + 256];
    kt_strategy *s = NULL;
    kt_err rv;

    if (kt_strategy_parse(d->yaml, strlen(d->yaml),
                          d->name[0] ? d->name : "designed strategy", &s, err,
                          n) != KT_OK) {
        return false;
    }
    (void)snprintf(path, sizeof(path), "%s/strategies/research/%s.yaml",
                   r->data_dir, s->name);
    kt_strategy_free(s);
    if ((rv = kt__rs_write_atomic(path, d->yaml, strlen(d->yaml))) != KT_OK) {
        (void)snprintf(err, n, "cannot write %.300s: %s", path,
                       kt_strerror(rv));
        return false;
    }
    return kt__rs_use_strategy(r, path, err, n) == KT_OK;
}

void
kt__rs_design_done(rs *r, const kt_msg *msg)
{
    Ktpb__V1__DesignResult *d = (Ktpb__V1__DesignResult *)kt__pb_unpack(
        &ktpb__v1__design_result__descriptor, msg, "research");
    char err[1200];
    uint32_t max = r->cfg.max_design_tries;

    r->runner_busy = false;
    if (d == NULL || r->finishing || r->stopping ||
        strcmp(r->phase, "designing") != 0) {
        goto out; // late: cancelled meanwhile
    }
    rs_spend(r, d->tokens_in, d->tokens_out, d->cost_usd);
    if (d->status != KT_OK) {
        kt__rs_fail(r, "Design failed: %s", d->message);
    } else if (rs_design_accept(r, d, err, sizeof(err))) {
        kt_log(KT_LOG_NOTICE, "research",
               "actor=research op=%s event=designed strategy=%s tries=%u",
               r->id, r->strategy_name, r->budget.design_attempts);
        kt__rs_enter(r, "training");
    } else if (r->budget.design_attempts < max) {
        kt__strlcpy(r->feedback, err, sizeof(r->feedback));
        rs_design(r);
    } else {
        kt__rs_fail(r, "Design failed after %u attempts: %s", max, err);
    }
out:
    if (d != NULL) {
        ktpb__v1__design_result__free_unpacked(d, NULL);
    }
}

static void
rs_remember(rs *r, const Ktpb__V1__AssessResult *a)
{
    Ktpb__V1__ResearchState st;
    Ktpb__V1__TrainingResult *tr;
    Ktpb__V1__BacktestSummary *bt;
    kt_err rv;

    kt__rs_state(r, &st, &tr, &bt);
    rv = kt__rs_memory_record(r->data_dir, r->id, &st, a, r->experiment_path,
                              sizeof(r->experiment_path));
    kt__rs_state_free(tr, bt);
    if (rv != KT_OK) {
        kt__rs_fail(r, "cannot write the experiment record: %s",
                    kt_strerror(rv));
        return;
    }
    kt__rs_enter(r, "completed");
}

void
kt__rs_assess_done(rs *r, const kt_msg *msg)
{
    Ktpb__V1__AssessResult *a = (Ktpb__V1__AssessResult *)kt__pb_unpack(
        &ktpb__v1__assess_result__descriptor, msg, "research");

    r->runner_busy = false;
    if (a == NULL || r->finishing || r->stopping ||
        strcmp(r->phase, "assessing") != 0) {
        goto out;
    }
    rs_spend(r, a->tokens_in, a->tokens_out, a->cost_usd);
    if (a->status != KT_OK) {
        kt__rs_fail(r, "Assessment failed: %s", a->message);
        goto out;
    }
    kt__strlcpy(r->verdict, a->verdict, sizeof(r->verdict));
    rs_remember(r, a);
out:
    if (a != NULL) {
        ktpb__v1__assess_result__free_unpacked(a, NULL);
    }
}
