// store_ckpt.c: the checkpoint commit protocol. Small checkpoints keep
// their artifacts in the row; bigger ones first get a durable directory
// checkpoints/<op>/<seq> (store_ckpt_dir.c). Then one SQLite transaction
// (WAL, synchronous=FULL) adds the row and drops the rows of checkpoints
// beyond the newest K. Only then is the save acknowledged; the pruned
// checkpoints' directories go after the ack (kt__store_ckpt_finish).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "persistence/store.h"
#include "persistence/store_int.h"

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

// ckpt_validate checks the event's fields (hashes are handled later).
static kt_err
ckpt_validate(kt__store *s, const kt_ckpt_event *e)
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
    }
    return KT_OK;
}

// ckpt_hashes fills hashes[i]. Inline: computed (cheap at this size) and a
// hash the writer sent must match. Files: a sent hash is recorded as is
// (every load verifies it); the others are computed while the files are
// written back (need_hash[i]).
static kt_err
ckpt_hashes(kt__store *s, const kt_ckpt_event *e, bool inl,
            uint8_t (*hashes)[32], bool *need_hash)
{
    for (size_t i = 0; i < e->nartifacts; i++) {
        const kt_ckpt_artifact *a = &e->artifacts[i];
        need_hash[i] = false;
        if (!inl && a->sha256 != NULL) {
            memcpy(hashes[i], a->sha256, 32);
            continue;
        }
        if (!inl) {
            need_hash[i] = true;
            continue;
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

// ckpt_insert_arts adds the artifact rows (with their bytes when inl).
static kt_err
ckpt_insert_arts(kt__store *s, const kt_ckpt_event *e, uint8_t (*hashes)[32],
                 bool inl)
{
    static const uint8_t empty = 0;
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
        if (inl) { // bytes bound in place: the step copies them into the WAL
            const kt_ckpt_artifact *a = &e->artifacts[i];
            (void)sqlite3_bind_blob64(st, 6, a->len ? a->data : &empty, a->len,
                                      SQLITE_STATIC);
        }
        rc = sqlite3_step(st);
        (void)sqlite3_reset(st);
        (void)sqlite3_clear_bindings(st);
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
                uint64_t arts_size, bool inl)
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
    if ((rv = ckpt_insert_arts(s, e, hashes, inl)) != KT_OK) {
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
    while (sqlite3_step(st) == SQLITE_ROW && *nold < KT_STORE_PRUNE_MAX) {
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

void
kt__store_ckpt_finish(kt__store *s)
{
    char dir[KT_STORE_PATH_MAX];

    for (size_t i = 0; i < s->nprune; i++) {
        kt__store_ckpt_dir(s, s->prune_op, s->prune_seqs[i], dir);
        (void)kt__fsio_rm_rf(&s->fs, dir); // leftovers: orphans for cleanup
    }
    s->nprune = 0;
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

// ckpt_commit writes the row (and the artifact rows) and prunes beyond
// the newest K in one transaction; the pruned seqs are left in
// s->prune_seqs for kt__store_ckpt_finish.
static kt_err
ckpt_commit(kt__store *s, const kt_ckpt_event *e, uint8_t (*hashes)[32],
            bool inl)
{
    char opdir[KT_STORE_PATH_MAX];
    kt_err rv;

    kt__store_op_dir(s, e->op_id, opdir);
    if ((rv = kt__store_begin(s)) != KT_OK ||
        (rv = ckpt_insert_row(s, e, hashes, ckpt_arts_size(e), inl)) != KT_OK ||
        (rv = ckpt_prune_rows(s, e->op_id, s->prune_seqs, &s->nprune)) !=
            KT_OK ||
        (rv = kt__store_commit_at(s, opdir)) != KT_OK) {
        kt__store_rollback(s);
        s->nprune = 0;
        return rv;
    }
    kt__store_copy(s->prune_op, sizeof(s->prune_op), e->op_id);
    return KT_OK;
}

kt_err
kt__store_ckpt_save(kt__store *s, const kt_ckpt_event *e)
{
    char final[KT_STORE_PATH_MAX];
    uint8_t(*hashes)[32] = NULL;
    bool dup = false, inl, *need = NULL;
    kt_err rv;

    kt__store_ckpt_finish(s); // the previous save's, if nobody did
    if (e->nartifacts > 4096 || (e->nartifacts > 0 && e->artifacts == NULL)) {
        return kt__store_fail(s, KT_EINVAL, "invalid artifact list");
    }
    if (e->nartifacts > 0 &&
        ((hashes = calloc(e->nartifacts, sizeof(*hashes))) == NULL ||
         (need = calloc(e->nartifacts, sizeof(*need))) == NULL)) {
        free(hashes);
        return KT_ENOMEM;
    }
    inl = e->nartifacts > 0 && s->inline_max >= 0 &&
          ckpt_arts_size(e) <= (uint64_t)s->inline_max &&
          (e->type == KT_CKPT_PERIODIC || s->inline_terminal);
    if ((rv = ckpt_validate(s, e)) != KT_OK ||
        (rv = ckpt_fence(s, e, &dup)) != KT_OK ||
        (rv = ckpt_hashes(s, e, inl, hashes, need)) != KT_OK) {
        goto out;
    }
    if (dup) { // a re-sent event whose ack was lost: already durable
        kt__store_copy(s->msg, sizeof(s->msg), "already stored");
        goto out;
    }
    kt__store_ckpt_dir(s, e->op_id, e->seq, final);
    if (e->nartifacts > 0 && !inl &&
        (rv = kt__store_ckpt_write_dir(s, e, final, hashes, need)) != KT_OK) {
        goto out;
    }
    if ((rv = ckpt_commit(s, e, hashes, inl)) != KT_OK) {
        if (e->nartifacts > 0 && !inl) {
            (void)kt__fsio_rm_rf(NULL, final);
        }
        (void)kt__store_fail(s, rv, "checkpoint %llu of %s not saved: %s",
                             (unsigned long long)e->seq, e->op_id,
                             kt_strerror(rv));
        goto out;
    }
    s->msg[0] = '\0';
out:
    free(hashes);
    free(need);
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
