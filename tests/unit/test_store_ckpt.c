// Store: checkpoint save (commit protocol, fencing, keep-K), load (verify,
// fallback, version), list, delete, stats, cleanup.
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

TestSuite(store_ckpt, .init = setup, .fini = teardown, .timeout = 20.0);

static void
corrupt_file(const char *rel, long off)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", tstore_dir, rel);
    FILE *f = fopen(p, "r+b");
    cr_assert_not_null(f, "%s", p);
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

Test(store_ckpt, save_then_load_returns_state_and_verified_artifacts)
{
    kt__store *s = tstore_open();
    tstore_ev t;
    kt_ckpt_rec r;
    tstore_new_op(s, "op_a", KT_OP_RUNNING);
    tstore_ev_init(&t, "op_a", 1, 2, 4096);
    cr_assert_eq(kt__store_ckpt_save(s, &t.e), KT_OK, "%s",
                 kt__store_errmsg(s));
    cr_expect(tstore_exists("checkpoints/op_a/1/art0.bin"));
    cr_expect(tstore_exists("checkpoints/op_a/1/art1.bin"));
    cr_expect_eq(tstore_count_entries("checkpoints/.tmp"), 0);
    cr_assert_eq(kt__store_ckpt_load(s, "op_a", 1, true, &r), KT_OK);
    cr_expect_eq(r.seq, 1);
    cr_expect_eq(r.type, KT_CKPT_PERIODIC);
    cr_expect_str_eq(r.unit, "epoch");
    cr_expect_eq(r.unit_value, 5);
    cr_expect_eq(r.state_len, strlen("state-1"));
    cr_expect_arr_eq(r.state, "state-1", r.state_len);
    cr_assert_eq(r.narts, 2);
    cr_expect_str_eq(r.arts[0].name, "art0.bin");
    cr_expect_eq(r.arts[0].size, 4096);
    cr_expect_arr_eq(r.arts[0].data, t.bufs[0], 4096);
    cr_expect_arr_eq(r.arts[1].data, t.bufs[1], 4096);
    uint8_t h[32];
    kt_sha256(t.bufs[1], 4096, h);
    cr_expect_arr_eq(r.arts[1].sha256, h, 32);
    cr_expect_eq(r.skipped, 0);
    cr_expect_eq(r.artifacts_size, 8192);
    cr_expect(strstr(r.path, "checkpoints/op_a/1") != NULL);
    kt__ckpt_rec_fini(&r);
    tstore_ev_fini(&t);
    kt__store_close(s);
}

Test(store_ckpt, state_only_checkpoint_has_no_directory)
{
    kt__store *s = tstore_open();
    kt_ckpt_rec r;
    tstore_new_op(s, "op_b", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_b", 1, 0, 0), KT_OK);
    cr_expect_not(tstore_exists("checkpoints/op_b"));
    cr_assert_eq(kt__store_ckpt_load(s, "op_b", 1, true, &r), KT_OK);
    cr_expect_eq(r.narts, 0);
    cr_expect_str_eq(r.path, "");
    kt__ckpt_rec_fini(&r);
    kt__store_close(s);
}

Test(store_ckpt, keeps_only_the_newest_k)
{
    kt__store *s = tstore_open();
    kt_ckpt_rec *recs;
    size_t n;
    tstore_new_op(s, "op_k", KT_OP_RUNNING);
    for (uint64_t seq = 1; seq <= 5; seq++) {
        cr_assert_eq(tstore_save(s, "op_k", seq, 1, 100), KT_OK);
    }
    cr_assert_eq(kt__store_ckpt_list(s, "op_k", &recs, &n), KT_OK);
    cr_assert_eq(n, 2);
    cr_expect_eq(recs[0].seq, 5);
    cr_expect_eq(recs[1].seq, 4);
    cr_expect_eq(recs[0].narts, 1);
    kt__ckpt_recs_free(recs, n);
    // Seq 3's row went with seq 5's commit; its directory goes after the
    // ack, in finish.
    cr_expect(tstore_exists("checkpoints/op_k/3"));
    kt__store_ckpt_finish(s);
    cr_expect_eq(tstore_count_entries("checkpoints/op_k"), 2);
    cr_expect_not(tstore_exists("checkpoints/op_k/3"));
    kt__store_close(s);
}

Test(store_ckpt, keep_is_configurable)
{
    kt_persist_cfg c = tstore_cfg();
    kt__store *s;
    kt_ckpt_rec *recs;
    size_t n;
    c.keep = 3;
    cr_assert_eq(kt__store_open(&s, &c, NULL, 0), KT_OK);
    tstore_new_op(s, "op_k", KT_OP_RUNNING);
    for (uint64_t seq = 1; seq <= 6; seq++) {
        cr_assert_eq(tstore_save(s, "op_k", seq, 1, 10), KT_OK);
    }
    cr_assert_eq(kt__store_ckpt_list(s, "op_k", &recs, &n), KT_OK);
    cr_expect_eq(n, 3);
    kt__ckpt_recs_free(recs, n);
    kt__store_close(s);
}

Test(store_ckpt, stale_attempt_is_rejected_and_newer_attempt_fences)
{
    kt__store *s = tstore_open();
    tstore_ev t;
    kt_ckpt_rec r;
    kt_op_rec o;
    tstore_new_op(s, "op_z", KT_OP_RUNNING);
    tstore_ev_init(&t, "op_z", 1, 1, 10);
    t.e.attempt = 2; // the resumed worker
    cr_assert_eq(kt__store_ckpt_save(s, &t.e), KT_OK);
    cr_assert_eq(kt__store_op_get(s, "op_z", &o), KT_OK);
    cr_expect_eq(o.attempt, 2);
    kt__op_rec_fini(&o);
    tstore_ev_fini(&t);
    tstore_ev_init(&t, "op_z", 2, 1, 10);
    t.e.attempt = 1; // the zombie
    cr_expect_eq(kt__store_ckpt_save(s, &t.e), KT_ESTATE);
    cr_expect(strstr(kt__store_errmsg(s), "stale") != NULL);
    cr_expect_not(tstore_exists("checkpoints/op_z/2"));
    cr_assert_eq(kt__store_ckpt_load(s, "op_z", 1, false, &r), KT_OK);
    cr_expect_eq(r.seq, 1);
    cr_expect_eq(r.attempt, 2);
    kt__ckpt_rec_fini(&r);
    tstore_ev_fini(&t);
    kt__store_close(s);
}

Test(store_ckpt, old_seq_rejected_duplicate_seq_acknowledged)
{
    kt__store *s = tstore_open();
    kt_ckpt_rec *recs;
    size_t n;
    tstore_new_op(s, "op_s", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_s", 3, 1, 10), KT_OK);
    cr_expect_eq(tstore_save(s, "op_s", 3, 1, 10), KT_OK, "resent event");
    cr_expect_str_eq(kt__store_errmsg(s), "already stored");
    cr_expect_eq(tstore_save(s, "op_s", 2, 1, 10), KT_ESTATE);
    cr_assert_eq(kt__store_ckpt_list(s, "op_s", &recs, &n), KT_OK);
    cr_expect_eq(n, 1);
    kt__ckpt_recs_free(recs, n);
    kt__store_close(s);
}

Test(store_ckpt, bad_events_are_refused)
{
    kt__store *s = tstore_open();
    tstore_ev t;
    tstore_new_op(s, "op_e", KT_OP_RUNNING);
    cr_expect_eq(tstore_save(s, "op_missing", 1, 0, 0), KT_ENOENT);
    cr_expect_eq(tstore_save(s, "../evil", 1, 0, 0), KT_EINVAL);
    cr_expect_eq(tstore_save(s, "op_e", 0, 0, 0), KT_EINVAL, "seq 0");
    tstore_ev_init(&t, "op_e", 1, 2, 10);
    t.e.format_version = 0;
    cr_expect_eq(kt__store_ckpt_save(s, &t.e), KT_EINVAL);
    t.e.format_version = 1;
    t.e.type = (kt_ckpt_type)9;
    cr_expect_eq(kt__store_ckpt_save(s, &t.e), KT_EINVAL);
    t.e.type = KT_CKPT_FAILURE;
    t.e.unit = "";
    cr_expect_eq(kt__store_ckpt_save(s, &t.e), KT_EINVAL);
    t.e.unit = "bar";
    t.a[1].name = "../../x";
    cr_expect_eq(kt__store_ckpt_save(s, &t.e), KT_EINVAL);
    t.a[1].name = "art0.bin";
    cr_expect_eq(kt__store_ckpt_save(s, &t.e), KT_EINVAL, "duplicate");
    cr_expect(strstr(kt__store_errmsg(s), "duplicate") != NULL);
    t.a[1].name = "art1.bin";
    cr_expect_eq(kt__store_ckpt_save(s, &t.e), KT_OK);
    tstore_ev_fini(&t);
    kt__store_close(s);
}

Test(store_ckpt, completed_operation_refuses_and_lost_its_checkpoints)
{
    kt__store *s = tstore_open();
    kt_ckpt_rec r;
    tstore_new_op(s, "op_c", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_c", 1, 1, 10), KT_OK);
    kt_op_change c = {.id = "op_c", .to = KT_OP_COMPLETED};
    cr_assert_eq(kt__store_op_change(s, &c), KT_OK);
    cr_expect_not(tstore_exists("checkpoints/op_c"));
    cr_expect_eq(kt__store_ckpt_load(s, "op_c", 1, false, &r), KT_ENOENT);
    cr_expect_str_eq(kt__store_errmsg(s),
                     "No checkpoint found for operation op_c");
    cr_expect_eq(tstore_save(s, "op_c", 2, 0, 0), KT_ESTATE);
    kt__store_close(s);
}

Test(store_ckpt, load_falls_back_when_newest_is_damaged)
{
    kt__store *s = tstore_open();
    kt_ckpt_rec r;
    tstore_new_op(s, "op_f", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_f", 1, 2, 64), KT_OK);
    cr_assert_eq(tstore_save(s, "op_f", 2, 2, 64), KT_OK);
    corrupt_file("checkpoints/op_f/2/art1.bin", 10);
    cr_assert_eq(kt__store_ckpt_load(s, "op_f", 1, true, &r), KT_OK);
    cr_expect_eq(r.seq, 1);
    cr_expect_eq(r.skipped, 1);
    cr_expect(strstr(r.note, "fell back to checkpoint 1") != NULL, "%s",
              r.note);
    cr_expect(strstr(r.note, "art1.bin") != NULL, "%s", r.note);
    kt__ckpt_rec_fini(&r);
    kt__store_close(s);
}

Test(store_ckpt, load_detects_missing_truncated_and_all_damaged)
{
    kt__store *s = tstore_open();
    kt_ckpt_rec r;
    char p[512];
    tstore_new_op(s, "op_m", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_m", 1, 1, 64), KT_OK);
    cr_assert_eq(tstore_save(s, "op_m", 2, 1, 64), KT_OK);
    snprintf(p, sizeof(p), "%s/checkpoints/op_m/2/art0.bin", tstore_dir);
    cr_assert_eq(truncate(p, 10), 0);
    snprintf(p, sizeof(p), "%s/checkpoints/op_m/1/art0.bin", tstore_dir);
    cr_assert_eq(unlink(p), 0);
    cr_expect_eq(kt__store_ckpt_load(s, "op_m", 1, false, &r), KT_ECORRUPT);
    cr_expect(strstr(kt__store_errmsg(s), "Checkpoint corrupted") != NULL);
    kt__store_close(s);
}

Test(store_ckpt, load_refuses_other_format_version)
{
    kt__store *s = tstore_open();
    tstore_ev t;
    kt_ckpt_rec r;
    tstore_new_op(s, "op_v", KT_OP_RUNNING);
    tstore_ev_init(&t, "op_v", 1, 0, 0);
    t.e.format_version = 3;
    cr_assert_eq(kt__store_ckpt_save(s, &t.e), KT_OK);
    cr_expect_eq(kt__store_ckpt_load(s, "op_v", 4, false, &r), KT_EVERSION);
    cr_expect(strncmp(kt__store_errmsg(s), "Checkpoint version mismatch", 27) ==
              0);
    cr_assert_eq(kt__store_ckpt_load(s, "op_v", KT_STORE_FORMAT_ANY, false, &r),
                 KT_OK);
    cr_expect_eq(r.format_version, 3);
    kt__ckpt_rec_fini(&r);
    tstore_ev_fini(&t);
    kt__store_close(s);
}

Test(store_ckpt, load_unknown_or_bad_id)
{
    kt__store *s = tstore_open();
    kt_ckpt_rec r;
    cr_expect_eq(kt__store_ckpt_load(s, "op_none", 1, false, &r), KT_ENOENT);
    cr_expect_str_eq(kt__store_errmsg(s),
                     "No checkpoint found for operation op_none");
    cr_expect_eq(kt__store_ckpt_load(s, "a/b", 1, false, &r), KT_EINVAL);
    kt__store_close(s);
}

Test(store_ckpt, delete_op_removes_rows_and_directory)
{
    kt__store *s = tstore_open();
    uint64_t n = 0;
    tstore_new_op(s, "op_d", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_d", 1, 1, 10), KT_OK);
    cr_assert_eq(tstore_save(s, "op_d", 2, 1, 10), KT_OK);
    cr_assert_eq(kt__store_ckpt_delete_op(s, "op_d", &n), KT_OK);
    cr_expect_eq(n, 2);
    cr_expect_not(tstore_exists("checkpoints/op_d"));
    cr_expect_eq(kt__store_ckpt_delete_op(s, "op_d", &n), KT_ENOENT);
    cr_expect_eq(kt__store_ckpt_delete_op(s, "..", &n), KT_EINVAL);
    kt__store_close(s);
}

Test(store_ckpt, stats_count_size_and_oldest)
{
    kt__store *s = tstore_open();
    kt_ckpt_stats st;
    char iso[32];
    cr_assert_eq(kt__store_ckpt_stats(s, &st), KT_OK);
    cr_expect_eq(st.total_checkpoints, 0);
    cr_expect_eq(st.oldest_ms, 0);
    tstore_new_op(s, "op_1", KT_OP_RUNNING);
    tstore_new_op(s, "op_2", KT_OP_RUNNING);
    int64_t first = tstore_clock_ms;
    cr_assert_eq(tstore_save(s, "op_1", 1, 2, 100), KT_OK);
    tstore_clock_ms += 5000;
    cr_assert_eq(tstore_save(s, "op_2", 1, 1, 50), KT_OK);
    cr_assert_eq(kt__store_ckpt_stats(s, &st), KT_OK);
    cr_expect_eq(st.total_checkpoints, 2);
    cr_expect_eq(st.total_size_bytes, 200 + 50 + 2 * strlen("state-1"));
    cr_expect_eq(st.oldest_ms, first);
    kt__store_iso8601(st.oldest_ms, iso);
    cr_expect_str_eq(iso, "2024-12-27T01:58:17Z");
    kt__store_close(s);
}

Test(store_ckpt, cleanup_by_age_keeps_recent)
{
    kt__store *s = tstore_open();
    kt_cleanup_result res;
    kt_ckpt_rec r;
    tstore_new_op(s, "op_old", KT_OP_RUNNING);
    tstore_new_op(s, "op_new", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_old", 1, 1, 10), KT_OK);
    tstore_clock_ms += 20LL * 86400 * 1000;
    cr_assert_eq(tstore_save(s, "op_new", 1, 1, 10), KT_OK);
    tstore_clock_ms += 11LL * 86400 * 1000; // op_old is 31 days old
    cr_assert_eq(kt__store_cleanup(s, 30, &res), KT_OK);
    cr_expect_eq(res.aged, 1);
    cr_expect_eq(kt__store_ckpt_load(s, "op_old", 1, false, &r), KT_ENOENT);
    cr_expect_not(tstore_exists("checkpoints/op_old"));
    cr_assert_eq(kt__store_ckpt_load(s, "op_new", 1, false, &r), KT_OK);
    kt__ckpt_rec_fini(&r);
    cr_assert_eq(kt__store_cleanup(s, 7, &res), KT_OK);
    cr_expect_eq(res.aged, 1);
    kt__store_close(s);
}

Test(store_ckpt, cleanup_removes_orphans_and_stale_temps_only)
{
    kt__store *s = tstore_open();
    kt_cleanup_result res;
    char cmd[1024];
    tstore_new_op(s, "op_live", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_live", 1, 1, 10), KT_OK);
    snprintf(cmd, sizeof(cmd),
             "cd '%s/checkpoints' && mkdir -p op_gone/4 op_live/9 .tmp/x.1.1"
             " 'not ours' && touch op_gone/4/a .tmp/x.1.1/f op_live/README",
             tstore_dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(kt__store_cleanup(s, 0, &res), KT_OK);
    cr_expect_eq(res.aged, 0);
    cr_expect_eq(res.orphan_dirs, 2);
    cr_expect_eq(res.stale_temps, 1);
    cr_expect_not(tstore_exists("checkpoints/op_gone"));
    cr_expect_not(tstore_exists("checkpoints/op_live/9"));
    cr_expect(tstore_exists("checkpoints/op_live/1/art0.bin"));
    cr_expect(tstore_exists("checkpoints/op_live/README"), "not ours");
    cr_expect(tstore_exists("checkpoints/not ours"));
    cr_expect_eq(tstore_count_entries("checkpoints/.tmp"), 0);
    kt__store_close(s);
}

// The fault hook runs mid-save, so cleanup can be called while a save is
// in flight: it must not remove that save's temp dir.
static kt__store *mid_store;
static kt_cleanup_result mid_res;
static int
mid_cleanup(void *arg, kt_persist_fault_op op, const char *path)
{
    (void)arg;
    (void)path;
    if (op == KT_PERSIST_OP_DIRSYNC && mid_store != NULL) {
        kt__store *s = mid_store;
        mid_store = NULL; // once
        cr_assert_eq(kt__store_cleanup(s, 0, &mid_res), KT_OK);
    }
    return 0;
}

Test(store_ckpt, cleanup_never_touches_the_save_in_flight)
{
    kt_persist_cfg c = tstore_cfg();
    kt__store *s;
    kt_ckpt_rec r;
    c.fault = mid_cleanup;
    cr_assert_eq(kt__store_open(&s, &c, NULL, 0), KT_OK);
    tstore_new_op(s, "op_i", KT_OP_RUNNING);
    mid_store = s;
    cr_assert_eq(tstore_save(s, "op_i", 1, 2, 100), KT_OK, "%s",
                 kt__store_errmsg(s));
    cr_expect_null(mid_store, "cleanup ran during the save");
    cr_expect_eq(mid_res.stale_temps, 0);
    cr_assert_eq(kt__store_ckpt_load(s, "op_i", 1, true, &r), KT_OK);
    cr_expect_eq(r.narts, 2);
    kt__ckpt_rec_fini(&r);
    kt__store_close(s);
}

Test(store_ckpt, list_all_operations)
{
    kt__store *s = tstore_open();
    kt_ckpt_rec *recs;
    size_t n;
    tstore_new_op(s, "op_1", KT_OP_RUNNING);
    tstore_new_op(s, "op_2", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_1", 1, 0, 0), KT_OK);
    tstore_clock_ms++;
    cr_assert_eq(tstore_save(s, "op_2", 7, 1, 3), KT_OK);
    cr_assert_eq(kt__store_ckpt_list(s, NULL, &recs, &n), KT_OK);
    cr_assert_eq(n, 2);
    cr_expect_str_eq(recs[0].op_id, "op_2");
    cr_expect_null(recs[0].state, "list carries no state bytes");
    kt__ckpt_recs_free(recs, n);
    cr_expect_eq(kt__store_ckpt_list(s, "x/y", &recs, &n), KT_EINVAL);
    kt__store_close(s);
}
