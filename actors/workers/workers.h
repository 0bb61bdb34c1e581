// workers.h: the worker registry actor ("workers") of the backend. Worker
// processes register with their capabilities and running operations,
// heartbeat, and receive operations to run; the registry detects their
// loss (process exit reported by the supervisor, heartbeat timeout) and
// reports it with the operations they held. Messages are the ktpb.v1
// messages of proto/ktpb/v1/workers.proto; docs/actors/workers.md
// describes each one.
#ifndef KT_WORKERS_WORKERS_H
#define KT_WORKERS_WORKERS_H

#include <stdint.h>

#include <kt/actor.h>

// Message types 700-799 (workers and supervisor).
enum {
    KT_WK_REGISTER = 700,         // WorkerRegister -> WorkerRegisterReply
    KT_WK_REGISTER_REPLY = 701,   // WorkerRegisterReply
    KT_WK_HEARTBEAT = 702,        // WorkerHeartbeat -> WorkerHeartbeatReply
    KT_WK_HEARTBEAT_REPLY = 703,  // WorkerHeartbeatReply
    KT_WK_OP_ENDED = 704,         // WorkerOpEnded -> WorkersReply
    KT_WK_REPLY = 705,            // WorkersReply
    KT_WK_RUN = 706,              // WorkerRun (registry -> worker) -> 705
    KT_WK_CONTROL = 707,          // WorkerControl -> WorkersReply
    KT_WK_BACKEND_SHUTDOWN = 708, // BackendShutdown (no reply)
    KT_WK_DISPATCH = 710,         // DispatchRequest -> WorkersReply
    KT_WK_EXITED = 711,           // WorkerExited (no reply)
    KT_WK_LOST = 712,             // WorkerLost (registry -> supervisor)
    KT_WK_UP = 713,               // WorkerUp (registry -> supervisor)
    KT_WK_LIST = 714,             // RegistryListRequest -> RegistryListReply
    KT_WK_LIST_REPLY = 715,       // RegistryListReply
    KT_WK_WHERE = 716,            // WhereRequest -> WorkersReply
    KT_WK_RECLAIM = 717,          // RegistryReclaim -> WorkersReply
    KT_WK_NOTIFY_SHUTDOWN = 718,  // empty -> WorkersReply (broadcast 708)
    KT_SUP_STATUS = 740,          // SupervisorStatusRequest -> ..Reply
    KT_SUP_STATUS_REPLY = 741,
    KT_SUP_SHUTDOWN = 742, // SupervisorShutdownRequest -> WorkersReply
    KT_WK_ERROR_REPLY = 799,
};

#define KT_WORKERS_NAME       "workers"
#define KT_WK_DEFAULT_HB_MS   500u
#define KT_WK_DEFAULT_MISSES  3u
#define KT_WK_DEFAULT_DISP_MS 30000u
#define KT_WK_MAX_SLOTS       16u
#define KT_WK_ID_MAX          63u

typedef struct kt_workers_cfg {
    kt_aid ops;                   // operations actor; 0 = KT_OPS_NAME lookup
    bool supervised;              // a supervisor ("supervisor") gets
                                  // WorkerLost / WorkerUp and sends the
                                  // reclaim list; else a lost operation
                                  // is failed straight away
    uint32_t heartbeat_ms;        // 0 = KT_WK_DEFAULT_HB_MS
    uint32_t heartbeat_misses;    // 0 = KT_WK_DEFAULT_MISSES
    uint32_t dispatch_timeout_ms; // 0 = KT_WK_DEFAULT_DISP_MS
    uint32_t run_timeout_ms;      // a worker's answer to WorkerRun; 0 = 5000
} kt_workers_cfg;

// workers_ops: spawn with a kt_workers_cfg (copied) and
// kt_spawn_opts{.name = KT_WORKERS_NAME}.
extern const kt_actor_ops workers_ops;

// kt_wk_capability_of: "training" / "backtesting" -> bit; 0 if unknown.
uint32_t kt_wk_capability_of(const char *type);

#endif // KT_WORKERS_WORKERS_H
