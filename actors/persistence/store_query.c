// store_query.c: reading operations (get, filtered list) and the worker
// registry table.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persistence/store.h"
#include "persistence/store_int.h"

#define OP_SELECT                                                         \
    "SELECT o.id, o.type, o.status, o.parent_id, o.worker_id, o.attempt," \
    " o.restart_count, o.created_at, o.started_at, o.updated_at,"         \
    " o.completed_at, o.progress_percent, o.current_step, o.units_done,"  \
    " o.units_total, o.metadata, o.result, o.error, c.seq, c.type,"       \
    " c.unit, c.unit_value, c.created_at FROM operations o"               \
    " LEFT JOIN checkpoints c ON c.op_id = o.id AND c.seq ="              \
    " (SELECT MAX(seq) FROM checkpoints WHERE op_id = o.id)"

static void
col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    kt__store_copy(dst, cap, (const char *)sqlite3_column_text(st, i));
}

static kt_err
col_blob(sqlite3_stmt *st, int i, uint8_t **dst, size_t *len)
{
    int n = sqlite3_column_bytes(st, i);
    const void *p = sqlite3_column_blob(st, i);

    *dst = NULL;
    *len = 0;
    if (n <= 0 || p == NULL) {
        return KT_OK;
    }
    if ((*dst = malloc((size_t)n)) == NULL) {
        return KT_ENOMEM;
    }
    memcpy(*dst, p, (size_t)n);
    *len = (size_t)n;
    return KT_OK;
}

static kt_ckpt_type
ckpt_type_parse(const char *t)
{
    for (int i = KT_CKPT_PERIODIC; i <= KT_CKPT_SHUTDOWN; i++) {
        if (t != NULL && strcmp(t, kt__ckpt_type_name((kt_ckpt_type)i)) == 0) {
            return (kt_ckpt_type)i;
        }
    }
    return KT_CKPT_PERIODIC;
}

static kt_err
op_read_row(sqlite3_stmt *st, kt_op_rec *r)
{
    const char *err;

    memset(r, 0, sizeof(*r));
    col_text(st, 0, r->id, sizeof(r->id));
    col_text(st, 1, r->type, sizeof(r->type));
    (void)kt__op_status_parse((const char *)sqlite3_column_text(st, 2),
                              &r->status);
    col_text(st, 3, r->parent_id, sizeof(r->parent_id));
    col_text(st, 4, r->worker_id, sizeof(r->worker_id));
    r->attempt = (uint32_t)sqlite3_column_int64(st, 5);
    r->restart_count = (uint32_t)sqlite3_column_int64(st, 6);
    r->created_ms = sqlite3_column_int64(st, 7);
    r->started_ms = sqlite3_column_int64(st, 8);
    r->updated_ms = sqlite3_column_int64(st, 9);
    r->completed_ms = sqlite3_column_int64(st, 10);
    r->progress_percent = sqlite3_column_double(st, 11);
    col_text(st, 12, r->current_step, sizeof(r->current_step));
    r->units_done = sqlite3_column_int64(st, 13);
    r->units_total = sqlite3_column_int64(st, 14);
    r->ckpt_seq = (uint64_t)sqlite3_column_int64(st, 18);
    r->ckpt_type = ckpt_type_parse((const char *)sqlite3_column_text(st, 19));
    col_text(st, 20, r->ckpt_unit, sizeof(r->ckpt_unit));
    r->ckpt_unit_value = sqlite3_column_int64(st, 21);
    r->ckpt_created_ms = sqlite3_column_int64(st, 22);
    if (col_blob(st, 15, &r->metadata, &r->metadata_len) != KT_OK ||
        col_blob(st, 16, &r->result, &r->result_len) != KT_OK) {
        kt__op_rec_fini(r);
        return KT_ENOMEM;
    }
    err = (const char *)sqlite3_column_text(st, 17);
    if (err != NULL && (r->error = strdup(err)) == NULL) {
        kt__op_rec_fini(r);
        return KT_ENOMEM;
    }
    return KT_OK;
}

void
kt__op_rec_fini(kt_op_rec *r)
{
    free(r->metadata);
    free(r->result);
    free(r->error);
    r->metadata = r->result = NULL;
    r->error = NULL;
}

void
kt__op_recs_free(kt_op_rec *r, size_t n)
{
    for (size_t i = 0; r != NULL && i < n; i++) {
        kt__op_rec_fini(&r[i]);
    }
    free(r);
}

kt_err
kt__store_op_get(kt__store *s, const char *id, kt_op_rec *out)
{
    sqlite3_stmt *st;
    kt_err rv;
    int rc;

    if (!kt__store_valid_id(id)) {
        return kt__store_fail(s, KT_EINVAL, "invalid operation id");
    }
    if ((rv = kt__store_stmt(s, ST_OP_GET, &st)) != KT_OK) {
        return rv;
    }
    (void)sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rv = op_read_row(st, out);
        s->msg[0] = '\0';
    } else if (rc == SQLITE_DONE) {
        rv = kt__store_fail(s, KT_ENOENT, "Operation not found: %s", id);
    } else {
        rv = kt__store_dberr(s, rc, "reading an operation");
    }
    (void)sqlite3_reset(st);
    return rv;
}

static kt_err
op_list_prepare(kt__store *s, const kt_op_filter *f, sqlite3_stmt **stp)
{
    char sql[1024];
    size_t n;
    bool first = true;
    int rc;

    n = (size_t)snprintf(sql, sizeof(sql), "%s", OP_SELECT);
    for (int i = KT_OP_PENDING; i <= KT_OP_RESUMING && f->status_mask; i++) {
        if ((f->status_mask & (1u << i)) != 0) {
            n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s'%s'",
                                  first ? " WHERE o.status IN (" : ",",
                                  kt__op_status_name((kt_op_status)i));
            first = false;
        }
    }
    if (!first) {
        n += (size_t)snprintf(sql + n, sizeof(sql) - n, ")");
    }
    n += (size_t)snprintf(
        sql + n, sizeof(sql) - n,
        "%s (?1 IS NULL OR o.type = ?1) AND (?2 IS NULL OR o.parent_id = ?2)"
        " AND (?3 = 0 OR (o.status IN ('cancelled','failed') AND c.seq IS "
        "NOT NULL)) ORDER BY o.created_at DESC, o.id DESC LIMIT ?4",
        first ? " WHERE" : " AND");
    rc = sqlite3_prepare_v2(s->db, sql, (int)n, stp, NULL);
    return rc == SQLITE_OK ? KT_OK : kt__store_dberr(s, rc, "listing");
}

kt_err
kt__store_op_list(kt__store *s, const kt_op_filter *f, kt_op_rec **recsp,
                  size_t *np)
{
    uint32_t limit = f->limit > 0 ? f->limit : 100;
    kt_op_rec *recs = NULL;
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    kt_err rv;
    int rc;

    if ((f->type != NULL && !kt__store_valid_short(f->type)) ||
        (f->parent_id != NULL && !kt__store_valid_id(f->parent_id)) ||
        limit > 10000) {
        return kt__store_fail(s, KT_EINVAL, "invalid list filter");
    }
    if ((rv = op_list_prepare(s, f, &st)) != KT_OK) {
        return rv;
    }
    (void)sqlite3_bind_text(st, 1, f->type, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_text(st, 2, f->parent_id, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_int(st, 3, f->resumable ? 1 : 0);
    (void)sqlite3_bind_int64(st, 4, limit);
    if ((recs = calloc(limit, sizeof(*recs))) == NULL) {
        (void)sqlite3_finalize(st);
        return KT_ENOMEM;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
        if ((rv = op_read_row(st, &recs[n])) != KT_OK) {
            goto fail;
        }
        n++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        rv = kt__store_dberr(s, rc, "listing operations");
        goto fail;
    }
    (void)sqlite3_finalize(st);
    *recsp = recs;
    *np = n;
    return KT_OK;
fail:
    (void)sqlite3_finalize(st);
    kt__op_recs_free(recs, n);
    return rv;
}

kt_err
kt__store_worker_upsert(kt__store *s, const kt_worker_rec *w)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (!kt__store_valid_id(w->id) || w->url[0] == '\0' ||
        (w->current_op[0] != '\0' && !kt__store_valid_id(w->current_op))) {
        return kt__store_fail(s, KT_EINVAL, "invalid worker");
    }
    rc = sqlite3_prepare_v2(
        s->db,
        "INSERT INTO workers (id, url, capabilities, last_seen, current_op)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET"
        " url = ?2, capabilities = ?3, last_seen = ?4, current_op = ?5",
        -1, &st, NULL);
    if (rc == SQLITE_OK) {
        (void)sqlite3_bind_text(st, 1, w->id, -1, SQLITE_TRANSIENT);
        (void)sqlite3_bind_text(st, 2, w->url, -1, SQLITE_TRANSIENT);
        (void)sqlite3_bind_text(st, 3, w->capabilities, -1, SQLITE_TRANSIENT);
        (void)sqlite3_bind_int64(
            st, 4, w->last_seen_ms > 0 ? w->last_seen_ms : kt__store_now(s));
        if (w->current_op[0] != '\0') {
            (void)sqlite3_bind_text(st, 5, w->current_op, -1, SQLITE_TRANSIENT);
        }
        rc = sqlite3_step(st);
    }
    (void)sqlite3_finalize(st);
    return rc == SQLITE_DONE ? KT_OK
                             : kt__store_dberr(s, rc, "saving a worker");
}

kt_err
kt__store_worker_remove(kt__store *s, const char *id)
{
    kt_err rv;

    if (!kt__store_valid_id(id)) {
        return kt__store_fail(s, KT_EINVAL, "invalid worker id");
    }
    rv = kt__store_exec_id(s, "DELETE FROM workers WHERE id = ?1", id);
    if (rv == KT_OK && sqlite3_changes(s->db) == 0) {
        return kt__store_fail(s, KT_ENOENT, "Worker not found: %s", id);
    }
    return rv;
}

kt_err
kt__store_worker_list(kt__store *s, kt_worker_rec **wp, size_t *np)
{
    sqlite3_stmt *st = NULL;
    kt_worker_rec *w = NULL, *nw;
    size_t n = 0;
    int rc;

    rc = sqlite3_prepare_v2(s->db,
                            "SELECT id, url, capabilities, last_seen,"
                            " current_op FROM workers ORDER BY id",
                            -1, &st, NULL);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
            break;
        }
        if ((nw = realloc(w, (n + 1) * sizeof(*w))) == NULL) {
            (void)sqlite3_finalize(st);
            free(w);
            return KT_ENOMEM;
        }
        w = nw;
        memset(&w[n], 0, sizeof(w[n]));
        col_text(st, 0, w[n].id, sizeof(w[n].id));
        col_text(st, 1, w[n].url, sizeof(w[n].url));
        col_text(st, 2, w[n].capabilities, sizeof(w[n].capabilities));
        w[n].last_seen_ms = sqlite3_column_int64(st, 3);
        col_text(st, 4, w[n].current_op, sizeof(w[n].current_op));
        n++;
    }
    (void)sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(w);
        return kt__store_dberr(s, rc, "listing workers");
    }
    *wp = w;
    *np = n;
    return KT_OK;
}
