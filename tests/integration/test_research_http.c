// The agent research HTTP routes over a real backend and HTTP bridge:
// POST /api/v1/agent/trigger starts a research (a strategy by name, or a
// brief), GET /api/v1/agent/status lists live ones and the budget, or one
// research with its children; bad bodies and parameters are refused.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>

#include "http/http.h"
#include "test_research_fx.h"

static rx f;
static uint16_t port;

static void
setup(void)
{
    kt_spawn_opts so = {.name = KT_HTTP_NAME};
    kt_http_cfg hc = {.addr = "127.0.0.1:0", .port_out = &port};
    kt_aid http;

    rx_setup(&f);
    cr_assert_eq(rx_open(&f), KT_OK);
    hc.strategies_dir = f.dir; // rx_test.yaml lives there
    hc.data_dir = f.dir;
    cr_assert_eq(kt_spawn(f.rt, &http_ops, &hc, &so, &http), KT_OK);
}

static void
teardown(void)
{
    rx_teardown(&f);
}

TestSuite(research_http, .init = setup, .fini = teardown, .timeout = 60.0);

// http_call sends one request and returns the status code; *body gets the
// parsed JSON body (caller decrefs).
static int
http_call(const char *method, const char *path, const char *body, json_t **out)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    char req[2048], resp[65536];
    size_t n = 0;
    ssize_t r;
    int fd, code = 0;
    const char *b;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_geq(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    snprintf(req, sizeof(req),
             "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             method, path, body != NULL ? strlen(body) : 0,
             body != NULL ? body : "");
    cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    while ((r = read(fd, resp + n, sizeof(resp) - 1 - n)) > 0) {
        n += (size_t)r;
    }
    close(fd);
    resp[n] = '\0';
    cr_assert_eq(sscanf(resp, "HTTP/1.1 %d", &code), 1, "%s", resp);
    b = strstr(resp, "\r\n\r\n");
    cr_assert_not_null(b);
    *out = json_loads(b + 4, 0, NULL);
    cr_assert_not_null(*out, "body: %s", b + 4);
    return code;
}

static const char *
jstr(json_t *j, const char *k)
{
    return json_string_value(json_object_get(j, k));
}

Test(research_http, trigger_by_strategy_name_then_status_shows_children)
{
    json_t *j, *rs, *r0;
    char path[256], id[128];
    int code;

    code = http_call("POST", "/api/v1/agent/trigger",
                     "{\"strategy\": \"rx_test\", \"symbol\": \"AAPL\", "
                     "\"start_date\": \"2024-01-01\", \"end_date\": "
                     "\"2024-03-31\", \"backtest_start_date\": \"2024-04-01\", "
                     "\"bypass_gates\": true, \"epochs\": 3}",
                     &j);
    cr_assert_eq(code, 200, "%s", json_dumps(j, 0));
    cr_expect(json_is_true(json_object_get(j, "triggered")));
    snprintf(id, sizeof(id), "%s", jstr(j, "operation_id"));
    json_decref(j);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, RX_MS));
    snprintf(path, sizeof(path), "/api/v1/agent/status?operation_id=%s", id);
    cr_assert_eq(http_call("GET", path, NULL, &j), 200);
    rs = json_object_get(j, "researches");
    cr_assert_eq(json_array_size(rs), 1);
    r0 = json_array_get(rs, 0);
    cr_expect_str_eq(jstr(r0, "status"), "completed");
    cr_expect_str_eq(jstr(r0, "operation_id"), id);
    cr_expect_eq(json_array_size(json_object_get(r0, "children")), 2);
    cr_expect_str_eq(jstr(j, "status"), "idle");
    json_decref(j);
    cr_assert_eq(http_call("GET", "/api/v1/agent/status", NULL, &j), 200);
    cr_expect_eq(json_array_size(json_object_get(j, "researches")), 0);
    cr_expect_not_null(json_object_get(j, "budget"));
    json_decref(j);
}

Test(research_http, live_research_is_listed_as_active)
{
    json_t *j;

    rx_gate_set(&f, "design", 0);
    cr_assert_eq(http_call("POST", "/api/v1/agent/trigger",
                           "{\"brief\": \"momentum\", \"symbol\": \"AAPL\"}",
                           &j),
                 200);
    json_decref(j);
    cr_assert(rx_gate_wait(&f));
    cr_assert_eq(http_call("GET", "/api/v1/agent/status", NULL, &j), 200);
    cr_expect_str_eq(jstr(j, "status"), "active");
    cr_expect_eq(json_array_size(json_object_get(j, "researches")), 1);
    json_decref(j);
    rx_gate_release(&f);
}

static void
expect_code(const char *method, const char *path, const char *body, int want,
            const char *text)
{
    json_t *j;
    int code = http_call(method, path, body, &j);
    char *dump = json_dumps(j, 0);

    cr_expect_eq(code, want, "%s %s -> %d %s", method, path, code, dump);
    cr_expect(strstr(dump, text) != NULL, "%s", dump);
    free(dump);
    json_decref(j);
}

Test(research_http, bad_requests_are_refused)
{
    expect_code("POST", "/api/v1/agent/trigger", "{\"brief\": 3}", 422,
                "wrong type");
    expect_code("POST", "/api/v1/agent/trigger", "{\"nope\": 1}", 422,
                "unknown field");
    expect_code("POST", "/api/v1/agent/trigger", "[1", 400, "JSON object");
    expect_code("POST", "/api/v1/agent/trigger", "{}", 422,
                "a brief or a strategy is required");
    expect_code("POST", "/api/v1/agent/trigger",
                "{\"brief\": \"a\", \"strategy\": \"rx_test\"}", 422,
                "mutually exclusive");
    expect_code("POST", "/api/v1/agent/trigger", "{\"strategy\": \"missing\"}",
                404, "strategy not found");
    expect_code("POST", "/api/v1/agent/trigger",
                "{\"strategy\": \"/etc/passwd\"}", 400,
                "inside the strategies directory");
    expect_code("GET", "/api/v1/agent/status?bogus=1", NULL, 422,
                "unknown query parameter");
    expect_code("GET", "/api/v1/agent/status?operation_id=op_nope", NULL, 404,
                "");
}

Test(research_http, exhausted_budget_is_429)
{
    char *id = rx_start(&f, "", f.strat, true); // spends on assessment

    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, RX_MS));
    free(id);
    kt_backend_close(f.b); // reopen with a budget that is already spent
    f.b = NULL;
    f.rc.budget_limit = 0.0001;
    cr_assert_eq(rx_open(&f), KT_OK);
    {
        kt_spawn_opts so = {.name = KT_HTTP_NAME};
        kt_http_cfg hc = {.addr = "127.0.0.1:0", .port_out = &port};
        kt_aid http;
        hc.strategies_dir = f.dir;
        hc.data_dir = f.dir;
        cr_assert_eq(kt_spawn(f.rt, &http_ops, &hc, &so, &http), KT_OK);
    }
    expect_code("POST", "/api/v1/agent/trigger", "{\"brief\": \"momentum\"}",
                429, "Daily budget exhausted");
}

// A bridge stopped right after it started must let go of its evhttp loop
// threads (a stop sent before a loop thread ran used to be lost, and the
// stop waited for that thread forever: this test then times out).
Test(research_http, a_bridge_stopped_right_after_it_started_lets_go)
{
    kt_http_cfg hc = {.addr = "127.0.0.1:0"};

    hc.strategies_dir = f.dir;
    hc.data_dir = f.dir;
    for (int i = 0; i < 200; i++) {
        kt_aid http;
        cr_assert_eq(kt_spawn(f.rt, &http_ops, &hc, NULL, &http), KT_OK);
        cr_assert_eq(kt_kill(f.rt, http), KT_OK);
    }
    // Every stop has run once the backend closes (the teardown joins).
    kt_backend_close(f.b);
    f.b = NULL;
}
