// cli_harness.h: what the CLI and HTTP integration suites share: a real
// `ktrdr serve` on a temporary data directory, running the real `ktrdr`
// binary with captured output, a raw-socket HTTP client, golden files and
// waiting on conditions with deadlines. Header-only (each suite is its own
// binary); every function is static and may be unused by one suite.
#ifndef KT_TESTS_CLI_HARNESS_H
#define KT_TESTS_CLI_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#define H_UNUSED   __attribute__((unused))
#define KTRDR_BIN  KT_BINARY_DIR "/cli/ktrdr"
#define STRATS     KT_SOURCE_DIR "/strategies"
#define MINIMAL    KT_SOURCE_DIR "/strategies/minimal.yaml"
#define GOLDEN_DIR KT_SOURCE_DIR "/tests/golden"

typedef struct h_out {
    int code; // exit status; 128+sig when killed
    char out[65536];
    char err[16384];
    double ms;
} h_out;

static char h_dir[64]; // the data directory of this test
static pid_t h_srv;
static int h_port;

static H_UNUSED double
h_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

// h_poll_pause yields between two looks at a condition (not a fixed wait:
// callers loop until the condition holds or the deadline passes).
static H_UNUSED void
h_poll_pause(void)
{
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
}

static H_UNUSED void
h_slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;

    if (f != NULL) {
        n = fread(buf, 1, len - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
}

// h_spawn starts argv with stdout/stderr to files and stdin from
// stdin_text (NULL: /dev/null). Returns the pid.
static H_UNUSED pid_t
h_spawn(char *const argv[], const char *stdin_text, const char *out,
        const char *err)
{
    char in[128];
    pid_t pid;

    snprintf(in, sizeof(in), "%s/stdin.txt", h_dir);
    if (stdin_text != NULL) {
        FILE *f = fopen(in, "w");
        cr_assert_not_null(f);
        fputs(stdin_text, f);
        fclose(f);
    }
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int i = open(stdin_text != NULL ? in : "/dev/null", O_RDONLY);
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(i, 0), dup2(o, 1), dup2(e, 2);
        setenv("KTRDR_DATA_DIR", h_dir, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static H_UNUSED int
h_wait(pid_t pid, int deadline_ms)
{
    double end = h_now_ms() + deadline_ms;
    int st = 0;

    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (h_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            cr_assert_fail("process %d still running after %d ms", (int)pid,
                           deadline_ms);
        }
        h_poll_pause();
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// h_run runs `ktrdr ARGS...` (NULL-terminated) to completion.
static H_UNUSED void
h_runv(h_out *r, const char *stdin_text, const char *const *args)
{
    char *argv[64], out[128], err[128];
    int n = 0;
    double t0 = h_now_ms();

    argv[n++] = (char *)(uintptr_t)KTRDR_BIN;
    for (; *args != NULL && n < 63; args++) {
        argv[n++] = (char *)(uintptr_t)*args;
    }
    argv[n] = NULL;
    snprintf(out, sizeof(out), "%s/cmd.out", h_dir);
    snprintf(err, sizeof(err), "%s/cmd.err", h_dir);
    r->code = h_wait(h_spawn(argv, stdin_text, out, err), 60000);
    r->ms = h_now_ms() - t0;
    h_slurp(out, r->out, sizeof(r->out));
    h_slurp(err, r->err, sizeof(r->err));
}

#define h_run(r, ...) \
    h_runv((r), NULL, (const char *const[]){__VA_ARGS__, NULL})

// h_long_train_argv fills argv (12 slots) with a followed `ktrdr models
// train` of the minimal strategy long enough to be interrupted (--json
// when json), NULL-terminated.
static H_UNUSED void
h_long_train_argv(char *argv[12], bool json)
{
    static const char *const words[] = {KTRDR_BIN,
                                        "models",
                                        "train",
                                        MINIMAL,
                                        "EURUSD",
                                        "1h",
                                        "--start-date=2024-01-01",
                                        "--end-date=2024-03-01",
                                        "--epochs=100000",
                                        "--follow"};
    size_t n = 0;

    for (; n < sizeof(words) / sizeof(words[0]); n++) {
        argv[n] = (char *)(uintptr_t)words[n];
    }
    if (json) {
        argv[n++] = (char *)(uintptr_t) "--json";
    }
    argv[n] = NULL;
}

// h_setup makes the data directory with EURUSD 1h bars for January-
// February 2024 (the minimal strategy's data).
static H_UNUSED void
h_setup(void)
{
    h_out r;

    snprintf(h_dir, sizeof(h_dir), "/tmp/kth-XXXXXX");
    cr_assert_not_null(mkdtemp(h_dir));
    h_run(&r, "data", "generate", "EURUSD", "1h", "--start-date", "2024-01-01",
          "--end-date", "2024-03-01");
    cr_assert_eq(r.code, 0, "data generate: %s", r.err);
}

// h_serve starts `ktrdr serve` (extra: more arguments, NULL-terminated)
// and waits for its banner; h_port is the HTTP port it bound.
static H_UNUSED void
h_serve(const char *const *extra)
{
    char *argv[32], out[128], err[128], log[8192];
    int n = 0;
    double end = h_now_ms() + 15000;
    const char *p;

    argv[n++] = (char *)(uintptr_t)KTRDR_BIN;
    argv[n++] = (char *)(uintptr_t) "serve";
    argv[n++] = (char *)(uintptr_t) "--http";
    argv[n++] = (char *)(uintptr_t) "127.0.0.1:0";
    argv[n++] = (char *)(uintptr_t) "--strategies-dir";
    argv[n++] = (char *)(uintptr_t)STRATS;
    for (; extra != NULL && *extra != NULL && n < 31; extra++) {
        argv[n++] = (char *)(uintptr_t)*extra;
    }
    argv[n] = NULL;
    snprintf(out, sizeof(out), "%s/serve.out", h_dir);
    snprintf(err, sizeof(err), "%s/serve.err", h_dir);
    h_srv = h_spawn(argv, NULL, out, err);
    for (;;) {
        h_slurp(out, log, sizeof(log));
        if ((p = strstr(log, "http://127.0.0.1:")) != NULL) {
            h_port = atoi(p + strlen("http://127.0.0.1:"));
            return;
        }
        cr_assert_eq(waitpid(h_srv, NULL, WNOHANG), 0, "serve exited: %s", log);
        cr_assert_lt(h_now_ms(), end, "serve did not start: %s", log);
        h_poll_pause();
    }
}

// h_kill_workers: local workers outlive a stopped backend by design (they
// wait for the next one, Scenario 3); a test leaves none behind.
static H_UNUSED void
h_kill_workers(pid_t backend)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd),
             "pkill -KILL -f -- '--parent-pid %d( |$)' 2>/dev/null",
             (int)backend);
    (void)system(cmd); // 1 = none left: fine
}

// h_stop: SIGTERM, then the backend must exit 0 on its own.
static H_UNUSED void
h_stop(void)
{
    if (h_srv > 0) {
        static char log[8192];
        char path[160];
        int code;

        kill(h_srv, SIGTERM);
        code = h_wait(h_srv, 30000);
        if (code != 0) {
            snprintf(path, sizeof(path), "%s/serve.err", h_dir);
            h_slurp(path, log, sizeof(log));
        }
        cr_expect_eq(code, 0, "serve exit status %d: %s", code,
                     code != 0 ? log : "");
        h_kill_workers(h_srv);
        h_srv = 0;
    }
}

static H_UNUSED void
h_teardown(void)
{
    char cmd[128];

    if (h_srv > 0) {
        kill(h_srv, SIGKILL);
        waitpid(h_srv, NULL, 0);
        h_kill_workers(h_srv);
        h_srv = 0;
    }
    if (h_dir[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h_dir);
        cr_expect_eq(system(cmd), 0);
    }
}

// h_op_id finds the first operation id in text (into id).
static H_UNUSED bool
h_op_id(const char *text, char *id, size_t len)
{
    const char *p = strstr(text, "op_");
    size_t n = 0;

    if (p == NULL) {
        return false;
    }
    while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9') ||
           p[n] == '_') {
        n++;
    }
    snprintf(id, len, "%.*s", (int)n, p);
    return true;
}

// h_normalize: the data directory becomes <DATA>, operation ids <OP_ID>,
// every run of digits 9 and every run of spaces one space, so goldens
// hold the layout and the words, not the times, ids and numbers.
static H_UNUSED void
h_normalize(const char *in, char *out, size_t len)
{
    size_t o = 0, dl = strlen(h_dir);

    for (const char *p = in; *p != '\0' && o + 16 < len;) {
        if (dl > 0 && strncmp(p, h_dir, dl) == 0) {
            o += (size_t)snprintf(out + o, len - o, "<DATA>");
            p += dl;
        } else if (strncmp(p, "op_", 3) == 0 &&
                   (p == in || p[-1] == ' ' || p[-1] == '"' || p[-1] == '\n' ||
                    p[-1] == '/')) {
            o += (size_t)snprintf(out + o, len - o, "<OP_ID>");
            while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                   *p == '_') {
                p++;
            }
        } else if (*p >= '0' && *p <= '9') {
            out[o++] = '9';
            while (*p >= '0' && *p <= '9') {
                p++;
            }
        } else if (*p == ' ') {
            out[o++] = ' ';
            while (*p == ' ') {
                p++;
            }
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

// h_golden compares normalized text with tests/golden/NAME (written
// instead when KT_UPDATE_GOLDEN=1).
static H_UNUSED void
h_golden(const char *name, const char *text)
{
    static char norm[65536], want[65536];
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, name);
    h_normalize(text, norm, sizeof(norm));
    if (getenv("KT_UPDATE_GOLDEN") != NULL) {
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f, "cannot write %s", path);
        fputs(norm, f);
        fclose(f);
        return;
    }
    h_slurp(path, want, sizeof(want));
    cr_assert_str_eq(norm, want, "golden %s differs:\n--- got ---\n%s", name,
                     norm);
}

// h_connect opens a TCP connection to the server's HTTP port.
static H_UNUSED int
h_connect(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)h_port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

// h_http sends one request over a fresh connection; returns the status
// and copies the body.
static H_UNUSED int
h_http(const char *method, const char *path, const char *headers,
       const char *body, char *resp, size_t len)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)h_port)};
    static char buf[1 << 20];
    size_t n = 0, bl = body != NULL ? strlen(body) : 0;
    size_t hl = (headers != NULL ? strlen(headers) : 0) + 512;
    int fd = socket(AF_INET, SOCK_STREAM, 0), code = 0;
    ssize_t k;
    char *hdr;
    const char *b;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    hdr = malloc(hl + bl);
    cr_assert_not_null(hdr);
    k = snprintf(hdr, hl,
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                 "Content-Length: %zu\r\n%s\r\n",
                 method, path, bl, headers != NULL ? headers : "");
    memcpy(hdr + k, body != NULL ? body : "", bl);
    (void)!write(fd, hdr, (size_t)k + bl);
    free(hdr);
    while (n < sizeof(buf) - 1 &&
           (k = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0) {
        n += (size_t)k;
    }
    close(fd);
    buf[n] = '\0';
    sscanf(buf, "HTTP/1.%*d %d", &code);
    b = strstr(buf, "\r\n\r\n");
    snprintf(resp, len, "%s", b != NULL ? b + 4 : "");
    return code;
}

// h_http_train starts a training of the minimal strategy on EURUSD 1h
// (checkpoints every 2 epochs) through POST /api/v1/training/train and
// writes its operation id into id.
static H_UNUSED void
h_http_train(char *id, size_t len, int epochs)
{
    char req[512], resp[4096];
    json_t *j;
    int code;

    snprintf(req, sizeof(req),
             "{\"strategy_path\": \"strategies/minimal.yaml\", \"symbol\": "
             "\"EURUSD\", \"timeframe\": \"1h\", \"start_date\": "
             "\"2024-01-01\", \"end_date\": \"2024-03-01\", \"epochs\": %d, "
             "\"checkpoint_frequency\": 2}",
             epochs);
    code =
        h_http("POST", "/api/v1/training/train",
               "Content-Type: application/json\r\n", req, resp, sizeof(resp));
    cr_assert_eq(code, 200, "%s", resp);
    j = json_loads(resp, 0, NULL);
    cr_assert_not_null(j);
    cr_assert(json_is_true(json_object_get(j, "success")), "%s", resp);
    cr_assert(json_is_string(json_object_get(j, "operation_id")), "%s", resp);
    snprintf(id, len, "%s",
             json_string_value(json_object_get(j, "operation_id")));
    json_decref(j);
}

#endif // KT_TESTS_CLI_HARNESS_H
