// persistence.h: the persistence actor, sole owner of the SQLite database
// and the checkpoint artifact directory. Requests and replies are the
// ktpb.v1 messages of proto/ktpb/v1/persist.proto; docs/actors/persistence.md
// describes each one. The actor must be spawned `dedicated`: fsync and
// SQLite commits block by nature, and they must not stall a shared loop.
#ifndef KT_PERSISTENCE_PERSISTENCE_H
#define KT_PERSISTENCE_PERSISTENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kt/actor.h>

// Message types 200-299 belong to persistence. Every request gets exactly
// one reply of the type listed (status = kt_err, message = text).
enum {
    KT_PERSIST_OP_CREATE = 200,     // OpCreateRequest -> OpReply
    KT_PERSIST_OP_REPLY = 201,      // OpReply
    KT_PERSIST_OP_TRANSITION = 202, // OpTransitionRequest -> OpReply
    KT_PERSIST_OP_PROGRESS = 203,   // OpProgressRequest -> OpReply
    KT_PERSIST_OP_GET = 204,        // OpGetRequest -> OpReply
    KT_PERSIST_OP_LIST = 205,       // OpListRequest -> OpListReply
    KT_PERSIST_OP_LIST_REPLY = 206, // OpListReply
    KT_PERSIST_CKPT_SAVE = 210,     // CheckpointEvent -> CheckpointAck
    KT_PERSIST_CKPT_ACK = 211,      // CheckpointAck
    KT_PERSIST_CKPT_LOAD = 212,     // CheckpointLoadRequest -> ..Reply
    KT_PERSIST_CKPT_LOAD_REPLY = 213,
    KT_PERSIST_CKPT_DELETE = 214, // CheckpointDeleteRequest -> ..Reply
    KT_PERSIST_CKPT_DELETE_REPLY = 215,
    KT_PERSIST_CKPT_STATS = 216, // StatsRequest -> StatsReply
    KT_PERSIST_CKPT_STATS_REPLY = 217,
    KT_PERSIST_CKPT_CLEANUP = 218, // CleanupRequest -> CleanupReply
    KT_PERSIST_CKPT_CLEANUP_REPLY = 219,
    KT_PERSIST_CKPT_LIST = 220, // CheckpointListRequest -> ..Reply
    KT_PERSIST_CKPT_LIST_REPLY = 221,
    KT_PERSIST_WORKER_UPSERT = 230, // WorkerUpsertRequest -> WorkerReply
    KT_PERSIST_WORKER_REMOVE = 231, // WorkerRemoveRequest -> WorkerReply
    KT_PERSIST_WORKER_LIST = 232,   // WorkerListRequest -> WorkerReply
    KT_PERSIST_WORKER_REPLY = 233,
    KT_PERSIST_ERROR_REPLY = 299, // ErrorReply: unknown request type
};

// The fault-injection hook (tests only): called before each file-system
// step and before each SQLite commit; return 0 to proceed or an errno
// (ENOSPC, EIO ...) to make that step fail as if the system call had.
// path is the file or directory; for a commit, the data directory, or for
// a checkpoint's commit its operation's directory (checkpoints/<op>).
typedef enum kt_persist_fault_op {
    KT_PERSIST_OP_MKDIR,
    KT_PERSIST_OP_OPEN,
    KT_PERSIST_OP_WRITE,
    KT_PERSIST_OP_FSYNC,
    KT_PERSIST_OP_DIRSYNC,
    KT_PERSIST_OP_RENAME,
    KT_PERSIST_OP_UNLINK,
    KT_PERSIST_OP_DB_COMMIT,
} kt_persist_fault_op;
typedef int (*kt_persist_fault_fn)(void *arg, kt_persist_fault_op op,
                                   const char *path);

typedef struct kt_persist_cfg {
    const char *data_dir;         // required: ktrdr.db and checkpoints/
    uint32_t keep;                // checkpoints kept per operation; 0 = 2
    uint32_t cleanup_interval_ms; // automatic cleanup period; 0 = 24 h
    uint32_t max_age_days;        // automatic cleanup age; 0 = 30
    size_t max_request_bytes;     // larger requests are refused; 0 = 512 MiB
    // A checkpoint whose artifacts total at most this many bytes keeps them
    // in its database row (one WAL fsync instead of four file-system
    // syncs); 0 = KT_PERSIST_DEFAULT_INLINE_MAX, < 0 = always files.
    int64_t inline_max_bytes;
    // Inline applies to periodic checkpoints (the frequent, latency-bound
    // saves). Cancellation, failure and shutdown checkpoints, written once
    // per run and the ones `ktrdr checkpoints show` names a directory for,
    // stay files unless this is set.
    bool inline_terminal;
    // How long open waits for the data directory's lock when another
    // process holds it: a backend SIGKILLed a moment ago (or a worker it
    // was spawning, between fork and exec) may not have let go yet.
    // 0 = KT_PERSIST_DEFAULT_LOCK_WAIT_MS, < 0 = fail at once.
    int32_t lock_wait_ms;
    kt_persist_fault_fn fault; // NULL in production
    void *fault_arg;
    int64_t (*now_ms)(void *arg); // clock (Unix ms, UTC); NULL = real time
    void *clock_arg;
} kt_persist_cfg;

#define KT_PERSIST_DEFAULT_KEEP         2
#define KT_PERSIST_DEFAULT_MAX_AGE      30
#define KT_PERSIST_DEFAULT_INLINE_MAX   (64 * 1024)
#define KT_PERSIST_DEFAULT_LOCK_WAIT_MS 3000
#define KT_PERSIST_NAME                 "persistence"

// persistence_ops: spawn with a kt_persist_cfg (copied) and
// kt_spawn_opts{.name = KT_PERSIST_NAME, .dedicated = true}.
extern const kt_actor_ops persistence_ops;

#endif // KT_PERSISTENCE_PERSISTENCE_H
