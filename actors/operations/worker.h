// worker.h: what the training and backtest actors share: their spawn cfg
// (mirrors ktpb.v1.WorkerAssign), checkpoint events with attempt-fenced,
// increasing seqs and their acks, progress reports and the final
// WorkerDone. Everything goes out as protobuf to aids that may be remote
// proxies (the operations and persistence actors of a backend).
#ifndef KT_OPERATIONS_WORKER_H
#define KT_OPERATIONS_WORKER_H

#include <ktpb/v1/ops.pb-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kt/actor.h>

#include "operations/operations.h"

#define KT_OPS_ID_MAX   80
#define KT_OPS_PATH_MAX 1024
#define KT_WORKER_ACKS  4 // checkpoint saves in flight before a worker waits

// The cfg of kt_training_ops / kt_backtest_ops (copied by init).
typedef struct kt_worker_cfg {
    const char *op_id;
    uint32_t attempt;
    bool resume;            // restore the newest checkpoint first
    const uint8_t *request; // packed StartTrainingRequest / ..Backtest..
    size_t request_len;
    const char *data_dir;    // market data; models/ below it
    kt_aid ops;              // where progress and WorkerDone go
    kt_aid persistence;      // where checkpoints go
    uint32_t ask_timeout_ms; // checkpoint save / load; 0 = 30000
    uint32_t slice;          // batches (training) / bars (backtest) per step
    int64_t requested_at_ms; // monotonic ms of the start/resume request
    kt_ops_hook_fn hook;
    void *hook_arg;
} kt_worker_cfg;

typedef enum kt__wstate {
    KT_W_LOADING, // waiting for the checkpoint to restore
    KT_W_RUNNING,
    KT_W_STOPPING, // terminal checkpoint sent, waiting for its ack
    KT_W_DONE,
} kt__wstate;

typedef struct kt__worker {
    kt_actor *self;
    char op_id[KT_OPS_ID_MAX];
    char data_dir[KT_OPS_PATH_MAX];
    uint32_t attempt;
    bool resume;
    uint8_t *request;
    size_t request_len;
    kt_aid ops, persist;
    uint32_t timeout_ms, slice;
    int64_t requested_at_ms;
    kt_ops_hook_fn hook;
    void *hook_arg;
    kt__wstate state;
    uint64_t seq;                  // last checkpoint seq used
    uint64_t acks[KT_WORKER_ACKS]; // corrs of saves in flight
    size_t nacks;
    uint64_t load_corr;     // the checkpoint load in flight (0 = none)
    bool step_deferred;     // a step waits for an ack slot
    uint64_t terminal_corr; // the terminal save (0 = none)
    Ktpb__V1__OpStatus terminal;
    char error[512]; // failed / cancelled text
    int64_t last_ckpt_ms, last_progress_ms;
} kt__worker;

KT_NODISCARD kt_err kt__worker_init(kt__worker *w, kt_actor *self,
                                    const kt_worker_cfg *cfg);
void kt__worker_fini(kt__worker *w);

// kt__worker_checkpoint saves a checkpoint: state = OpCheckpointState
// {format, *sum, request}, one artifact `name` = engine bytes. Periodic
// saves may overlap (up to KT_WORKER_ACKS); a terminal one (cancellation,
// failure, shutdown) moves the worker to KT_W_STOPPING and ends it with
// `end` once acked. Errors: those of the send.
KT_NODISCARD kt_err
kt__worker_checkpoint(kt__worker *w, Ktpb__V1__CheckpointType type,
                      const Ktpb__V1__CheckpointSummary *sum, const char *name,
                      const uint8_t *engine, size_t len);
// kt__worker_terminal: as kt__worker_checkpoint, then finish with status
// `end` and error text once the save is durable. A save that cannot even
// be sent finishes at once as failed.
void kt__worker_terminal(kt__worker *w, Ktpb__V1__CheckpointType type,
                         Ktpb__V1__OpStatus end, const char *error,
                         const Ktpb__V1__CheckpointSummary *sum,
                         const char *name, const uint8_t *engine, size_t len);
// kt__worker_load asks persistence for the newest checkpoint with its
// artifacts; the reply (KT_PERSIST_CKPT_LOAD_REPLY) goes to the actor.
KT_NODISCARD kt_err kt__worker_load(kt__worker *w);
// kt__worker_import_fn rebuilds an engine from its checkpointed bytes.
typedef kt_err (*kt__worker_import_fn)(void *arg, const uint8_t *data,
                                       size_t len, char *err, size_t n);
// kt__worker_restore decodes the reply to kt__worker_load (or its timeout)
// and hands the artifact named `artifact` to import. Errors carry the
// guide's words: the load's own message (e.g. "No checkpoint found for
// operation <id>"), "Checkpoint corrupted: missing <name>", "Checkpoint
// version mismatch: <why>".
KT_NODISCARD kt_err kt__worker_restore(const kt_msg *reply,
                                       const char *artifact,
                                       kt__worker_import_fn import, void *arg,
                                       char *err, size_t n);
// kt__worker_reply handles a checkpoint ack or an ask timeout addressed to
// the worker: returns true when msg was one (and frees it). A failed save
// is loud: the worker finishes as failed with "Checkpoint save failed:
// <why>". *resume_step is set when a deferred step may run again.
bool kt__worker_reply(kt__worker *w, kt_msg *msg, bool *resume_step);
// kt__worker_progress sends ev (op_id and attempt filled in) to the
// operations actor; at most every 100 ms unless force.
void kt__worker_progress(kt__worker *w, Ktpb__V1__ProgressEvent *ev,
                         bool force);
// kt__worker_done sends WorkerDone; the actor stops when the operations
// actor answers with a release (KT_TRAIN_RELEASE / KT_BT_RELEASE), so the
// WorkerDone is never sent in the turn the worker's thread ends.
void kt__worker_done(kt__worker *w, Ktpb__V1__OpStatus st, const char *error,
                     const uint8_t *result, size_t len);
// kt__worker_may_step: false while KT_WORKER_ACKS saves are in flight (the
// step is deferred until an ack frees a slot).
bool kt__worker_may_step(kt__worker *w);
// kt__worker_hook runs the test hook (KT_OK without one).
kt_err kt__worker_hook(kt__worker *w, const char *unit, int64_t value);

#endif // KT_OPERATIONS_WORKER_H
