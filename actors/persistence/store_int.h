// store_int.h: what the store*.c files share (the store's state, the
// prepared-statement cache, error helpers). Not for use outside the store.
#ifndef KT_PERSISTENCE_STORE_INT_H
#define KT_PERSISTENCE_STORE_INT_H

#include <sqlite3.h>

#include "persistence/fsio.h"
#include "persistence/store.h"

#define KT_STORE_PRUNE_MAX 64 // per save; more are pruned by the next saves

typedef enum store_stmt_id {
    ST_OP_INSERT,
    ST_OP_GET,
    ST_OP_STATUS,
    ST_OP_PROGRESS,
    ST_CK_INSERT,
    ST_CK_ART_INSERT,
    ST_CK_FENCE,
    ST_CK_SEQS,
    ST_CK_DELETE,
    ST_CK_ARTS,
    ST_CK_EXISTS,
    ST_CK_ART_DATA,
    ST_COUNT,
} store_stmt_id;

struct kt__store {
    sqlite3 *db;
    char dir[KT_STORE_PATH_MAX];      // data dir
    char ckdir[KT_STORE_PATH_MAX];    // data/checkpoints
    char tmpdir[KT_STORE_PATH_MAX];   // data/checkpoints/.tmp
    char inflight[KT_STORE_PATH_MAX]; // temp dir of the save in progress
    uint32_t keep;
    int64_t inline_max;   // < 0: never inline
    bool inline_terminal; // also cancellation/failure/shutdown checkpoints
    // Directories of checkpoints pruned by the last save, removed by
    // kt__store_ckpt_finish once the save is acknowledged.
    char prune_op[KT_STORE_ID_MAX + 1];
    uint64_t prune_seqs[KT_STORE_PRUNE_MAX];
    size_t nprune;
    kt__fsio fs;
    int64_t (*now_ms)(void *arg);
    void *clock_arg;
    int lockfd;
    uint64_t nonce; // makes temp dir names unique
    sqlite3_stmt *st[ST_COUNT];
    char msg[512];
};

// kt__store_fail records a message and returns rv.
kt_err kt__store_fail(kt__store *s, kt_err rv, const char *fmt, ...)
    KT_PRINTF(3, 4);
// kt__store_dberr records sqlite's message for rc and returns KT_EDB.
kt_err kt__store_dberr(kt__store *s, int rc, const char *what);
// kt__store_stmt returns the cached statement id, reset and unbound.
KT_NODISCARD kt_err kt__store_stmt(kt__store *s, store_stmt_id id,
                                   sqlite3_stmt **stp);
KT_NODISCARD kt_err kt__store_exec(kt__store *s, const char *sql);
// kt__store_exec_id runs sql with ?1 bound to the text id.
KT_NODISCARD kt_err kt__store_exec_id(kt__store *s, const char *sql,
                                      const char *id);
KT_NODISCARD kt_err kt__store_begin(kt__store *s);
// kt__store_migrate brings the schema up to this build's version, one
// transaction per migration (store_schema.c); KT_EVERSION when the file's
// is newer.
KT_NODISCARD kt_err kt__store_migrate(kt__store *s);
// kt__store_commit commits (asking the fault hook first, with the data
// directory as its path); on failure it rolls back, so the caller only has
// to undo its files. kt__store_commit_at names another path to the hook
// (a checkpoint's commit: its operation's checkpoint directory).
KT_NODISCARD kt_err kt__store_commit(kt__store *s);
KT_NODISCARD kt_err kt__store_commit_at(kt__store *s, const char *path);
void kt__store_rollback(kt__store *s);
// Paths: data/checkpoints/<op> and data/checkpoints/<op>/<seq>.
void kt__store_op_dir(const kt__store *s, const char *op, char *buf);
void kt__store_ckpt_dir(const kt__store *s, const char *op, uint64_t seq,
                        char *buf);
// kt__store_fmt: snprintf that may truncate (paths are length-checked at
// open, ids at validation).
void kt__store_fmt(char *dst, size_t cap, const char *fmt, ...) KT_PRINTF(3, 4);

// kt__store_ckpt_write_dir makes `final` hold the event's artifacts,
// durably (temp dir, files written then fsynced, dir fsync, rename, parent
// fsync). hashes[i] is computed while the files are written back when
// need_hash[i]. On failure nothing of this save is left and s->msg says why.
KT_NODISCARD kt_err kt__store_ckpt_write_dir(kt__store *s,
                                             const kt_ckpt_event *e,
                                             const char *final,
                                             uint8_t (*hashes)[32],
                                             const bool *need_hash);

#endif // KT_PERSISTENCE_STORE_INT_H
