// store.c: opening the store (lock, directories, SQLite in WAL mode), the
// prepared-statement cache and shared helpers (the schema's migrations:
// store_schema.c).
#include "persistence/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <kt/log.h>

#include "persistence/store_int.h"

static const char *const store_sql[ST_COUNT] = {
    [ST_OP_INSERT] = "INSERT INTO operations (id, type, status, parent_id,"
                     " created_at, updated_at, metadata)"
                     " VALUES (?1, ?2, 'pending', ?3, ?4, ?4, ?5)",
    [ST_OP_GET] =
        "SELECT o.id, o.type, o.status, o.parent_id, o.worker_id, o.attempt,"
        " o.restart_count, o.created_at, o.started_at, o.updated_at,"
        " o.completed_at, o.progress_percent, o.current_step, o.units_done,"
        " o.units_total, o.metadata, o.result, o.error, c.seq, c.type,"
        " c.unit, c.unit_value, c.created_at FROM operations o"
        " LEFT JOIN checkpoints c ON c.op_id = o.id AND c.seq ="
        " (SELECT MAX(seq) FROM checkpoints WHERE op_id = o.id)"
        " WHERE o.id = ?1",
    [ST_OP_STATUS] = "SELECT status FROM operations WHERE id = ?1",
    [ST_OP_PROGRESS] =
        "UPDATE operations SET progress_percent = ?2, current_step = ?3,"
        " units_done = ?4, units_total = ?5, updated_at = ?6"
        " WHERE id = ?1 AND status IN ('running','resuming')",
    [ST_CK_INSERT] =
        "INSERT INTO checkpoints (op_id, seq, attempt, type, unit,"
        " unit_value, state, format_version, state_size, artifacts_size,"
        " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_CK_ART_INSERT] = "INSERT INTO checkpoint_artifacts (op_id, seq,"
                         " name, size, sha256, data)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_CK_FENCE] = "SELECT o.attempt, o.status, (SELECT MAX(seq) FROM"
                    " checkpoints WHERE op_id = o.id) FROM operations o"
                    " WHERE o.id = ?1",
    [ST_CK_SEQS] = "SELECT seq FROM checkpoints WHERE op_id = ?1"
                   " ORDER BY seq DESC",
    [ST_CK_DELETE] = "DELETE FROM checkpoints WHERE op_id = ?1 AND seq = ?2",
    [ST_CK_ARTS] = "SELECT name, size, sha256, data IS NOT NULL FROM"
                   " checkpoint_artifacts WHERE op_id = ?1 AND seq = ?2"
                   " ORDER BY name",
    [ST_CK_EXISTS] = "SELECT 1 FROM checkpoints WHERE op_id = ?1 AND seq = ?2",
    [ST_CK_ART_DATA] = "SELECT data FROM checkpoint_artifacts"
                       " WHERE op_id = ?1 AND seq = ?2 AND name = ?3",
};

kt_err
kt__store_fail(kt__store *s, kt_err rv, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
    va_end(ap);
    return rv;
}

kt_err
kt__store_dberr(kt__store *s, int rc, const char *what)
{
    const char *m = s->db != NULL ? sqlite3_errmsg(s->db) : "no database";
    return kt__store_fail(s, KT_EDB, "database error while %s: %s (%d)", what,
                          m, rc);
}

const char *
kt__store_errmsg(const kt__store *s)
{
    return s->msg;
}

int64_t
kt__store_now(const kt__store *s)
{
    struct timespec ts;

    if (s->now_ms != NULL) {
        return s->now_ms(s->clock_arg);
    }
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
kt__store_fmt(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

void
kt__store_copy(char *dst, size_t cap, const char *src)
{
    kt__store_fmt(dst, cap, "%s", src != NULL ? src : "");
}

kt_err
kt__store_stmt(kt__store *s, store_stmt_id id, sqlite3_stmt **stp)
{
    int rc;

    if (s->st[id] == NULL) {
        rc = sqlite3_prepare_v3(s->db, store_sql[id], -1,
                                SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL);
        if (rc != SQLITE_OK) {
            return kt__store_dberr(s, rc, "preparing a statement");
        }
    }
    (void)sqlite3_reset(s->st[id]);
    (void)sqlite3_clear_bindings(s->st[id]);
    *stp = s->st[id];
    return KT_OK;
}

kt_err
kt__store_exec(kt__store *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? KT_OK : kt__store_dberr(s, rc, sql);
}

kt_err
kt__store_exec_id(kt__store *s, const char *sql, const char *id)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        (void)sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
    }
    (void)sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? KT_OK
                                                 : kt__store_dberr(s, rc, sql);
}

kt_err
kt__store_begin(kt__store *s)
{
    return kt__store_exec(s, "BEGIN IMMEDIATE");
}

void
kt__store_rollback(kt__store *s)
{
    if (!sqlite3_get_autocommit(s->db)) {
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

kt_err
kt__store_commit(kt__store *s)
{
    return kt__store_commit_at(s, s->dir);
}

kt_err
kt__store_commit_at(kt__store *s, const char *path)
{
    int e = 0;
    kt_err rv;

    if (s->fs.fault != NULL) {
        e = s->fs.fault(s->fs.arg, KT_PERSIST_OP_DB_COMMIT, path);
    }
    if (e != 0) {
        kt__store_rollback(s);
        return kt__store_fail(s, (kt_err)(KT_ESYSERR | e),
                              "database commit failed: %s", strerror(e));
    }
    if ((rv = kt__store_exec(s, "COMMIT")) != KT_OK) {
        kt__store_rollback(s);
    }
    return rv;
}

bool
kt__store_valid_id(const char *id)
{
    size_t n = 0;

    if (id == NULL || id[0] == '\0' || id[0] == '.') {
        return false;
    }
    for (const char *p = id; *p != '\0'; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
        if (!ok || n >= KT_STORE_ID_MAX) {
            return false;
        }
    }
    return true;
}

bool
kt__store_valid_short(const char *v)
{
    return kt__store_valid_id(v) && strlen(v) <= KT_STORE_SHORT_MAX;
}

void
kt__store_op_dir(const kt__store *s, const char *op, char *buf)
{
    kt__store_fmt(buf, KT_STORE_PATH_MAX, "%s/%s", s->ckdir, op);
}

void
kt__store_ckpt_dir(const kt__store *s, const char *op, uint64_t seq, char *buf)
{
    kt__store_fmt(buf, KT_STORE_PATH_MAX, "%s/%s/%llu", s->ckdir, op,
                  (unsigned long long)seq);
}

void
kt__store_iso8601(int64_t ms, char buf[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        buf[0] = '\0';
    }
}

// store_lock takes the data directory's lock, waiting up to wait_ms
// (0 = the default, < 0 = not at all) for another process to let go.
static bool
store_lock(int fd, int32_t wait_ms)
{
    int64_t left = wait_ms == 0 ? KT_PERSIST_DEFAULT_LOCK_WAIT_MS : wait_ms;
    bool said = false;

    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK || left <= 0) {
            return false;
        }
        if (!said) {
            kt_log(KT_LOG_NOTICE, "persistence",
                   "event=lock_wait wait_ms=%lld reason=\"another process "
                   "holds the data directory\"",
                   (long long)left);
            said = true;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
        (void)nanosleep(&ts, NULL);
        left -= 20;
    }
    return true;
}

static kt_err
store_dirs(kt__store *s, const kt_persist_cfg *cfg)
{
    char lock[KT_STORE_PATH_MAX + 16];
    kt_err rv;

    if (cfg->data_dir == NULL || cfg->data_dir[0] == '\0' ||
        strlen(cfg->data_dir) > KT_STORE_PATH_MAX - 64) {
        return kt__store_fail(s, KT_EINVAL, "bad data directory");
    }
    kt__store_copy(s->dir, sizeof(s->dir), cfg->data_dir);
    kt__store_fmt(s->ckdir, sizeof(s->ckdir), "%s/checkpoints", s->dir);
    kt__store_fmt(s->tmpdir, sizeof(s->tmpdir), "%s/.tmp", s->ckdir);
    if ((rv = kt__fsio_mkdir(NULL, s->dir)) != KT_OK ||
        (rv = kt__fsio_mkdir(NULL, s->ckdir)) != KT_OK ||
        (rv = kt__fsio_mkdir(NULL, s->tmpdir)) != KT_OK) {
        return kt__store_fail(s, rv, "cannot create %s: %s", s->ckdir,
                              kt_strerror(rv));
    }
    kt__store_fmt(lock, sizeof(lock), "%s/persist.lock", s->dir);
    s->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lockfd < 0) {
        return kt__store_fail(s, (kt_err)(KT_ESYSERR | errno), "cannot open %s",
                              lock);
    }
    if (!store_lock(s->lockfd, cfg->lock_wait_ms)) {
        return kt__store_fail(s, KT_ESTATE,
                              "data directory %s is in use by another "
                              "process",
                              s->dir);
    }
    return KT_OK;
}

static kt_err
store_open_db(kt__store *s)
{
    char path[KT_STORE_PATH_MAX + 16];
    kt_err rv;
    int rc;

    kt__store_fmt(path, sizeof(path), "%s/ktrdr.db", s->dir);
    rc = sqlite3_open_v2(
        path, &s->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        return kt__store_dberr(s, rc, "opening the database");
    }
    (void)sqlite3_busy_timeout(s->db, 5000);
    // WAL + synchronous=FULL: every commit fsyncs the WAL, so a commit that
    // returned is durable (the checkpoint protocol's last step).
    if ((rv = kt__store_exec(s, "PRAGMA journal_mode=WAL")) != KT_OK ||
        (rv = kt__store_exec(s, "PRAGMA synchronous=FULL")) != KT_OK ||
        (rv = kt__store_exec(s, "PRAGMA foreign_keys=ON")) != KT_OK) {
        return rv;
    }
    return kt__store_migrate(s);
}

kt_err
kt__store_open(kt__store **sp, const kt_persist_cfg *cfg, char *err,
               size_t errlen)
{
    kt__store *s;
    kt_err rv;

    if ((s = calloc(1, sizeof(*s))) == NULL) {
        return KT_ENOMEM;
    }
    s->lockfd = -1;
    s->keep = cfg->keep > 0 ? cfg->keep : KT_PERSIST_DEFAULT_KEEP;
    s->inline_max = cfg->inline_max_bytes != 0 ? cfg->inline_max_bytes
                                               : KT_PERSIST_DEFAULT_INLINE_MAX;
    s->inline_terminal = cfg->inline_terminal;
    s->fs.fault = cfg->fault;
    s->fs.arg = cfg->fault_arg;
    s->now_ms = cfg->now_ms;
    s->clock_arg = cfg->clock_arg;
    if ((rv = store_dirs(s, cfg)) != KT_OK ||
        (rv = store_open_db(s)) != KT_OK) {
        if (err != NULL && errlen > 0) {
            kt__store_copy(err, errlen, s->msg);
        }
        kt__store_close(s);
        return rv;
    }
    s->msg[0] = '\0';
    *sp = s;
    return KT_OK;
}

void
kt__store_close(kt__store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->db != NULL) {
        kt__store_ckpt_finish(s);
    }
    for (int i = 0; i < ST_COUNT; i++) {
        (void)sqlite3_finalize(s->st[i]);
    }
    (void)sqlite3_close(s->db); // harmless on NULL
    if (s->lockfd >= 0) {
        (void)close(s->lockfd); // releases the flock
    }
    free(s);
}
