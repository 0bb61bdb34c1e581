// sup_int.h: state of the supervisor actor, shared by supervisor.c
// (operations: failure, policy, restarts, boot reclaim), sup_local.c
// (local worker processes) and supervision.c (the embedding API).
#ifndef KT_SUPERVISOR_SUP_INT_H
#define KT_SUPERVISOR_SUP_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "supervisor/policy.h"
#include "supervisor/pool.h"
#include "supervisor/supervisor.h"

#define SUP_MAX_LOCAL 64

struct kt_supervision {
    kt_runtime *rt;
    kt_aid registry, sup;
    kt_wpool *pool;
    uint32_t nslots;
    atomic_int pids[SUP_MAX_LOCAL]; // 0 = no live process in the slot
};

typedef struct sup_op {
    char op_id[96];
    uint32_t attempt;
    char worker[64];
    kt_restart_hist hist;
    uint32_t restarts; // restart_count in SQLite, as last seen
    char last_error[256];
    uint64_t timer, tag;
    int64_t next_ms; // wall ms of the scheduled restart (0 = none)
    bool gave_up;
    int64_t lost_at_ns, resumed_at_ns;
    // Failures recorded so far (each writes the restart intent). An answer
    // to a request sent before the latest failure no longer decides: that
    // failure's own answer does, and its intent must stay until then.
    uint32_t fail_gen;
    struct sup_op *next;
} sup_op;

typedef enum sup_kind {
    SP_IGNORE,
    SP_FAIL,        // WorkerDone{failed} to the operations actor
    SP_FAIL_DIRECT, // transition to failed in persistence (no job)
    SP_GET,         // the record, to decide again
    SP_RESUME,      // OpsResumeRequest{count_restart}
    SP_BOOT_LIST,   // running / resuming operations at start
} sup_kind;

typedef struct sup_pend {
    uint64_t corr;
    sup_kind kind;
    char op_id[96];
    bool orphan;  // lost without a worker (reclaim grace expired)
    uint32_t gen; // the operation's fail_gen when the request was sent
    struct sup_pend *next;
} sup_pend;

typedef struct sup_slot {
    int32_t pid;
    uint64_t timer; // respawn scheduled
    kt_restart_hist hist;
    int64_t started_ns;
} sup_slot;

typedef struct supervisor {
    kt_actor *self;
    kt_supervisor_cfg cfg;
    kt_supervision *owner;
    kt_aid registry, ops, persist;
    uint64_t rng, tags;
    sup_op *ops_list;
    sup_pend *pends;
    bool shutting;
    uint32_t spawned, restarts, reclaim_pending;
    sup_slot slots[SUP_MAX_LOCAL];
    char url[512], exe[1024];
    char intents[1024]; // DIR/supervisor ("" = no intents)
} supervisor;

#define SUP_RESPAWN_TAG 0x5e50000000ull // + slot

// supervisor.c
KT_NODISCARD kt_err kt__sup_pend(supervisor *s, kt_aid to, uint32_t type,
                                 const ProtobufCMessage *m, uint32_t timeout,
                                 sup_kind kind, const char *op_id, bool orphan);
// How long the supervisor waits for an answer from its neighbours.
#define SUP_ASK_MS 30000u

// supervisor.c: the operations it watches, and asks about them.
sup_op *kt__sup_op_get(supervisor *s, const char *op_id, bool create);
void kt__sup_get(supervisor *s, const char *op_id); // the record, to decide
// kt__sup_fail_direct records o failed in persistence (no job for it).
void kt__sup_fail_direct(supervisor *s, sup_op *o, const char *error);
// sup_boot.c: the running / resuming operations listed at start, and a
// restart intent left by the previous backend.
void kt__sup_on_boot_list(supervisor *s, const kt_msg *m);
void kt__sup_boot_intent(supervisor *s, const char *op_id);
// sup_admin.c
void kt__sup_status(supervisor *s, const kt_msg *m);
void kt__sup_shutdown(supervisor *s, const kt_msg *m);

// sup_intent.c: durable "this failed operation will be restarted" marks.
void kt__sup_intent_init(supervisor *s, const char *data_dir);
void kt__sup_intent_set(supervisor *s, const char *op_id);
void kt__sup_intent_clear(supervisor *s, const char *op_id);
// kt__sup_intent_scan calls fn for every intent left by a previous run.
void kt__sup_intent_scan(supervisor *s,
                         void (*fn)(supervisor *s, const char *op_id));

// sup_local.c
void kt__sup_local_start(supervisor *s);
void kt__sup_spawn(supervisor *s, uint32_t slot);
void kt__sup_exited(supervisor *s, const kt_msg *m);
void kt__sup_respawn_timer(supervisor *s, uint64_t tag);
// kt__sup_reap_hung SIGKILLs local worker pid if it is still alive (the
// registry gave up on it: no heartbeat); its exit respawns the slot.
void kt__sup_reap_hung(supervisor *s, int32_t pid);
void kt__sup_pool_exit_cb(void *arg, const kt_wpool_exit *e);

#endif // KT_SUPERVISOR_SUP_INT_H
