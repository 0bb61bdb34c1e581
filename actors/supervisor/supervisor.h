// supervisor.h: the supervisor actor ("supervisor") and the embedding API
// that starts supervision in a backend runtime: the worker registry, the
// supervisor and a pool of local worker processes. The supervisor restarts
// operations whose worker was lost -- from their last durable checkpoint,
// on an available (or respawned) worker -- under an OTP-style policy whose
// counts live in SQLite; respawns local worker processes; and, at backend
// start, gives running operations a grace period to be reclaimed by their
// re-registering workers. docs/actors/supervisor.md describes it.
#ifndef KT_SUPERVISOR_SUPERVISOR_H
#define KT_SUPERVISOR_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>

#include <kt/actor.h>

#include "supervisor/policy.h"
#include "workers/workers.h"

#define KT_SUP_NAME             "supervisor"
#define KT_SUP_DEFAULT_GRACE_MS 5000u

typedef struct kt_supervision kt_supervision;

typedef struct kt_supervisor_cfg {
    kt_restart_policy policy;  // zeroed = never restart (guide Scenario 2)
    bool policy_set;           // false = kt_restart_policy_default
    uint32_t reclaim_grace_ms; // 0 = KT_SUP_DEFAULT_GRACE_MS
    uint64_t seed;             // jitter; 0 = from the clock
    const char *data_dir;      // restart intents in DIR/supervisor/ (a
                               // restart waiting out its backoff survives
                               // a backend crash); NULL = none
    // Local worker processes (none when local_workers == 0).
    uint32_t local_workers;
    const char *worker_exe; // the ktrdr binary
    const char *backend_url;
    const char *const *worker_args; // extra arguments, NULL-terminated
    kt_restart_policy respawn;      // backoff of respawns (max_restarts unused)
} kt_supervisor_cfg;

typedef struct kt_supervision_cfg {
    kt_workers_cfg registry; // ops / supervisor filled in
    kt_supervisor_cfg sup;
} kt_supervision_cfg;

// kt_supervision_start spawns the registry (KT_WORKERS_NAME) and the
// supervisor (KT_SUP_NAME) in rt, next to the operations and persistence
// actors (looked up by name), and starts the local workers. Errors:
// KT_EINVAL (bad policy, local workers without exe/url), spawn errors.
KT_NODISCARD kt_err kt_supervision_start(kt_runtime *rt,
                                         const kt_supervision_cfg *cfg,
                                         kt_supervision **sp);
kt_aid kt_supervision_registry(const kt_supervision *s);
kt_aid kt_supervision_supervisor(const kt_supervision *s);
// kt_supervision_kill_worker signals local worker n (0-based slot; tests
// and benchmarks). Errors: KT_ENOENT (no live process in that slot).
KT_NODISCARD kt_err kt_supervision_kill_worker(kt_supervision *s, uint32_t n,
                                               int sig, int32_t *pidp);
// kt_supervision_shutdown (backend SIGTERM): no more respawns, every
// worker is told the backend goes away (they keep computing and
// re-register with the next backend). From a plain thread.
void kt_supervision_shutdown(kt_supervision *s);
// Stopping, in this order: kt_supervision_shutdown (optional), then
// kt_supervision_quiesce (the process pool stops reporting exits into the
// runtime), then kt_runtime_stop / kt_backend_close (the supervisor actor,
// which uses the pool, is gone), then kt_supervision_close, which frees.
// Local workers are left running when `detach` (they drain: finish their
// operations with the next backend, then exit), else SIGKILLed.
void kt_supervision_quiesce(kt_supervision *s);
void kt_supervision_close(kt_supervision *s, bool detach);

// The actor, for tests that wire it by hand (kt_supervision_start does).
typedef struct kt__sup_actor_cfg {
    kt_supervisor_cfg sup;
    kt_supervision *owner; // the pool owner (NULL: no local workers)
} kt__sup_actor_cfg;
extern const kt_actor_ops supervisor_ops;

#endif // KT_SUPERVISOR_SUPERVISOR_H
