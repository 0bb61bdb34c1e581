// http_routes.c: the /api/v1 route table and the requests each route asks
// (the same protobuf requests the CLI sends to the same actors).
#include <errno.h>
#include <ktpb/v1/ops.pb-c.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "http/http_int.h"
#include "operations/operations.h"
#include "persistence/persistence.h"

#define PB_STR(s) ((char *)(uintptr_t)(s))

bool
kt__http_valid_id(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n >= HTTP_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
              ch == '.')) {
            return false;
        }
    }
    return id[0] != '.';
}

// query_check refuses query parameters the route does not know.
static bool
query_check(http_ctx *c, const char *const *known)
{
    struct evkeyval *kv;

    TAILQ_FOREACH(kv, &c->query, next)
    {
        size_t i = 0;
        while (known[i] != NULL && strcmp(known[i], kv->key) != 0) {
            i++;
        }
        if (known[i] == NULL) {
            kt__http_send_error(c->req, 422, "unknown query parameter '%s'",
                                kv->key);
            return false;
        }
    }
    return true;
}

// query_uint reads an optional integer parameter within [lo, hi].
static bool
query_uint(http_ctx *c, const char *name, uint32_t lo, uint32_t hi,
           uint32_t *out)
{
    const char *v = evhttp_find_header(&c->query, name);
    char *end;
    unsigned long x;

    if (v == NULL) {
        return true;
    }
    errno = 0;
    x = strtoul(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || x < lo ||
        x > hi) {
        kt__http_send_error(c->req, 422, "%s must be an integer in %u..%u",
                            name, lo, hi);
        return false;
    }
    *out = (uint32_t)x;
    return true;
}

static bool
query_bool(http_ctx *c, const char *name, bool *out)
{
    const char *v = evhttp_find_header(&c->query, name);

    if (v == NULL) {
        return true;
    }
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = true;
    } else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = false;
    } else {
        kt__http_send_error(c->req, 422, "%s must be true or false", name);
        return false;
    }
    return true;
}

static const char *const no_params[] = {NULL};

static bool
b_health(http_ctx *c)
{
    if (query_check(c, no_params)) {
        kt__http_send_json(
            c->req, 200,
            json_pack("{s:s,s:s}", "status", "ok", "version", "ktrdr-c 0.1"));
    }
    return false;
}

static bool
b_stats(http_ctx *c)
{
    Ktpb__V1__StatsRequest q;

    ktpb__v1__stats_request__init(&q);
    return query_check(c, no_params) &&
           kt__http_ask(c, HTTP_TO_PERSIST, KT_PERSIST_CKPT_STATS, &q.base);
}

static bool
b_cleanup(http_ctx *c)
{
    static const char *const known[] = {"max_age_days", NULL};
    Ktpb__V1__CleanupRequest q;

    ktpb__v1__cleanup_request__init(&q);
    q.max_age_days = KT_PERSIST_DEFAULT_MAX_AGE;
    return query_check(c, known) &&
           query_uint(c, "max_age_days", 1, 36500, &q.max_age_days) &&
           kt__http_ask(c, HTTP_TO_PERSIST, KT_PERSIST_CKPT_CLEANUP, &q.base);
}

static bool
b_ckpt_list(http_ctx *c)
{
    static const char *const known[] = {"operation_id", NULL};
    const char *id = evhttp_find_header(&c->query, "operation_id");
    Ktpb__V1__CheckpointListRequest q;

    ktpb__v1__checkpoint_list_request__init(&q);
    if (!query_check(c, known)) {
        return false;
    }
    if (id != NULL && !kt__http_valid_id(id)) {
        kt__http_send_error(c->req, 400, "invalid operation_id");
        return false;
    }
    q.op_id = PB_STR(id != NULL ? id : "");
    return kt__http_ask(c, HTTP_TO_PERSIST, KT_PERSIST_CKPT_LIST, &q.base);
}

static bool
b_ckpt_get(http_ctx *c)
{
    Ktpb__V1__CheckpointShowRequest q;

    ktpb__v1__checkpoint_show_request__init(&q);
    q.op_id = PB_STR(c->id);
    return query_check(c, no_params) &&
           kt__http_ask(c, HTTP_TO_OPS, KT_OPS_CKPT_SHOW, &q.base);
}

static bool
b_ckpt_delete(http_ctx *c)
{
    Ktpb__V1__CheckpointDeleteRequest q;

    ktpb__v1__checkpoint_delete_request__init(&q);
    q.op_id = PB_STR(c->id);
    return query_check(c, no_params) &&
           kt__http_ask(c, HTTP_TO_PERSIST, KT_PERSIST_CKPT_DELETE, &q.base);
}

static bool
b_ops_list(http_ctx *c)
{
    static const char *const known[] = {
        "status", "operation_type", "type",        "limit",
        "offset", "resumable",      "active_only", NULL};
    static const Ktpb__V1__OpStatus active[] = {
        KTPB__V1__OP_STATUS__OP_PENDING, KTPB__V1__OP_STATUS__OP_RUNNING,
        KTPB__V1__OP_STATUS__OP_RESUMING};
    const char *st = evhttp_find_header(&c->query, "status");
    const char *ty = evhttp_find_header(&c->query, "operation_type");
    Ktpb__V1__OpsListRequest q;
    Ktpb__V1__OpStatus one = 0;
    uint32_t offset = 0;
    bool resumable = false, act = false;

    ktpb__v1__ops_list_request__init(&q);
    ty = ty != NULL ? ty : evhttp_find_header(&c->query, "type");
    q.limit = 100;
    if (!query_check(c, known) || !query_uint(c, "limit", 1, 1000, &q.limit) ||
        !query_uint(c, "offset", 0, 0, &offset) ||
        !query_bool(c, "resumable", &resumable) ||
        !query_bool(c, "active_only", &act)) {
        return false;
    }
    if (st != NULL) {
        for (int i = 1; i < 7 && one == 0; i++) {
            if (strcmp(st, kt_http_status_name((Ktpb__V1__OpStatus)i)) == 0) {
                one = (Ktpb__V1__OpStatus)i;
            }
        }
        if (one == 0) {
            kt__http_send_error(c->req, 422, "unknown status '%s'", st);
            return false;
        }
        q.n_statuses = 1;
        q.statuses = &one;
    } else if (act) {
        q.n_statuses = 3;
        q.statuses = (Ktpb__V1__OpStatus *)(uintptr_t)active;
    }
    if (ty != NULL && strcmp(ty, "training") != 0 &&
        strcmp(ty, "backtesting") != 0) {
        kt__http_send_error(c->req, 422, "unknown operation_type '%s'", ty);
        return false;
    }
    q.type = PB_STR(ty != NULL ? ty : "");
    q.resumable = resumable;
    return kt__http_ask(c, HTTP_TO_OPS, KT_OPS_LIST, &q.base);
}

static bool
b_op_get(http_ctx *c)
{
    Ktpb__V1__OpsGetRequest q;

    ktpb__v1__ops_get_request__init(&q);
    q.id = PB_STR(c->id);
    return query_check(c, no_params) && !kt__http_view_serve(c) &&
           kt__http_ask(c, HTTP_TO_OPS, KT_OPS_GET, &q.base);
}

// b_op_cancel: DELETE /operations/{id} with an optional body
// {"reason": str|null, "force": bool} (force is accepted and ignored).
static bool
b_op_cancel(http_ctx *c)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
    size_t n = evbuffer_get_length(in);
    Ktpb__V1__OpsCancelRequest q;
    json_t *body = NULL, *reason = NULL;
    json_error_t e;
    bool ok;

    ktpb__v1__ops_cancel_request__init(&q);
    q.id = PB_STR(c->id);
    if (!query_check(c, no_params)) {
        return false;
    }
    if (n > 0) {
        body = json_loadb((const char *)evbuffer_pullup(in, -1), n,
                          JSON_REJECT_DUPLICATES, &e);
        if (body == NULL || !json_is_object(body)) {
            json_decref(body);
            kt__http_send_error(c->req, 400, "body must be a JSON object");
            return false;
        }
        reason = json_object_get(body, "reason");
        if (json_unpack_ex(body, &e, JSON_STRICT, "{s?o,s?b}", "reason",
                           &reason, "force", &(int){0}) != 0 ||
            (reason != NULL && !json_is_string(reason) &&
             !json_is_null(reason))) {
            kt__http_send_error(c->req, 422, "bad cancel body: %s", e.text);
            json_decref(body);
            return false;
        }
        if (json_is_string(reason)) {
            q.reason = PB_STR(json_string_value(reason));
        }
    }
    ok = kt__http_ask(c, HTTP_TO_OPS, KT_OPS_CANCEL, &q.base);
    json_decref(body);
    return ok;
}

static bool
b_op_resume(http_ctx *c)
{
    Ktpb__V1__OpsResumeRequest q;

    ktpb__v1__ops_resume_request__init(&q);
    q.id = PB_STR(c->id);
    return query_check(c, no_params) &&
           kt__http_ask(c, HTTP_TO_OPS, KT_OPS_RESUME, &q.base);
}

static bool
b_op_children(http_ctx *c)
{
    Ktpb__V1__OpListRequest q;

    ktpb__v1__op_list_request__init(&q);
    q.parent_id = PB_STR(c->id);
    return query_check(c, no_params) &&
           kt__http_ask(c, HTTP_TO_PERSIST, KT_PERSIST_OP_LIST, &q.base);
}

static bool
b_op_results(http_ctx *c)
{
    static const char *const known[] = {"trades", "equity", NULL};
    Ktpb__V1__OpsResultsRequest q;
    bool t = false, eq = false;

    ktpb__v1__ops_results_request__init(&q);
    q.id = PB_STR(c->id);
    if (!query_check(c, known) || !query_bool(c, "trades", &t) ||
        !query_bool(c, "equity", &eq)) {
        return false;
    }
    q.with_trades = t;
    q.with_equity = eq;
    return kt__http_ask(c, HTTP_TO_OPS, KT_OPS_RESULTS, &q.base);
}

static bool
b_workers(http_ctx *c)
{
    Ktpb__V1__WorkerListRequest q;

    ktpb__v1__worker_list_request__init(&q);
    return query_check(c, no_params) &&
           kt__http_ask(c, HTTP_TO_PERSIST, KT_PERSIST_WORKER_LIST, &q.base);
}

// R: a route that changes nothing; M: one that changes operation {id}
// (or, with HTTP_MUT_ALL, any operation's checkpoint fields).
#define R(m, p, s, b, r)                                    \
    {                                                       \
        EVHTTP_REQ_##m, "/api/v1" p, s, b, r, HTTP_MUT_NONE \
    }
#define M(m, p, s, b, r, w)                     \
    {                                           \
        EVHTTP_REQ_##m, "/api/v1" p, s, b, r, w \
    }

const http_route kt__http_routes[] = {
    R(GET, "/health", NULL, b_health, NULL),
    R(GET, "/checkpoints/stats", NULL, b_stats, kt__http_r_stats),
    M(POST, "/checkpoints/cleanup", NULL, b_cleanup, kt__http_r_cleanup,
      HTTP_MUT_ALL),
    R(GET, "/checkpoints", NULL, b_ckpt_list, kt__http_r_ckpt_list),
    R(GET, "/checkpoints/", "", b_ckpt_get, kt__http_r_ckpt_get),
    M(DELETE, "/checkpoints/", "", b_ckpt_delete, kt__http_r_ckpt_delete,
      HTTP_MUT_ID),
    R(POST, "/training/train", NULL, kt__http_build_train, kt__http_r_start),
    R(POST, "/trainings/start", NULL, kt__http_build_train, kt__http_r_start),
    R(POST, "/backtests/start", NULL, kt__http_build_backtest,
      kt__http_r_start),
    R(GET, "/operations", NULL, b_ops_list, kt__http_r_ops_list),
    R(GET, "/operations/", "", b_op_get, kt__http_r_op),
    M(DELETE, "/operations/", "", b_op_cancel, kt__http_r_op, HTTP_MUT_ID),
    M(POST, "/operations/", "/cancel", b_op_cancel, kt__http_r_op, HTTP_MUT_ID),
    M(POST, "/operations/", "/resume", b_op_resume, kt__http_r_resume,
      HTTP_MUT_ID),
    R(GET, "/operations/", "/children", b_op_children, kt__http_r_ops_list),
    R(GET, "/operations/", "/results", b_op_results, kt__http_r_results),
    R(GET, "/workers", NULL, b_workers, kt__http_r_workers),
    R(POST, "/agent/trigger", NULL, kt__http_build_agent_trigger,
      kt__http_r_agent_trigger),
    R(GET, "/agent/status", NULL, kt__http_build_agent_status,
      kt__http_r_agent_status),
};
const size_t kt__http_nroutes =
    sizeof(kt__http_routes) / sizeof(kt__http_routes[0]);
