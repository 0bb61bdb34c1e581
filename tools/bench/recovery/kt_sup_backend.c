// kt_sup_backend: a backend process for the supervision tests and the
// recovery benchmark:
//   kt-sup-backend --data DIR --url URL [--workers N] [--exe KTRDR]
//       [--max-restarts N] [--window-ms N] [--backoff-ms N]
//       [--hb-ms N] [--misses N] [--grace-ms N] [--seed N]
//       [--worker-arg ARG]...
// It prints "ready PID" on stdout once it listens, runs until SIGTERM or
// SIGINT (then: workers notified, local workers left to drain, exit 0).
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kt/kt.h>

#include "operations/backend.h"
#include "supervisor/supervisor.h"

#define MAX_WARGS 16

typedef struct opts {
    const char *data, *url, *exe;
    uint32_t workers, hb_ms, misses, grace_ms;
    kt_restart_policy pol;
    uint64_t seed;
    const char *wargs[MAX_WARGS + 1];
    int nwargs;
} opts;

static int
parse(int argc, char **argv, opts *o)
{
    kt_restart_policy_default(&o->pol);
    o->workers = 1;
    o->exe = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            return -1;
        }
        i++;
        if (strcmp(a, "--data") == 0) {
            o->data = v;
        } else if (strcmp(a, "--url") == 0) {
            o->url = v;
        } else if (strcmp(a, "--exe") == 0) {
            o->exe = v;
        } else if (strcmp(a, "--workers") == 0) {
            o->workers = (uint32_t)strtoul(v, NULL, 10);
        } else if (strcmp(a, "--max-restarts") == 0) {
            o->pol.max_restarts = (uint32_t)strtoul(v, NULL, 10);
        } else if (strcmp(a, "--window-ms") == 0) {
            o->pol.window_ms = (uint32_t)strtoul(v, NULL, 10);
        } else if (strcmp(a, "--backoff-ms") == 0) {
            o->pol.backoff_base_ms = (uint32_t)strtoul(v, NULL, 10);
        } else if (strcmp(a, "--hb-ms") == 0) {
            o->hb_ms = (uint32_t)strtoul(v, NULL, 10);
        } else if (strcmp(a, "--misses") == 0) {
            o->misses = (uint32_t)strtoul(v, NULL, 10);
        } else if (strcmp(a, "--grace-ms") == 0) {
            o->grace_ms = (uint32_t)strtoul(v, NULL, 10);
        } else if (strcmp(a, "--seed") == 0) {
            o->seed = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--worker-arg") == 0 && o->nwargs < MAX_WARGS) {
            o->wargs[o->nwargs++] = v;
        } else {
            return -1;
        }
    }
    return o->data != NULL && o->url != NULL ? 0 : -1;
}

int
main(int argc, char **argv)
{
    kt_backend_cfg bc = {0};
    kt_supervision_cfg sc = {0};
    kt_supervision *sup = NULL;
    kt_backend *b = NULL;
    sigset_t set;
    opts o = {0};
    int sig;

    if (parse(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: kt-sup-backend --data DIR --url URL ...\n");
        return 2;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); // before any thread starts
    bc.data_dir = o.data;
    bc.ops.use_workers = true;
    bc.ops.train_batches = 4;
    bc.ops.bt_bars = 20;
    if (kt_backend_open(&bc, &b) != KT_OK ||
        kt_runtime_listen(kt_backend_runtime(b), o.url) != KT_OK) {
        fprintf(stderr, "kt-sup-backend: cannot start on %s\n", o.url);
        kt_backend_close(b);
        return 1;
    }
    sc.registry.heartbeat_ms = o.hb_ms;
    sc.registry.heartbeat_misses = o.misses;
    sc.sup.policy = o.pol;
    sc.sup.policy_set = true;
    sc.sup.reclaim_grace_ms = o.grace_ms;
    sc.sup.seed = o.seed;
    sc.sup.data_dir = o.data;
    sc.sup.local_workers = o.exe != NULL ? o.workers : 0;
    sc.sup.worker_exe = o.exe;
    sc.sup.backend_url = o.url;
    sc.sup.worker_args = o.wargs;
    if (kt_supervision_start(kt_backend_runtime(b), &sc, &sup) != KT_OK) {
        fprintf(stderr, "kt-sup-backend: supervision failed\n");
        kt_backend_close(b);
        return 1;
    }
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    while (sigwait(&set, &sig) != 0) {
    }
    kt_supervision_shutdown(sup);
    kt_supervision_quiesce(sup); // supervisor.h: the stopping order
    kt_backend_close(b);
    kt_supervision_close(sup, true);
    return 0;
}
