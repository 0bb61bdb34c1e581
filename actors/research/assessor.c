// assessor.c: the default assessor (reference §5.6, 2): KTRDR's rubric as
// rules. promising: Sharpe > 1, drawdown < 20 %, more than 50 trades;
// poor: Sharpe < 0, drawdown > 30 %, fewer than 20 trades, or a gate
// rejected the strategy; otherwise neutral.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "research/rs_int.h"

static void
rs_push(char ***list, size_t *n, const char *text)
{
    char **nl = realloc(*list, (*n + 1) * sizeof(char *));

    if (nl == NULL) {
        return;
    }
    *list = nl;
    if ((nl[*n] = strdup(text)) != NULL) {
        (*n)++;
    }
}

// rs_judge files text under strengths (good) or weaknesses.
static void
rs_judge(Ktpb__V1__AssessResult *out, bool good, const char *text)
{
    if (good) {
        rs_push(&out->strengths, &out->n_strengths, text);
    } else {
        rs_push(&out->weaknesses, &out->n_weaknesses, text);
    }
}

static void
rs_hypothesis(Ktpb__V1__AssessResult *out, const char *text,
              const char *rationale)
{
    Ktpb__V1__Hypothesis *h = malloc(sizeof(*h));
    Ktpb__V1__Hypothesis **nl =
        realloc(out->hypotheses, (out->n_hypotheses + 1) * sizeof(*nl));

    if (nl == NULL || h == NULL) {
        free(h);
        if (nl != NULL) {
            out->hypotheses = nl;
        }
        return;
    }
    out->hypotheses = nl;
    ktpb__v1__hypothesis__init(h);
    h->text = strdup(text);
    h->rationale = strdup(rationale);
    nl[out->n_hypotheses++] = h;
}

static const char *
rs_verdict(const Ktpb__V1__AssessRequest *in, double sharpe, double dd,
           uint64_t trades)
{
    if (in->gate_reason[0] != '\0' || sharpe < 0 || dd > 0.30 || trades < 20) {
        return "poor";
    }
    if (sharpe > 1.0 && dd < 0.20 && trades > 50) {
        return "promising";
    }
    return "neutral";
}

static void
rs_rules_assess(void *arg, const Ktpb__V1__AssessRequest *in, int cancel_fd,
                Ktpb__V1__AssessResult *out)
{
    const Ktpb__V1__BacktestMetrics *m =
        in->backtest != NULL ? in->backtest->metrics : NULL;
    const Ktpb__V1__TestMetrics *t =
        in->training != NULL ? in->training->test : NULL;
    double sharpe = m ? m->sharpe_ratio : 0, dd = m ? m->max_drawdown_pct : 0;
    uint64_t trades = m ? m->total_trades : 0;

    (void)arg;
    (void)cancel_fd;
    out->verdict = strdup(rs_verdict(in, sharpe, dd, trades));
    char buf[160];

    if (t != NULL) {
        (void)snprintf(buf, sizeof(buf), "test accuracy %.3f", t->accuracy);
        rs_judge(out, t->accuracy > 0.45, buf);
    }
    if (m != NULL) {
        (void)snprintf(buf, sizeof(buf), "Sharpe ratio %.2f", sharpe);
        rs_judge(out, sharpe > 1, buf);
        (void)snprintf(buf, sizeof(buf), "max drawdown %.1f%%", dd * 100);
        rs_judge(out, dd < 0.2, buf);
        (void)snprintf(buf, sizeof(buf), "%llu trades",
                       (unsigned long long)trades);
        rs_judge(out, trades > 50, buf);
    }
    if (in->gate_reason[0] != '\0') {
        rs_judge(out, false, in->gate_reason);
        rs_push(&out->suggestions, &out->n_suggestions,
                "try other indicators or a longer training range");
        rs_hypothesis(out, "The chosen features do not separate the labels",
                      in->gate_reason);
    } else if (trades < 20) {
        rs_push(&out->suggestions, &out->n_suggestions,
                "lower the confidence threshold (too few trades)");
        rs_hypothesis(out, "The model is too conservative to trade often",
                      "fewer than 20 trades in the backtest");
    } else {
        rs_push(&out->suggestions, &out->n_suggestions,
                "validate on another period or symbol");
        rs_hypothesis(out, "The edge holds on another period",
                      "the backtest passed the gates");
    }
    out->tokens_in = 900;
    out->tokens_out = 250;
    out->cost_usd = kt__rs_cost(in->model[0] ? in->model : "offline",
                                out->tokens_in, out->tokens_out);
}

const kt_rs_assessor kt_rs_rules_assessor = {
    .name = "rules",
    .assess = rs_rules_assess,
    .arg = NULL,
};
