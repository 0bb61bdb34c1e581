// cmd_serve.c: `ktrdr serve`: the backend in this process: the runtime
// with the persistence and operations actors over one data directory
// (kt_backend_open), reachable over NNG at the backend URL and through the
// HTTP bridge. A lock file keeps a second backend off the same directory;
// SIGINT/SIGTERM stop it cleanly (running operations save a shutdown
// checkpoint first).
#include <errno.h>
#include <fcntl.h>
#include <ktpb/v1/ops.pb-c.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "http/http.h"
#include "operations/backend.h"
#include "research/research.h"

static const char help[] =
    "usage: ktrdr serve [--data-dir DIR] [--listen URL] [--http ADDR]\n"
    "                   [--no-http] [--strategies-dir DIR] [--threads N]\n"
    "\n"
    "Start the backend: operations, checkpoints (SQLite + artifacts in the\n"
    "data directory), the NNG endpoint the CLI talks to and the HTTP API.\n"
    "  --data-dir DIR        data directory ($KTRDR_DATA_DIR, ./data)\n"
    "  --listen URL          NNG address ($KTRDR_BACKEND_URL,\n"
    "                        ipc://DATA_DIR/ktrdr.sock)\n"
    "  --http ADDR           HTTP address ($KTRDR_HTTP_ADDR, 127.0.0.1:8000;\n"
    "                        port 0 = any free port)\n"
    "  --no-http             no HTTP bridge\n"
    "  --strategies-dir DIR  where strategy_path may point (./strategies)\n"
    "  --threads N           scheduler threads (default 2)\n"
    "\n"
    "$KTRDR_API_TOKEN: bearer token the HTTP API requires (mandatory when\n"
    "ADDR is not a loopback address). Checkpoints older than 30 days are\n"
    "cleaned up daily. Ctrl+C or SIGTERM stops the backend; running\n"
    "operations save a shutdown checkpoint first and can be resumed.\n"
    "Agent research: $KTRDR_DESIGNER_CMD / $KTRDR_ASSESSOR_CMD (an external\n"
    "model: prompt on stdin, answer on stdout; default: offline),\n"
    "$KTRDR_AGENT_BUDGET (USD per day, default 20), $KTRDR_GATE_* (gates).\n"
    "Workers: $KTRDR_WORKERS local `ktrdr worker` processes (default: cores;\n"
    "0 = run operations in the backend), $KTRDR_MAX_RESTARTS restarts of a\n"
    "failed operation (default 3; 0 = never) within $KTRDR_RESTART_WINDOW_S\n"
    "(60), $KTRDR_HEARTBEAT_MS (500, 3 misses = lost), $KTRDR_RECLAIM_GRACE_S\n"
    "(5: after a restart, running operations wait this long for their\n"
    "worker). With workers, Ctrl+C / SIGTERM leaves operations running in\n"
    "them; they re-register with the next backend.\n";

typedef struct serve_opts {
    const char *listen, *http, *strategies, *threads;
    bool no_http;
    char dir[PATH_MAX];
    char url[PATH_MAX + 32];
} serve_opts;

// lock_dir takes DIR/ktrdr.lock (flock) for the life of the process.
static int
lock_dir(cli_ctx *c, const char *dir, int *fdp)
{
    char path[PATH_MAX + 16], pid[32];
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/ktrdr.lock", dir);
    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
        return cli_error(c, "cannot open %s: %s", path, strerror(errno));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        n = read(fd, pid, sizeof(pid) - 1);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        return cli_error(c,
                         "another backend (pid %s) is already using the data "
                         "directory %s",
                         pid[0] != '\0' ? pid : "?", dir);
    }
    n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)n) != n) {
        close(fd);
        return cli_error(c, "cannot write %s", path);
    }
    *fdp = fd;
    return CLI_OK;
}

static int
parse_serve(cli_ctx *c, int argc, char **argv, serve_opts *o)
{
    const char *pos[1];
    const cli_opt opts[] = {{"--listen", &o->listen, NULL},
                            {"--http", &o->http, NULL},
                            {"--no-http", NULL, &o->no_http},
                            {"--strategies-dir", &o->strategies, NULL},
                            {"--threads", &o->threads, NULL},
                            {NULL, NULL, NULL}};
    int npos, rv;

    if ((rv = cli_parse(argc, argv, opts, pos, 0, &npos, "serve")) != 0) {
        return rv;
    }
    if (mkdir(c->data_dir, 0755) != 0 && errno != EEXIST) {
        return cli_error(c, "cannot create %s: %s", c->data_dir,
                         strerror(errno));
    }
    if (realpath(c->data_dir, o->dir) == NULL) {
        return cli_error(c, "bad data directory %s", c->data_dir);
    }
    if (o->listen == NULL) {
        const char *env = getenv("KTRDR_BACKEND_URL");
        o->listen = env != NULL && env[0] != '\0' ? env : NULL;
    }
    if (o->listen == NULL) {
        snprintf(o->url, sizeof(o->url), "ipc://%s/ktrdr.sock", o->dir);
    } else {
        snprintf(o->url, sizeof(o->url), "%s", o->listen);
    }
    if (o->http == NULL) {
        const char *env = getenv("KTRDR_HTTP_ADDR");
        o->http = env != NULL && env[0] != '\0' ? env : KT_HTTP_DEFAULT_ADDR;
    }
    return CLI_OK;
}

static int
start_http(cli_ctx *c, kt_backend *b, const serve_opts *o, uint16_t *port)
{
    const char *tok = getenv("KTRDR_API_TOKEN");
    kt_http_cfg hc = {.addr = o->http,
                      .token = tok,
                      .strategies_dir =
                          o->strategies != NULL ? o->strategies : "strategies",
                      .data_dir = o->dir,
                      .ops = kt_backend_ops(b),
                      .persist = kt_backend_persistence(b),
                      .port_out = port};
    kt_spawn_opts so = {.name = KT_HTTP_NAME};
    kt_aid aid;
    kt_err err;

    if ((err = kt_spawn(kt_backend_runtime(b), &http_ops, &hc, &so, &aid)) !=
        KT_OK) {
        return cli_error(c, "cannot start the HTTP API on %s: %s%s", o->http,
                         kt_strerror(err),
                         err == KT_EINVAL ? " (bad address, or "
                                            "KTRDR_API_TOKEN missing for a "
                                            "non-loopback address)"
                                          : "");
    }
    return CLI_OK;
}

// shutdown_ops asks running operations to save a shutdown checkpoint.
static void
shutdown_ops(kt_backend *b)
{
    Ktpb__V1__OpsShutdownRequest q;
    size_t n;
    kt_msg *m, *r = NULL;

    ktpb__v1__ops_shutdown_request__init(&q);
    n = ktpb__v1__ops_shutdown_request__get_packed_size(&q);
    if (kt_msg_alloc(&m, KT_OPS_SHUTDOWN, n) != KT_OK) {
        return;
    }
    ktpb__v1__ops_shutdown_request__pack(&q, kt_msg_body(m));
    if (kt_runtime_ask(kt_backend_runtime(b), kt_backend_ops(b), m, 20000,
                       &r) == KT_OK) {
        kt_msg_free(r);
    } else {
        kt_msg_free(m); // KT_ETIMEDOUT leaves it with the runtime: no-op
    }
}

static void
print_banner(const serve_opts *o, uint16_t port)
{
    const char *tok = getenv("KTRDR_API_TOKEN");
    char host[256];
    const char *colon = strrchr(o->http, ':');
    size_t hl = colon != NULL ? (size_t)(colon - o->http) : 0;

    snprintf(host, sizeof(host), "%.*s", (int)hl, o->http);
    printf("ktrdr backend running (pid %ld)\n", (long)getpid());
    printf("  data:    %s (ktrdr.db, checkpoints/, models/)\n", o->dir);
    printf("  listen:  %s\n", o->url);
    if (o->no_http) {
        printf("  http:    off\n");
    } else {
        printf("  http:    http://%s:%u/api/v1 (auth: %s)\n", host, port,
               tok != NULL && tok[0] != '\0' ? "bearer token" : "none");
    }
    printf("Press Ctrl+C to stop.\n");
    fflush(stdout);
}

int
cmd_serve(cli_ctx *c, int argc, char **argv)
{
    serve_opts o = {0};
    kt_backend_cfg bc = {0};
    kt_backend *b = NULL;
    kt_research_cfg rc = {0};
    kt_aid research;
    kt_supervision *workers = NULL;
    sigset_t set;
    uint16_t port = 0;
    uint32_t threads = 2;
    int rv, lock = -1, sig;
    kt_err err;

    if (c->help) {
        fputs(help, stdout);
        return CLI_OK;
    }
    if ((rv = parse_serve(c, argc, argv, &o)) != CLI_OK ||
        (rv = cli_u32("--threads", o.threads, &threads)) != CLI_OK ||
        (rv = lock_dir(c, o.dir, &lock)) != CLI_OK) {
        return rv;
    }
    // Signals are taken by sigwait below; threads started from here on
    // inherit the blocked mask.
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (strncmp(o.url, "ipc://", 6) == 0) {
        (void)unlink(o.url + 6); // stale: we hold the lock
    }
    bc.data_dir = o.dir;
    bc.threads = (int)threads;
    bc.ops.use_workers = serve_workers_count() > 0; // issue 7
    if ((err = kt_backend_open(&bc, &b)) != KT_OK) {
        rv = cli_error(c, "cannot start the backend in %s: %s", o.dir,
                       kt_strerror(err));
        goto unlock;
    }
    rc.data_dir = o.dir;
    kt_research_cfg_env(&rc);
    if ((err = kt_research_start(kt_backend_runtime(b), &rc, &research)) !=
        KT_OK) {
        rv = cli_error(c, "cannot start agent research: %s", kt_strerror(err));
        goto close;
    }
    if ((err = kt_runtime_listen(kt_backend_runtime(b), o.url)) != KT_OK) {
        rv = cli_error(c, "cannot listen on %s: %s", o.url, kt_strerror(err));
        goto close;
    }
    if (!o.no_http && (rv = start_http(c, b, &o, &port)) != CLI_OK) {
        goto close;
    }
    print_banner(&o, port);
    // Issue 7: local worker processes (none when KTRDR_WORKERS=0).
    if (bc.ops.use_workers &&
        (rv = serve_workers_start(c, kt_backend_runtime(b), o.url, o.dir,
                                  &workers)) != CLI_OK) {
        goto close;
    }
    (void)sigwait(&set, &sig);
    printf("Stopping (%s): saving checkpoints of running operations...\n",
           sig == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(stdout);
    if (workers == NULL) {
        shutdown_ops(b);
    } // with workers, their operations continue (issue 7, Scenario 3)
    rv = CLI_OK;
close:
    serve_workers_stop(workers);
    kt_backend_close(b); // stops the supervisor actor before its pool goes
    serve_workers_close(workers);
    if (strncmp(o.url, "ipc://", 6) == 0) {
        (void)unlink(o.url + 6);
    }
    if (rv == CLI_OK) {
        printf("Backend stopped.\n");
    }
unlock:
    close(lock);
    return rv;
}
