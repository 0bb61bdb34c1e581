// http_body.c: JSON bodies of POST /training/train and /backtests/start:
// strict (unknown fields and wrong types are 422, malformed JSON 400) and
// strategy_path confined to the strategies directory.
#include <errno.h>
#include <ktpb/v1/ops.pb-c.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "http/http_int.h"
#include "operations/operations.h"

#define PB_STR(s) ((char *)(uintptr_t)(s))

enum { F_STR, F_UINT, F_BOOL, F_NUM };

typedef struct bfield {
    const char *name;
    int type;
    bool required;
} bfield;

// load_body parses the body as an object whose keys are all in fields,
// with the right types. Answers 400/422 itself and returns NULL.
static json_t *
load_body(http_ctx *c, const bfield *fields)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
    size_t n = evbuffer_get_length(in);
    json_error_t e;
    const char *k;
    json_t *v, *j;

    j = n == 0 ? NULL
               : json_loadb((const char *)evbuffer_pullup(in, -1), n,
                            JSON_REJECT_DUPLICATES, &e);
    if (j == NULL || !json_is_object(j)) {
        kt__http_send_error(c->req, 400, "body must be a JSON object%s%s",
                            j == NULL && n > 0 ? ": " : "",
                            j == NULL && n > 0 ? e.text : "");
        json_decref(j);
        return NULL;
    }
    for (const bfield *f = fields; f->name != NULL; f++) {
        if (f->required && json_object_get(j, f->name) == NULL) {
            kt__http_send_error(c->req, 422, "missing field '%s'", f->name);
            json_decref(j);
            return NULL;
        }
    }
    json_object_foreach(j, k, v)
    {
        const bfield *f = fields;
        bool ok;
        while (f->name != NULL && strcmp(f->name, k) != 0) {
            f++;
        }
        if (f->name == NULL) {
            kt__http_send_error(c->req, 422, "unknown field '%s'", k);
            json_decref(j);
            return NULL;
        }
        ok = f->type == F_STR    ? json_is_string(v)
             : f->type == F_BOOL ? json_is_boolean(v)
             : f->type == F_NUM
                 ? json_is_number(v)
                 : json_is_integer(v) && json_integer_value(v) >= 0 &&
                       json_integer_value(v) <= UINT32_MAX;
        if (!ok) {
            kt__http_send_error(c->req, 422, "field '%s' must be %s", k,
                                f->type == F_STR    ? "a string"
                                : f->type == F_BOOL ? "true or false"
                                : f->type == F_NUM  ? "a number"
                                                    : "a non-negative "
                                                      "integer");
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

static const char *
jstr(json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));
    return s != NULL ? s : "";
}

// resolve_strategy: path relative to the strategies directory, or to its
// parent (so the guide's "strategies/x.yaml" works whatever the server's
// working directory), or to the server's directory, or absolute; in every
// case inside the strategies directory once resolved.
static bool
resolve_strategy(http_ctx *c, const char *path, char *out)
{
    const char *dir = c->srv->strategies;
    size_t dl = strlen(dir);
    const char *slash = strrchr(dir, '/');
    int pl = slash != NULL ? (int)(slash - dir) : 0;
    char cand[PATH_MAX * 2], cand2[PATH_MAX * 2];

    snprintf(cand, sizeof(cand), "%s/%s", dir, path);
    snprintf(cand2, sizeof(cand2), "%.*s/%s", pl, dir, path);
    if (path[0] == '\0' || strlen(path) >= PATH_MAX) {
        kt__http_send_error(c->req, 422, "strategy_path is empty or too long");
        return false;
    }
    if (kt__http_has_dotdot(path)) {
        kt__http_send_error(c->req, 400, "strategy_path must not contain '..'");
        return false;
    }
    if ((path[0] == '/' ||
         (realpath(cand, out) == NULL && realpath(cand2, out) == NULL)) &&
        realpath(path, out) == NULL) {
        kt__http_send_error(c->req, 422, "strategy file not found: %s", path);
        return false;
    }
    if (strncmp(out, dir, dl) != 0 || out[dl] != '/') {
        kt__http_send_error(c->req, 400,
                            "strategy_path must stay inside the strategies "
                            "directory");
        return false;
    }
    return true;
}

// resolve_model: a model directory inside the data directory (absolute,
// or relative to it).
static bool
resolve_model(http_ctx *c, const char *path, char *out)
{
    const char *dir = c->srv->data;
    size_t dl = strlen(dir);
    char cand[PATH_MAX * 2];

    snprintf(cand, sizeof(cand), "%s/%s", dir, path);
    if (kt__http_has_dotdot(path)) {
        kt__http_send_error(c->req, 400, "model_path must not contain '..'");
        return false;
    }
    if (path[0] == '\0' || strlen(path) >= PATH_MAX || dl == 0 ||
        realpath(path[0] == '/' ? path : cand, out) == NULL) {
        kt__http_send_error(c->req, 422, "model not found: %s", path);
        return false;
    }
    if (strncmp(out, dir, dl) != 0 || out[dl] != '/') {
        kt__http_send_error(c->req, 400,
                            "model_path must stay inside the data directory");
        return false;
    }
    return true;
}

static bool
check_u32(http_ctx *c, json_t *j, const char *k, uint32_t lo, uint32_t *out)
{
    json_t *v = json_object_get(j, k);

    if (v == NULL) {
        return true;
    }
    if (json_integer_value(v) < lo) {
        kt__http_send_error(c->req, 422, "field '%s' must be at least %u", k,
                            lo);
        return false;
    }
    *out = (uint32_t)json_integer_value(v);
    return true;
}

bool
kt__http_build_train(http_ctx *c)
{
    static const bfield fields[] = {{"strategy_path", F_STR, true},
                                    {"symbol", F_STR, true},
                                    {"timeframe", F_STR, true},
                                    {"start_date", F_STR, false},
                                    {"end_date", F_STR, false},
                                    {"epochs", F_UINT, false},
                                    {"checkpoint_frequency", F_UINT, false},
                                    {"checkpoint_enabled", F_BOOL, false},
                                    {"checkpoint_interval_s", F_UINT, false},
                                    {"seed", F_UINT, false},
                                    {NULL, 0, false}};
    Ktpb__V1__StartTrainingRequest q;
    char path[PATH_MAX];
    json_t *j = load_body(c, fields), *v;
    uint32_t seed = 0;
    bool ok = false;

    ktpb__v1__start_training_request__init(&q);
    if (j == NULL || !resolve_strategy(c, jstr(j, "strategy_path"), path) ||
        !check_u32(c, j, "epochs", 1, &q.epochs) ||
        !check_u32(c, j, "checkpoint_frequency", 1, &q.checkpoint_frequency) ||
        !check_u32(c, j, "checkpoint_interval_s", 0,
                   &q.checkpoint_interval_s) ||
        !check_u32(c, j, "seed", 0, &seed)) {
        goto out;
    }
    q.strategy_path = path;
    q.symbol = PB_STR(jstr(j, "symbol"));
    q.timeframe = PB_STR(jstr(j, "timeframe"));
    q.start_date = PB_STR(jstr(j, "start_date"));
    q.end_date = PB_STR(jstr(j, "end_date"));
    if ((v = json_object_get(j, "checkpoint_enabled")) != NULL) {
        q.opt_checkpoint_enabled_case =
            KTPB__V1__START_TRAINING_REQUEST__OPT_CHECKPOINT_ENABLED_CHECKPOINT_ENABLED;
        q.checkpoint_enabled = json_is_true(v);
    }
    if (json_object_get(j, "seed") != NULL) {
        q.opt_seed_case = KTPB__V1__START_TRAINING_REQUEST__OPT_SEED_SEED;
        q.seed = seed;
    }
    ok = kt__http_ask(c, HTTP_TO_OPS, KT_OPS_START_TRAINING, &q.base);
out:
    json_decref(j);
    return ok;
}

bool
kt__http_build_backtest(http_ctx *c)
{
    static const bfield fields[] = {{"strategy_path", F_STR, true},
                                    {"model_path", F_STR, true},
                                    {"symbol", F_STR, true},
                                    {"timeframe", F_STR, true},
                                    {"start_date", F_STR, false},
                                    {"end_date", F_STR, false},
                                    {"initial_capital", F_NUM, false},
                                    {"commission", F_NUM, false},
                                    {"slippage", F_NUM, false},
                                    {"checkpoint_frequency", F_UINT, false},
                                    {"checkpoint_enabled", F_BOOL, false},
                                    {"checkpoint_interval_s", F_UINT, false},
                                    {NULL, 0, false}};
    Ktpb__V1__StartBacktestRequest q;
    char path[PATH_MAX], model[PATH_MAX];
    json_t *j = load_body(c, fields), *v;
    bool ok = false;

    ktpb__v1__start_backtest_request__init(&q);
    if (j == NULL || !resolve_strategy(c, jstr(j, "strategy_path"), path) ||
        !resolve_model(c, jstr(j, "model_path"), model) ||
        !check_u32(c, j, "checkpoint_frequency", 1, &q.checkpoint_frequency) ||
        !check_u32(c, j, "checkpoint_interval_s", 0,
                   &q.checkpoint_interval_s)) {
        goto out;
    }
    q.strategy_path = path;
    q.model_path = model;
    q.symbol = PB_STR(jstr(j, "symbol"));
    q.timeframe = PB_STR(jstr(j, "timeframe"));
    q.start_date = PB_STR(jstr(j, "start_date"));
    q.end_date = PB_STR(jstr(j, "end_date"));
    if ((v = json_object_get(j, "initial_capital")) != NULL) {
        q.opt_initial_capital_case =
            KTPB__V1__START_BACKTEST_REQUEST__OPT_INITIAL_CAPITAL_INITIAL_CAPITAL;
        q.initial_capital = json_number_value(v);
    }
    if ((v = json_object_get(j, "commission")) != NULL) {
        q.opt_commission_case =
            KTPB__V1__START_BACKTEST_REQUEST__OPT_COMMISSION_COMMISSION;
        q.commission = json_number_value(v);
    }
    if ((v = json_object_get(j, "slippage")) != NULL) {
        q.opt_slippage_case =
            KTPB__V1__START_BACKTEST_REQUEST__OPT_SLIPPAGE_SLIPPAGE;
        q.slippage = json_number_value(v);
    }
    if ((v = json_object_get(j, "checkpoint_enabled")) != NULL) {
        q.opt_checkpoint_enabled_case =
            KTPB__V1__START_BACKTEST_REQUEST__OPT_CHECKPOINT_ENABLED_CHECKPOINT_ENABLED;
        q.checkpoint_enabled = json_is_true(v);
    }
    ok = kt__http_ask(c, HTTP_TO_OPS, KT_OPS_START_BACKTEST, &q.base);
out:
    json_decref(j);
    return ok;
}
