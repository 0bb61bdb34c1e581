// agent.h: the worker process side. The agent actor registers the process
// with the backend's registry (capabilities, running operations),
// heartbeats, runs the training / backtest actors it is assigned, and sits
// between them and the backend as their operations and persistence actor:
// it relays their requests and keeps every checkpoint save and operation
// end until the backend acknowledged it, so the backend may go away and
// come back while they compute. docs/actors/workers.md has the protocol.
#ifndef KT_WORKERS_AGENT_H
#define KT_WORKERS_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <kt/actor.h>

#include "operations/operations.h"

enum {
    KT_WK_AGENT_SHUTDOWN = 720, // empty: graceful shutdown (SIGTERM)
    KT_WK_AGENT_STATUS = 721,   // empty -> WorkerInfo (for tests)
    KT_WK_AGENT_STATUS_REPLY = 722,
};

#define KT_WK_DEFAULT_SHUTDOWN_MS 25000u
#define KT_WK_AGENT_NAME          "worker"

// Called on the agent's thread when the process should exit with code:
// 0 after a graceful shutdown or a drained orphan, 2 when the shutdown
// deadline passed with work unsaved.
typedef void (*kt_wk_exit_fn)(void *arg, int code);

typedef struct kt_wk_agent_cfg {
    const char *worker_id;             // required, 1-63 characters
    const char *capabilities;          // "training,backtesting" (NULL = both)
    uint32_t slots;                    // operations at once; 0 = 1
    const char *data_dir;              // NULL = the data_dir of each assignment
    kt_aid registry, ops, persistence; // the backend (proxies)
    uint32_t heartbeat_ms;             // until the backend says; 0 = 500
    uint32_t heartbeat_misses;         // backend considered gone; 0 = 3
    uint32_t relay_timeout_ms;         // one try of a relayed request; 0 = 1000
    uint32_t shutdown_ms;              // graceful shutdown deadline; 0 = 25000
    int32_t parent_pid; // orphaned when getppid() differs; 0 = none
    kt_wk_exit_fn on_exit;
    void *exit_arg;
    kt_ops_hook_fn hook; // tests: injected failures in the op actors
    void *hook_arg;
} kt_wk_agent_cfg;

// wk_agent_ops: spawn with a kt_wk_agent_cfg (copied) and
// kt_spawn_opts{.name = KT_WK_AGENT_NAME}.
extern const kt_actor_ops wk_agent_ops;

// The worker process (`ktrdr worker`): a runtime, proxies to the backend
// at url, the agent; SIGTERM / SIGINT start a graceful shutdown (a second
// one exits at once).
typedef struct kt_worker_main_cfg {
    const char *url;          // backend, e.g. tcp://127.0.0.1:7070
    const char *worker_id;    // NULL = worker-<host>-<pid>
    const char *capabilities; // NULL = training,backtesting
    const char *data_dir;     // NULL = as assigned
    uint32_t slots, heartbeat_ms, heartbeat_misses, shutdown_ms;
    int32_t parent_pid;
    int threads; // scheduler threads; 0 = 2
    kt_ops_hook_fn hook;
    void *hook_arg;
} kt_worker_main_cfg;

// kt_worker_main runs until shutdown and returns the exit code.
int kt_worker_main(const kt_worker_main_cfg *cfg);

#endif // KT_WORKERS_AGENT_H
