// store.h: the persistence store, the only SQLite user: schema and
// migrations, operations, workers, the checkpoint commit protocol, load
// with fallback, stats and cleanup. Plain C, no runtime dependency; one
// store is owned by one thread (the persistence actor's).
#ifndef KT_PERSISTENCE_STORE_H
#define KT_PERSISTENCE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kt/err.h>
#include <kt/sha256.h>

#include "persistence/persistence.h"

#define KT_STORE_ID_MAX        128 // operation, worker ids; artifact names
#define KT_STORE_SHORT_MAX     64  // operation type, unit
#define KT_STORE_PATH_MAX      1024
#define KT_STORE_FORMAT_ANY    0 // load: accept any checkpoint format
#define KT_STORE_SCHEMA_LATEST 2

typedef struct kt__store kt__store;

typedef enum kt_op_status {
    KT_OP_PENDING = 1,
    KT_OP_RUNNING,
    KT_OP_COMPLETED,
    KT_OP_FAILED,
    KT_OP_CANCELLED,
    KT_OP_RESUMING,
} kt_op_status;

typedef enum kt_ckpt_type {
    KT_CKPT_PERIODIC = 1,
    KT_CKPT_CANCELLATION,
    KT_CKPT_FAILURE,
    KT_CKPT_SHUTDOWN,
} kt_ckpt_type;

typedef struct kt_op_rec {
    char id[KT_STORE_ID_MAX + 1];
    char type[KT_STORE_SHORT_MAX + 1];
    kt_op_status status;
    char parent_id[KT_STORE_ID_MAX + 1];
    char worker_id[KT_STORE_ID_MAX + 1];
    uint32_t attempt, restart_count;
    int64_t created_ms, started_ms, updated_ms, completed_ms; // 0 = unset
    double progress_percent;
    char current_step[KT_STORE_ID_MAX + 1];
    int64_t units_done, units_total;
    uint8_t *metadata, *result; // malloc'd (NULL when empty)
    size_t metadata_len, result_len;
    char *error; // malloc'd, NULL when none
    // Newest checkpoint, if any (seq 0 = none).
    uint64_t ckpt_seq;
    kt_ckpt_type ckpt_type;
    char ckpt_unit[KT_STORE_SHORT_MAX + 1];
    int64_t ckpt_unit_value, ckpt_created_ms;
} kt_op_rec;

typedef struct kt_op_new {
    const char *id, *type, *parent_id; // parent_id may be NULL
    const uint8_t *metadata;           // the request, opaque bytes
    size_t metadata_len;
} kt_op_new;

typedef struct kt_op_change {
    const char *id;
    kt_op_status to;
    const char *error;     // failed/cancelled: reason (may be NULL)
    const uint8_t *result; // completed: result bytes (may be NULL)
    size_t result_len;
    const char *worker_id; // running: the worker that runs it (may be NULL)
    bool count_restart;    // resuming: a supervisor restart (restart_count++)
} kt_op_change;

typedef struct kt_op_progress {
    const char *id;
    double percent;
    const char *current_step; // may be NULL
    int64_t units_done, units_total;
} kt_op_progress;

typedef struct kt_op_filter {
    uint32_t status_mask; // bit (1 << status); 0 = any
    const char *type;     // NULL = any
    const char *parent_id;
    bool resumable; // cancelled|failed with at least one checkpoint
    uint32_t limit; // 0 = 100
} kt_op_filter;

typedef struct kt_ckpt_artifact {
    const char *name;
    const uint8_t *data;
    size_t len;
    // 32 bytes sent by the writer, or NULL to compute. Checked at save when
    // the checkpoint is stored inline; recorded as sent for artifact files
    // (the save does not hash them again) and checked on every load.
    const uint8_t *sha256;
} kt_ckpt_artifact;

typedef struct kt_ckpt_event {
    const char *op_id;
    uint32_t attempt;
    uint64_t seq; // > 0, increasing per operation
    kt_ckpt_type type;
    const char *unit; // "epoch", "bar", "phase" ...
    int64_t unit_value;
    const uint8_t *state;
    size_t state_len;
    const kt_ckpt_artifact *artifacts;
    size_t nartifacts;
    uint32_t format_version; // > 0
} kt_ckpt_event;

typedef struct kt_ckpt_art_rec {
    char name[KT_STORE_ID_MAX + 1];
    uint64_t size;
    uint8_t sha256[KT_SHA256_LEN];
    uint8_t *data;    // malloc'd when loaded with data
    bool inline_data; // stored in the database row, not in a file
} kt_ckpt_art_rec;

typedef struct kt_ckpt_rec {
    char op_id[KT_STORE_ID_MAX + 1];
    uint64_t seq;
    uint32_t attempt, format_version;
    kt_ckpt_type type;
    char unit[KT_STORE_SHORT_MAX + 1];
    int64_t unit_value, created_ms;
    uint8_t *state; // malloc'd
    size_t state_len;
    kt_ckpt_art_rec *arts; // malloc'd array
    size_t narts;
    uint64_t artifacts_size;
    char path[KT_STORE_PATH_MAX]; // artifact directory ("" if none/inline)
    // Load only: newer checkpoints skipped as damaged, and why.
    uint32_t skipped;
    char note[256];
} kt_ckpt_rec;

typedef struct kt_ckpt_stats {
    uint64_t total_checkpoints, total_size_bytes;
    int64_t oldest_ms; // 0 = none
} kt_ckpt_stats;

typedef struct kt_cleanup_result {
    uint64_t aged, orphan_dirs, stale_temps;
} kt_cleanup_result;

typedef struct kt_worker_rec {
    char id[KT_STORE_ID_MAX + 1];
    char url[KT_STORE_PATH_MAX];
    char capabilities[KT_STORE_PATH_MAX];
    char current_op[KT_STORE_ID_MAX + 1];
    int64_t last_seen_ms;
} kt_worker_rec;

// Lifetime. open creates data_dir/, data_dir/ktrdr.db (WAL) and
// data_dir/checkpoints/, takes data_dir/persist.lock (KT_ESTATE if another
// store holds it) and runs migrations (KT_EVERSION if the file is newer).
// On failure err[errlen] (may be NULL) receives the reason.
KT_NODISCARD kt_err kt__store_open(kt__store **sp, const kt_persist_cfg *cfg,
                                   char *err, size_t errlen);
void kt__store_close(kt__store *s);
// The message of the last failure (never NULL; "" after success).
const char *kt__store_errmsg(const kt__store *s);
int64_t kt__store_now(const kt__store *s);
int kt__store_schema_version(kt__store *s);
// kt__store_check runs PRAGMA integrity_check: KT_OK, KT_ECORRUPT or KT_EDB.
KT_NODISCARD kt_err kt__store_check(kt__store *s);

// Operations. Errors carry a message (kt__store_errmsg): KT_EINVAL bad id
// or type, KT_ESTATE duplicate id or illegal transition, KT_ENOENT unknown
// id or (resume) no checkpoint, KT_EDB.
KT_NODISCARD kt_err kt__store_op_create(kt__store *s, const kt_op_new *op);
KT_NODISCARD kt_err kt__store_op_change(kt__store *s, const kt_op_change *c);
KT_NODISCARD kt_err kt__store_op_progress(kt__store *s,
                                          const kt_op_progress *p);
// op_note_error records why a save failed on the operation (status kept).
KT_NODISCARD kt_err kt__store_op_note_error(kt__store *s, const char *id,
                                            const char *error);
KT_NODISCARD kt_err kt__store_op_get(kt__store *s, const char *id,
                                     kt_op_rec *out);
// kt__store_op_list fills *recsp (malloc'd array, free with
// kt__op_recs_free) with at most filter->limit records, newest first.
KT_NODISCARD kt_err kt__store_op_list(kt__store *s, const kt_op_filter *f,
                                      kt_op_rec **recsp, size_t *np);
void kt__op_rec_fini(kt_op_rec *r);
void kt__op_recs_free(kt_op_rec *r, size_t n);
const char *kt__op_status_name(kt_op_status st);
bool kt__op_status_parse(const char *name, kt_op_status *st);
const char *kt__ckpt_type_name(kt_ckpt_type t);

// Checkpoints: see docs/actors/persistence.md for the commit protocol.
// save: KT_OK only once artifacts and row are durable. KT_ESTATE stale
// attempt or old seq, KT_ENOENT unknown op, KT_ECORRUPT hash mismatch,
// KT_EINVAL bad event, ESYSERR/KT_EDB failed step (nothing older lost).
KT_NODISCARD kt_err kt__store_ckpt_save(kt__store *s, const kt_ckpt_event *e);
// finish removes the directories of the checkpoints the last save pruned
// (their rows went with the save's commit). Call it after acknowledging the
// save, off the ack's critical path; the next save, a cleanup or close run
// it otherwise. A failure leaves orphans for cleanup.
void kt__store_ckpt_finish(kt__store *s);
// load: newest checkpoint whose artifacts verify (with their bytes when
// with_data). KT_ENOENT none, KT_EVERSION format differs from
// want_format (unless KT_STORE_FORMAT_ANY), KT_ECORRUPT all damaged.
KT_NODISCARD kt_err kt__store_ckpt_load(kt__store *s, const char *op_id,
                                        uint32_t want_format, bool with_data,
                                        kt_ckpt_rec *out);
// list: every checkpoint of op_id (or of all operations when NULL),
// newest first, without state or artifact bytes.
KT_NODISCARD kt_err kt__store_ckpt_list(kt__store *s, const char *op_id,
                                        kt_ckpt_rec **recsp, size_t *np);
// delete_op: every checkpoint of op_id; *np = how many (KT_ENOENT if 0).
KT_NODISCARD kt_err kt__store_ckpt_delete_op(kt__store *s, const char *op_id,
                                             uint64_t *np);
void kt__ckpt_rec_fini(kt_ckpt_rec *r);
void kt__ckpt_recs_free(kt_ckpt_rec *r, size_t n);

KT_NODISCARD kt_err kt__store_ckpt_stats(kt__store *s, kt_ckpt_stats *out);
// cleanup: checkpoints older than max_age_days (0 = only orphans), then
// orphan artifact directories and stale temp dirs (never the save in
// flight).
KT_NODISCARD kt_err kt__store_cleanup(kt__store *s, uint32_t max_age_days,
                                      kt_cleanup_result *out);

// Worker registry.
KT_NODISCARD kt_err kt__store_worker_upsert(kt__store *s,
                                            const kt_worker_rec *w);
KT_NODISCARD kt_err kt__store_worker_remove(kt__store *s, const char *id);
KT_NODISCARD kt_err kt__store_worker_list(kt__store *s, kt_worker_rec **wp,
                                          size_t *np);

// Name checks: ids are [A-Za-z0-9_.-]{1,128} not starting with '.', so
// they are safe as directory names.
bool kt__store_valid_id(const char *id);
bool kt__store_valid_short(const char *v);
// kt__store_copy: bounded string copy (NULL copies as "").
void kt__store_copy(char *dst, size_t cap, const char *src);
// ISO-8601 UTC with a Z ("2024-12-27T01:38:17Z") into buf[32].
void kt__store_iso8601(int64_t ms, char buf[32]);

#endif // KT_PERSISTENCE_STORE_H
