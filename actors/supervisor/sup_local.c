// sup_local.c: the supervisor's local worker processes: spawned at start
// (`ktrdr worker --connect URL --id local-<backend pid>-<slot>
// --parent-pid <backend pid>`), their exits reported by the pool's reaper
// thread (forwarded to the registry at once: that is the detection), and
// respawned after a backoff that grows while a slot keeps crashing.
#include <inttypes.h>
#include <ktpb/v1/workers.pb-c.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <kt/log.h>

#include "supervisor/sup_int.h"
#include "workers/wk_msg.h"

#define SUP_MAX_ARGS 48

// On the pool's reaper thread: only turn the exit into a message.
void
kt__sup_pool_exit_cb(void *arg, const kt_wpool_exit *e)
{
    kt_supervision *o = arg;
    Ktpb__V1__WorkerExited x;
    kt_msg *m;

    ktpb__v1__worker_exited__init(&x);
    x.worker_id = (char *)(uintptr_t)e->tag;
    x.pid = (int32_t)e->pid;
    x.exit_code = e->exit_code;
    x.signal = e->signal;
    x.exited_at_ns = e->at_ns;
    if (kt__wk_pack(&m, KT_WK_EXITED, &x.base) != KT_OK) {
        return;
    }
    if (kt_runtime_send(o->rt, o->sup, m) != KT_OK) {
        kt_msg_free(m);
    }
}

void
kt__sup_spawn(supervisor *s, uint32_t slot)
{
    char id[64], ppid[24];
    char *argv[SUP_MAX_ARGS];
    int n = 0;
    pid_t pid;
    kt_err err;

    snprintf(id, sizeof(id), "local-%d-%u", (int)getpid(), slot);
    snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
    argv[n++] = s->exe;
    argv[n++] = (char *)(uintptr_t) "worker";
    argv[n++] = (char *)(uintptr_t) "--connect";
    argv[n++] = s->url;
    argv[n++] = (char *)(uintptr_t) "--id";
    argv[n++] = id;
    argv[n++] = (char *)(uintptr_t) "--parent-pid";
    argv[n++] = ppid;
    for (const char *const *a = s->cfg.worker_args;
         a != NULL && *a != NULL && n < SUP_MAX_ARGS - 1; a++) {
        argv[n++] = (char *)(uintptr_t)*a;
    }
    argv[n] = NULL;
    s->slots[slot].timer = 0;
    if ((err = kt_wpool_spawn(s->owner->pool, argv, id, &pid)) != KT_OK) {
        kt_log(KT_LOG_ERR, "supervisor",
               "event=spawn_failed slot=%u exe=%s err=\"%s\"", slot, s->exe,
               kt_strerror(err));
        return;
    }
    s->slots[slot].pid = (int32_t)pid;
    s->slots[slot].started_ns = kt__wk_mono_ns();
    atomic_store(&s->owner->pids[slot], (int)pid);
    s->spawned++;
}

void
kt__sup_local_start(supervisor *s)
{
    if (s->owner == NULL || s->owner->pool == NULL) {
        s->cfg.local_workers = 0;
        return;
    }
    if (s->cfg.local_workers > SUP_MAX_LOCAL) {
        s->cfg.local_workers = SUP_MAX_LOCAL;
    }
    for (uint32_t k = 0; k < s->cfg.local_workers; k++) {
        kt__sup_spawn(s, k);
    }
}

static int
sup_slot_of(supervisor *s, int32_t pid)
{
    for (uint32_t k = 0; k < s->cfg.local_workers; k++) {
        if (s->slots[k].pid == pid && pid != 0) {
            return (int)k;
        }
    }
    return -1;
}

void
kt__sup_exited(supervisor *s, const kt_msg *m)
{
    Ktpb__V1__WorkerExited *x =
        ktpb__v1__worker_exited__unpack(NULL, kt_msg_len(m), kt_msg_cbody(m));
    kt_msg *fw;
    uint32_t delay = 0;
    int k;

    if (x == NULL) {
        return;
    }
    // The registry first: it fails the worker's operations now.
    if (kt_msg_alloc(&fw, KT_WK_EXITED, kt_msg_len(m)) == KT_OK) {
        memcpy(kt_msg_body(fw), kt_msg_cbody(m), kt_msg_len(m));
        if (kt_send(s->self, s->registry, fw) != KT_OK) {
            kt_msg_free(fw);
        }
    }
    if ((k = sup_slot_of(s, x->pid)) >= 0) {
        sup_slot *sl = &s->slots[k];
        sl->pid = 0;
        atomic_store(&s->owner->pids[k], 0);
        if (!s->shutting) {
            // Crash-looping slots back off; max_restarts is not a limit
            // here (a local worker slot is permanent).
            kt_restart_policy rp = s->cfg.respawn;
            rp.max_restarts = KT_RESTART_HIST_MAX;
            (void)kt_restart_decide(&rp, &sl->hist, 0, 0, kt__wk_now_ms(),
                                    &s->rng, &delay);
            if (kt_timer_start(s->self, delay > 0 ? delay : 1, false,
                               SUP_RESPAWN_TAG + (uint64_t)k,
                               &sl->timer) != KT_OK) {
                kt__sup_spawn(s, (uint32_t)k);
            }
        }
    }
    ktpb__v1__worker_exited__free_unpacked(x, NULL);
}

void
kt__sup_respawn_timer(supervisor *s, uint64_t tag)
{
    uint32_t k = (uint32_t)(tag - SUP_RESPAWN_TAG);

    if (k < s->cfg.local_workers && s->slots[k].pid == 0 && !s->shutting) {
        kt__sup_spawn(s, k);
    }
}

void
kt__sup_reap_hung(supervisor *s, int32_t pid)
{
    int k = sup_slot_of(s, pid);

    if (k >= 0 && s->owner != NULL && s->owner->pool != NULL &&
        kt_wpool_kill(s->owner->pool, pid, SIGKILL) == KT_OK) {
        kt_log(KT_LOG_WARN, "supervisor",
               "event=reap_hung actor=supervisor pid=%d slot=%d", (int)pid, k);
    }
}
