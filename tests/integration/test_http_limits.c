// test_http_limits.c: the bridge's limits and listening sockets over a
// real socket with several evhttp loops: oversized bodies (declared,
// chunked) and headers get JSON 413 / 431 within evhttp's own limits, past
// them libevent's status and a server that lives on; a taken port is still
// refused although the loops share an SO_REUSEPORT group.
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
    h_teardown();
}

TestSuite(http_limits, .init = setup, .fini = teardown, .timeout = 60.0);

Test(http_limits, a_taken_port_is_still_refused_with_several_loops)
{
    char addr[64], dir[128], url[160];
    h_out r;

    h_serve(NULL);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", h_port);
    snprintf(dir, sizeof(dir), "%s/second", h_dir);
    snprintf(url, sizeof(url), "ipc://%s/second.sock", h_dir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    setenv("KTRDR_WORKERS", "0", 1);
    h_run(&r, "serve", "--http", addr, "--data-dir", dir, "--listen", url);
    unsetenv("KTRDR_WORKERS");
    cr_expect_neq(r.code, 0, "a second server shared the port: %s", r.out);
    cr_expect_not_null(strstr(r.err, "event=bind"), "%s", r.err);
    cr_expect_eq(
        h_http("GET", "/api/v1/health", NULL, NULL, body, sizeof(body)), 200);
    h_stop();
}

static void
expect_json_error(const char *txt, const char *code)
{
    json_t *j = json_loads(txt, 0, NULL);

    cr_assert_not_null(j, "not JSON: %s", txt);
    cr_expect(json_is_false(json_object_get(j, "success")));
    cr_expect_str_eq(
        json_string_value(json_object_get(json_object_get(j, "error"), "code")),
        code);
    cr_expect_not_null(json_string_value(json_object_get(j, "detail")));
    json_decref(j);
}

// raw: send bytes as they are on a fresh connection; the status back.
static int
raw(const char *head, const char *data, size_t n)
{
    int fd = h_connect(), code = 0;
    char buf[4096];
    ssize_t k;
    size_t got = 0;

    cr_assert_eq(write(fd, head, strlen(head)), (ssize_t)strlen(head));
    for (size_t off = 0; off < n; off += (size_t)k) {
        if ((k = write(fd, data + off, n - off)) <= 0) {
            break; // the server may answer and close before all is sent
        }
    }
    while (got < sizeof(buf) - 1 &&
           (k = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
        got += (size_t)k;
    }
    buf[got] = '\0';
    close(fd);
    sscanf(buf, "HTTP/1.%*d %d", &code);
    const char *b = strstr(buf, "\r\n\r\n");
    snprintf(body, sizeof(body), "%s", b != NULL ? b + 4 : "");
    return code;
}

Test(http_limits, chunked_and_declared_huge_bodies)
{
    static char chunks[100 * 1040 + 64]; // 100 chunks of 1 KiB, framed
    size_t n = 0;
    int code;

    h_serve(NULL);
    // A chunked body of 100 KiB: within evhttp's cap, over ours: JSON.
    for (int i = 0; i < 100; i++) {
        n += (size_t)snprintf(chunks + n, sizeof(chunks) - n, "400\r\n");
        memset(chunks + n, 'z', 1024);
        n += 1024;
        n += (size_t)snprintf(chunks + n, sizeof(chunks) - n, "\r\n");
    }
    n += (size_t)snprintf(chunks + n, sizeof(chunks) - n, "0\r\n\r\n");
    code = raw("POST /api/v1/training/train HTTP/1.1\r\nHost: x\r\n"
               "Transfer-Encoding: chunked\r\n\r\n",
               chunks, n);
    cr_expect_eq(code, 413, "%d %s", code, body);
    expect_json_error(body, "PAYLOAD_TOO_LARGE");
    // A declared 2 MiB body: refused by evhttp before any callback (its
    // HTML page, libevent 2.1.12); the status is right, the server lives.
    code = raw("POST /api/v1/training/train HTTP/1.1\r\nHost: x\r\n"
               "Content-Length: 2097152\r\n\r\n",
               "", 0);
    cr_expect_eq(code, 413, "%d %s", code, body);
    cr_expect_eq(
        h_http("GET", "/api/v1/health", NULL, NULL, body, sizeof(body)), 200);
    h_stop();
}

Test(http_limits, oversize_bodies_and_headers_get_json_errors)
{
    static char big[(64 << 10) + 2], hdr[40 << 10];
    int code;

    h_serve(NULL);
    // Exactly at the limit: a JSON object the validator then refuses.
    memset(big, ' ', (64 << 10));
    big[0] = '{';
    big[(64 << 10) - 1] = '}';
    code =
        h_http("POST", "/api/v1/training/train", NULL, big, body, sizeof(body));
    cr_expect_eq(code, 422, "at the limit: %d %s", code, body);
    big[64 << 10] = ' '; // one byte over
    code =
        h_http("POST", "/api/v1/training/train", NULL, big, body, sizeof(body));
    cr_expect_eq(code, 413, "%d %s", code, body);
    expect_json_error(body, "PAYLOAD_TOO_LARGE");
    code = h_http("DELETE", "/api/v1/operations/op_x", NULL, big, body,
                  sizeof(body));
    cr_expect_eq(code, 413, "%d %s", code, body);
    snprintf(hdr, sizeof(hdr), "X-Big: ");
    memset(hdr + 7, 'y', sizeof(hdr) - 12);
    memcpy(hdr + sizeof(hdr) - 5, "\r\n", 3);
    code = h_http("GET", "/api/v1/health", hdr, NULL, body, sizeof(body));
    cr_expect_eq(code, 431, "%d %s", code, body);
    expect_json_error(body, "HEADERS_TOO_LARGE");
    code = h_http("GET", "/api/v1/health", NULL, NULL, body, sizeof(body));
    cr_expect_eq(code, 200);
    h_stop();
}
