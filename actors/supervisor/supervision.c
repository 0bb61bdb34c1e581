// supervision.c: the embedding API: the registry, the supervisor and the
// local worker pool in a backend's runtime.
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <kt/log.h>

#include "supervisor/sup_int.h"
#include "workers/wk_msg.h"

kt_err
kt_supervision_start(kt_runtime *rt, const kt_supervision_cfg *cfg,
                     kt_supervision **sp)
{
    kt_spawn_opts ro = {.name = KT_WORKERS_NAME};
    // Dedicated: restart intents are fsynced files (sup_intent.c).
    kt_spawn_opts so = {.name = KT_SUP_NAME, .dedicated = true};
    kt_workers_cfg wc;
    kt__sup_actor_cfg ac;
    kt_aid sup_aid; // == s->sup, which init stores itself
    kt_supervision *s;
    kt_err err;

    if (rt == NULL || cfg == NULL || sp == NULL ||
        (cfg->sup.policy_set &&
         kt_restart_policy_check(&cfg->sup.policy) != KT_OK) ||
        cfg->sup.local_workers > SUP_MAX_LOCAL ||
        (cfg->sup.local_workers > 0 &&
         (cfg->sup.worker_exe == NULL || cfg->sup.backend_url == NULL))) {
        return KT_EINVAL;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        return KT_ENOMEM;
    }
    s->rt = rt;
    s->nslots = cfg->sup.local_workers;
    wc = cfg->registry;
    wc.supervised = true;
    if ((err = kt_spawn(rt, &workers_ops, &wc, &ro, &s->registry)) != KT_OK) {
        goto free_s;
    }
    if (s->nslots > 0 &&
        (err = kt_wpool_open(&s->pool, kt__sup_pool_exit_cb, s)) != KT_OK) {
        goto kill_registry;
    }
    ac.sup = cfg->sup;
    ac.owner = s;
    // The supervisor's init stores its id in s->sup before it spawns the
    // workers, so the pool's callback always has somewhere to report.
    if ((err = kt_spawn(rt, &supervisor_ops, &ac, &so, &sup_aid)) != KT_OK) {
        goto close_pool;
    }
    *sp = s;
    return KT_OK;
close_pool:
    kt_wpool_close(s->pool);
kill_registry:
    if (kt_kill(rt, s->registry) != KT_OK) {
        kt_log(KT_LOG_WARN, "supervisor", "event=registry_kill_failed");
    }
free_s:
    free(s);
    return err;
}

kt_aid
kt_supervision_registry(const kt_supervision *s)
{
    return s != NULL ? s->registry : 0;
}

kt_aid
kt_supervision_supervisor(const kt_supervision *s)
{
    return s != NULL ? s->sup : 0;
}

kt_err
kt_supervision_kill_worker(kt_supervision *s, uint32_t n, int sig,
                           int32_t *pidp)
{
    int pid;
    kt_err err;

    if (s == NULL || n >= s->nslots) {
        return KT_EINVAL;
    }
    if ((pid = atomic_load(&s->pids[n])) == 0) {
        return KT_ENOENT;
    }
    if ((err = kt_wpool_kill(s->pool, pid, sig)) == KT_OK && pidp != NULL) {
        *pidp = pid;
    }
    return err;
}

void
kt_supervision_shutdown(kt_supervision *s)
{
    kt_msg *m = NULL, *rep = NULL;

    if (s == NULL || kt_msg_alloc(&m, KT_SUP_SHUTDOWN, 0) != KT_OK) {
        return;
    }
    if (kt_runtime_ask(s->rt, s->sup, m, 5000, &rep) != KT_OK) {
        kt_log(KT_LOG_WARN, "supervisor", "event=shutdown_unanswered");
        return;
    }
    kt_msg_free(rep);
}

void
kt_supervision_quiesce(kt_supervision *s)
{
    if (s != NULL) {
        kt_wpool_quiesce(s->pool); // no more exit reports into the runtime
    }
}

void
kt_supervision_close(kt_supervision *s, bool detach)
{
    if (s == NULL) {
        return;
    }
    if (detach) {
        kt_wpool_detach(s->pool);
    } else {
        kt_wpool_close(s->pool);
    }
    free(s);
}
