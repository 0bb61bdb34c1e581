// store_load.c: reading checkpoints back. load returns the newest one whose
// artifacts (files, or bytes inline in the row) exist and match their sizes
// and sha256, falling back to older ones (and saying so in rec->note); list
// describes them without bytes.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persistence/store.h"
#include "persistence/store_int.h"

#define CK_COLS                                                           \
    "SELECT op_id, seq, attempt, type, unit, unit_value, format_version," \
    " artifacts_size, created_at, state FROM checkpoints"

void
kt__ckpt_rec_fini(kt_ckpt_rec *r)
{
    for (size_t i = 0; r->arts != NULL && i < r->narts; i++) {
        free(r->arts[i].data);
    }
    free(r->arts);
    free(r->state);
    r->arts = NULL;
    r->state = NULL;
    r->narts = 0;
}

void
kt__ckpt_recs_free(kt_ckpt_rec *r, size_t n)
{
    for (size_t i = 0; r != NULL && i < n; i++) {
        kt__ckpt_rec_fini(&r[i]);
    }
    free(r);
}

static kt_ckpt_type
ck_type(const char *t)
{
    for (int i = KT_CKPT_PERIODIC; i <= KT_CKPT_SHUTDOWN; i++) {
        if (t != NULL && strcmp(t, kt__ckpt_type_name((kt_ckpt_type)i)) == 0) {
            return (kt_ckpt_type)i;
        }
    }
    return KT_CKPT_PERIODIC;
}

// ck_read_row fills r from a CK_COLS row (state only when with_state).
static kt_err
ck_read_row(kt__store *s, sqlite3_stmt *st, bool with_state, kt_ckpt_rec *r)
{
    int n;

    memset(r, 0, sizeof(*r));
    kt__store_copy(r->op_id, sizeof(r->op_id),
                   (const char *)sqlite3_column_text(st, 0));
    r->seq = (uint64_t)sqlite3_column_int64(st, 1);
    r->attempt = (uint32_t)sqlite3_column_int64(st, 2);
    r->type = ck_type((const char *)sqlite3_column_text(st, 3));
    kt__store_copy(r->unit, sizeof(r->unit),
                   (const char *)sqlite3_column_text(st, 4));
    r->unit_value = sqlite3_column_int64(st, 5);
    r->format_version = (uint32_t)sqlite3_column_int64(st, 6);
    r->artifacts_size = (uint64_t)sqlite3_column_int64(st, 7);
    r->created_ms = sqlite3_column_int64(st, 8);
    if (with_state) {
        n = sqlite3_column_bytes(st, 9);
        if ((r->state = malloc((size_t)n + 1)) == NULL) {
            return KT_ENOMEM;
        }
        if (n > 0) {
            memcpy(r->state, sqlite3_column_blob(st, 9), (size_t)n);
        }
        r->state_len = (size_t)n;
    }
    kt__store_ckpt_dir(s, r->op_id, r->seq, r->path); // "" if no artifacts
    return KT_OK;
}

// ck_read_arts fills r->arts from the artifact rows.
static kt_err
ck_read_arts(kt__store *s, kt_ckpt_rec *r)
{
    kt_ckpt_art_rec *a;
    sqlite3_stmt *st;
    kt_err rv;
    int rc;

    if ((rv = kt__store_stmt(s, ST_CK_ARTS, &st)) != KT_OK) {
        return rv;
    }
    (void)sqlite3_bind_text(st, 1, r->op_id, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_int64(st, 2, (int64_t)r->seq);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((a = realloc(r->arts, (r->narts + 1) * sizeof(*a))) == NULL) {
            (void)sqlite3_reset(st);
            return KT_ENOMEM;
        }
        r->arts = a;
        a = &r->arts[r->narts++];
        memset(a, 0, sizeof(*a));
        kt__store_copy(a->name, sizeof(a->name),
                       (const char *)sqlite3_column_text(st, 0));
        a->size = (uint64_t)sqlite3_column_int64(st, 1);
        if (sqlite3_column_bytes(st, 2) == KT_SHA256_LEN) {
            memcpy(a->sha256, sqlite3_column_blob(st, 2), KT_SHA256_LEN);
        }
        a->inline_data = sqlite3_column_int(st, 3) != 0;
    }
    (void)sqlite3_reset(st);
    // A checkpoint's artifacts are all inline or all files in its directory.
    if (r->narts == 0 || r->arts[0].inline_data) {
        r->path[0] = '\0';
    }
    return rc == SQLITE_DONE ? KT_OK
                             : kt__store_dberr(s, rc, "reading artifacts");
}

// ck_read_inline copies artifact a of r from its row into *datap
// (malloc'd; KT_ENOENT when the row has no bytes).
static kt_err
ck_read_inline(kt__store *s, const kt_ckpt_rec *r, const kt_ckpt_art_rec *a,
               uint8_t **datap, size_t *lenp)
{
    sqlite3_stmt *st;
    kt_err rv;
    int rc, n;

    if ((rv = kt__store_stmt(s, ST_CK_ART_DATA, &st)) != KT_OK) {
        return rv;
    }
    (void)sqlite3_bind_text(st, 1, r->op_id, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_int64(st, 2, (int64_t)r->seq);
    (void)sqlite3_bind_text(st, 3, a->name, -1, SQLITE_TRANSIENT);
    rv = KT_ENOENT;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW &&
        sqlite3_column_type(st, 0) == SQLITE_BLOB) {
        n = sqlite3_column_bytes(st, 0);
        if ((*datap = malloc((size_t)n + 1)) == NULL) {
            rv = KT_ENOMEM;
        } else {
            if (n > 0) {
                memcpy(*datap, sqlite3_column_blob(st, 0), (size_t)n);
            }
            *lenp = (size_t)n;
            rv = KT_OK;
        }
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rv = kt__store_dberr(s, rc, "reading an inline artifact");
    }
    (void)sqlite3_reset(st);
    return rv;
}

// ck_verify reads every artifact and checks size and hash. KT_ECORRUPT
// (with why[]) when one is missing or differs.
static kt_err
ck_verify(kt__store *s, kt_ckpt_rec *r, bool with_data, char *why, size_t cap)
{
    char path[KT_STORE_PATH_MAX + KT_STORE_ID_MAX + 2];
    uint8_t sum[KT_SHA256_LEN];

    for (size_t i = 0; i < r->narts; i++) {
        kt_ckpt_art_rec *a = &r->arts[i];
        uint8_t *data = NULL;
        size_t len = 0;
        kt_err rv;

        if (a->inline_data) {
            rv = ck_read_inline(s, r, a, &data, &len);
        } else {
            kt__store_fmt(path, sizeof(path), "%s/%s", r->path, a->name);
            rv = kt__fsio_read_file(path, a->size, &data, &len);
        }
        if (rv == KT_ENOMEM || rv == KT_EDB) {
            return rv;
        }
        if (rv != KT_OK || len != a->size) {
            free(data);
            kt__store_fmt(why, cap, "artifact %s missing or wrong size",
                          a->name);
            return KT_ECORRUPT;
        }
        kt_sha256(data, len, sum);
        if (memcmp(sum, a->sha256, KT_SHA256_LEN) != 0) {
            free(data);
            kt__store_fmt(why, cap, "artifact %s fails its sha256", a->name);
            return KT_ECORRUPT;
        }
        if (with_data) {
            a->data = data;
        } else {
            free(data);
        }
    }
    return KT_OK;
}

// ck_get reads checkpoint (op, seq) with its artifact list.
static kt_err
ck_get(kt__store *s, const char *op, uint64_t seq, kt_ckpt_rec *r)
{
    sqlite3_stmt *st = NULL;
    kt_err rv = KT_OK;
    int rc;

    rc = sqlite3_prepare_v2(s->db, CK_COLS " WHERE op_id = ?1 AND seq = ?2", -1,
                            &st, NULL);
    if (rc != SQLITE_OK) {
        return kt__store_dberr(s, rc, "reading a checkpoint");
    }
    (void)sqlite3_bind_text(st, 1, op, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_int64(st, 2, (int64_t)seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rv = ck_read_row(s, st, true, r);
    }
    (void)sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        return kt__store_dberr(s, rc, "reading a checkpoint");
    }
    if (rv == KT_OK) {
        rv = ck_read_arts(s, r);
    }
    if (rv != KT_OK) {
        kt__ckpt_rec_fini(r);
    }
    return rv;
}

static kt_err
ck_seqs(kt__store *s, const char *op, uint64_t *seqs, size_t cap, size_t *np)
{
    sqlite3_stmt *st;
    kt_err rv;
    int rc;

    *np = 0;
    if ((rv = kt__store_stmt(s, ST_CK_SEQS, &st)) != KT_OK) {
        return rv;
    }
    (void)sqlite3_bind_text(st, 1, op, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *np < cap) {
        seqs[(*np)++] = (uint64_t)sqlite3_column_int64(st, 0);
    }
    (void)sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW
               ? KT_OK
               : kt__store_dberr(s, rc, "listing checkpoints");
}

kt_err
kt__store_ckpt_load(kt__store *s, const char *op_id, uint32_t want_format,
                    bool with_data, kt_ckpt_rec *out)
{
    char why[160] = "";
    uint64_t seqs[64];
    size_t n, skipped = 0;
    kt_ckpt_rec r;
    kt_err rv;

    if (!kt__store_valid_id(op_id)) {
        return kt__store_fail(s, KT_EINVAL, "invalid operation id");
    }
    if ((rv = ck_seqs(s, op_id, seqs, 64, &n)) != KT_OK) {
        return rv;
    }
    if (n == 0) {
        return kt__store_fail(s, KT_ENOENT,
                              "No checkpoint found for operation %s", op_id);
    }
    for (size_t i = 0; i < n; i++, skipped++) {
        if ((rv = ck_get(s, op_id, seqs[i], &r)) != KT_OK) {
            return rv;
        }
        rv = ck_verify(s, &r, with_data, why, sizeof(why));
        if (rv == KT_ECORRUPT) {
            kt__ckpt_rec_fini(&r);
            continue;
        }
        if (rv != KT_OK) {
            kt__ckpt_rec_fini(&r);
            return rv;
        }
        if (want_format != KT_STORE_FORMAT_ANY &&
            r.format_version != want_format) {
            kt__ckpt_rec_fini(&r);
            return kt__store_fail(
                s, KT_EVERSION,
                "Checkpoint version mismatch: checkpoint %llu of %s has "
                "format %u, this build reads format %u",
                (unsigned long long)seqs[i], op_id, r.format_version,
                want_format);
        }
        r.skipped = (uint32_t)skipped;
        if (skipped > 0) {
            kt__store_fmt(r.note, sizeof(r.note),
                          "newest checkpoint %llu is damaged (%s); fell "
                          "back to checkpoint %llu",
                          (unsigned long long)seqs[0], why,
                          (unsigned long long)r.seq);
        }
        *out = r;
        kt__store_copy(s->msg, sizeof(s->msg), r.note);
        return KT_OK;
    }
    return kt__store_fail(s, KT_ECORRUPT,
                          "Checkpoint corrupted for operation %s: %s", op_id,
                          why);
}

kt_err
kt__store_ckpt_list(kt__store *s, const char *op_id, kt_ckpt_rec **recsp,
                    size_t *np)
{
    sqlite3_stmt *st = NULL;
    kt_ckpt_rec *recs = NULL, *nr;
    size_t n = 0;
    kt_err rv = KT_OK;
    int rc;

    if (op_id != NULL && !kt__store_valid_id(op_id)) {
        return kt__store_fail(s, KT_EINVAL, "invalid operation id");
    }
    rc = sqlite3_prepare_v2(s->db,
                            CK_COLS " WHERE ?1 IS NULL OR op_id = ?1"
                                    " ORDER BY created_at DESC, seq DESC",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        (void)sqlite3_bind_text(st, 1, op_id, -1, SQLITE_TRANSIENT);
    }
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
            break;
        }
        if ((nr = realloc(recs, (n + 1) * sizeof(*recs))) == NULL) {
            rv = KT_ENOMEM;
            break;
        }
        recs = nr;
        if ((rv = ck_read_row(s, st, false, &recs[n])) != KT_OK ||
            (rv = ck_read_arts(s, &recs[n])) != KT_OK) {
            n++;
            break;
        }
        n++;
    }
    (void)sqlite3_finalize(st);
    if (rv == KT_OK && rc != SQLITE_DONE) {
        rv = kt__store_dberr(s, rc, "listing checkpoints");
    }
    if (rv != KT_OK) {
        kt__ckpt_recs_free(recs, n);
        return rv;
    }
    *recsp = recs;
    *np = n;
    return KT_OK;
}
