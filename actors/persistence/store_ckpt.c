// store_ckpt.c: the checkpoint commit protocol. Artifacts go to a temp dir
// (each file fsynced), the dir is fsynced, renamed to checkpoints/<op>/<seq>
// and its parent fsynced; then one SQLite transaction (WAL, synchronous=
// FULL) adds the row. Only then is the save acknowledged and are checkpoints
// beyond the newest K deleted (rows first, then directories).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "persistence/store.h"
#include "persistence/store_int.h"

#define CKPT_PRUNE_MAX 64 // per save; more are pruned by the next saves

static const char *const ckpt_type_names[] = {
    [KT_CKPT_PERIODIC] = "periodic",
    [KT_CKPT_CANCELLATION] = "cancellation",
    [KT_CKPT_FAILURE] = "failure",
    [KT_CKPT_SHUTDOWN] = "shutdown",
};

const char *
kt__ckpt_type_name(kt_ckpt_type t)
{
    if (t < KT_CKPT_PERIODIC || t > KT_CKPT_SHUTDOWN) {
        return "unknown";
    }
    return ckpt_type_names[t];
}

// ckpt_validate checks the event and fills hashes[i] (verifying a hash the
// sender supplied).
static kt_err
ckpt_validate(kt__store *s, const kt_ckpt_event *e, uint8_t (*hashes)[32])
{
    if (!kt__store_valid_id(e->op_id)) {
        return kt__store_fail(s, KT_EINVAL, "invalid operation id");
    }
    if (e->seq == 0 || e->seq > INT64_MAX || e->format_version == 0 ||
        e->type < KT_CKPT_PERIODIC || e->type > KT_CKPT_SHUTDOWN ||
        !kt__store_valid_short(e->unit) ||
        (e->state == NULL && e->state_len > 0)) {
        return kt__store_fail(s, KT_EINVAL,
                              "invalid checkpoint event (seq, type, unit, "
                              "format_version or state)");
    }
    for (size_t i = 0; i < e->nartifacts; i++) {
        const kt_ckpt_artifact *a = &e->artifacts[i];
        if (!kt__store_valid_id(a->name) || (a->data == NULL && a->len)) {
            return kt__store_fail(s, KT_EINVAL, "invalid artifact name");
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(a->name, e->artifacts[j].name) == 0) {
                return kt__store_fail(s, KT_EINVAL, "duplicate artifact %s",
                                      a->name);
            }
        }
        kt_sha256(a->data, a->len, hashes[i]);
        if (a->sha256 != NULL && memcmp(a->sha256, hashes[i], 32) != 0) {
            return kt__store_fail(s, KT_ECORRUPT,
                                  "artifact %s does not match its sha256",
                                  a->name);
        }
    }
    return KT_OK;
}

// ckpt_fence rejects events from a stale attempt, for a completed
// operation, or older than the newest stored seq; *dup = already stored.
static kt_err
ckpt_fence(kt__store *s, const kt_ckpt_event *e, bool *dup)
{
    char status[16] = "";
    sqlite3_stmt *st;
    int64_t attempt = -1, max = 0;
    kt_err rv;
    int rc;

    if ((rv = kt__store_stmt(s, ST_CK_FENCE, &st)) != KT_OK) {
        return rv;
    }
    (void)sqlite3_bind_text(st, 1, e->op_id, -1, SQLITE_TRANSIENT);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        attempt = sqlite3_column_int64(st, 0);
        kt__store_copy(status, sizeof(status),
                       (const char *)sqlite3_column_text(st, 1));
        max = sqlite3_column_int64(st, 2);
    }
    (void)sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return kt__store_dberr(s, rc, "fencing a checkpoint");
    }
    if (attempt < 0) {
        return kt__store_fail(s, KT_ENOENT, "Operation not found: %s",
                              e->op_id);
    }
    if ((int64_t)e->attempt < attempt) {
        return kt__store_fail(s, KT_ESTATE,
                              "stale checkpoint rejected: operation %s is "
                              "at attempt %lld, event from attempt %u",
                              e->op_id, (long long)attempt, e->attempt);
    }
    if (strcmp(status, "completed") == 0) {
        return kt__store_fail(s, KT_ESTATE, "Operation %s is completed",
                              e->op_id);
    }
    *dup = (int64_t)e->seq == max;
    if ((int64_t)e->seq < max) {
        return kt__store_fail(s, KT_ESTATE,
                              "checkpoint seq %llu of %s is older than the "
                              "stored seq %lld",
                              (unsigned long long)e->seq, e->op_id,
                              (long long)max);
    }
    return KT_OK;
}

static kt_err
ckpt_write_files(kt__store *s, const kt_ckpt_event *e, const char *tmp)
{
    char path[KT_STORE_PATH_MAX + KT_STORE_ID_MAX + 2];
    kt_err rv;

    if ((rv = kt__fsio_rm_rf(&s->fs, tmp)) != KT_OK ||
        (rv = kt__fsio_mkdir(&s->fs, tmp)) != KT_OK) {
        return rv;
    }
    for (size_t i = 0; i < e->nartifacts; i++) {
        kt__store_fmt(path, sizeof(path), "%s/%s", tmp, e->artifacts[i].name);
        rv = kt__fsio_write_file(&s->fs, path, e->artifacts[i].data,
                                 e->artifacts[i].len);
        if (rv != KT_OK) {
            return rv;
        }
    }
    return kt__fsio_sync_dir(&s->fs, tmp);
}

// ckpt_write_dir makes checkpoints/<op>/<seq> hold the event's artifacts,
// durably. On failure nothing of this save is left visible.
static kt_err
ckpt_write_dir(kt__store *s, const kt_ckpt_event *e, const char *final)
{
    char tmp[KT_STORE_PATH_MAX], opdir[KT_STORE_PATH_MAX];
    struct stat sb;
    kt_err rv;

    kt__store_fmt(tmp, sizeof(tmp), "%s/%s.%llu.%llx", s->tmpdir, e->op_id,
                  (unsigned long long)e->seq, (unsigned long long)++s->nonce);
    kt__store_copy(s->inflight, sizeof(s->inflight), tmp);
    kt__store_op_dir(s, e->op_id, opdir);
    if ((rv = ckpt_write_files(s, e, tmp)) != KT_OK) {
        goto fail;
    }
    if (stat(opdir, &sb) != 0 &&
        ((rv = kt__fsio_mkdir(&s->fs, opdir)) != KT_OK ||
         (rv = kt__fsio_sync_dir(&s->fs, s->ckdir)) != KT_OK)) {
        goto fail;
    }
    // A directory without a row is the leftover of a crash before commit.
    if ((rv = kt__fsio_rm_rf(&s->fs, final)) != KT_OK ||
        (rv = kt__fsio_rename(&s->fs, tmp, final)) != KT_OK) {
        goto fail;
    }
    if ((rv = kt__fsio_sync_dir(&s->fs, opdir)) != KT_OK) {
        (void)kt__fsio_rm_rf(NULL, final);
        goto fail;
    }
    s->inflight[0] = '\0';
    return KT_OK;
fail:
    (void)kt__fsio_rm_rf(NULL, tmp);
    s->inflight[0] = '\0';
    return kt__store_fail(s, rv, "checkpoint %llu of %s not saved: %s",
                          (unsigned long long)e->seq, e->op_id,
                          kt_strerror(rv));
}

static kt_err
ckpt_insert_arts(kt__store *s, const kt_ckpt_event *e, uint8_t (*hashes)[32])
{
    sqlite3_stmt *st;
    kt_err rv;
    int rc;

    for (size_t i = 0; i < e->nartifacts; i++) {
        if ((rv = kt__store_stmt(s, ST_CK_ART_INSERT, &st)) != KT_OK) {
            return rv;
        }
        (void)sqlite3_bind_text(st, 1, e->op_id, -1, SQLITE_TRANSIENT);
        (void)sqlite3_bind_int64(st, 2, (int64_t)e->seq);
        (void)sqlite3_bind_text(st, 3, e->artifacts[i].name, -1,
                                SQLITE_TRANSIENT);
        (void)sqlite3_bind_int64(st, 4, (int64_t)e->artifacts[i].len);
        (void)sqlite3_bind_blob(st, 5, hashes[i], 32, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        (void)sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            return kt__store_dberr(s, rc, "saving an artifact row");
        }
    }
    return KT_OK;
}

// ckpt_raise_attempt: an event from a newer attempt raises the operation's
// attempt, so the older attempt's writer is rejected from now on.
static kt_err
ckpt_raise_attempt(kt__store *s, const kt_ckpt_event *e)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(s->db,
                            "UPDATE operations SET attempt = ?2 WHERE"
                            " id = ?1 AND attempt < ?2",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        (void)sqlite3_bind_text(st, 1, e->op_id, -1, SQLITE_TRANSIENT);
        (void)sqlite3_bind_int64(st, 2, e->attempt);
        rc = sqlite3_step(st);
    }
    (void)sqlite3_finalize(st);
    return rc == SQLITE_DONE ? KT_OK
                             : kt__store_dberr(s, rc, "raising the attempt");
}

static kt_err
ckpt_insert_row(kt__store *s, const kt_ckpt_event *e, uint8_t (*hashes)[32],
                uint64_t arts_size)
{
    static const uint8_t empty = 0;
    sqlite3_stmt *st;
    kt_err rv;
    int rc;

    if ((rv = kt__store_stmt(s, ST_CK_INSERT, &st)) != KT_OK) {
        return rv;
    }
    (void)sqlite3_bind_text(st, 1, e->op_id, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_int64(st, 2, (int64_t)e->seq);
    (void)sqlite3_bind_int64(st, 3, e->attempt);
    (void)sqlite3_bind_text(st, 4, kt__ckpt_type_name(e->type), -1,
                            SQLITE_STATIC);
    (void)sqlite3_bind_text(st, 5, e->unit, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_int64(st, 6, e->unit_value);
    (void)sqlite3_bind_blob64(st, 7, e->state_len ? e->state : &empty,
                              e->state_len, SQLITE_STATIC);
    (void)sqlite3_bind_int64(st, 8, e->format_version);
    (void)sqlite3_bind_int64(st, 9, (int64_t)e->state_len);
    (void)sqlite3_bind_int64(st, 10, (int64_t)arts_size);
    (void)sqlite3_bind_int64(st, 11, kt__store_now(s));
    rc = sqlite3_step(st);
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st); // state was bound SQLITE_STATIC
    if (rc != SQLITE_DONE) {
        return kt__store_dberr(s, rc, "saving a checkpoint row");
    }
    if ((rv = ckpt_insert_arts(s, e, hashes)) != KT_OK) {
        return rv;
    }
    return ckpt_raise_attempt(s, e);
}

// ckpt_prune_rows, inside the save's transaction, deletes the rows of
// every checkpoint of op beyond the newest keep (the new one included), so
// they go exactly when the new one becomes durable; old[] gets their seqs
// for the directories, removed after the commit.
static kt_err
ckpt_prune_rows(kt__store *s, const char *op, uint64_t *old, size_t *nold)
{
    sqlite3_stmt *st;
    size_t n = 0;
    kt_err rv;
    int rc;

    *nold = 0;
    if ((rv = kt__store_stmt(s, ST_CK_SEQS, &st)) != KT_OK) {
        return rv;
    }
    (void)sqlite3_bind_text(st, 1, op, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW && *nold < CKPT_PRUNE_MAX) {
        if (n++ >= s->keep) {
            old[(*nold)++] = (uint64_t)sqlite3_column_int64(st, 0);
        }
    }
    (void)sqlite3_reset(st);
    for (size_t i = 0; i < *nold; i++) {
        if ((rv = kt__store_stmt(s, ST_CK_DELETE, &st)) != KT_OK) {
            return rv;
        }
        (void)sqlite3_bind_text(st, 1, op, -1, SQLITE_TRANSIENT);
        (void)sqlite3_bind_int64(st, 2, (int64_t)old[i]);
        rc = sqlite3_step(st);
        (void)sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            return kt__store_dberr(s, rc, "pruning checkpoints");
        }
    }
    return KT_OK;
}

// ckpt_prune_dirs removes the pruned checkpoints' directories; a failure
// leaves orphans that the cleanup sweep removes.
static void
ckpt_prune_dirs(kt__store *s, const char *op, const uint64_t *old, size_t nold)
{
    char dir[KT_STORE_PATH_MAX];

    for (size_t i = 0; i < nold; i++) {
        kt__store_ckpt_dir(s, op, old[i], dir);
        if (kt__fsio_rm_rf(&s->fs, dir) != KT_OK) {
            kt__store_copy(s->msg, sizeof(s->msg),
                           "saved; older checkpoints left for cleanup");
        }
    }
}

static uint64_t
ckpt_arts_size(const kt_ckpt_event *e)
{
    uint64_t n = 0;

    for (size_t i = 0; i < e->nartifacts; i++) {
        n += e->artifacts[i].len;
    }
    return n;
}

kt_err
kt__store_ckpt_save(kt__store *s, const kt_ckpt_event *e)
{
    char final[KT_STORE_PATH_MAX];
    uint8_t(*hashes)[32] = NULL;
    uint64_t old[CKPT_PRUNE_MAX];
    size_t nold = 0;
    bool dup = false;
    kt_err rv;

    if (e->nartifacts > 4096 || (e->nartifacts > 0 && e->artifacts == NULL)) {
        return kt__store_fail(s, KT_EINVAL, "invalid artifact list");
    }
    if (e->nartifacts > 0 &&
        (hashes = calloc(e->nartifacts, sizeof(*hashes))) == NULL) {
        return KT_ENOMEM;
    }
    if ((rv = ckpt_validate(s, e, hashes)) != KT_OK ||
        (rv = ckpt_fence(s, e, &dup)) != KT_OK) {
        goto out;
    }
    if (dup) { // a re-sent event whose ack was lost: already durable
        kt__store_copy(s->msg, sizeof(s->msg), "already stored");
        goto out;
    }
    kt__store_ckpt_dir(s, e->op_id, e->seq, final);
    if (e->nartifacts > 0 && (rv = ckpt_write_dir(s, e, final)) != KT_OK) {
        goto out;
    }
    if ((rv = kt__store_begin(s)) != KT_OK ||
        (rv = ckpt_insert_row(s, e, hashes, ckpt_arts_size(e))) != KT_OK ||
        (rv = ckpt_prune_rows(s, e->op_id, old, &nold)) != KT_OK ||
        (rv = kt__store_commit(s)) != KT_OK) {
        kt__store_rollback(s);
        if (e->nartifacts > 0) {
            (void)kt__fsio_rm_rf(NULL, final);
        }
        (void)kt__store_fail(s, rv, "checkpoint %llu of %s not saved: %s",
                             (unsigned long long)e->seq, e->op_id,
                             kt_strerror(rv));
        goto out;
    }
    s->msg[0] = '\0';
    ckpt_prune_dirs(s, e->op_id, old, nold);
out:
    free(hashes);
    return rv;
}

kt_err
kt__store_ckpt_delete_op(kt__store *s, const char *op_id, uint64_t *np)
{
    char dir[KT_STORE_PATH_MAX];
    kt_err rv;
    int n;

    if (!kt__store_valid_id(op_id)) {
        return kt__store_fail(s, KT_EINVAL, "invalid operation id");
    }
    if ((rv = kt__store_begin(s)) != KT_OK) {
        return rv;
    }
    if ((rv = kt__store_exec_id(s, "DELETE FROM checkpoints WHERE op_id = ?1",
                                op_id)) != KT_OK) {
        kt__store_rollback(s);
        return rv;
    }
    n = sqlite3_changes(s->db);
    if ((rv = kt__store_commit(s)) != KT_OK) {
        return rv;
    }
    kt__store_op_dir(s, op_id, dir);
    (void)kt__fsio_rm_rf(&s->fs, dir); // a leftover is an orphan for cleanup
    *np = (uint64_t)n;
    if (n == 0) {
        return kt__store_fail(s, KT_ENOENT,
                              "No checkpoint found for operation %s", op_id);
    }
    s->msg[0] = '\0';
    return KT_OK;
}
