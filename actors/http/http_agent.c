// http_agent.c: the agent research routes. POST /api/v1/agent/trigger
// {brief | strategy, model, bypass_gates, symbol, timeframe, start_date,
// end_date, backtest_start_date, backtest_end_date, epochs} starts a
// research; GET /api/v1/agent/status[?operation_id=ID] shows the live
// researches and today's budget, or one research with its children.
// Both go to the research manager actor (HTTP_TO_RESEARCH).
#include <ktpb/v1/research.pb-c.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "http/http_int.h"
#include "research/research.h"

#define PB_STR(s) ((char *)(uintptr_t)(s))

static const char *const agent_str_keys[] = {
    "brief",
    "strategy",
    "strategy_path",
    "model",
    "symbol",
    "timeframe",
    "start_date",
    "end_date",
    "backtest_start_date",
    "backtest_end_date",
    NULL,
};

// agent_body: the trigger body, strict like the other bodies (unknown
// fields and wrong types 422, malformed JSON 400). NULL = answered.
static json_t *
agent_body(http_ctx *c)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
    size_t n = evbuffer_get_length(in);
    json_error_t e;
    const char *k;
    json_t *v, *j;

    j = n == 0 ? json_object()
               : json_loadb((const char *)evbuffer_pullup(in, -1), n,
                            JSON_REJECT_DUPLICATES, &e);
    if (j == NULL || !json_is_object(j)) {
        kt__http_send_error(c->req, 400, "body must be a JSON object%s%s",
                            j == NULL ? ": " : "", j == NULL ? e.text : "");
        json_decref(j);
        return NULL;
    }
    json_object_foreach(j, k, v)
    {
        bool str = false, ok;
        for (const char *const *s = agent_str_keys; *s != NULL; s++) {
            str |= strcmp(*s, k) == 0;
        }
        if (str) {
            ok = json_is_string(v) || json_is_null(v);
        } else if (strcmp(k, "bypass_gates") == 0) {
            ok = json_is_boolean(v);
        } else if (strcmp(k, "epochs") == 0) {
            ok = json_is_integer(v) && json_integer_value(v) >= 0 &&
                 json_integer_value(v) <= 100000;
        } else {
            kt__http_send_error(c->req, 422, "unknown field '%s'", k);
            json_decref(j);
            return NULL;
        }
        if (!ok) {
            kt__http_send_error(c->req, 422, "field '%s' has the wrong type",
                                k);
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

static const char *
agent_jstr(json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));
    return s != NULL ? s : "";
}

// agent_strategy resolves a strategy name ("x" = strategies/x.yaml) or
// path inside the strategies directory.
static bool
agent_strategy(http_ctx *c, const char *s, char *out)
{
    const char *dir = c->srv->strategies;
    size_t dl = strlen(dir);
    char cand[PATH_MAX * 2 + 16];

    if (strlen(s) >= PATH_MAX) {
        kt__http_send_error(c->req, 422, "strategy is too long");
        return false;
    }
    if (kt__http_has_dotdot(s)) {
        kt__http_send_error(c->req, 400, "strategy must not contain '..'");
        return false;
    }
    (void)snprintf(cand, sizeof(cand), "%s/%s%s", dir, s,
                   strstr(s, ".yaml") != NULL ? "" : ".yaml");
    if (realpath(s[0] == '/' ? s : cand, out) == NULL) {
        kt__http_send_error(c->req, 404, "strategy not found: %s", s);
        return false;
    }
    if (dl == 0 || strncmp(out, dir, dl) != 0 || out[dl] != '/') {
        kt__http_send_error(c->req, 400,
                            "strategy must stay inside the strategies "
                            "directory");
        return false;
    }
    return true;
}

bool
kt__http_build_agent_trigger(http_ctx *c)
{
    Ktpb__V1__ResearchTriggerRequest t;
    char path[PATH_MAX];
    const char *strategy;
    json_t *j = agent_body(c);
    bool ok = false;

    if (j == NULL) {
        return false;
    }
    ktpb__v1__research_trigger_request__init(&t);
    strategy = agent_jstr(j, "strategy");
    strategy = strategy[0] ? strategy : agent_jstr(j, "strategy_path");
    t.brief = PB_STR(agent_jstr(j, "brief"));
    if (strategy[0] != '\0' && t.brief[0] != '\0') {
        kt__http_send_error(c->req, 422,
                            "brief and strategy are mutually exclusive");
    } else if (strategy[0] == '\0' && t.brief[0] == '\0') {
        kt__http_send_error(c->req, 422, "a brief or a strategy is required");
    } else if (strategy[0] == '\0' || agent_strategy(c, strategy, path)) {
        t.strategy_path = strategy[0] != '\0' ? path : PB_STR("");
        t.model = PB_STR(agent_jstr(j, "model"));
        t.symbol = PB_STR(agent_jstr(j, "symbol"));
        t.timeframe = PB_STR(agent_jstr(j, "timeframe"));
        t.start_date = PB_STR(agent_jstr(j, "start_date"));
        t.end_date = PB_STR(agent_jstr(j, "end_date"));
        t.bt_start_date = PB_STR(agent_jstr(j, "backtest_start_date"));
        t.bt_end_date = PB_STR(agent_jstr(j, "backtest_end_date"));
        t.bypass_gates = json_is_true(json_object_get(j, "bypass_gates"));
        t.epochs = (uint32_t)json_integer_value(json_object_get(j, "epochs"));
        ok = kt__http_ask(c, HTTP_TO_RESEARCH, KT_RS_TRIGGER, &t.base);
    }
    json_decref(j);
    return ok;
}

bool
kt__http_build_agent_status(http_ctx *c)
{
    Ktpb__V1__ResearchStatusRequest q;
    const char *id = evhttp_find_header(&c->query, "operation_id");
    struct evkeyval *kv;

    TAILQ_FOREACH(kv, &c->query, next)
    {
        if (strcmp(kv->key, "operation_id") != 0) {
            kt__http_send_error(c->req, 422, "unknown query parameter '%s'",
                                kv->key);
            return false;
        }
    }
    if (id != NULL && !kt__http_valid_id(id)) {
        kt__http_send_error(c->req, 400, "invalid operation_id");
        return false;
    }
    ktpb__v1__research_status_request__init(&q);
    q.op_id = PB_STR(id != NULL ? id : "");
    return kt__http_ask(c, HTTP_TO_RESEARCH, KT_RS_STATUS, &q.base);
}

void
kt__http_r_agent_trigger(struct evhttp_request *req, const http_slot *s,
                         const kt_msg *rep)
{
    Ktpb__V1__ResearchReply *r = ktpb__v1__research_reply__unpack(
        NULL, kt_msg_len(rep), kt_msg_cbody(rep));

    (void)s;
    if (r == NULL) {
        kt__http_send_error(req, 500, "malformed reply from the backend");
        return;
    }
    if (r->status != 0) {
        // An exhausted budget is "too many requests" (it resets daily).
        if (strstr(r->message, "budget exhausted") != NULL) {
            kt__http_send_error(req, 429, "%s", r->message);
        } else {
            kt__http_send_status(req, r->status, r->message);
        }
    } else if (r->op == NULL) {
        kt__http_send_error(req, 500, "no operation in the reply");
    } else {
        kt__http_send_json(req, 200,
                           json_pack("{s:b,s:b,s:s,s:s,s:o}", "success", 1,
                                     "triggered", 1, "operation_id", r->op->id,
                                     "status",
                                     kt_http_status_name(r->op->status), "data",
                                     kt_http_op_json(r->op)));
    }
    ktpb__v1__research_reply__free_unpacked(r, NULL);
}

static json_t *
agent_info(const Ktpb__V1__ResearchInfo *i)
{
    json_t *j = kt__http_pb_json(&i->base), *kids = json_array();

    for (size_t k = 0; k < i->n_children; k++) {
        json_array_append_new(kids, kt_http_op_json(i->children[k]));
    }
    json_object_set_new(j, "children", kids);
    json_object_set_new(j, "operation_id", json_string(i->op_id));
    json_object_set_new(j, "status",
                        json_string(kt_http_status_name(i->status)));
    return j;
}

void
kt__http_r_agent_status(struct evhttp_request *req, const http_slot *s,
                        const kt_msg *rep)
{
    Ktpb__V1__ResearchStatusReply *r = ktpb__v1__research_status_reply__unpack(
        NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    bool active = false;
    json_t *a;

    (void)s;
    if (r == NULL) {
        kt__http_send_error(req, 500, "malformed reply from the backend");
        return;
    }
    if (r->status != 0) {
        kt__http_send_status(req, r->status, r->message);
    } else {
        a = json_array();
        for (size_t k = 0; k < r->n_researches; k++) {
            json_array_append_new(a, agent_info(r->researches[k]));
            active |=
                r->researches[k]->status == KTPB__V1__OP_STATUS__OP_RUNNING;
        }
        kt__http_send_json(req, 200,
                           json_pack("{s:b,s:s,s:o,s:{s:f,s:f}}", "success", 1,
                                     "status", active ? "active" : "idle",
                                     "researches", a, "budget", "limit",
                                     r->budget_limit, "spent_today",
                                     r->budget_spent));
    }
    ktpb__v1__research_status_reply__free_unpacked(r, NULL);
}
