// Store: schema/migrations, operations (create, transitions, progress, get,
// list), workers.
#include <pthread.h>

#include <sqlite3.h>

#include "test_store_util.h"

static void
setup(void)
{
    tstore_mkdir();
}

static void
teardown(void)
{
    tstore_rmdir();
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 20.0);

Test(store, open_creates_layout_and_schema_version)
{
    kt__store *s = tstore_open();
    cr_expect_eq(kt__store_schema_version(s), KT_STORE_SCHEMA_LATEST);
    cr_expect(tstore_exists("ktrdr.db"));
    cr_expect(tstore_exists("persist.lock"));
    cr_expect_eq(tstore_count_entries("checkpoints"), 1); // .tmp
    kt__store_close(s);
    // Reopen: migrations are not applied twice.
    s = tstore_open();
    cr_expect_eq(kt__store_schema_version(s), KT_STORE_SCHEMA_LATEST);
    kt__store_close(s);
}

Test(store, open_uses_wal_mode)
{
    kt__store *s = tstore_open();
    kt__store_close(s);
    char p[300];
    sqlite3 *db;
    sqlite3_stmt *st;
    snprintf(p, sizeof(p), "%s/ktrdr.db", tstore_dir);
    cr_assert_eq(sqlite3_open(p, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_expect_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

Test(store, open_refuses_newer_schema)
{
    kt__store *s = tstore_open();
    kt__store_close(s);
    char p[300];
    sqlite3 *db;
    snprintf(p, sizeof(p), "%s/ktrdr.db", tstore_dir);
    cr_assert_eq(sqlite3_open(p, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "INSERT INTO schema_version VALUES (99)",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    kt_persist_cfg c = tstore_cfg();
    char err[256] = "";
    s = NULL;
    cr_expect_eq(kt__store_open(&s, &c, err, sizeof(err)), KT_EVERSION);
    cr_expect_null(s);
    cr_expect(strstr(err, "newer") != NULL, "%s", err);
}

Test(store, open_refuses_a_second_owner_of_the_data_dir)
{
    kt__store *s = tstore_open(), *s2 = NULL;
    kt_persist_cfg c = tstore_cfg();
    char err[256] = "";
    c.lock_wait_ms = -1;
    cr_expect_eq(kt__store_open(&s2, &c, err, sizeof(err)), KT_ESTATE);
    cr_expect(strstr(err, "in use") != NULL, "%s", err);
    kt__store_close(s);
    cr_assert_eq(kt__store_open(&s2, &c, err, sizeof(err)), KT_OK);
    kt__store_close(s2);
}

static void *
close_later(void *arg)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 150 * 1000000L};

    nanosleep(&ts, NULL); // the owner lets go while the other waits
    kt__store_close(arg);
    return NULL;
}

Test(store, open_waits_for_the_previous_owner_to_let_go)
{
    kt__store *s = tstore_open(), *s2 = NULL;
    kt_persist_cfg c = tstore_cfg();
    char err[256] = "";
    pthread_t t;

    // A bounded wait that runs out still refuses, after the wait.
    c.lock_wait_ms = 100;
    cr_expect_eq(kt__store_open(&s2, &c, err, sizeof(err)), KT_ESTATE);
    cr_expect(strstr(err, "in use") != NULL, "%s", err);
    // The owner closes while we wait: the open succeeds.
    c.lock_wait_ms = 10000;
    cr_assert_eq(pthread_create(&t, NULL, close_later, s), 0);
    cr_expect_eq(kt__store_open(&s2, &c, err, sizeof(err)), KT_OK, "%s", err);
    cr_assert_eq(pthread_join(t, NULL), 0);
    kt__store_close(s2);
}

Test(store, open_rejects_bad_data_dir)
{
    kt_persist_cfg c = {.data_dir = NULL};
    kt__store *s = NULL;
    cr_expect_eq(kt__store_open(&s, &c, NULL, 0), KT_EINVAL);
    c.data_dir = "";
    cr_expect_eq(kt__store_open(&s, &c, NULL, 0), KT_EINVAL);
    c.data_dir = "/proc/definitely/not/writable";
    cr_expect_neq(kt__store_open(&s, &c, NULL, 0), KT_OK);
    cr_expect_null(s);
}

Test(store, create_get_roundtrip)
{
    kt__store *s = tstore_open();
    const uint8_t meta[] = {1, 2, 0, 3};
    kt_op_new n = {.id = "op_training_20241213_143022_abc123",
                   .type = "training",
                   .parent_id = "op_research_1",
                   .metadata = meta,
                   .metadata_len = sizeof(meta)};
    kt_op_rec r;
    cr_assert_eq(kt__store_op_create(s, &n), KT_OK);
    cr_assert_eq(kt__store_op_get(s, n.id, &r), KT_OK);
    cr_expect_str_eq(r.id, n.id);
    cr_expect_str_eq(r.type, "training");
    cr_expect_str_eq(r.parent_id, "op_research_1");
    cr_expect_eq(r.status, KT_OP_PENDING);
    cr_expect_eq(r.attempt, 1);
    cr_expect_eq(r.created_ms, tstore_clock_ms);
    cr_expect_eq(r.metadata_len, sizeof(meta));
    cr_expect_arr_eq(r.metadata, meta, sizeof(meta));
    cr_expect_null(r.error);
    cr_expect_eq(r.ckpt_seq, 0);
    kt__op_rec_fini(&r);
    kt__store_close(s);
}

Test(store, create_rejects_duplicate_and_bad_ids)
{
    kt__store *s = tstore_open();
    tstore_new_op(s, "op_a", KT_OP_PENDING);
    kt_op_new n = {.id = "op_a", .type = "training"};
    cr_expect_eq(kt__store_op_create(s, &n), KT_ESTATE);
    cr_expect_str_eq(kt__store_errmsg(s), "Operation ID already exists: op_a");
    const char *bad[] = {"", "../x", ".hidden", "a/b", "a b", "x\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n.id = bad[i];
        cr_expect_eq(kt__store_op_create(s, &n), KT_EINVAL, "%s", bad[i]);
    }
    char longid[200];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    n.id = longid;
    cr_expect_eq(kt__store_op_create(s, &n), KT_EINVAL);
    n.id = "op_b";
    n.type = NULL;
    cr_expect_eq(kt__store_op_create(s, &n), KT_EINVAL);
    n.type = "training";
    n.parent_id = "bad/parent";
    cr_expect_eq(kt__store_op_create(s, &n), KT_EINVAL);
    kt__store_close(s);
}

Test(store, lifecycle_transitions_and_timestamps)
{
    kt__store *s = tstore_open();
    kt_op_rec r;
    tstore_new_op(s, "op_l", KT_OP_PENDING);
    tstore_clock_ms += 1000;
    kt_op_change c = {.id = "op_l", .to = KT_OP_RUNNING, .worker_id = "w1"};
    cr_assert_eq(kt__store_op_change(s, &c), KT_OK);
    cr_assert_eq(kt__store_op_get(s, "op_l", &r), KT_OK);
    cr_expect_eq(r.status, KT_OP_RUNNING);
    cr_expect_str_eq(r.worker_id, "w1");
    cr_expect_eq(r.started_ms, tstore_clock_ms);
    kt__op_rec_fini(&r);
    tstore_clock_ms += 1000;
    c = (kt_op_change){.id = "op_l", .to = KT_OP_CANCELLED, .error = "user"};
    cr_assert_eq(kt__store_op_change(s, &c), KT_OK);
    cr_assert_eq(kt__store_op_get(s, "op_l", &r), KT_OK);
    cr_expect_eq(r.status, KT_OP_CANCELLED);
    cr_expect_eq(r.completed_ms, tstore_clock_ms);
    cr_expect_str_eq(r.error, "user");
    kt__op_rec_fini(&r);
    kt__store_close(s);
}

Test(store, illegal_transitions_are_refused_with_reason)
{
    kt__store *s = tstore_open();
    tstore_new_op(s, "op_t", KT_OP_PENDING);
    kt_op_change c = {.id = "op_t", .to = KT_OP_COMPLETED};
    cr_expect_eq(kt__store_op_change(s, &c), KT_ESTATE);
    cr_expect_str_eq(kt__store_errmsg(s),
                     "Operation op_t cannot go from pending to completed");
    c.to = KT_OP_PENDING;
    cr_expect_eq(kt__store_op_change(s, &c), KT_EINVAL);
    c.to = (kt_op_status)42;
    cr_expect_eq(kt__store_op_change(s, &c), KT_EINVAL);
    c = (kt_op_change){.id = "op_missing", .to = KT_OP_RUNNING};
    cr_expect_eq(kt__store_op_change(s, &c), KT_ENOENT);
    cr_expect_str_eq(kt__store_errmsg(s), "Operation not found: op_missing");
    c.id = "../etc";
    cr_expect_eq(kt__store_op_change(s, &c), KT_EINVAL);
    kt__store_close(s);
}

Test(store, resume_requires_cancelled_or_failed_and_a_checkpoint)
{
    kt__store *s = tstore_open();
    kt_op_rec r;
    tstore_new_op(s, "op_r", KT_OP_RUNNING);
    kt_op_change c = {.id = "op_r", .to = KT_OP_RESUMING};
    cr_expect_eq(kt__store_op_change(s, &c), KT_ESTATE);
    cr_expect(strstr(kt__store_errmsg(s),
                     "Operation is not in a resumable state") != NULL);
    c.to = KT_OP_FAILED;
    cr_assert_eq(kt__store_op_change(s, &c), KT_OK);
    c.to = KT_OP_RESUMING;
    cr_expect_eq(kt__store_op_change(s, &c), KT_ENOENT);
    cr_expect_str_eq(kt__store_errmsg(s),
                     "No checkpoint found for operation op_r");
    cr_assert_eq(kt__store_op_get(s, "op_r", &r), KT_OK);
    cr_expect_eq(r.status, KT_OP_FAILED, "a refused resume changes nothing");
    kt__op_rec_fini(&r);
    cr_assert_eq(tstore_save(s, "op_r", 1, 0, 0), KT_OK);
    c.count_restart = true;
    cr_assert_eq(kt__store_op_change(s, &c), KT_OK);
    cr_assert_eq(kt__store_op_get(s, "op_r", &r), KT_OK);
    cr_expect_eq(r.status, KT_OP_RESUMING);
    cr_expect_eq(r.attempt, 2);
    cr_expect_eq(r.restart_count, 1);
    cr_expect_eq(r.completed_ms, 0);
    cr_expect_null(r.error);
    kt__op_rec_fini(&r);
    cr_expect_eq(kt__store_op_change(s, &c), KT_ESTATE, "second resume");
    kt__store_close(s);
}

static int race_wins;
static pthread_mutex_t race_mu = PTHREAD_MUTEX_INITIALIZER;

static void *
race_resume(void *arg)
{
    (void)arg;
    kt_persist_cfg c = tstore_cfg();
    char p[300];
    sqlite3 *db;
    // Each racer uses its own connection, as two processes would.
    snprintf(p, sizeof(p), "%s/ktrdr.db", c.data_dir);
    cr_assert_eq(sqlite3_open(p, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    cr_assert_eq(sqlite3_exec(db,
                              "UPDATE operations SET status = 'resuming',"
                              " attempt = attempt + 1 WHERE id = 'op_race'"
                              " AND status IN ('cancelled','failed')",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    pthread_mutex_lock(&race_mu);
    race_wins += sqlite3_changes(db);
    pthread_mutex_unlock(&race_mu);
    sqlite3_close(db);
    return NULL;
}

Test(store, concurrent_resumes_have_exactly_one_winner)
{
    kt__store *s = tstore_open();
    tstore_new_op(s, "op_race", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_race", 1, 0, 0), KT_OK);
    kt_op_change c = {.id = "op_race", .to = KT_OP_CANCELLED};
    cr_assert_eq(kt__store_op_change(s, &c), KT_OK);
    pthread_t th[5];
    for (int i = 0; i < 5; i++) {
        pthread_create(&th[i], NULL, race_resume, NULL);
    }
    // The store's own resume races with them too.
    c.to = KT_OP_RESUMING;
    int mine = kt__store_op_change(s, &c) == KT_OK;
    for (int i = 0; i < 5; i++) {
        pthread_join(th[i], NULL);
    }
    cr_expect_eq(race_wins + mine, 1);
    kt_op_rec r;
    cr_assert_eq(kt__store_op_get(s, "op_race", &r), KT_OK);
    cr_expect_eq(r.attempt, 2);
    kt__op_rec_fini(&r);
    kt__store_close(s);
}

Test(store, progress_only_while_running)
{
    kt__store *s = tstore_open();
    kt_op_rec r;
    tstore_new_op(s, "op_p", KT_OP_PENDING);
    kt_op_progress p = {.id = "op_p", .percent = 45, .current_step = "epoch"};
    cr_expect_eq(kt__store_op_progress(s, &p), KT_ESTATE);
    kt_op_change c = {.id = "op_p", .to = KT_OP_RUNNING};
    cr_assert_eq(kt__store_op_change(s, &c), KT_OK);
    p.units_done = 45;
    p.units_total = 100;
    cr_assert_eq(kt__store_op_progress(s, &p), KT_OK);
    cr_assert_eq(kt__store_op_get(s, "op_p", &r), KT_OK);
    cr_expect_float_eq(r.progress_percent, 45.0, 1e-9);
    cr_expect_str_eq(r.current_step, "epoch");
    cr_expect_eq(r.units_done, 45);
    cr_expect_eq(r.units_total, 100);
    kt__op_rec_fini(&r);
    p.percent = 101;
    cr_expect_eq(kt__store_op_progress(s, &p), KT_EINVAL);
    p.percent = 0.0 / 0.0;
    cr_expect_eq(kt__store_op_progress(s, &p), KT_EINVAL);
    p.percent = 50;
    p.id = "op_nope";
    cr_expect_eq(kt__store_op_progress(s, &p), KT_ENOENT);
    c.to = KT_OP_COMPLETED;
    c.result = (const uint8_t *)"ok";
    c.result_len = 2;
    cr_assert_eq(kt__store_op_change(s, &c), KT_OK);
    cr_assert_eq(kt__store_op_get(s, "op_p", &r), KT_OK);
    cr_expect_float_eq(r.progress_percent, 100.0, 1e-9);
    cr_expect_eq(r.result_len, 2);
    kt__op_rec_fini(&r);
    kt__store_close(s);
}

Test(store, list_filters_status_type_parent_resumable_limit)
{
    kt__store *s = tstore_open();
    kt_op_rec *recs;
    size_t n;
    tstore_new_op(s, "op_1", KT_OP_RUNNING);
    tstore_clock_ms++;
    tstore_new_op(s, "op_2", KT_OP_RUNNING);
    tstore_clock_ms++;
    kt_op_new child = {
        .id = "op_3", .type = "backtesting", .parent_id = "op_1"};
    cr_assert_eq(kt__store_op_create(s, &child), KT_OK);
    cr_assert_eq(tstore_save(s, "op_1", 1, 0, 0), KT_OK);
    kt_op_change c = {.id = "op_1", .to = KT_OP_CANCELLED};
    cr_assert_eq(kt__store_op_change(s, &c), KT_OK);
    c.id = "op_2"; // cancelled without a checkpoint: not resumable
    cr_assert_eq(kt__store_op_change(s, &c), KT_OK);

    kt_op_filter f = {0};
    cr_assert_eq(kt__store_op_list(s, &f, &recs, &n), KT_OK);
    cr_expect_eq(n, 3);
    cr_expect_str_eq(recs[0].id, "op_3", "newest first");
    kt__op_recs_free(recs, n);

    f = (kt_op_filter){.status_mask = 1u << KT_OP_CANCELLED};
    cr_assert_eq(kt__store_op_list(s, &f, &recs, &n), KT_OK);
    cr_expect_eq(n, 2);
    kt__op_recs_free(recs, n);

    f = (kt_op_filter){.resumable = true};
    cr_assert_eq(kt__store_op_list(s, &f, &recs, &n), KT_OK);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(recs[0].id, "op_1");
    cr_expect_eq(recs[0].ckpt_seq, 1);
    cr_expect_str_eq(recs[0].ckpt_unit, "epoch");
    cr_expect_eq(recs[0].ckpt_unit_value, 5);
    kt__op_recs_free(recs, n);

    f = (kt_op_filter){.type = "backtesting"};
    cr_assert_eq(kt__store_op_list(s, &f, &recs, &n), KT_OK);
    cr_expect_eq(n, 1);
    kt__op_recs_free(recs, n);

    f = (kt_op_filter){.parent_id = "op_1"};
    cr_assert_eq(kt__store_op_list(s, &f, &recs, &n), KT_OK);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(recs[0].id, "op_3");
    kt__op_recs_free(recs, n);

    f = (kt_op_filter){.limit = 2};
    cr_assert_eq(kt__store_op_list(s, &f, &recs, &n), KT_OK);
    cr_expect_eq(n, 2);
    kt__op_recs_free(recs, n);

    f = (kt_op_filter){.type = "bad type"};
    cr_expect_eq(kt__store_op_list(s, &f, &recs, &n), KT_EINVAL);
    f = (kt_op_filter){.limit = 1000000};
    cr_expect_eq(kt__store_op_list(s, &f, &recs, &n), KT_EINVAL);
    kt__store_close(s);
}

Test(store, status_names_roundtrip)
{
    for (int i = KT_OP_PENDING; i <= KT_OP_RESUMING; i++) {
        kt_op_status st;
        cr_expect(
            kt__op_status_parse(kt__op_status_name((kt_op_status)i), &st));
        cr_expect_eq((int)st, i);
    }
    kt_op_status st;
    cr_expect_not(kt__op_status_parse("RUNNING", &st), "case-sensitive");
    cr_expect_not(kt__op_status_parse(NULL, &st));
    cr_expect_str_eq(kt__op_status_name((kt_op_status)0), "unknown");
}

Test(store, workers_upsert_list_remove)
{
    kt__store *s = tstore_open();
    kt_worker_rec w = {
        .id = "w1", .url = "ipc:///tmp/w1", .capabilities = "training"};
    kt_worker_rec *ws;
    size_t n;
    cr_assert_eq(kt__store_worker_upsert(s, &w), KT_OK);
    snprintf(w.current_op, sizeof(w.current_op), "op_x");
    cr_assert_eq(kt__store_worker_upsert(s, &w), KT_OK);
    cr_assert_eq(kt__store_worker_list(s, &ws, &n), KT_OK);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(ws[0].current_op, "op_x");
    cr_expect_eq(ws[0].last_seen_ms, tstore_clock_ms);
    free(ws);
    cr_expect_eq(kt__store_worker_remove(s, "w1"), KT_OK);
    cr_expect_eq(kt__store_worker_remove(s, "w1"), KT_ENOENT);
    cr_expect_eq(kt__store_worker_remove(s, "a/b"), KT_EINVAL);
    w.url[0] = '\0';
    cr_expect_eq(kt__store_worker_upsert(s, &w), KT_EINVAL);
    kt__store_close(s);
}

Test(store, iso8601_is_utc_with_z)
{
    char buf[32];
    kt__store_iso8601(1735263497000, buf);
    cr_expect_str_eq(buf, "2024-12-27T01:38:17Z");
}
