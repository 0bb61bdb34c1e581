// serve_workers.c: the worker processes of `ktrdr serve` (issue 7): the
// registry, the supervisor and N local `ktrdr worker` processes, with the
// knobs from the environment. Called from cmd_serve.c.
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "supervisor/supervisor.h"

// env_u32: $name as a number, or dflt when unset; -1 when malformed.
static long
env_u32(const char *name, long dflt)
{
    const char *v = getenv(name);
    char *end;
    long n;

    if (v == NULL || v[0] == '\0') {
        return dflt;
    }
    n = strtol(v, &end, 10);
    return *end == '\0' && n >= 0 && n <= 1000000 ? n : -1;
}

uint32_t
serve_workers_count(void)
{
    long n = env_u32("KTRDR_WORKERS", sysconf(_SC_NPROCESSORS_ONLN));

    return n < 0 ? 1u : n > 64 ? 64u : (uint32_t)n;
}

int
serve_workers_start(cli_ctx *c, kt_runtime *rt, const char *url,
                    const char *dir, kt_supervision **sp)
{
    static char exe[PATH_MAX];
    static const char *const none[] = {NULL};
    kt_supervision_cfg sc = {0};
    long maxr = env_u32("KTRDR_MAX_RESTARTS", KT_RESTART_DEFAULT_MAX);
    long win = env_u32("KTRDR_RESTART_WINDOW_S", 60);
    long hb = env_u32("KTRDR_HEARTBEAT_MS", 500);
    long grace = env_u32("KTRDR_RECLAIM_GRACE_S", 5);
    ssize_t n;
    kt_err err;

    if (maxr < 0 || maxr > KT_RESTART_HIST_MAX || win <= 0 || hb <= 0 ||
        grace < 0) {
        return cli_error(c,
                         "bad KTRDR_MAX_RESTARTS (0-%d), "
                         "KTRDR_RESTART_WINDOW_S, KTRDR_HEARTBEAT_MS or "
                         "KTRDR_RECLAIM_GRACE_S",
                         KT_RESTART_HIST_MAX);
    }
    if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0) {
        return cli_error(c, "cannot find the ktrdr binary for the workers");
    }
    exe[n] = '\0';
    sc.registry.heartbeat_ms = (uint32_t)hb;
    kt_restart_policy_default(&sc.sup.policy);
    sc.sup.policy.max_restarts = (uint32_t)maxr;
    sc.sup.policy.window_ms = (uint32_t)win * 1000u;
    sc.sup.policy_set = true;
    sc.sup.reclaim_grace_ms = grace > 0 ? (uint32_t)grace * 1000u : 1;
    sc.sup.data_dir = dir;
    sc.sup.local_workers = serve_workers_count();
    sc.sup.worker_exe = exe;
    sc.sup.backend_url = url;
    sc.sup.worker_args = none;
    if ((err = kt_supervision_start(rt, &sc, sp)) != KT_OK) {
        return cli_error(c, "cannot start the workers: %s", kt_strerror(err));
    }
    printf("  workers: %u local (`ktrdr worker --connect %s` adds more); "
           "restarts: %ld within %ld s\n",
           sc.sup.local_workers, url, maxr, win);
    return CLI_OK;
}

void
serve_workers_stop(kt_supervision *s)
{
    if (s != NULL) {
        // Workers keep computing and re-register with the next backend;
        // local ones drain (finish, deliver, exit) if none comes.
        kt_supervision_shutdown(s);
        kt_supervision_quiesce(s);
    }
}

void
serve_workers_close(kt_supervision *s)
{
    if (s != NULL) {
        // Only once the backend's runtime is stopped: its supervisor actor
        // uses the process pool this frees.
        kt_supervision_close(s, true);
    }
}
