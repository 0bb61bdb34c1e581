// store_op.c: operation rows: create, atomic status transitions (one
// UPDATE ... WHERE status IN (...) each, so concurrent resumes have exactly
// one winner), progress, get and filtered lists.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persistence/store.h"
#include "persistence/store_int.h"

static const char *const op_status_names[] = {
    [KT_OP_PENDING] = "pending",     [KT_OP_RUNNING] = "running",
    [KT_OP_COMPLETED] = "completed", [KT_OP_FAILED] = "failed",
    [KT_OP_CANCELLED] = "cancelled", [KT_OP_RESUMING] = "resuming",
};

#define OP_BIT(st) (1u << (st))

// The statuses each target may be reached from (DESIGN.md lifecycle).
static const uint32_t op_from[] = {
    [KT_OP_RUNNING] = OP_BIT(KT_OP_PENDING) | OP_BIT(KT_OP_RESUMING),
    [KT_OP_COMPLETED] = OP_BIT(KT_OP_RUNNING),
    [KT_OP_FAILED] =
        OP_BIT(KT_OP_PENDING) | OP_BIT(KT_OP_RUNNING) | OP_BIT(KT_OP_RESUMING),
    [KT_OP_CANCELLED] =
        OP_BIT(KT_OP_PENDING) | OP_BIT(KT_OP_RUNNING) | OP_BIT(KT_OP_RESUMING),
    [KT_OP_RESUMING] = OP_BIT(KT_OP_CANCELLED) | OP_BIT(KT_OP_FAILED),
};

// ?1 id, ?2 now, ?3 worker, ?4 result, ?5 error, ?6 restart increment.
static const char *const op_change_sql[] = {
    [KT_OP_RUNNING] = "UPDATE operations SET status = 'running',"
                      " started_at = ?2, updated_at = ?2,"
                      " worker_id = COALESCE(?3, worker_id) WHERE id = ?1",
    [KT_OP_COMPLETED] = "UPDATE operations SET status = 'completed',"
                        " completed_at = ?2, updated_at = ?2,"
                        " progress_percent = 100, result = ?4, error = NULL"
                        " WHERE id = ?1",
    [KT_OP_FAILED] = "UPDATE operations SET status = 'failed',"
                     " completed_at = ?2, updated_at = ?2, error = ?5"
                     " WHERE id = ?1",
    [KT_OP_CANCELLED] = "UPDATE operations SET status = 'cancelled',"
                        " completed_at = ?2, updated_at = ?2, error = ?5"
                        " WHERE id = ?1",
    [KT_OP_RESUMING] =
        "UPDATE operations SET status = 'resuming', attempt = attempt + 1,"
        " restart_count = restart_count + ?6, completed_at = NULL,"
        " error = NULL, updated_at = ?2 WHERE id = ?1"
        " AND EXISTS (SELECT 1 FROM checkpoints WHERE op_id = ?1)",
};

const char *
kt__op_status_name(kt_op_status st)
{
    if (st < KT_OP_PENDING || st > KT_OP_RESUMING) {
        return "unknown";
    }
    return op_status_names[st];
}

bool
kt__op_status_parse(const char *name, kt_op_status *st)
{
    for (int i = KT_OP_PENDING; i <= KT_OP_RESUMING; i++) {
        if (name != NULL && strcmp(name, op_status_names[i]) == 0) {
            *st = (kt_op_status)i;
            return true;
        }
    }
    return false;
}

kt_err
kt__store_op_create(kt__store *s, const kt_op_new *op)
{
    sqlite3_stmt *st;
    kt_err rv;
    int rc;

    if (!kt__store_valid_id(op->id)) {
        return kt__store_fail(s, KT_EINVAL, "invalid operation id");
    }
    if (!kt__store_valid_short(op->type) ||
        (op->parent_id != NULL && op->parent_id[0] != '\0' &&
         !kt__store_valid_id(op->parent_id))) {
        return kt__store_fail(s, KT_EINVAL, "invalid type or parent id");
    }
    if ((rv = kt__store_stmt(s, ST_OP_INSERT, &st)) != KT_OK) {
        return rv;
    }
    (void)sqlite3_bind_text(st, 1, op->id, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(st, 2, op->type, -1, SQLITE_TRANSIENT);
    if (op->parent_id != NULL && op->parent_id[0] != '\0') {
        (void)sqlite3_bind_text(st, 3, op->parent_id, -1, SQLITE_TRANSIENT);
    }
    (void)sqlite3_bind_int64(st, 4, kt__store_now(s));
    if (op->metadata_len > 0) {
        (void)sqlite3_bind_blob64(st, 5, op->metadata, op->metadata_len,
                                  SQLITE_TRANSIENT);
    }
    rc = sqlite3_step(st);
    (void)sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT) {
        return kt__store_fail(s, KT_ESTATE, "Operation ID already exists: %s",
                              op->id);
    }
    if (rc != SQLITE_DONE) {
        return kt__store_dberr(s, rc, "creating an operation");
    }
    s->msg[0] = '\0';
    return KT_OK;
}

static void
op_bind_change(sqlite3_stmt *st, const kt_op_change *c, int64_t now)
{
    int n = sqlite3_bind_parameter_count(st);

    (void)sqlite3_bind_text(st, 1, c->id, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_int64(st, 2, now);
    if (n >= 3 && c->worker_id != NULL && c->worker_id[0] != '\0') {
        (void)sqlite3_bind_text(st, 3, c->worker_id, -1, SQLITE_TRANSIENT);
    }
    if (n >= 4 && c->result_len > 0) {
        (void)sqlite3_bind_blob64(st, 4, c->result, c->result_len,
                                  SQLITE_TRANSIENT);
    }
    if (n >= 5 && c->error != NULL) {
        (void)sqlite3_bind_text(st, 5, c->error, -1, SQLITE_TRANSIENT);
    }
    if (n >= 6) {
        (void)sqlite3_bind_int(st, 6, c->count_restart ? 1 : 0);
    }
}

// op_explain says why a transition matched no row.
static kt_err
op_explain(kt__store *s, const kt_op_change *c)
{
    kt_op_status cur = KT_OP_PENDING;
    sqlite3_stmt *st;
    kt_err rv;
    bool found;

    if ((rv = kt__store_stmt(s, ST_OP_STATUS, &st)) != KT_OK) {
        return rv;
    }
    (void)sqlite3_bind_text(st, 1, c->id, -1, SQLITE_TRANSIENT);
    found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        (void)kt__op_status_parse((const char *)sqlite3_column_text(st, 0),
                                  &cur);
    }
    (void)sqlite3_reset(st);
    if (!found) {
        return kt__store_fail(s, KT_ENOENT, "Operation not found: %s", c->id);
    }
    if (c->to == KT_OP_RESUMING) {
        if ((op_from[KT_OP_RESUMING] & OP_BIT(cur)) == 0) {
            return kt__store_fail(
                s, KT_ESTATE, "Operation is not in a resumable state (%s: %s)",
                c->id, kt__op_status_name(cur));
        }
        return kt__store_fail(s, KT_ENOENT,
                              "No checkpoint found for operation %s", c->id);
    }
    return kt__store_fail(s, KT_ESTATE, "Operation %s cannot go from %s to %s",
                          c->id, kt__op_status_name(cur),
                          kt__op_status_name(c->to));
}

static kt_err
op_update(kt__store *s, const kt_op_change *c, bool *matched)
{
    char sql[512];
    sqlite3_stmt *st = NULL;
    uint32_t from = op_from[c->to];
    size_t n;
    int rc;

    n = (size_t)snprintf(sql, sizeof(sql), "%s AND status IN (",
                         op_change_sql[c->to]);
    for (int i = KT_OP_PENDING; i <= KT_OP_RESUMING; i++) {
        if ((from & OP_BIT(i)) != 0) {
            n += (size_t)snprintf(sql + n, sizeof(sql) - n, "'%s',",
                                  op_status_names[i]);
        }
    }
    sql[n - 1] = ')';
    rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return kt__store_dberr(s, rc, "preparing a transition");
    }
    op_bind_change(st, c, kt__store_now(s));
    rc = sqlite3_step(st);
    (void)sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return kt__store_dberr(s, rc, "changing an operation's status");
    }
    *matched = sqlite3_changes(s->db) == 1;
    return KT_OK;
}

kt_err
kt__store_op_change(kt__store *s, const kt_op_change *c)
{
    char dir[KT_STORE_PATH_MAX];
    bool matched = false;
    kt_err rv;

    if (!kt__store_valid_id(c->id)) {
        return kt__store_fail(s, KT_EINVAL, "invalid operation id");
    }
    if (c->to <= KT_OP_PENDING || c->to > KT_OP_RESUMING) {
        return kt__store_fail(s, KT_EINVAL, "invalid target status");
    }
    if ((rv = kt__store_begin(s)) != KT_OK) {
        return rv;
    }
    if ((rv = op_update(s, c, &matched)) != KT_OK) {
        kt__store_rollback(s);
        return rv;
    }
    if (!matched) {
        kt__store_rollback(s);
        return op_explain(s, c);
    }
    if (c->to == KT_OP_COMPLETED &&
        (rv = kt__store_exec_id(s, "DELETE FROM checkpoints WHERE op_id = ?1",
                                c->id)) != KT_OK) {
        kt__store_rollback(s);
        return rv;
    }
    if ((rv = kt__store_commit(s)) != KT_OK) {
        return rv;
    }
    s->msg[0] = '\0';
    if (c->to == KT_OP_COMPLETED) {
        // Rows are gone and durable; a leftover directory is an orphan the
        // cleanup sweep removes, so this failure is not the caller's.
        kt__store_op_dir(s, c->id, dir);
        if (kt__fsio_rm_rf(&s->fs, dir) != KT_OK) {
            kt__store_copy(s->msg, sizeof(s->msg),
                           "checkpoint directory left for cleanup");
        }
    }
    return KT_OK;
}

kt_err
kt__store_op_progress(kt__store *s, const kt_op_progress *p)
{
    sqlite3_stmt *st;
    kt_err rv;
    int rc;

    if (!kt__store_valid_id(p->id)) {
        return kt__store_fail(s, KT_EINVAL, "invalid operation id");
    }
    if (!(p->percent >= 0.0 && p->percent <= 100.0)) {
        return kt__store_fail(s, KT_EINVAL, "progress must be 0..100");
    }
    if ((rv = kt__store_stmt(s, ST_OP_PROGRESS, &st)) != KT_OK) {
        return rv;
    }
    (void)sqlite3_bind_text(st, 1, p->id, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_double(st, 2, p->percent);
    if (p->current_step != NULL) {
        (void)sqlite3_bind_text(st, 3, p->current_step, -1, SQLITE_TRANSIENT);
    }
    (void)sqlite3_bind_int64(st, 4, p->units_done);
    (void)sqlite3_bind_int64(st, 5, p->units_total);
    (void)sqlite3_bind_int64(st, 6, kt__store_now(s));
    rc = sqlite3_step(st);
    (void)sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        return kt__store_dberr(s, rc, "updating progress");
    }
    if (sqlite3_changes(s->db) != 1) {
        kt_op_change c = {.id = p->id, .to = KT_OP_RUNNING};
        rv = op_explain(s, &c);
        return rv == KT_ENOENT
                   ? rv
                   : kt__store_fail(s, KT_ESTATE, "Operation %s is not running",
                                    p->id);
    }
    s->msg[0] = '\0';
    return KT_OK;
}

kt_err
kt__store_op_note_error(kt__store *s, const char *id, const char *error)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (!kt__store_valid_id(id)) {
        return kt__store_fail(s, KT_EINVAL, "invalid operation id");
    }
    rc = sqlite3_prepare_v2(s->db,
                            "UPDATE operations SET error = ?2, updated_at = ?3"
                            " WHERE id = ?1",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        (void)sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        (void)sqlite3_bind_text(st, 2, error, -1, SQLITE_TRANSIENT);
        (void)sqlite3_bind_int64(st, 3, kt__store_now(s));
        rc = sqlite3_step(st);
    }
    (void)sqlite3_finalize(st);
    return rc == SQLITE_DONE ? KT_OK
                             : kt__store_dberr(s, rc, "recording an error");
}
