// main.c: the `ktrdr` binary: global options (--json, --help, --data-dir,
// --url), configuration from the environment, and command dispatch.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "usage: ktrdr [--json] [--data-dir DIR] [--url URL] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  serve                      start the backend (NNG + HTTP bridge)\n"
    "  models train STRATEGY SYMBOL TIMEFRAME --start-date D --end-date D\n"
    "                             train a model (checkpoints every 5 epochs)\n"
    "  backtest run STRATEGY SYMBOL TIMEFRAME --start-date D --end-date D\n"
    "                             backtest a trained model\n"
    "  operations list|status|cancel|resume\n"
    "                             long operations and their checkpoints\n"
    "  checkpoints show|delete|list\n"
    "                             saved checkpoints\n"
    "  data generate|fetch|show   market data in the data directory\n"
    "  workers                    registered workers\n"
    "  agent research|status      agent research (design, train, backtest,\n"
    "                             assess) with phase checkpoints\n"
    "  worker [--connect URL]     run operations for a backend\n"
    "\n"
    "Every command takes --help and --json. Exit status: 0 success,\n"
    "1 error, 2 usage error.\n"
    "\n"
    "environment:\n"
    "  KTRDR_DATA_DIR     data directory (default ./data)\n"
    "  KTRDR_BACKEND_URL  backend address (default ipc://DATA_DIR/ktrdr.sock)\n"
    "  KTRDR_HTTP_ADDR    HTTP bridge address for serve (127.0.0.1:8000)\n"
    "  KTRDR_API_TOKEN    bearer token the HTTP bridge requires\n";

static const char *
env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

// strip_globals removes --json / --help / -h / --data-dir / --url from
// argv (anywhere), so each command sees only its own options.
static int
strip_globals(cli_ctx *c, int *argcp, char **argv)
{
    int out = 0, argc = *argcp;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            c->json = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            c->help = true;
        } else if (strcmp(a, "--data-dir") == 0 || strcmp(a, "--url") == 0) {
            if (i + 1 >= argc) {
                return cli_usage("--help", "%s needs a value", a);
            }
            *(a[2] == 'd' ? &c->data_dir : &c->url) = argv[++i];
        } else if (strncmp(a, "--data-dir=", 11) == 0) {
            c->data_dir = a + 11;
        } else if (strncmp(a, "--url=", 6) == 0) {
            c->url = a + 6;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argcp = out;
    return CLI_OK;
}

static const struct {
    const char *name;
    int (*fn)(cli_ctx *c, int argc, char **argv);
} commands[] = {
    {"operations", cmd_operations},
    {"checkpoints", cmd_checkpoints},
    {"models", cmd_models},
    {"backtest", cmd_backtest},
    {"data", cmd_data},
    {"serve", cmd_serve},
    {"workers", cmd_workers},
    {"worker", cmd_worker},
    {"agent", cmd_agent},
};

// CLI_FULL_TEARDOWN: sanitizer builds stop the runtime before exiting, so
// LeakSanitizer still checks every command's clean-up path.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CLI_FULL_TEARDOWN 1
#else
#define CLI_FULL_TEARDOWN 0
#endif

// finish ends a command that may have connected. Its output is flushed
// first (a failed flush is an error: the output was lost). A connected
// command then leaves with _exit instead of stopping the runtime: every
// ask has been answered or has timed out by now, nothing else is in
// flight, and the backend sees the connection close exactly as after a
// full stop (it drops the connection's stubs and subscriptions). The stop
// costs 0.5-4 ms (a bounded-close thread per NNG socket, joins); the
// process needs none of it.
static int
finish(cli_ctx *c, int rv)
{
    if (fflush(stdout) != 0 && rv == CLI_OK) {
        rv = CLI_ERR;
    }
    (void)fflush(stderr);
    if (c->rt != NULL && !CLI_FULL_TEARDOWN) {
        _exit(rv);
    }
    cli_disconnect(c);
    return rv;
}

int
main(int argc, char **argv)
{
    cli_ctx c = {0};
    int rv;

    kt_process_tune(); // large checkpoint messages (kt/actor.h)
    argc--, argv++;
    if ((rv = strip_globals(&c, &argc, argv)) != CLI_OK) {
        return rv;
    }
    c.data_dir =
        c.data_dir != NULL ? c.data_dir : env_or("KTRDR_DATA_DIR", "./data");
    if (c.url == NULL && (c.url = env_or("KTRDR_BACKEND_URL", NULL)) == NULL) {
        snprintf(c.url_buf, sizeof(c.url_buf), "ipc://%s/ktrdr.sock",
                 c.data_dir);
        c.url = c.url_buf;
    }
    if (argc == 0) {
        fputs(usage, c.help ? stdout : stderr);
        return c.help ? CLI_OK : CLI_USAGE;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[0], commands[i].name) == 0) {
            return finish(&c, commands[i].fn(&c, argc - 1, argv + 1));
        }
    }
    fprintf(stderr, "Error: unknown command '%s'\n\n%s", argv[0], usage);
    return CLI_USAGE;
}
