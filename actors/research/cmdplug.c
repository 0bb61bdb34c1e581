// cmdplug.c: the external-command designer and assessor (so a real model
// can be plugged in): the prompt goes to the command's stdin; it answers
// on stdout with a strategy YAML (or JSON {"name", "yaml", "tokens_in",
// "tokens_out", "cost_usd"}) for design, and JSON {"verdict",
// "strengths", "weaknesses", "suggestions", "hypotheses": [{"text",
// "rationale"}], "tokens_in", "tokens_out", "cost_usd"} for assessment.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "research/rs_int.h"

#define RS_PROMPT_MAX 16384

static void
rs_fail(int32_t *status, char **message, kt_err rv, const char *why)
{
    *status = (int32_t)rv;
    *message = strdup(why);
}

static uint64_t
rs_json_u64(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    return json_is_integer(v) && json_integer_value(v) > 0
               ? (uint64_t)json_integer_value(v)
               : 0;
}

static char *
rs_json_strdup(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return strdup(s != NULL ? s : "");
}

static void
rs_cmd_design(void *arg, const Ktpb__V1__DesignRequest *in, int cancel_fd,
              Ktpb__V1__DesignResult *out)
{
    const kt_rs_cmd *c = arg;
    char *prompt = malloc(RS_PROMPT_MAX), *text = NULL, why[512];
    json_t *j;
    kt_err rv;

    if (prompt == NULL) {
        rs_fail(&out->status, &out->message, KT_ENOMEM, "out of memory");
        return;
    }
    (void)snprintf(prompt, RS_PROMPT_MAX,
                   "## Research Brief\n%s\n\n## Target\nSymbol: %s\n"
                   "Timeframe: %s\n\n## Experiment Context\n%s\n\n"
                   "## Task\nWrite one KTRDR v3 strategy YAML (indicators, "
                   "fuzzy_sets, nn_inputs, model, training) on stdout.\n%s%s",
                   in->brief, in->symbol, in->timeframe, in->memory,
                   in->feedback[0] ? "\n## Validation errors of your previous "
                                     "strategy (fix them)\n"
                                   : "",
                   in->feedback);
    rv = kt__rs_run_cmd(c->cmd, prompt, c->timeout_ms, cancel_fd, &text, why,
                        sizeof(why));
    free(prompt);
    if (rv != KT_OK) {
        rs_fail(&out->status, &out->message, rv, why);
        return;
    }
    if (text[0] == '{' && (j = json_loads(text, 0, NULL)) != NULL) {
        out->yaml = rs_json_strdup(j, "yaml");
        out->name = rs_json_strdup(j, "name");
        out->tokens_in = rs_json_u64(j, "tokens_in");
        out->tokens_out = rs_json_u64(j, "tokens_out");
        out->cost_usd = json_number_value(json_object_get(j, "cost_usd"));
        json_decref(j);
        free(text);
    } else {
        out->yaml = text;
        out->name = strdup("");
    }
    if (out->cost_usd <= 0) {
        out->cost_usd = kt__rs_cost(in->model, out->tokens_in, out->tokens_out);
    }
}

static char **
rs_json_strings(const json_t *o, const char *key, size_t *n)
{
    json_t *a = json_object_get(o, key), *v;
    char **list;
    size_t i;

    *n = 0;
    if (!json_is_array(a) || json_array_size(a) == 0 ||
        (list = calloc(json_array_size(a), sizeof(char *))) == NULL) {
        return NULL;
    }
    json_array_foreach(a, i, v)
    {
        if (json_is_string(v) && (list[*n] = strdup(json_string_value(v)))) {
            (*n)++;
        }
    }
    return list;
}

static void
rs_json_hypotheses(const json_t *o, Ktpb__V1__AssessResult *out)
{
    json_t *a = json_object_get(o, "hypotheses"), *v;
    size_t i;

    if (!json_is_array(a) || json_array_size(a) == 0 ||
        (out->hypotheses =
             calloc(json_array_size(a), sizeof(*out->hypotheses))) == NULL) {
        return;
    }
    json_array_foreach(a, i, v)
    {
        Ktpb__V1__Hypothesis *h = malloc(sizeof(*h));
        if (h == NULL || !json_is_object(v)) {
            free(h);
            continue;
        }
        ktpb__v1__hypothesis__init(h);
        h->text = rs_json_strdup(v, "text");
        h->rationale = rs_json_strdup(v, "rationale");
        out->hypotheses[out->n_hypotheses++] = h;
    }
}

static void
rs_cmd_assess_parse(const char *text, const Ktpb__V1__AssessRequest *in,
                    Ktpb__V1__AssessResult *out)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    const char *v = json_string_value(json_object_get(j, "verdict"));
    char why[300];

    if (j == NULL || !json_is_object(j)) {
        (void)snprintf(why, sizeof(why),
                       "assessor output is not a JSON object: %s",
                       j == NULL ? e.text : "wrong type");
        rs_fail(&out->status, &out->message, KT_EPROTO, why);
    } else if (v == NULL ||
               (strcmp(v, "promising") != 0 && strcmp(v, "neutral") != 0 &&
                strcmp(v, "poor") != 0)) {
        rs_fail(&out->status, &out->message, KT_EPROTO,
                "assessor output: verdict must be promising, neutral or "
                "poor");
    } else {
        out->verdict = strdup(v);
        out->strengths = rs_json_strings(j, "strengths", &out->n_strengths);
        out->weaknesses = rs_json_strings(j, "weaknesses", &out->n_weaknesses);
        out->suggestions =
            rs_json_strings(j, "suggestions", &out->n_suggestions);
        rs_json_hypotheses(j, out);
        out->tokens_in = rs_json_u64(j, "tokens_in");
        out->tokens_out = rs_json_u64(j, "tokens_out");
        out->cost_usd = json_number_value(json_object_get(j, "cost_usd"));
        if (out->cost_usd <= 0) {
            out->cost_usd =
                kt__rs_cost(in->model, out->tokens_in, out->tokens_out);
        }
    }
    json_decref(j);
}

static void
rs_cmd_assess(void *arg, const Ktpb__V1__AssessRequest *in, int cancel_fd,
              Ktpb__V1__AssessResult *out)
{
    const kt_rs_cmd *c = arg;
    char *prompt = NULL, *text = NULL, why[512];
    kt_err rv;

    if ((prompt = malloc(RS_PROMPT_MAX)) == NULL) {
        rs_fail(&out->status, &out->message, KT_ENOMEM, "out of memory");
        return;
    }
    (void)snprintf(
        prompt, RS_PROMPT_MAX,
        "## Assess strategy %s\nBrief: %s\nGate: %s\n"
        "Test accuracy: %.4f\nTest loss: %.4f\nSharpe: %.4f\n"
        "Max drawdown: %.4f\nWin rate: %.4f\nTrades: %llu\n\n"
        "Answer with JSON {verdict: promising|neutral|poor, strengths, "
        "weaknesses, suggestions, hypotheses: [{text, rationale}]}.\n",
        in->strategy_name, in->brief,
        in->gate_reason[0] ? in->gate_reason : "passed",
        in->training && in->training->test ? in->training->test->accuracy : 0,
        in->training && in->training->test ? in->training->test->loss : 0,
        in->backtest && in->backtest->metrics
            ? in->backtest->metrics->sharpe_ratio
            : 0,
        in->backtest && in->backtest->metrics
            ? in->backtest->metrics->max_drawdown_pct
            : 0,
        in->backtest && in->backtest->metrics ? in->backtest->metrics->win_rate
                                              : 0,
        in->backtest && in->backtest->metrics
            ? (unsigned long long)in->backtest->metrics->total_trades
            : 0ULL);
    rv = kt__rs_run_cmd(c->cmd, prompt, c->timeout_ms, cancel_fd, &text, why,
                        sizeof(why));
    free(prompt);
    if (rv != KT_OK) {
        rs_fail(&out->status, &out->message, rv, why);
        return;
    }
    rs_cmd_assess_parse(text, in, out);
    free(text);
}

void
kt_rs_cmd_designer(const kt_rs_cmd *c, kt_rs_designer *d)
{
    d->name = "command";
    d->design = rs_cmd_design;
    d->arg = (void *)(uintptr_t)c;
}

void
kt_rs_cmd_assessor(const kt_rs_cmd *c, kt_rs_assessor *a)
{
    a->name = "command";
    a->assess = rs_cmd_assess;
    a->arg = (void *)(uintptr_t)c;
}
