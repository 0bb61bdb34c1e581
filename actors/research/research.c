// research.c: the research actor's skeleton: init (a new research or a
// resumed one), message dispatch, asks and their answers, checkpoints,
// progress and events, and the three ends (completed, failed, cancelled).
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kt/log.h>

#include "operations/operations.h"
#include "operations/pbmsg.h"
#include "persistence/persistence.h"
#include "research/rs_actor.h"

kt_err
kt__rs_ask(rs *r, kt_aid to, uint32_t type, const ProtobufCMessage *m,
           rs_pk kind, rs_after after)
{
    rs_pend *p = calloc(1, sizeof(*p));
    kt_err rv;

    if (p == NULL) {
        return KT_ENOMEM;
    }
    rv = kt__pb_ask(r->self, to, type, m, r->cfg.ask_timeout_ms, &p->corr);
    if (rv != KT_OK) {
        free(p);
        return rv;
    }
    p->kind = kind;
    p->after = after;
    p->next = r->pends;
    r->pends = p;
    return KT_OK;
}

static const char *const rs_phase_names[] = {
    "idle", "designing", "training", "backtesting", "assessing", "completed",
};

static int64_t
rs_phase_index(const char *phase)
{
    for (size_t i = 0; i < sizeof(rs_phase_names) / sizeof(char *); i++) {
        if (strcmp(phase, rs_phase_names[i]) == 0) {
            return (int64_t)i;
        }
    }
    return 0;
}

void
kt__rs_state(rs *r, Ktpb__V1__ResearchState *st, Ktpb__V1__TrainingResult **tr,
             Ktpb__V1__BacktestSummary **bt)
{
    ktpb__v1__research_state__init(st);
    st->format_version = KT_RS_CKPT_FORMAT;
    st->phase = r->phase;
    st->strategy_name = r->strategy_name;
    st->strategy_path = r->strategy_path;
    st->strategy_yaml = r->yaml != NULL ? r->yaml : KT_PB_STR("");
    st->training_op_id = r->training_id;
    st->backtest_op_id = r->backtest_id;
    st->model_path = r->model_path;
    st->budget = &r->budget;
    st->request = r->rq;
    st->gate_reason = r->gate_reason;
    st->verdict = r->verdict;
    st->resumes = r->resumes;
    st->symbol = r->symbol;
    st->timeframe = r->timeframe;
    st->experiment_path = r->experiment_path;
    *tr = r->training_len == 0 ? NULL
                               : ktpb__v1__training_result__unpack(
                                     NULL, r->training_len, r->training);
    *bt = r->backtest_len == 0 ? NULL
                               : ktpb__v1__backtest_summary__unpack(
                                     NULL, r->backtest_len, r->backtest);
    st->training = *tr;
    st->backtest = *bt;
}

void
kt__rs_state_free(Ktpb__V1__TrainingResult *tr, Ktpb__V1__BacktestSummary *bt)
{
    if (tr != NULL) {
        ktpb__v1__training_result__free_unpacked(tr, NULL);
    }
    if (bt != NULL) {
        ktpb__v1__backtest_summary__free_unpacked(bt, NULL);
    }
}

// rs_state_pack: the ResearchState bytes (malloc'ed) or NULL.
static uint8_t *
rs_state_pack(rs *r, size_t *len)
{
    Ktpb__V1__ResearchState st;
    Ktpb__V1__TrainingResult *tr;
    Ktpb__V1__BacktestSummary *bt;
    uint8_t *buf;

    kt__rs_state(r, &st, &tr, &bt);
    *len = ktpb__v1__research_state__get_packed_size(&st);
    if ((buf = malloc(*len + 1)) != NULL) {
        (void)ktpb__v1__research_state__pack(&st, buf);
    }
    kt__rs_state_free(tr, bt);
    return buf;
}

void
kt__rs_save(rs *r, Ktpb__V1__CheckpointType type, rs_after after)
{
    Ktpb__V1__CheckpointEvent e;
    size_t len = 0;
    uint8_t *state = rs_state_pack(r, &len);
    kt_err rv = KT_ENOMEM;

    if (state != NULL) {
        ktpb__v1__checkpoint_event__init(&e);
        e.op_id = r->id;
        e.attempt = r->attempt;
        e.seq = ++r->seq;
        e.type = type;
        e.unit = KT_PB_STR("phase");
        e.unit_value = rs_phase_index(r->phase);
        e.state.data = state;
        e.state.len = len;
        e.format_version = KT_RS_CKPT_FORMAT;
        rv = kt__rs_ask(r, r->persist, KT_PERSIST_CKPT_SAVE, &e.base, RP_CKPT,
                        after);
        free(state);
    }
    if (rv != KT_OK) {
        // Loud, and without a further checkpoint attempt: end as failed.
        kt_log(KT_LOG_ERR, "research",
               "actor=research op=%s event=save_lost "
               "err=%s",
               r->id, kt_strerror(rv));
        if (!r->finishing) {
            (void)snprintf(r->error, sizeof(r->error),
                           "Checkpoint save failed: %s", kt_strerror(rv));
            r->finishing = true;
            r->final = KTPB__V1__OP_STATUS__OP_FAILED;
        }
        kt__rs_finish(r);
    }
}

double
kt__rs_percent(const rs *r)
{
    double base = kt_rs_phase_percent(r->phase), next = base;

    if (strcmp(r->phase, "training") == 0) {
        next = kt_rs_phase_percent("backtesting");
    } else if (strcmp(r->phase, "backtesting") == 0) {
        next = kt_rs_phase_percent("assessing");
    }
    return base + (next - base) * r->child_pct / 100.0;
}

void
kt__rs_publish(rs *r, bool final)
{
    Ktpb__V1__ResearchEvent e;

    ktpb__v1__research_event__init(&e);
    e.op_id = r->id;
    e.phase = r->phase;
    e.percent = kt__rs_percent(r);
    e.step = KT_PB_STR(kt_rs_phase_step(r->phase));
    e.child_id = r->child;
    e.child_percent = r->child_pct;
    e.child_step = r->child_step;
    e.status = final ? r->final : KTPB__V1__OP_STATUS__OP_RUNNING;
    e.final = final;
    e.error = r->error;
    e.verdict = r->verdict;
    (void)kt__pb_send(r->self, r->manager, KT_RS_EVENT, &e.base);
}

void
kt__rs_progress(rs *r, bool force)
{
    Ktpb__V1__OpProgressRequest p;
    char step[200];
    int64_t now = kt__mono_ms();

    if (!force && now - r->last_write_ms < 250) {
        return;
    }
    r->last_write_ms = now;
    if (r->child_step[0] != '\0') {
        (void)snprintf(step, sizeof(step), "%s (%s)",
                       kt_rs_phase_step(r->phase), r->child_step);
    } else {
        (void)snprintf(step, sizeof(step), "%s", kt_rs_phase_step(r->phase));
    }
    ktpb__v1__op_progress_request__init(&p);
    p.id = r->id;
    p.percent = kt__rs_percent(r);
    p.current_step = step;
    p.units_done = rs_phase_index(r->phase);
    p.units_total = 5;
    if (kt__rs_ask(r, r->persist, KT_PERSIST_OP_PROGRESS, &p.base, RP_IGNORE,
                   RA_NONE) != KT_OK) {
        kt_log(KT_LOG_WARN, "research",
               "actor=research op=%s "
               "event=progress_lost",
               r->id);
    }
}

// kt__rs_finish: the terminal checkpoint is durable (or not needed): move
// the operation to its final status.
void
kt__rs_finish(rs *r)
{
    Ktpb__V1__OpTransitionRequest t;
    uint8_t *result = NULL;
    size_t len = 0;

    ktpb__v1__op_transition_request__init(&t);
    t.id = r->id;
    t.to = r->final;
    if (r->final == KTPB__V1__OP_STATUS__OP_COMPLETED) {
        result = rs_state_pack(r, &len);
        t.result.data = result;
        t.result.len = result != NULL ? len : 0;
    } else {
        t.error = r->error;
    }
    if (kt__rs_ask(r, r->persist, KT_PERSIST_OP_TRANSITION, &t.base, RP_DONE,
                   RA_NONE) != KT_OK) {
        kt_log(KT_LOG_ERR, "research", "actor=research op=%s event=end_lost",
               r->id);
        kt_exit(r->self, KT_ECLOSED);
    }
    free(result);
}

// rs_end starts the end of the research: terminal checkpoint, then the
// transition (a completed research needs no checkpoint).
static void
rs_end(rs *r, Ktpb__V1__OpStatus st)
{
    r->finishing = true;
    r->final = st;
    if (r->cancel_wr >= 0) {
        (void)close(r->cancel_wr); // a running plug-in gets killed
        r->cancel_wr = -1;
    }
    kt__rs_progress(r, true);
    if (st == KTPB__V1__OP_STATUS__OP_COMPLETED) {
        kt__rs_finish(r);
    } else {
        kt__rs_save(r,
                    st == KTPB__V1__OP_STATUS__OP_CANCELLED
                        ? KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_CANCELLATION
                        : KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_FAILURE,
                    RA_FINISH);
    }
}

void
kt__rs_fail(rs *r, const char *fmt, ...)
{
    va_list ap;

    if (r->finishing) {
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
    kt_log(KT_LOG_WARN, "research",
           "actor=research op=%s event=failed why=\"%s\"", r->id, r->error);
    if (r->child[0] != '\0' && !r->child_done) {
        kt__rs_child_cancel(r); // the child must not run on alone
    }
    rs_end(r, KTPB__V1__OP_STATUS__OP_FAILED);
}

void
kt__rs_cancelled(rs *r, const char *why)
{
    if (r->finishing) {
        return;
    }
    kt__strlcpy(r->error, why, sizeof(r->error));
    rs_end(r, KTPB__V1__OP_STATUS__OP_CANCELLED);
}

void
kt__rs_complete(rs *r)
{
    r->child[0] = '\0';
    r->child_pct = 0;
    r->child_step[0] = '\0';
    rs_end(r, KTPB__V1__OP_STATUS__OP_COMPLETED);
}
