// test_http_view.c: the operations view over real sockets against a real
// backend with several evhttp loops: read-your-writes after cancel, resume
// and checkpoint deletion (with a view TTL long enough that a stale entry
// would certainly be served), concurrent readers on keep-alive connections
// during mutations, the TTL bound for changes made through the CLI, 404s
// never cached. Limits and the listening sockets: test_http_limits.c.
#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>

#include "cli_harness.h"

static char body[1 << 16];

static void
setup(void)
{
    h_setup();
    setenv("KTRDR_HTTP_THREADS", "3", 1);
}

static void
teardown(void)
{
    unsetenv("KTRDR_HTTP_THREADS");
    unsetenv("KTRDR_HTTP_VIEW_TTL_MS");
    h_teardown();
}

TestSuite(http_view, .init = setup, .fini = teardown, .timeout = 120.0);

// ---- a keep-alive client ------------------------------------------------

// kc_get sends one request on fd and reads its whole response; returns the
// status (0 = connection lost); *hit tells whether the view answered.
static int
kc_req(int fd, const char *method, const char *path, char *out, size_t len,
       bool *hit)
{
    char req[512], buf[1 << 16];
    size_t n = 0, clen = 0;
    const char *end = NULL, *cl;
    ssize_t k;
    int code = 0;

    snprintf(req, sizeof(req),
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
             method, path);
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        return 0;
    }
    while (end == NULL || n < (size_t)(end + 4 - buf) + clen) {
        if (n == sizeof(buf) - 1 ||
            (k = read(fd, buf + n, sizeof(buf) - 1 - n)) <= 0) {
            return 0;
        }
        n += (size_t)k;
        buf[n] = '\0';
        if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            cl = strstr(buf, "Content-Length:");
            clen = cl != NULL && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
        }
    }
    sscanf(buf, "HTTP/1.%*d %d", &code);
    if (hit != NULL) {
        *hit = strstr(buf, "X-Ktrdr-View: hit") != NULL;
    }
    snprintf(out, len, "%.*s", (int)clen, end + 4);
    return code;
}

// ---- helpers ---------------------------------------------------------------

// op_field reads data.<key> of a GET /operations/{id} body.
static json_t *
op_data(const char *txt)
{
    json_t *j = json_loads(txt, 0, NULL);
    json_t *d;

    cr_assert_not_null(j, "not JSON: %s", txt);
    d = json_incref(json_object_get(j, "data"));
    json_decref(j);
    cr_assert_not_null(d, "no data: %s", txt);
    return d;
}

static bool
status_is(const char *txt, const char *want)
{
    json_t *d = op_data(txt);
    bool ok =
        strcmp(json_string_value(json_object_get(d, "status")), want) == 0;

    json_decref(d);
    return ok;
}

// get_op: GET /operations/{id} on a fresh connection; counts view hits.
static void
get_op(const char *id, int *hits)
{
    char path[256];
    bool hit = false;
    int fd = h_connect(), code;

    snprintf(path, sizeof(path), "/api/v1/operations/%s", id);
    code = kc_req(fd, "GET", path, body, sizeof(body), &hit);
    close(fd);
    cr_assert_eq(code, 200, "GET %s: %d %s", id, code, body);
    *hits += hit;
}

static void
wait_until(const char *id, bool (*ok)(const char *txt), const char *what)
{
    double end = h_now_ms() + 30000;
    int hits = 0;

    for (;;) {
        get_op(id, &hits);
        if (ok(body)) {
            return;
        }
        cr_assert_lt(h_now_ms(), end, "%s never came: %s", what, body);
        h_poll_pause();
    }
}

static bool
has_ckpt(const char *txt)
{
    json_t *d = op_data(txt);
    bool has = json_is_true(json_object_get(d, "has_checkpoint"));

    json_decref(d);
    return has;
}

static bool
no_ckpt(const char *txt)
{
    return !has_ckpt(txt);
}

// warm: enough GETs on fresh connections that every loop holds the
// current state; returns how many the view answered.
static int
warm(const char *id, const char *want)
{
    int hits = 0;

    for (int i = 0; i < 16; i++) {
        get_op(id, &hits);
        cr_assert(status_is(body, want), "warm: want %s: %s", want, body);
    }
    return hits;
}

// post: METHOD <base><id><suffix>, which must answer want.
static void
post(const char *method, const char *base, const char *id, const char *suffix,
     int want)
{
    char path[256];
    int code;

    snprintf(path, sizeof(path), "%s%s%s", base, id, suffix);
    code = h_http(method, path, NULL, NULL, body, sizeof(body));
    cr_assert_eq(code, want, "%s %s: %d %s", method, path, code, body);
}

// ---- tests ---------------------------------------------------------------

Test(http_view, a_client_reads_its_own_cancel_resume_and_delete)
{
    char id[128];
    int hits;

    setenv("KTRDR_HTTP_VIEW_TTL_MS", "600000", 1); // stale would show
    h_serve(NULL);
    h_http_train(id, sizeof(id), 100000);
    wait_until(id, has_ckpt, "a checkpoint");
    for (int round = 0; round < 2; round++) {
        post("POST", "/api/v1/operations/", id, "/cancel", 200);
        cr_assert(status_is(body, "cancelled"), "%s", body);
        hits = warm(id, "cancelled");
        cr_expect_gt(hits, 0, "the view never answered");
        post("POST", "/api/v1/operations/", id, "/resume", 200);
        // Right after the answer, on any connection and any loop.
        for (int i = 0; i < 16; i++) {
            get_op(id, &hits);
            cr_assert_not(status_is(body, "cancelled"),
                          "round %d: GET %d after resume: %s", round, i, body);
        }
        wait_until(id, has_ckpt, "a checkpoint after resume");
    }
    post("DELETE", "/api/v1/operations/", id, "", 200);
    cr_assert_gt(warm(id, "cancelled"), 0);
    post("DELETE", "/api/v1/checkpoints/", id, "", 200);
    for (int i = 0; i < 16; i++) {
        get_op(id, &hits);
        cr_assert(no_ckpt(body), "GET %d after deleting the checkpoint: %s", i,
                  body);
    }
    h_stop();
}

// A change made elsewhere (the CLI deletes the checkpoint: no event, no
// bridge mutation) shows once the view's TTL has passed.
Test(http_view, a_change_made_through_the_cli_shows_within_the_ttl)
{
    char id[128];
    h_out r;
    double t0;

    setenv("KTRDR_HTTP_VIEW_TTL_MS", "300", 1);
    h_serve(NULL);
    h_http_train(id, sizeof(id), 100000);
    wait_until(id, has_ckpt, "a checkpoint");
    post("POST", "/api/v1/operations/", id, "/cancel", 200);
    cr_assert_gt(warm(id, "cancelled"), 0);
    h_run(&r, "checkpoints", "delete", id, "--force");
    cr_assert_eq(r.code, 0, "%s %s", r.out, r.err);
    t0 = h_now_ms();
    wait_until(id, no_ckpt, "the deletion");
    cr_expect_lt(h_now_ms() - t0, 10000);
    h_stop();
}

typedef struct reader {
    const char *id;
    _Atomic int *phase; // even: cancelled since the answer; odd: resumed
    _Atomic bool *stop;
    int checked, hits, bad;
    char last_bad[512];
} reader;

// reader_main: GETs on one keep-alive connection; a response asked and
// answered in one phase must show that phase's state.
static void *
reader_main(void *arg)
{
    reader *r = arg;
    char path[256], out[1 << 14];
    int fd = h_connect();

    snprintf(path, sizeof(path), "/api/v1/operations/%s", r->id);
    while (!atomic_load(r->stop)) {
        int p0 = atomic_load(r->phase), p1, code;
        bool hit = false;
        code = kc_req(fd, "GET", path, out, sizeof(out), &hit);
        p1 = atomic_load(r->phase);
        if (code != 200) {
            r->bad++;
            snprintf(r->last_bad, sizeof(r->last_bad), "code %d", code);
            close(fd);
            fd = h_connect();
            continue;
        }
        if (p0 != p1 || p0 < 0) {
            continue; // a mutation happened meanwhile: either state is fine
        }
        json_t *j = json_loads(out, 0, NULL);
        const char *st = json_string_value(
            json_object_get(json_object_get(j, "data"), "status"));
        bool cancelled = st != NULL && strcmp(st, "cancelled") == 0;
        if (st == NULL || cancelled != (p0 % 2 == 0)) {
            r->bad++;
            snprintf(r->last_bad, sizeof(r->last_bad), "phase %d: %.400s", p0,
                     out);
        }
        r->checked++;
        r->hits += hit;
        json_decref(j);
    }
    close(fd);
    return NULL;
}

Test(http_view, concurrent_readers_never_see_a_state_older_than_an_answer)
{
    enum { NREADERS = 3 };
    _Atomic int phase = -1;
    _Atomic bool stop = false;
    reader rd[NREADERS];
    pthread_t th[NREADERS];
    char id[128];
    int checked = 0, hits = 0;

    setenv("KTRDR_HTTP_VIEW_TTL_MS", "600000", 1);
    h_serve(NULL);
    h_http_train(id, sizeof(id), 100000);
    wait_until(id, has_ckpt, "a checkpoint");
    for (int i = 0; i < NREADERS; i++) {
        rd[i] = (reader){.id = id, .phase = &phase, .stop = &stop};
        cr_assert_eq(pthread_create(&th[i], NULL, reader_main, &rd[i]), 0);
    }
    for (int p = 0; p < 6; p++) {
        atomic_store(&phase, -1); // mutation under way
        if (p % 2 == 0) {
            post("POST", "/api/v1/operations/", id, "/cancel", 200);
        } else {
            post("POST", "/api/v1/operations/", id, "/resume", 200);
        }
        atomic_store(&phase, p);
        // Let the readers fill and use the view in this phase.
        double end = h_now_ms() + 300;
        while (h_now_ms() < end) {
            h_poll_pause();
        }
        if (p % 2 == 1) {
            wait_until(id, has_ckpt, "a checkpoint after resume");
        }
    }
    atomic_store(&stop, true);
    for (int i = 0; i < NREADERS; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(rd[i].bad, 0, "reader %d: %d bad, last: %s", i, rd[i].bad,
                     rd[i].last_bad);
        checked += rd[i].checked;
        hits += rd[i].hits;
    }
    cr_expect_gt(checked, 50, "too few checked responses: %d", checked);
    cr_expect_gt(hits, 0, "the view never answered");
    post("POST", "/api/v1/operations/", id, "/cancel", 200);
    h_stop();
}

Test(http_view, unknown_and_bad_ids_are_never_cached)
{
    char path[256];
    bool hit = true;
    int fd;

    h_serve(NULL);
    fd = h_connect();
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(kc_req(fd, "GET", "/api/v1/operations/op_nope", body,
                            sizeof(body), &hit),
                     404);
        cr_expect_not(hit);
        cr_expect_not_null(strstr(body, "Operation not found: op_nope"));
        cr_expect_eq(kc_req(fd, "GET", "/api/v1/operations/.bad", body,
                            sizeof(body), &hit),
                     400);
        cr_expect_eq(kc_req(fd, "GET", "/api/v1/operations/op_nope?x=1", body,
                            sizeof(body), &hit),
                     422);
    }
    snprintf(path, sizeof(path), "/api/v1/operations/%0*d", 200, 7);
    cr_expect_eq(kc_req(fd, "GET", path, body, sizeof(body), &hit), 400);
    close(fd);
    h_stop();
}

Test(http_view, a_completed_operation_is_served_from_the_view_unchanged)
{
    char id[128], first[1 << 14], path[256];
    bool hit;
    int fd, hits = 0;

    h_serve(NULL);
    h_http_train(id, sizeof(id), 2);
    snprintf(path, sizeof(path), "/api/v1/operations/%s", id);
    double end = h_now_ms() + 30000;
    for (;;) {
        int code = h_http("GET", path, NULL, NULL, body, sizeof(body));
        cr_assert_eq(code, 200, "%s", body);
        if (status_is(body, "completed")) {
            break;
        }
        cr_assert_lt(h_now_ms(), end, "not completed: %s", body);
        h_poll_pause();
    }
    cr_assert_lt(strlen(body), sizeof(first));
    memcpy(first, body, strlen(body) + 1);
    fd = h_connect();
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(kc_req(fd, "GET", path, body, sizeof(body), &hit), 200);
        cr_assert_str_eq(body, first, "GET %d differs", i);
        hits += hit;
    }
    close(fd);
    cr_expect_geq(hits, 49, "view hits: %d of 50", hits);
    h_stop();
}
