// store_clean.c: checkpoint statistics and cleanup: by age, orphan artifact
// directories (no row) and stale temp dirs. The store performs every save
// itself, synchronously, so the only temp dir that can be in use is the one
// named in s->inflight; the sweep never touches it.
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persistence/store.h"
#include "persistence/store_int.h"

kt_err
kt__store_ckpt_stats(kt__store *s, kt_ckpt_stats *out)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(s->db,
                            "SELECT COUNT(*), COALESCE(SUM(state_size +"
                            " artifacts_size), 0), COALESCE(MIN(created_at),"
                            " 0) FROM checkpoints",
                            -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        out->total_checkpoints = (uint64_t)sqlite3_column_int64(st, 0);
        out->total_size_bytes = (uint64_t)sqlite3_column_int64(st, 1);
        out->oldest_ms = sqlite3_column_int64(st, 2);
    }
    (void)sqlite3_finalize(st);
    return rc == SQLITE_ROW ? KT_OK : kt__store_dberr(s, rc, "reading stats");
}

// clean_aged deletes checkpoints created before cutoff (rows, then dirs).
static kt_err
clean_aged(kt__store *s, int64_t cutoff, uint64_t *np)
{
    char dir[KT_STORE_PATH_MAX];
    sqlite3_stmt *st = NULL;
    kt_ckpt_rec *old = NULL, *nr;
    size_t n = 0;
    kt_err rv = KT_OK;
    int rc;

    rc = sqlite3_prepare_v2(s->db,
                            "SELECT op_id, seq FROM checkpoints"
                            " WHERE created_at < ?1",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        (void)sqlite3_bind_int64(st, 1, cutoff);
    }
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
            break;
        }
        if ((nr = realloc(old, (n + 1) * sizeof(*old))) == NULL) {
            rv = KT_ENOMEM;
            break;
        }
        old = nr;
        kt__store_copy(old[n].op_id, sizeof(old[n].op_id),
                       (const char *)sqlite3_column_text(st, 0));
        old[n++].seq = (uint64_t)sqlite3_column_int64(st, 1);
    }
    (void)sqlite3_finalize(st);
    if (rv == KT_OK && rc != SQLITE_DONE) {
        rv = kt__store_dberr(s, rc, "finding old checkpoints");
    }
    if (rv == KT_OK && n > 0 && (rv = kt__store_begin(s)) == KT_OK) {
        rc = sqlite3_prepare_v2(s->db,
                                "DELETE FROM checkpoints WHERE created_at < ?1",
                                -1, &st, NULL);
        if (rc == SQLITE_OK) {
            (void)sqlite3_bind_int64(st, 1, cutoff);
            rc = sqlite3_step(st);
        }
        (void)sqlite3_finalize(st);
        rv = rc == SQLITE_DONE ? kt__store_commit(s)
                               : kt__store_dberr(s, rc, "deleting old rows");
        kt__store_rollback(s);
    }
    for (size_t i = 0; rv == KT_OK && i < n; i++) {
        kt__store_ckpt_dir(s, old[i].op_id, old[i].seq, dir);
        (void)kt__fsio_rm_rf(&s->fs, dir); // leftovers: orphans, next sweep
    }
    free(old);
    *np = rv == KT_OK ? n : 0;
    return rv;
}

static bool
clean_has_row(kt__store *s, const char *op, uint64_t seq)
{
    sqlite3_stmt *st;
    bool found = true; // on a database error, keep the directory

    if (kt__store_stmt(s, ST_CK_EXISTS, &st) != KT_OK) {
        return true;
    }
    (void)sqlite3_bind_text(st, 1, op, -1, SQLITE_TRANSIENT);
    (void)sqlite3_bind_int64(st, 2, (int64_t)seq);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        found = false;
    }
    (void)sqlite3_reset(st);
    return found;
}

static bool
clean_parse_seq(const char *name, uint64_t *seq)
{
    char *end;
    unsigned long long v;

    if (name[0] < '1' || name[0] > '9') {
        return false;
    }
    v = strtoull(name, &end, 10);
    *seq = v;
    return *end == '\0' && v <= INT64_MAX;
}

// clean_op_dir removes seq directories of op that have no row, then the op
// directory itself if that left it empty.
static uint64_t
clean_op_dir(kt__store *s, const char *op)
{
    char dir[KT_STORE_PATH_MAX], sub[KT_STORE_PATH_MAX + 32];
    struct dirent *de;
    uint64_t n = 0, seq;
    bool left = false;
    DIR *d;

    kt__store_op_dir(s, op, dir);
    if ((d = opendir(dir)) == NULL) {
        return 0;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (!clean_parse_seq(de->d_name, &seq) || clean_has_row(s, op, seq)) {
            left = true;
            continue;
        }
        kt__store_fmt(sub, sizeof(sub), "%s/%s", dir, de->d_name);
        if (kt__fsio_rm_rf(&s->fs, sub) == KT_OK) {
            n++;
        } else {
            left = true;
        }
    }
    (void)closedir(d);
    if (!left) {
        (void)kt__fsio_rm_rf(&s->fs, dir);
    }
    return n;
}

// clean_temps removes every temp dir except the save in flight.
static uint64_t
clean_temps(kt__store *s)
{
    char path[KT_STORE_PATH_MAX + KT_STORE_ID_MAX];
    struct dirent *de;
    uint64_t n = 0;
    DIR *d;

    if ((d = opendir(s->tmpdir)) == NULL) {
        return 0;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        kt__store_fmt(path, sizeof(path), "%s/%s", s->tmpdir, de->d_name);
        if (strcmp(path, s->inflight) == 0) {
            continue;
        }
        if (kt__fsio_rm_rf(&s->fs, path) == KT_OK) {
            n++;
        }
    }
    (void)closedir(d);
    return n;
}

kt_err
kt__store_cleanup(kt__store *s, uint32_t max_age_days, kt_cleanup_result *out)
{
    kt_cleanup_result r = {0};
    struct dirent *de;
    kt_err rv;
    DIR *d;

    kt__store_ckpt_finish(s);
    if (max_age_days > 0) {
        int64_t cutoff =
            kt__store_now(s) - (int64_t)max_age_days * 86400 * 1000;
        if ((rv = clean_aged(s, cutoff, &r.aged)) != KT_OK) {
            return rv;
        }
    }
    r.stale_temps = clean_temps(s);
    if ((d = opendir(s->ckdir)) == NULL) {
        return kt__store_fail(s, (kt_err)(KT_ESYSERR | errno), "cannot read %s",
                              s->ckdir);
    }
    // Only names that are valid operation ids are ours to judge.
    while ((de = readdir(d)) != NULL) {
        if (kt__store_valid_id(de->d_name)) {
            r.orphan_dirs += clean_op_dir(s, de->d_name);
        }
    }
    (void)closedir(d);
    s->msg[0] = '\0';
    *out = r;
    return KT_OK;
}
