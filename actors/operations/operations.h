// operations.h: the operations actor ("operations"), the front door of long
// operations: it validates start requests, creates operations through the
// persistence actor, spawns one training or backtest actor per running
// operation, handles cancel / resume / shutdown, records progress and fans
// ProgressEvents out to subscribers. Messages are the ktpb.v1 messages of
// proto/ktpb/v1/ops.proto; docs/actors/operations.md describes each one.
#ifndef KT_OPERATIONS_OPERATIONS_H
#define KT_OPERATIONS_OPERATIONS_H

#include <stdint.h>

#include <kt/actor.h>

// Message types 300-399 belong to the operations actor. Every request gets
// exactly one reply of the type listed (status = kt_err, message = text).
enum {
    KT_OPS_START_TRAINING = 300, // StartTrainingRequest -> OpsReply
    KT_OPS_START_BACKTEST = 301, // StartBacktestRequest -> OpsReply
    KT_OPS_REPLY = 302,          // OpsReply
    KT_OPS_GET = 303,            // OpsGetRequest -> OpsReply
    KT_OPS_LIST = 304,           // OpsListRequest -> OpsListReply
    KT_OPS_LIST_REPLY = 305,     // OpsListReply
    KT_OPS_CANCEL = 306,         // OpsCancelRequest -> OpsReply
    KT_OPS_RESUME = 307,         // OpsResumeRequest -> OpsReply
    KT_OPS_RESULTS = 308,        // OpsResultsRequest -> OpsResultsReply
    KT_OPS_RESULTS_REPLY = 309,  // OpsResultsReply
    KT_OPS_SUBSCRIBE = 310,      // OpsSubscribeRequest -> OpsReply
    KT_OPS_UNSUBSCRIBE = 311,    // OpsUnsubscribeRequest -> OpsReply
    KT_OPS_PROGRESS = 312,       // ProgressEvent (worker -> ops -> subs)
    KT_OPS_CKPT_SHOW = 313,      // CheckpointShowRequest -> ..Reply
    KT_OPS_CKPT_SHOW_REPLY = 314,
    KT_OPS_SHUTDOWN = 315,      // OpsShutdownRequest -> OpsReply
    KT_OPS_WORKER_DONE = 316,   // WorkerDone (worker -> ops, no reply)
    KT_OPS_WORKER_ASSIGN = 317, // WorkerAssign (ops -> worker process)
    KT_OPS_ADOPT = 318,         // OpsAdoptRequest -> OpsReply (registry)
    KT_OPS_ERROR_REPLY = 399,   // ErrorReply: unknown request type
};

// Message types of the worker actors (bodies in ops.proto).
enum {
    KT_TRAIN_STEP = 400,     // self-sent: run the next slice
    KT_TRAIN_CANCEL = 401,   // OpControl: cancel at the next safe point
    KT_TRAIN_SHUTDOWN = 402, // OpControl: shutdown checkpoint, then stop
    KT_TRAIN_RELEASE = 403,  // OpControl: WorkerDone handled, exit now
    KT_BT_STEP = 500,
    KT_BT_CANCEL = 501,
    KT_BT_SHUTDOWN = 502,
    KT_BT_RELEASE = 503,
};

// Format of OpCheckpointState (and of the engine artifact it goes with);
// resume refuses any other with "Checkpoint version mismatch".
#define KT_OPS_CKPT_FORMAT 1

#define KT_OPS_NAME "operations"

// Defaults of the checkpoint policy.
#define KT_OPS_TRAIN_CKPT_EVERY 5    // epochs
#define KT_OPS_BT_CKPT_EVERY    1000 // bars

// The test hook: called by a training actor after every completed epoch
// (unit "epoch", value = epochs completed) and by a backtest actor after
// every slice (unit "bar", value = next bar), on the worker's own thread;
// also when a training actor starts loading its data (unit "start"), once
// the data is loaded (unit "loaded") and, on a resume, when the checkpoint
// is restored (unit "restored", value = epoch / bar).
// Return KT_OK to continue or an error to make the engine fail with it
// ("injected failure"). It may block (a test gates progress with it).
typedef kt_err (*kt_ops_hook_fn)(void *arg, const char *op_id, const char *unit,
                                 int64_t value);

typedef struct kt_ops_cfg {
    const char *data_dir;       // required: data/, models/ live below it
    kt_aid persistence;         // 0 = look up KT_PERSIST_NAME
    uint32_t ask_timeout_ms;    // persistence asks; 0 = 30000
    uint32_t progress_every_ms; // progress rows written at most this often;
                                // 0 = 250 (<= 4/s)
    uint32_t train_batches;     // batches per training slice; 0 = 4
    uint32_t bt_bars;           // bars per backtest slice (<= 100); 0 = 100
    bool use_workers;           // run operations in worker processes
                                // through the registry ("workers")
    kt_ops_hook_fn hook;        // tests only; NULL in production
    void *hook_arg;
} kt_ops_cfg;

// operations_ops: spawn with a kt_ops_cfg (copied) and
// kt_spawn_opts{.name = KT_OPS_NAME}.
extern const kt_actor_ops operations_ops;

#endif // KT_OPERATIONS_OPERATIONS_H
