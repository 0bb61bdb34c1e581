// store_schema.c: the store's versioned migrations (applied when it
// opens), its schema version and the integrity check.
#include <string.h>

#include "persistence/store.h"
#include "persistence/store_int.h"

// Migrations: append only; never edit one that has shipped. Version N is
// the N-th entry. Timestamps are Unix milliseconds (UTC).
static const char *const store_migrations[] = {
    // 1: operations, checkpoints + their artifacts, workers.
    "CREATE TABLE operations ("
    " id TEXT PRIMARY KEY, type TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('pending','running',"
    "  'completed','failed','cancelled','resuming')),"
    " parent_id TEXT, worker_id TEXT,"
    " attempt INTEGER NOT NULL DEFAULT 1,"
    " restart_count INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL, started_at INTEGER,"
    " updated_at INTEGER NOT NULL, completed_at INTEGER,"
    " progress_percent REAL NOT NULL DEFAULT 0, current_step TEXT,"
    " units_done INTEGER NOT NULL DEFAULT 0,"
    " units_total INTEGER NOT NULL DEFAULT 0,"
    " metadata BLOB, result BLOB, error TEXT);"
    "CREATE INDEX ix_operations_status ON operations(status);"
    "CREATE INDEX ix_operations_type ON operations(type);"
    "CREATE INDEX ix_operations_parent ON operations(parent_id);"
    "CREATE INDEX ix_operations_created ON operations(created_at);"
    "CREATE TABLE checkpoints ("
    " op_id TEXT NOT NULL REFERENCES operations(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, attempt INTEGER NOT NULL,"
    " type TEXT NOT NULL CHECK (type IN ('periodic','cancellation',"
    "  'failure','shutdown')),"
    " unit TEXT NOT NULL, unit_value INTEGER NOT NULL,"
    " state BLOB NOT NULL, format_version INTEGER NOT NULL,"
    " state_size INTEGER NOT NULL, artifacts_size INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL, PRIMARY KEY (op_id, seq));"
    "CREATE INDEX ix_checkpoints_created ON checkpoints(created_at);"
    "CREATE TABLE checkpoint_artifacts ("
    " op_id TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL,"
    " size INTEGER NOT NULL, sha256 BLOB NOT NULL,"
    " PRIMARY KEY (op_id, seq, name), FOREIGN KEY (op_id, seq)"
    " REFERENCES checkpoints(op_id, seq) ON DELETE CASCADE);"
    "CREATE TABLE workers ("
    " id TEXT PRIMARY KEY, url TEXT NOT NULL, capabilities TEXT,"
    " last_seen INTEGER NOT NULL, current_op TEXT);",
    // 2: small checkpoints keep their artifact bytes in the row (NULL = the
    // artifact is a file in checkpoints/<op>/<seq>/).
    "ALTER TABLE checkpoint_artifacts ADD COLUMN data BLOB;",
};
#define STORE_NMIGRATIONS \
    (int)(sizeof(store_migrations) / sizeof(store_migrations[0]))

kt_err
kt__store_migrate(kt__store *s)
{
    sqlite3_stmt *st = NULL;
    int have = 0, rc;
    kt_err rv;

    if ((rv = kt__store_exec(s, "CREATE TABLE IF NOT EXISTS schema_version"
                                " (version INTEGER NOT NULL)")) != KT_OK) {
        return rv;
    }
    rc = sqlite3_prepare_v2(s->db, "SELECT MAX(version) FROM schema_version",
                            -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return kt__store_dberr(s, rc, "reading the schema version");
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        have = sqlite3_column_int(st, 0);
    }
    (void)sqlite3_finalize(st);
    if (have > STORE_NMIGRATIONS) {
        return kt__store_fail(s, KT_EVERSION,
                              "database schema version %d is newer than this "
                              "build's %d",
                              have, STORE_NMIGRATIONS);
    }
    for (int v = have + 1; v <= STORE_NMIGRATIONS; v++) {
        char sql[96];
        kt__store_fmt(sql, sizeof(sql),
                      "INSERT INTO schema_version VALUES (%d)", v);
        if ((rv = kt__store_begin(s)) != KT_OK) {
            return rv;
        }
        if ((rv = kt__store_exec(s, store_migrations[v - 1])) != KT_OK ||
            (rv = kt__store_exec(s, sql)) != KT_OK ||
            (rv = kt__store_commit(s)) != KT_OK) {
            kt__store_rollback(s);
            return rv;
        }
    }
    return KT_OK;
}

int
kt__store_schema_version(kt__store *s)
{
    sqlite3_stmt *st = NULL;
    int v = -1;

    if (sqlite3_prepare_v2(s->db, "SELECT MAX(version) FROM schema_version", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int(st, 0);
    }
    (void)sqlite3_finalize(st);
    return v;
}

kt_err
kt__store_check(kt__store *s)
{
    sqlite3_stmt *st = NULL;
    kt_err rv;
    int rc;

    rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return kt__store_dberr(s, rc, "checking integrity");
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rv = kt__store_dberr(s, rc, "checking integrity");
    } else if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
        rv = kt__store_fail(s, KT_ECORRUPT, "integrity_check: %s",
                            (const char *)sqlite3_column_text(st, 0));
    } else {
        rv = KT_OK;
    }
    (void)sqlite3_finalize(st);
    return rv;
}
