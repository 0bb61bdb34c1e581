// registry_int.h: state of the worker registry actor, shared by
// registry.c (membership, liveness) and registry_disp.c (placement).
#ifndef KT_WORKERS_REGISTRY_INT_H
#define KT_WORKERS_REGISTRY_INT_H

#include <ktpb/v1/workers.pb-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "workers/workers.h"

#define WK_OPID_MAX 95
#define WK_TYPE_MAX 23

typedef struct wk_claim {
    char op_id[WK_OPID_MAX + 1];
    uint32_t attempt;
    char type[WK_TYPE_MAX + 1];
    bool unverified; // claimed before the reclaim list arrived
} wk_claim;

typedef struct wk_worker {
    char id[KT_WK_ID_MAX + 1];
    uint64_t instance;
    kt_aid aid; // where to reach it (a stub for a worker process)
    // The connection aid came over closed (a monitor's down) at this time;
    // 0 while connected. A worker not heard over a new connection within
    // one heartbeat interval (a live one heartbeats that often) is lost,
    // unless it is one of this process's pool workers (the pool reports
    // its exit status, which names the signal) or runs on this host and
    // its process still exists (alive: its heartbeats decide).
    int64_t conn_lost_ns;
    uint32_t caps, slots;
    int32_t pid;
    char host[64];
    bool draining;
    bool refused; // refused a run (no slot): skipped until it heartbeats
    wk_claim claims[KT_WK_MAX_SLOTS];
    uint32_t nclaims;
    int64_t last_seen_ns, registered_at_ns, last_seen_ms;
    uint32_t registrations;
    uint64_t last_pick;
    struct wk_worker *next;
} wk_worker;

// A dispatch waiting for a worker, or in flight to one (run_corr != 0).
typedef struct wk_disp {
    uint8_t *assign;
    size_t len;
    wk_claim c;
    char avoid[KT_WK_ID_MAX + 1];
    kt_aid from; // the requester and its ask
    uint64_t corr;
    int64_t deadline_ns;
    uint64_t run_corr;
    char worker[KT_WK_ID_MAX + 1];
    struct wk_disp *next;
} wk_disp;

// An operation end handed to the operations actor, answered to the
// worker only once that actor recorded it (durably).
typedef struct wk_end {
    uint64_t corr; // our ask to the operations actor
    kt_aid to;     // the worker's agent and its ask
    uint64_t to_corr;
    char worker[KT_WK_ID_MAX + 1];
    wk_claim c;
    struct wk_end *next;
} wk_end;

typedef struct wk_reclaim {
    wk_claim c;
    int64_t deadline_ns;
    struct wk_reclaim *next;
} wk_reclaim;

typedef struct registry {
    kt_actor *self;
    kt_workers_cfg cfg;
    kt_aid ops, sup, persist;
    uint64_t prune_corr; // the start-up listing of the workers table
    uint64_t boot;
    uint64_t sweep_timer;
    uint64_t picks;
    bool reclaim_known; // the running operations at boot are known
    char host[64];      // this host's name (workers on it have real pids)
    wk_worker *workers;
    wk_disp *disp;
    wk_reclaim *reclaim;
    wk_end *ends;
} registry;

void kt__wk_claim_from_pb(wk_claim *c, const Ktpb__V1__OpClaim *pb);
void kt__wk_claim_to_pb(Ktpb__V1__OpClaim *pb, const wk_claim *c);
// kt__wk_ops_aid: the operations actor (looked up by name until found).
kt_aid kt__wk_ops_aid(registry *r);
kt_aid kt__wk_sup_aid(registry *r); // 0 when not supervised
// kt__wk_table_put mirrors w into persistence's workers table.
void kt__wk_table_put(registry *r, const wk_worker *w);
void kt__wk_table_del(registry *r, const char *id);
// registry_admin.c
kt_aid kt__wk_persist(registry *r); // persistence (looked up until found)
void kt__wk_table_prune(registry *r, const kt_msg *m);
void kt__wk_list(registry *r, const kt_msg *m);
void kt__wk_notify_shutdown(registry *r, const kt_msg *m);
void kt__wk_register(registry *r, const kt_msg *m);
void kt__wk_heartbeat(registry *r, const kt_msg *m);
wk_worker *kt__wk_find(registry *r, const char *id);
// kt__wk_claim_drop removes op_id from w (true if it was there).
bool kt__wk_claim_drop(wk_worker *w, const char *op_id);
// kt__wk_watch records aid as where w is reached; a new aid is monitored,
// so the registry hears at once when its connection closes.
void kt__wk_watch(registry *r, wk_worker *w, kt_aid aid);
// kt__wk_lost removes w and reports its operations lost (reason).
void kt__wk_lost(registry *r, wk_worker *w, const char *reason);
// kt__wk_fail_ops tells the operations actor the claims failed (reason).
void kt__wk_fail_ops(registry *r, const char *worker, const char *reason,
                     const wk_claim *cl, uint32_t n);
// kt__wk_abort asks worker w to drop op c without a checkpoint (stale).
void kt__wk_abort(registry *r, wk_worker *w, const wk_claim *c);
// kt__wk_reclaim_take removes a matching reclaim entry (true if found).
bool kt__wk_reclaim_take(registry *r, const wk_claim *c);
// kt__wk_adopt hands claim c of w to the operations actor (adoption).
void kt__wk_adopt(registry *r, const wk_worker *w, const wk_claim *c);
// kt__wk_claim_find: index of op_id in w, or -1.
int kt__wk_claim_find(const wk_worker *w, const char *op_id);

// registry_disp.c
void kt__wk_dispatch(registry *r, const kt_msg *m);
void kt__wk_try_dispatch(registry *r);
bool kt__wk_run_reply(registry *r, const kt_msg *m); // true if it was one
void kt__wk_op_ended(registry *r, const kt_msg *m);
// kt__wk_end_reply: the operations actor recorded an end (true if m was
// that reply or its timeout).
bool kt__wk_end_reply(registry *r, const kt_msg *m);
void kt__wk_control(registry *r, const kt_msg *m);
void kt__wk_where(registry *r, const kt_msg *m);
void kt__wk_disp_expire(registry *r, int64_t now_ns);
// kt__wk_disp_requeue: dispatches in flight to a lost worker wait again;
// returns true if op_id was one (its claim is then not reported lost).
bool kt__wk_disp_requeue(registry *r, const char *worker, const char *op_id);
void kt__wk_disp_free_all(registry *r);

#endif // KT_WORKERS_REGISTRY_INT_H
