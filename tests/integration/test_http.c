// test_http.c: the HTTP bridge over a real socket against a real backend
// process: every route, each error status, auth on and off, traversal
// attempts, oversized and malformed bodies, and the guide's curl calls.
#include <jansson.h>

#include "cli_harness.h"

static char body[1 << 16];

static void
setup(void)
{
    h_setup();
}

TestSuite(http, .init = setup, .fini = h_teardown, .timeout = 60.0);

static json_t *
jget(const char *path, int want)
{
    int code = h_http("GET", path, NULL, NULL, body, sizeof(body));
    json_t *j;

    cr_assert_eq(code, want, "GET %s: %d %s", path, code, body);
    j = json_loads(body, 0, NULL);
    cr_assert_not_null(j, "GET %s: not JSON: %s", path, body);
    return j;
}

static const char *
jstr(json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));
    return s != NULL ? s : "";
}

// train starts a training through the guide's endpoint; returns its id.
// wait_checkpoint polls GET /operations/{id} until it has a checkpoint.
static void
wait_checkpoint(const char *id)
{
    char path[256];
    double end = h_now_ms() + 30000;

    snprintf(path, sizeof(path), "/api/v1/operations/%s", id);
    for (;;) {
        json_t *j = jget(path, 200);
        bool has = json_is_true(
            json_object_get(json_object_get(j, "data"), "has_checkpoint"));
        json_decref(j);
        if (has) {
            return;
        }
        cr_assert_lt(h_now_ms(), end, "no checkpoint for %s", id);
        h_poll_pause();
    }
}

Test(http, guide_stats_and_cleanup_shapes)
{
    json_t *j;
    int code;

    h_serve(NULL);
    j = jget("/api/v1/checkpoints/stats", 200);
    cr_expect(json_is_true(json_object_get(j, "success")));
    cr_expect(json_is_integer(json_object_get(j, "total_checkpoints")));
    cr_expect(json_is_integer(json_object_get(j, "total_size_bytes")));
    cr_expect(json_is_null(json_object_get(j, "oldest_checkpoint")));
    cr_expect_eq(json_object_size(j), 4);
    json_decref(j);

    code = h_http("POST", "/api/v1/checkpoints/cleanup?max_age_days=30", NULL,
                  NULL, body, sizeof(body));
    cr_expect_eq(code, 200, "%s", body);
    cr_expect_not_null(strstr(body, "\"checkpoints_deleted\":0"), "%s", body);
    code = h_http("POST", "/api/v1/checkpoints/cleanup?max_age_days=0", NULL,
                  NULL, body, sizeof(body));
    cr_expect_eq(code, 422, "%s", body);
    code = h_http("POST", "/api/v1/checkpoints/cleanup?max_age_days=x", NULL,
                  NULL, body, sizeof(body));
    cr_expect_eq(code, 422, "%s", body);
    code = h_http("POST", "/api/v1/checkpoints/cleanup?nope=1", NULL, NULL,
                  body, sizeof(body));
    cr_expect_eq(code, 422, "%s", body);
    h_stop();
}

Test(http, training_lifecycle_over_every_operation_route)
{
    char id[128], path[256];
    json_t *j;
    int code;

    h_serve(NULL);
    h_http_train(id, sizeof(id), 100000);
    wait_checkpoint(id);
    j = jget("/api/v1/operations?status=running", 200);
    cr_expect_eq(json_integer_value(json_object_get(j, "total_count")), 1);
    cr_expect_eq(json_integer_value(json_object_get(j, "active_count")), 1);
    json_decref(j);

    snprintf(path, sizeof(path), "/api/v1/operations/%s/resume", id);
    code = h_http("POST", path, NULL, NULL, body, sizeof(body));
    cr_expect_eq(code, 409, "resume a running op: %s", body);

    snprintf(path, sizeof(path), "/api/v1/operations/%s", id);
    code = h_http("DELETE", path, NULL, "{\"reason\": \"test\"}", body,
                  sizeof(body));
    cr_assert_eq(code, 200, "%s", body);
    cr_expect_not_null(strstr(body, "\"status\":\"cancelled\""), "%s", body);

    j = jget("/api/v1/operations?resumable=true", 200);
    cr_expect_eq(json_integer_value(json_object_get(j, "total_count")), 1);
    json_decref(j);

    snprintf(path, sizeof(path), "/api/v1/checkpoints/%s", id);
    j = jget(path, 200);
    json_t *d = json_object_get(j, "data");
    cr_expect_str_eq(jstr(d, "checkpoint_type"), "cancellation");
    cr_expect_eq(json_integer_value(
                     json_object_get(json_object_get(d, "state"), "total")),
                 100000);
    json_decref(j);
    j = jget("/api/v1/checkpoints", 200);
    cr_expect_geq(json_integer_value(json_object_get(j, "total_count")), 1);
    json_decref(j);
    j = jget("/api/v1/checkpoints/stats", 200);
    cr_expect_geq(json_integer_value(json_object_get(j, "total_checkpoints")),
                  1);
    cr_expect_not_null(strchr(jstr(j, "oldest_checkpoint"), 'Z'));
    json_decref(j);

    snprintf(path, sizeof(path), "/api/v1/operations/%s/resume", id);
    code = h_http("POST", path, NULL, NULL, body, sizeof(body));
    cr_assert_eq(code, 200, "%s", body);
    cr_expect_not_null(strstr(body, "\"resumed_from\""), "%s", body);
    snprintf(path, sizeof(path), "/api/v1/operations/%s/cancel", id);
    code = h_http("POST", path, NULL, NULL, body, sizeof(body));
    cr_expect_eq(code, 200, "%s", body);
    code = h_http("DELETE", path + strlen(""), NULL, NULL, body, sizeof(body));
    cr_expect_eq(code, 405, "DELETE on .../cancel: %s", body);

    snprintf(path, sizeof(path), "/api/v1/operations/%s/children", id);
    j = jget(path, 200);
    cr_expect_eq(json_integer_value(json_object_get(j, "total_count")), 0);
    json_decref(j);
    snprintf(path, sizeof(path), "/api/v1/operations/%s/results", id);
    code = h_http("GET", path, NULL, NULL, body, sizeof(body));
    cr_expect(code == 409 || code == 422, "results of a cancelled op: %d %s",
              code, body);

    snprintf(path, sizeof(path), "/api/v1/checkpoints/%s", id);
    code = h_http("DELETE", path, NULL, NULL, body, sizeof(body));
    cr_expect_eq(code, 200, "%s", body);
    code = h_http("DELETE", path, NULL, NULL, body, sizeof(body));
    cr_expect_eq(code, 404, "second delete: %s", body);
    code = h_http("GET", path, NULL, NULL, body, sizeof(body));
    cr_expect_eq(code, 404, "%s", body);
    cr_expect_not_null(strstr(body, "No checkpoint found for operation"));
    h_stop();
}

Test(http, completed_training_has_results)
{
    char id[128], path[256];
    double end = h_now_ms() + 30000;
    json_t *j;

    h_serve(NULL);
    h_http_train(id, sizeof(id), 3);
    snprintf(path, sizeof(path), "/api/v1/operations/%s/results", id);
    while (h_http("GET", path, NULL, NULL, body, sizeof(body)) != 200) {
        cr_assert_lt(h_now_ms(), end, "no results: %s", body);
        h_poll_pause();
    }
    j = json_loads(body, 0, NULL);
    cr_assert_not_null(j);
    cr_expect_str_eq(jstr(j, "status"), "completed");
    json_t *t = json_object_get(json_object_get(j, "results"), "training");
    cr_expect_not_null(strstr(jstr(t, "model_path"), "models"), "%s", body);
    json_decref(j);
    j = jget("/api/v1/workers", 200);
    cr_expect(json_is_array(j));
    json_decref(j);
    j = jget("/api/v1/health", 200);
    cr_expect_str_eq(jstr(j, "status"), "ok");
    json_decref(j);
    h_stop();
}

Test(http, bad_requests_get_4xx_with_a_json_error)
{
    static const struct {
        const char *method, *path, *body;
        int code;
    } cases[] = {
        {"POST", "/api/v1/training/train", "{not json", 400},
        {"POST", "/api/v1/training/train", "[1,2]", 400},
        {"POST", "/api/v1/training/train", "", 400},
        {"POST", "/api/v1/training/train",
         "{\"strategy_path\":\"minimal.yaml\",\"symbol\":\"EURUSD\","
         "\"timeframe\":\"1h\",\"epochs\":\"ten\"}",
         422},
        {"POST", "/api/v1/training/train",
         "{\"strategy_path\":\"minimal.yaml\",\"symbol\":\"EURUSD\","
         "\"timeframe\":\"1h\",\"epochs\":-3}",
         422},
        {"POST", "/api/v1/training/train",
         "{\"strategy_path\":\"minimal.yaml\",\"symbol\":\"EURUSD\","
         "\"timeframe\":\"1h\",\"colour\":\"red\"}",
         422},
        {"POST", "/api/v1/training/train",
         "{\"strategy_path\":\"minimal.yaml\",\"symbol\":\"EURUSD\"}", 422},
        {"POST", "/api/v1/training/train",
         "{\"strategy_path\":\"../../etc/passwd\",\"symbol\":\"EURUSD\","
         "\"timeframe\":\"1h\"}",
         400},
        {"POST", "/api/v1/training/train",
         "{\"strategy_path\":\"../../../../../../../../../../../etc/passwd\","
         "\"symbol\":\"EURUSD\",\"timeframe\":\"1h\"}",
         400},
        {"POST", "/api/v1/training/train",
         "{\"strategy_path\":\"x/../../nowhere/at/all.yaml\","
         "\"symbol\":\"EURUSD\",\"timeframe\":\"1h\"}",
         400},
        {"POST", "/api/v1/backtests/start",
         "{\"strategy_path\":\"minimal.yaml\",\"model_path\":\"../../x\","
         "\"symbol\":\"EURUSD\",\"timeframe\":\"1h\"}",
         400},
        {"POST", "/api/v1/training/train",
         "{\"strategy_path\":\"/etc/passwd\",\"symbol\":\"EURUSD\","
         "\"timeframe\":\"1h\"}",
         400},
        {"POST", "/api/v1/training/train",
         "{\"strategy_path\":\"nope.yaml\",\"symbol\":\"EURUSD\","
         "\"timeframe\":\"1h\"}",
         422},
        {"POST", "/api/v1/training/train",
         "{\"strategy_path\":\"minimal.yaml\",\"symbol\":\"NOPE\","
         "\"timeframe\":\"1h\"}",
         404},
        {"POST", "/api/v1/backtests/start",
         "{\"strategy_path\":\"minimal.yaml\",\"model_path\":\"/etc\","
         "\"symbol\":\"EURUSD\",\"timeframe\":\"1h\"}",
         400},
        {"GET", "/api/v1/operations/op_nope", NULL, 404},
        {"GET", "/api/v1/operations/bad%20id", NULL, 400},
        {"GET", "/api/v1/operations/..%2F..%2Fetc", NULL, 400},
        {"GET", "/api/v1/operations/a$b", NULL, 400},
        {"DELETE", "/api/v1/checkpoints/op_nope", NULL, 404},
        {"POST", "/api/v1/operations/op_nope/resume", NULL, 404},
        {"GET", "/api/v1/operations?status=sleeping", NULL, 422},
        {"GET", "/api/v1/operations?limit=0", NULL, 422},
        {"GET", "/api/v1/nowhere", NULL, 404},
        {"PUT", "/api/v1/operations", NULL, 405},
        {"POST", "/api/v1/checkpoints/stats", NULL, 405},
    };
    h_serve(NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int code = h_http(cases[i].method, cases[i].path, NULL, cases[i].body,
                          body, sizeof(body));
        cr_expect_eq(code, cases[i].code, "case %zu %s %s: %d %s", i,
                     cases[i].method, cases[i].path, code, body);
        if (code != 405 || strstr(body, "success") != NULL) {
            json_t *j = json_loads(body, 0, NULL);
            cr_expect_not_null(j, "case %zu: not JSON: %s", i, body);
            cr_expect(json_is_false(json_object_get(j, "success")), "case %zu",
                      i);
            json_decref(j);
        }
    }
    h_stop();
}

Test(http, huge_bodies_and_headers_are_refused_and_the_server_lives_on)
{
    static char big[200 * 1024], hdr[40 * 1024];
    int code;

    h_serve(NULL);
    memset(big, 'x', sizeof(big) - 1);
    code =
        h_http("POST", "/api/v1/training/train", NULL, big, body, sizeof(body));
    cr_expect_eq(code, 413, "%d %s", code, body);
    snprintf(hdr, sizeof(hdr), "X-Big: ");
    memset(hdr + 7, 'y', sizeof(hdr) - 12);
    memcpy(hdr + sizeof(hdr) - 5, "\r\n", 3);
    code = h_http("GET", "/api/v1/health", hdr, NULL, body, sizeof(body));
    cr_expect(code == 400 || code == 413 || code == 431 || code == 0,
              "oversized headers: %d", code);
    code = h_http("GET", "/api/v1/health", NULL, NULL, body, sizeof(body));
    cr_expect_eq(code, 200);
    h_stop();
}

Test(http, bearer_token_is_enforced_when_set)
{
    int code;

    setenv("KTRDR_API_TOKEN", "s3cret", 1);
    h_serve(NULL);
    unsetenv("KTRDR_API_TOKEN");
    code = h_http("GET", "/api/v1/operations", NULL, NULL, body, sizeof(body));
    cr_expect_eq(code, 401, "%s", body);
    code = h_http("GET", "/api/v1/operations",
                  "Authorization: Bearer wrong\r\n", NULL, body, sizeof(body));
    cr_expect_eq(code, 401, "%s", body);
    code = h_http("GET", "/api/v1/operations",
                  "Authorization: Bearer s3cret\r\n", NULL, body, sizeof(body));
    cr_expect_eq(code, 200, "%s", body);
    code = h_http("GET", "/api/v1/health", NULL, NULL, body, sizeof(body));
    cr_expect_eq(code, 200, "health stays open: %s", body);
    h_stop();
}

Test(http, non_loopback_address_without_a_token_is_refused)
{
    h_out r;

    unsetenv("KTRDR_API_TOKEN");
    h_run(&r, "serve", "--http", "0.0.0.0:0");
    cr_expect_eq(r.code, 1);
    cr_expect_not_null(strstr(r.err, "KTRDR_API_TOKEN"), "%s", r.err);
}

// The guide's curl calls, exactly as written apart from the port.
Test(http, guide_curl_calls)
{
    char cmd[1024], out[4096];
    FILE *p;

    if (system("command -v curl >/dev/null 2>&1") != 0) {
        cr_skip_test("curl is not installed");
    }
    h_serve(NULL);
    snprintf(cmd, sizeof(cmd),
             "curl -s http://localhost:%d/api/v1/checkpoints/stats && "
             "curl -s -X POST "
             "\"http://localhost:%d/api/v1/checkpoints/cleanup?max_age_days="
             "7\" && "
             "curl -s -X POST http://localhost:%d/api/v1/training/train "
             "-H \"Content-Type: application/json\" -d '{\"strategy_path\": "
             "\"strategies/minimal.yaml\", \"symbol\": \"EURUSD\", "
             "\"timeframe\": \"1h\", \"epochs\": 100, "
             "\"checkpoint_frequency\": 10}'",
             h_port, h_port, h_port);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    cr_expect_eq(pclose(p), 0);
    cr_expect_not_null(strstr(out, "{\"success\":true,\"total_checkpoints\":"),
                       "%s", out);
    cr_expect_not_null(strstr(out, "\"orphan_artifacts_cleaned\":"), "%s", out);
    cr_expect_not_null(strstr(out, "\"operation_id\":\"op_training_"), "%s",
                       out);
    h_stop();
}
