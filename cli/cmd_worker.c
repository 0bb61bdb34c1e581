// cmd_worker.c: `ktrdr worker [--connect URL]`: a worker process that
// registers with the backend at URL (the same ipc:// or tcp:// address
// the CLI uses), runs the training and backtest operations it is given,
// survives backend restarts and saves a shutdown checkpoint on SIGTERM.
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "workers/agent.h"
#include "workers/workers.h"

static const char worker_help[] =
    "usage: ktrdr worker [--connect URL] [options]\n"
    "\n"
    "Run training and backtest operations for the backend at URL\n"
    "(default: the CLI's backend address, $KTRDR_BACKEND_URL).\n"
    "A worker on another machine: ktrdr worker --connect tcp://HOST:PORT\n"
    "\n"
    "options:\n"
    "  --connect URL            backend address (ipc://PATH, tcp://H:P)\n"
    "  --id ID                  worker id (default worker-HOST-PID)\n"
    "  --capabilities LIST      training,backtesting (default both)\n"
    "  --slots N                operations at once (default 1)\n"
    "  --local-data DIR         market data here instead of the backend's\n"
    "                           data directory (another machine)\n"
    "  --heartbeat-ms N         heartbeat interval until the backend says\n"
    "                           (default 500)\n"
    "  --heartbeat-misses N     missed heartbeats before the backend is\n"
    "                           considered gone (default 3)\n"
    "  --shutdown-timeout-s N   SIGTERM: deadline for the shutdown\n"
    "                           checkpoints (default 25)\n"
    "  --parent-pid PID         drain and exit once this backend is gone\n"
    "                           (set by `ktrdr serve` for its workers)\n"
    "\n"
    "SIGTERM / SIGINT: every operation saves a `shutdown` checkpoint and\n"
    "becomes cancelled (\"Graceful shutdown - checkpoint saved\"); exit 0.\n";

// Test hooks from the environment (never set in production):
// KTRDR_TEST_FAIL_AT=UNIT:N fails the operation when UNIT (epoch | bar)
// reaches N; KTRDR_TEST_STEP_MS=N sleeps N ms after every epoch / slice.
typedef struct worker_hook {
    char unit[16];
    long fail_at;
    long step_ms;
} worker_hook;

static kt_err
worker_hook_fn(void *arg, const char *op_id, const char *unit, int64_t value)
{
    worker_hook *h = arg;

    (void)op_id;
    if (h->step_ms > 0) {
        struct timespec ts = {.tv_sec = h->step_ms / 1000,
                              .tv_nsec = (h->step_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (h->fail_at > 0 && strcmp(unit, h->unit) == 0 && value >= h->fail_at) {
        return KT_EINVAL;
    }
    return KT_OK;
}

static bool
worker_hook_env(worker_hook *h)
{
    const char *f = getenv("KTRDR_TEST_FAIL_AT");
    const char *s = getenv("KTRDR_TEST_STEP_MS");
    const char *colon;

    memset(h, 0, sizeof(*h));
    if (f != NULL && (colon = strchr(f, ':')) != NULL &&
        (size_t)(colon - f) < sizeof(h->unit)) {
        memcpy(h->unit, f, (size_t)(colon - f));
        h->fail_at = strtol(colon + 1, NULL, 10);
    }
    if (s != NULL) {
        h->step_ms = strtol(s, NULL, 10);
    }
    return h->fail_at > 0 || h->step_ms > 0;
}

int
cmd_worker(cli_ctx *c, int argc, char **argv)
{
    const char *url = NULL, *id = NULL, *caps = NULL, *slots = NULL;
    const char *local = NULL, *hb = NULL, *miss = NULL, *sd = NULL;
    const char *ppid = NULL;
    const cli_opt opts[] = {
        {"--connect", &url, NULL},
        {"--id", &id, NULL},
        {"--capabilities", &caps, NULL},
        {"--slots", &slots, NULL},
        {"--local-data", &local, NULL},
        {"--heartbeat-ms", &hb, NULL},
        {"--heartbeat-misses", &miss, NULL},
        {"--shutdown-timeout-s", &sd, NULL},
        {"--parent-pid", &ppid, NULL},
        {NULL, NULL, NULL},
    };
    kt_worker_main_cfg w = {0};
    uint32_t sd_s = 0, pp = 0;
    worker_hook hook;
    int npos, rv;

    if (c->help) {
        fputs(worker_help, stdout);
        return CLI_OK;
    }
    if ((rv = cli_parse(argc, argv, opts, NULL, 0, &npos, "worker")) !=
            CLI_OK ||
        (rv = cli_u32("--slots", slots, &w.slots)) != CLI_OK ||
        (rv = cli_u32("--heartbeat-ms", hb, &w.heartbeat_ms)) != CLI_OK ||
        (rv = cli_u32("--heartbeat-misses", miss, &w.heartbeat_misses)) !=
            CLI_OK ||
        (rv = cli_u32("--shutdown-timeout-s", sd, &sd_s)) != CLI_OK ||
        (rv = cli_u32("--parent-pid", ppid, &pp)) != CLI_OK) {
        return rv;
    }
    if (id != NULL && (id[0] == '\0' || strlen(id) > KT_WK_ID_MAX)) {
        return cli_usage("worker", "--id must be 1-%u characters",
                         KT_WK_ID_MAX);
    }
    if (caps != NULL && strstr(caps, "training") == NULL &&
        strstr(caps, "backtest") == NULL) {
        return cli_usage("worker", "--capabilities: training, backtesting");
    }
    w.url = url != NULL ? url : c->url;
    w.worker_id = id;
    w.capabilities = caps;
    w.data_dir = local;
    w.shutdown_ms = sd_s * 1000u;
    w.parent_pid = (int32_t)pp;
    if (worker_hook_env(&hook)) {
        w.hook = worker_hook_fn;
        w.hook_arg = &hook;
    }
    return kt_worker_main(&w);
}
