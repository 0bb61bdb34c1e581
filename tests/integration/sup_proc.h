// sup_proc.h: the supervision tests' other processes: `ktrdr worker`
// processes of their own, kt-sup-backend started and SIGKILLed, the test's
// proxies to it, and waiting for processes to go. Included by
// sup_fixture.h only (it needs sf and the asks above that point).
#ifndef KT_TESTS_SUP_PROC_H
#define KT_TESTS_SUP_PROC_H

// sf_spawn: starts argv (argv[0] a path) with the current environment.
static inline pid_t
sf_spawn(char *const argv[])
{
    extern char **environ;
    pid_t pid;

    cr_assert_eq(posix_spawn(&pid, argv[0], NULL, NULL, argv, environ), 0,
                 "cannot start %s", argv[0]);
    return pid;
}

// sf_worker: a `ktrdr worker` process of its own (not the pool's).
static inline pid_t
sf_worker(const char *url, const char *id)
{
    char *argv[] = {FX_S(SF_KTRDR),
                    FX_S("worker"),
                    FX_S("--connect"),
                    FX_S(url),
                    FX_S("--id"),
                    FX_S(id),
                    NULL};
    return sf_spawn(argv);
}

// sf_reap waits up to ms for pid; returns its wait status (-1 = timeout).
static inline int
sf_reap(pid_t pid, int ms)
{
    int64_t end = sf_ms() + ms;
    int status = 0;

    while (sf_ms() < end) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return status;
        }
        usleep(2000);
    }
    return -1;
}

// sf_backend_start runs kt-sup-backend over t's data directory and url
// with n local workers (args: more options, NULL-terminated) and waits
// for its "ready" line.
static inline void
sf_backend_start(sf *t, uint32_t n, const char *const *args)
{
    char nb[16], *argv[40];
    int p[2], k = 0;
    posix_spawn_file_actions_t fa;
    extern char **environ;
    char line[64] = "";

    snprintf(nb, sizeof(nb), "%u", n);
    argv[k++] = FX_S(SF_BACKEND);
    argv[k++] = FX_S("--data");
    argv[k++] = t->f.dir;
    argv[k++] = FX_S("--url");
    argv[k++] = t->url;
    argv[k++] = FX_S("--workers");
    argv[k++] = nb;
    argv[k++] = FX_S("--exe");
    argv[k++] = FX_S(SF_KTRDR);
    for (; args != NULL && *args != NULL && k < 38; args++) {
        argv[k++] = FX_S(*args);
    }
    argv[k] = NULL;
    cr_assert_eq(pipe(p), 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    cr_assert_eq(posix_spawn(&t->backend, argv[0], &fa, NULL, argv, environ),
                 0);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    FILE *fp = fdopen(p[0], "r");
    if (fgets(line, sizeof(line), fp) == NULL) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd),
                 "cat /proc/locks >&2; ls -l /proc/[0-9]*/fd 2>/dev/null | "
                 "grep -B30 '%s/persist.lock' | grep -E '^/proc|lock' >&2",
                 t->f.dir);
        (void)system(cmd);
        cr_assert_fail("backend did not start");
    }
    fclose(fp);
    cr_assert(strncmp(line, "ready", 5) == 0, "backend said %s", line);
}

// sf_backend_kill SIGKILLs the backend process and reaps it.
static inline void
sf_backend_kill(sf *t)
{
    cr_assert_eq(kill(t->backend, SIGKILL), 0);
    cr_assert_eq(waitpid(t->backend, NULL, 0), t->backend);
    t->backend = 0;
}

// sf_connect: the test's own runtime with proxies to the backend's
// operations, registry and supervisor (they redial on their own).
static inline void
sf_connect(sf *t)
{
    kt_runtime_cfg rc = {.threads = 1};

    cr_assert_eq(kt_runtime_start(&t->crt, &rc), KT_OK);
    cr_assert_eq(kt_remote_connect(t->crt, t->url, KT_OPS_NAME, &t->f.ops),
                 KT_OK);
    cr_assert_eq(kt_remote_connect(t->crt, t->url, KT_WORKERS_NAME, &t->reg),
                 KT_OK);
    cr_assert_eq(kt_remote_connect(t->crt, t->url, KT_SUP_NAME, &t->sup),
                 KT_OK);
    t->f.rt = t->crt;
}

// sf_worker_pids: the pids of the registered workers (n at most).
static inline size_t
sf_worker_pids(sf *t, pid_t *pids, size_t n)
{
    Ktpb__V1__RegistryListReply *r = sf_workers(t);
    size_t k = 0;

    for (size_t i = 0; i < r->n_workers && k < n; i++) {
        pids[k++] = (pid_t)r->workers[i]->pid;
    }
    ktpb__v1__registry_list_reply__free_unpacked(r, NULL);
    return k;
}

// sf_claimed_by: true when a registered worker with pid claims op_id.
static inline bool
sf_claimed_by(sf *t, pid_t pid, const char *op_id)
{
    Ktpb__V1__RegistryListReply *r = sf_workers(t);
    bool yes = false;

    for (size_t i = 0; i < r->n_workers; i++) {
        for (size_t k = 0; k < r->workers[i]->n_ops; k++) {
            yes |= r->workers[i]->pid == pid &&
                   strcmp(r->workers[i]->ops[k]->op_id, op_id) == 0;
        }
    }
    ktpb__v1__registry_list_reply__free_unpacked(r, NULL);
    return yes;
}

// sf_reap_any waits up to ms for a process that is not our child to be
// gone (kill(pid, 0) fails); 0 when gone, -1 on timeout.
static inline int
sf_reap_any(pid_t pid, int ms)
{
    int64_t end = sf_ms() + ms;

    while (sf_ms() < end) {
        if (kill(pid, 0) != 0 || waitpid(pid, NULL, WNOHANG) == pid) {
            return 0;
        }
        usleep(2000);
    }
    return -1;
}

#endif // KT_TESTS_SUP_PROC_H
