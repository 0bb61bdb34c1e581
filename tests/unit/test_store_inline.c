// Store: checkpoints small enough to keep their artifacts in the database
// row (inline), side by side with artifact directories: save/load, no
// files, the threshold, hashes sent by the writer, damage and fallback
// across both kinds, keep-K, stats, delete, age cleanup, commit faults and
// the migration of a schema-1 database.
#include <sqlite3.h>

#include "test_store_util.h"

static void
setup(void)
{
    tstore_mkdir();
    tstore_inline_max = 0; // the default threshold (64 KiB)
}

static void
teardown(void)
{
    tstore_rmdir();
}

TestSuite(store_inline, .init = setup, .fini = teardown, .timeout = 20.0);

static void
db_exec(const char *sql)
{
    char p[512];
    sqlite3 *db;
    snprintf(p, sizeof(p), "%s/ktrdr.db", tstore_dir);
    cr_assert_eq(sqlite3_open(p, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s: %s",
                 sql, sqlite3_errmsg(db));
    sqlite3_close(db);
}

Test(store_inline, small_checkpoint_lives_in_its_row_and_loads_verified)
{
    kt__store *s = tstore_open();
    tstore_ev t;
    kt_ckpt_rec r;
    uint8_t h[32];
    tstore_new_op(s, "op_i", KT_OP_RUNNING);
    tstore_ev_init(&t, "op_i", 1, 2, 4096);
    cr_assert_eq(kt__store_ckpt_save(s, &t.e), KT_OK, "%s",
                 kt__store_errmsg(s));
    cr_expect_not(tstore_exists("checkpoints/op_i"), "no directory");
    cr_expect_eq(tstore_count_entries("checkpoints/.tmp"), 0);
    cr_assert_eq(kt__store_ckpt_load(s, "op_i", 1, true, &r), KT_OK);
    cr_expect_str_eq(r.path, "");
    cr_assert_eq(r.narts, 2);
    cr_expect(r.arts[0].inline_data && r.arts[1].inline_data);
    cr_expect_eq(r.arts[1].size, 4096);
    cr_expect_arr_eq(r.arts[0].data, t.bufs[0], 4096);
    cr_expect_arr_eq(r.arts[1].data, t.bufs[1], 4096);
    kt_sha256(t.bufs[0], 4096, h);
    cr_expect_arr_eq(r.arts[0].sha256, h, 32);
    cr_expect_eq(r.artifacts_size, 8192);
    cr_expect_arr_eq(r.state, "state-1", r.state_len);
    kt__ckpt_rec_fini(&r);
    // Without data: verified all the same, no bytes returned.
    cr_assert_eq(kt__store_ckpt_load(s, "op_i", 1, false, &r), KT_OK);
    cr_expect_null(r.arts[0].data);
    kt__ckpt_rec_fini(&r);
    tstore_ev_fini(&t);
    kt__store_close(s);
}

Test(store_inline, threshold_is_the_total_of_the_artifacts)
{
    kt__store *s;
    kt_ckpt_rec r;
    tstore_inline_max = 1000;
    s = tstore_open();
    tstore_new_op(s, "op_t", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_t", 1, 2, 500), KT_OK); // 1000: inline
    cr_expect_not(tstore_exists("checkpoints/op_t/1"));
    cr_assert_eq(tstore_save(s, "op_t", 2, 2, 501), KT_OK); // 1002: files
    cr_expect(tstore_exists("checkpoints/op_t/2/art0.bin"));
    cr_expect(tstore_exists("checkpoints/op_t/2/art1.bin"));
    cr_assert_eq(kt__store_ckpt_load(s, "op_t", 1, true, &r), KT_OK);
    cr_expect_eq(r.seq, 2);
    cr_expect_not(r.arts[0].inline_data);
    cr_expect(strstr(r.path, "checkpoints/op_t/2") != NULL, "%s", r.path);
    kt__ckpt_rec_fini(&r);
    kt__store_close(s);
    // A negative threshold never inlines; the default is 64 KiB.
    tstore_inline_max = -1;
    s = tstore_open();
    cr_assert_eq(tstore_save(s, "op_t", 3, 1, 10), KT_OK);
    cr_expect(tstore_exists("checkpoints/op_t/3/art0.bin"));
    kt__store_close(s);
    tstore_inline_max = 0;
    s = tstore_open();
    cr_assert_eq(tstore_save(s, "op_t", 4, 1, 64 * 1024), KT_OK);
    cr_expect_not(tstore_exists("checkpoints/op_t/4"));
    cr_assert_eq(tstore_save(s, "op_t", 5, 1, 64 * 1024 + 1), KT_OK);
    cr_expect(tstore_exists("checkpoints/op_t/5/art0.bin"));
    kt__store_close(s);
}

Test(store_inline, terminal_checkpoints_stay_files_unless_configured)
{
    kt__store *s = tstore_open();
    kt_ckpt_type types[] = {KT_CKPT_CANCELLATION, KT_CKPT_FAILURE,
                            KT_CKPT_SHUTDOWN};
    char rel[64];
    tstore_ev t;
    tstore_new_op(s, "op_c", KT_OP_RUNNING);
    for (uint64_t i = 0; i < 3; i++) {
        tstore_ev_init(&t, "op_c", i + 1, 1, 100);
        t.e.type = types[i];
        cr_assert_eq(kt__store_ckpt_save(s, &t.e), KT_OK);
        tstore_ev_fini(&t);
        kt__store_ckpt_finish(s);
        snprintf(rel, sizeof(rel), "checkpoints/op_c/%llu/art0.bin",
                 (unsigned long long)i + 1);
        cr_expect(tstore_exists(rel), "%s", rel);
    }
    kt__store_close(s);
    tstore_inline_terminal = true;
    s = tstore_open();
    tstore_ev_init(&t, "op_c", 4, 1, 100);
    t.e.type = KT_CKPT_CANCELLATION;
    cr_assert_eq(kt__store_ckpt_save(s, &t.e), KT_OK);
    tstore_ev_fini(&t);
    cr_expect_not(tstore_exists("checkpoints/op_c/4"));
    kt__store_close(s);
}

Test(store_inline, writer_hash_is_checked_inline_and_on_load_for_files)
{
    kt__store *s;
    tstore_ev t;
    kt_ckpt_rec r;
    uint8_t wrong[32] = {0}, right[32];
    tstore_inline_max = 100;
    s = tstore_open();
    tstore_new_op(s, "op_h", KT_OP_RUNNING);
    // Inline: a wrong hash is refused at once, a right one accepted.
    tstore_ev_init(&t, "op_h", 1, 1, 10);
    t.a[0].sha256 = wrong;
    cr_expect_eq(kt__store_ckpt_save(s, &t.e), KT_ECORRUPT);
    cr_expect(strstr(kt__store_errmsg(s), "sha256") != NULL);
    kt_sha256(t.bufs[0], 10, right);
    t.a[0].sha256 = right;
    cr_expect_eq(kt__store_ckpt_save(s, &t.e), KT_OK);
    tstore_ev_fini(&t);
    // File: the sent hash is recorded without hashing again; a right one
    // loads, a wrong one makes the checkpoint damaged on load.
    tstore_ev_init(&t, "op_h", 2, 1, 1000);
    kt_sha256(t.bufs[0], 1000, right);
    t.a[0].sha256 = right;
    cr_assert_eq(kt__store_ckpt_save(s, &t.e), KT_OK);
    tstore_ev_fini(&t);
    cr_assert_eq(kt__store_ckpt_load(s, "op_h", 1, false, &r), KT_OK);
    cr_expect_eq(r.seq, 2);
    cr_expect_eq(r.skipped, 0);
    kt__ckpt_rec_fini(&r);
    tstore_ev_init(&t, "op_h", 3, 1, 1000);
    t.a[0].sha256 = wrong;
    cr_assert_eq(kt__store_ckpt_save(s, &t.e), KT_OK);
    tstore_ev_fini(&t);
    cr_assert_eq(kt__store_ckpt_load(s, "op_h", 1, false, &r), KT_OK);
    cr_expect_eq(r.seq, 2, "seq 3 fails its sha256 and is skipped");
    cr_expect_eq(r.skipped, 1);
    cr_expect(strstr(r.note, "sha256") != NULL, "%s", r.note);
    kt__ckpt_rec_fini(&r);
    kt__store_close(s);
}

Test(store_inline, damaged_row_falls_back_across_both_kinds)
{
    kt__store *s;
    kt_ckpt_rec r;
    tstore_inline_max = 100;
    s = tstore_open();
    tstore_new_op(s, "op_d", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_d", 1, 1, 500), KT_OK); // files
    cr_assert_eq(tstore_save(s, "op_d", 2, 1, 50), KT_OK);  // inline
    kt__store_close(s);
    // Flip the stored bytes of seq 2 (same length): its hash fails.
    db_exec("UPDATE checkpoint_artifacts SET data = zeroblob(50)"
            " WHERE op_id = 'op_d' AND seq = 2");
    s = tstore_open();
    cr_assert_eq(kt__store_ckpt_load(s, "op_d", 1, true, &r), KT_OK);
    cr_expect_eq(r.seq, 1);
    cr_expect_eq(r.skipped, 1);
    cr_expect(strstr(r.note, "fails its sha256") != NULL, "%s", r.note);
    cr_expect_not(r.arts[0].inline_data);
    kt__ckpt_rec_fini(&r);
    // A file checkpoint newer than a damaged inline one: also damaged (its
    // file is gone) -> none intact.
    cr_assert_eq(tstore_save(s, "op_d", 3, 1, 500), KT_OK);
    kt__store_close(s);
    db_exec("UPDATE checkpoint_artifacts SET data = X'00' WHERE seq = 2");
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/checkpoints/op_d/3'", tstore_dir);
    cr_assert_eq(system(cmd), 0);
    s = tstore_open();
    cr_expect_eq(kt__store_ckpt_load(s, "op_d", 1, true, &r), KT_ECORRUPT);
    cr_expect(strstr(kt__store_errmsg(s), "Checkpoint corrupted") != NULL, "%s",
              kt__store_errmsg(s));
    kt__store_close(s);
}

Test(store_inline, missing_bytes_in_the_row_are_damage)
{
    kt__store *s = tstore_open();
    kt_ckpt_rec r;
    tstore_new_op(s, "op_m", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_m", 1, 1, 20), KT_OK);
    cr_assert_eq(tstore_save(s, "op_m", 2, 1, 20), KT_OK);
    kt__store_close(s);
    db_exec(
        "UPDATE checkpoint_artifacts SET data = zeroblob(19) WHERE seq = 2");
    s = tstore_open();
    cr_assert_eq(kt__store_ckpt_load(s, "op_m", 1, false, &r), KT_OK);
    cr_expect_eq(r.seq, 1);
    cr_expect(strstr(r.note, "missing or wrong size") != NULL, "%s", r.note);
    kt__ckpt_rec_fini(&r);
    kt__store_close(s);
}

Test(store_inline, keep_k_stats_delete_and_age_cleanup_cover_both_kinds)
{
    kt__store *s;
    kt_ckpt_rec *recs;
    kt_ckpt_stats st;
    kt_cleanup_result res;
    uint64_t n64;
    size_t n;
    tstore_inline_max = 100;
    s = tstore_open();
    tstore_new_op(s, "op_k", KT_OP_RUNNING);
    for (uint64_t seq = 1; seq <= 6; seq++) { // alternate files / inline
        cr_assert_eq(tstore_save(s, "op_k", seq, 1, seq % 2 ? 200 : 40), KT_OK);
        kt__store_ckpt_finish(s);
    }
    cr_assert_eq(kt__store_ckpt_list(s, "op_k", &recs, &n), KT_OK);
    cr_assert_eq(n, 2);
    cr_expect_eq(recs[0].seq, 6);
    cr_expect_str_eq(recs[0].path, "", "seq 6 is inline");
    cr_expect(recs[0].arts[0].inline_data);
    cr_expect(strstr(recs[1].path, "op_k/5") != NULL, "%s", recs[1].path);
    kt__ckpt_recs_free(recs, n);
    cr_expect_eq(tstore_count_entries("checkpoints/op_k"), 1, "only 5's dir");
    cr_assert_eq(kt__store_ckpt_stats(s, &st), KT_OK);
    cr_expect_eq(st.total_checkpoints, 2);
    cr_expect_eq(st.total_size_bytes, 200 + 40 + strlen("state-5") * 2);
    cr_assert_eq(kt__store_ckpt_delete_op(s, "op_k", &n64), KT_OK);
    cr_expect_eq(n64, 2);
    cr_expect_not(tstore_exists("checkpoints/op_k"));
    // Age cleanup removes an inline checkpoint like any other.
    tstore_new_op(s, "op_a", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_a", 1, 1, 40), KT_OK);
    tstore_clock_ms += 31LL * 86400 * 1000;
    cr_assert_eq(kt__store_cleanup(s, 30, &res), KT_OK);
    cr_expect_eq(res.aged, 1);
    cr_assert_eq(kt__store_ckpt_stats(s, &st), KT_OK);
    cr_expect_eq(st.total_checkpoints, 0);
    kt__store_close(s);
}

static int
count_ops(int op)
{
    return (int)op == tstore_f.op ? tstore_f.seen : -1;
}

Test(store_inline, failed_commit_leaves_the_previous_checkpoint_and_no_files)
{
    kt__store *s = tstore_open();
    kt_ckpt_rec r;
    tstore_new_op(s, "op_f", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_f", 1, 1, 30), KT_OK);
    tstore_f = (tstore_fault){.op = KT_PERSIST_OP_DB_COMMIT, .err = ENOSPC};
    cr_expect_eq(tstore_save(s, "op_f", 2, 1, 30),
                 (kt_err)(KT_ESYSERR | ENOSPC));
    cr_expect(strstr(kt__store_errmsg(s), "not saved") != NULL, "%s",
              kt__store_errmsg(s));
    // An inline save never touches the file system.
    tstore_f = (tstore_fault){.op = KT_PERSIST_OP_OPEN};
    cr_expect_eq(tstore_save(s, "op_f", 2, 1, 30), KT_OK);
    cr_expect_eq(count_ops(KT_PERSIST_OP_OPEN), 0);
    tstore_f = (tstore_fault){.op = KT_PERSIST_OP_DIRSYNC};
    cr_expect_eq(tstore_save(s, "op_f", 3, 1, 30), KT_OK);
    cr_expect_eq(count_ops(KT_PERSIST_OP_DIRSYNC), 0);
    tstore_f = (tstore_fault){.op = -1};
    cr_expect_not(tstore_exists("checkpoints/op_f"));
    cr_assert_eq(kt__store_ckpt_load(s, "op_f", 1, true, &r), KT_OK);
    cr_expect_eq(r.seq, 3);
    kt__ckpt_rec_fini(&r);
    kt__store_close(s);
}

Test(store_inline, schema_1_database_migrates_and_old_checkpoints_load)
{
    kt__store *s;
    kt_ckpt_rec r;
    tstore_inline_max = -1;
    s = tstore_open();
    tstore_new_op(s, "op_o", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_o", 1, 1, 300), KT_OK);
    kt__store_close(s);
    // Turn the file back into a schema-1 database (no data column).
    db_exec("ALTER TABLE checkpoint_artifacts DROP COLUMN data;"
            "DELETE FROM schema_version WHERE version = 2");
    tstore_inline_max = 0;
    s = tstore_open();
    cr_expect_eq(kt__store_schema_version(s), KT_STORE_SCHEMA_LATEST);
    cr_expect_eq(KT_STORE_SCHEMA_LATEST, 2);
    cr_assert_eq(kt__store_ckpt_load(s, "op_o", 1, true, &r), KT_OK);
    cr_expect_eq(r.seq, 1);
    cr_expect_not(r.arts[0].inline_data);
    kt__ckpt_rec_fini(&r);
    cr_assert_eq(tstore_save(s, "op_o", 2, 1, 300), KT_OK); // now inline
    cr_assert_eq(kt__store_ckpt_load(s, "op_o", 1, true, &r), KT_OK);
    cr_expect_eq(r.seq, 2);
    cr_expect(r.arts[0].inline_data);
    kt__ckpt_rec_fini(&r);
    cr_expect_eq(kt__store_check(s), KT_OK);
    kt__store_close(s);
}

Test(store_inline, resent_inline_event_is_acknowledged_once)
{
    kt__store *s = tstore_open();
    kt_ckpt_rec *recs;
    size_t n;
    tstore_new_op(s, "op_r", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_r", 1, 1, 30), KT_OK);
    cr_expect_eq(tstore_save(s, "op_r", 1, 1, 30), KT_OK);
    cr_expect_str_eq(kt__store_errmsg(s), "already stored");
    cr_assert_eq(kt__store_ckpt_list(s, "op_r", &recs, &n), KT_OK);
    cr_expect_eq(n, 1);
    cr_expect_eq(recs[0].narts, 1);
    kt__ckpt_recs_free(recs, n);
    kt__store_close(s);
}
