// Store: fault injection. Every step of the commit protocol (mkdir, open,
// write, fsync, directory fsync, rename, SQLite commit) failing with ENOSPC
// or EIO makes the save fail loudly and loses nothing older.
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

TestSuite(store_fault, .init = setup, .fini = teardown, .timeout = 30.0);

static const int fault_ops[] = {
    KT_PERSIST_OP_MKDIR,     KT_PERSIST_OP_OPEN,    KT_PERSIST_OP_WRITE,
    KT_PERSIST_OP_FSYNC,     KT_PERSIST_OP_DIRSYNC, KT_PERSIST_OP_RENAME,
    KT_PERSIST_OP_DB_COMMIT,
};

// check_previous_intact: seq 1 loads with its bytes, seq 2 left no trace.
static void
check_previous_intact(kt__store *s, const char *op)
{
    kt_ckpt_rec r;
    tstore_ev t;
    char rel[64];

    cr_assert_eq(kt__store_ckpt_load(s, op, 1, true, &r), KT_OK, "%s",
                 kt__store_errmsg(s));
    cr_expect_eq(r.seq, 1);
    cr_expect_eq(r.skipped, 0);
    tstore_ev_init(&t, op, 1, 2, 300);
    cr_assert_eq(r.narts, 2);
    cr_expect_arr_eq(r.arts[0].data, t.bufs[0], 300);
    cr_expect_arr_eq(r.arts[1].data, t.bufs[1], 300);
    tstore_ev_fini(&t);
    kt__ckpt_rec_fini(&r);
    snprintf(rel, sizeof(rel), "checkpoints/%s/2", op);
    cr_expect_not(tstore_exists(rel), "no partial checkpoint visible");
    cr_expect_eq(tstore_count_entries("checkpoints/.tmp"), 0,
                 "temp dir removed");
}

static void
run_fault(int op, int after, int err)
{
    kt__store *s = tstore_open();
    char id[64];
    kt_err rv;

    snprintf(id, sizeof(id), "op_f%d_%d_%d", op, after, err);
    tstore_new_op(s, id, KT_OP_RUNNING);
    tstore_f = (tstore_fault){.op = -1};
    cr_assert_eq(tstore_save(s, id, 1, 2, 300), KT_OK);
    tstore_f = (tstore_fault){.op = op, .after = after, .err = err};
    rv = tstore_save(s, id, 2, 2, 300);
    cr_expect_eq(tstore_f.hits, 1, "op %d after %d was reached", op, after);
    cr_expect_eq(rv, (kt_err)(KT_ESYSERR | err), "op %d after %d: %s", op,
                 after, kt_strerror(rv));
    cr_expect(strstr(kt__store_errmsg(s), "not saved") != NULL ||
                  strstr(kt__store_errmsg(s), "commit failed") != NULL,
              "loud: %s", kt__store_errmsg(s));
    tstore_f = (tstore_fault){.op = -1};
    check_previous_intact(s, id);
    // The store keeps working: the same event succeeds once the disk does.
    cr_expect_eq(tstore_save(s, id, 2, 2, 300), KT_OK, "%s",
                 kt__store_errmsg(s));
    kt__store_close(s);
}

Test(store_fault, every_step_failing_with_enospc_keeps_previous)
{
    for (size_t i = 0; i < sizeof(fault_ops) / sizeof(fault_ops[0]); i++) {
        run_fault(fault_ops[i], 0, ENOSPC);
    }
}

Test(store_fault, every_step_failing_with_eio_keeps_previous)
{
    for (size_t i = 0; i < sizeof(fault_ops) / sizeof(fault_ops[0]); i++) {
        run_fault(fault_ops[i], 0, EIO);
    }
}

Test(store_fault, second_artifact_failing_keeps_previous)
{
    run_fault(KT_PERSIST_OP_WRITE, 1, ENOSPC);
    run_fault(KT_PERSIST_OP_FSYNC, 1, EIO);
    run_fault(KT_PERSIST_OP_OPEN, 1, ENOSPC);
    // The second directory fsync is the parent's, after the rename.
    run_fault(KT_PERSIST_OP_DIRSYNC, 1, EIO);
}

Test(store_fault, failing_prune_still_acknowledges_and_cleanup_finishes_it)
{
    kt__store *s = tstore_open();
    kt_cleanup_result res;
    kt_ckpt_rec *recs;
    size_t n;
    tstore_new_op(s, "op_p", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_p", 1, 1, 10), KT_OK);
    cr_assert_eq(tstore_save(s, "op_p", 2, 1, 10), KT_OK);
    // Saving seq 3 prunes seq 1; its directory goes after the ack
    // (kt__store_ckpt_finish): make that rm fail (a save's two unlinks are
    // its temp-dir pre-clean and the stale final dir).
    tstore_f =
        (tstore_fault){.op = KT_PERSIST_OP_UNLINK, .after = 2, .err = EIO};
    cr_expect_eq(tstore_save(s, "op_p", 3, 1, 10), KT_OK);
    cr_expect_eq(tstore_f.hits, 0, "the pruned directory waits for finish");
    cr_expect(tstore_exists("checkpoints/op_p/1"));
    kt__store_ckpt_finish(s);
    cr_expect_eq(tstore_f.hits, 1);
    tstore_f = (tstore_fault){.op = -1};
    cr_assert_eq(kt__store_ckpt_list(s, "op_p", &recs, &n), KT_OK);
    cr_expect_eq(n, 2);
    kt__ckpt_recs_free(recs, n);
    cr_expect(tstore_exists("checkpoints/op_p/1"), "left as an orphan");
    cr_assert_eq(kt__store_cleanup(s, 0, &res), KT_OK);
    cr_expect_eq(res.orphan_dirs, 1);
    cr_expect_not(tstore_exists("checkpoints/op_p/1"));
    cr_expect(tstore_exists("checkpoints/op_p/3"));
    kt__store_close(s);
}

Test(store_fault, failed_transition_commit_changes_nothing)
{
    kt__store *s = tstore_open();
    kt_op_rec r;
    tstore_new_op(s, "op_t", KT_OP_RUNNING);
    tstore_f = (tstore_fault){.op = KT_PERSIST_OP_DB_COMMIT, .err = EIO};
    kt_op_change c = {.id = "op_t", .to = KT_OP_FAILED, .error = "boom"};
    cr_expect_eq(kt__store_op_change(s, &c), (kt_err)(KT_ESYSERR | EIO));
    tstore_f = (tstore_fault){.op = -1};
    cr_assert_eq(kt__store_op_get(s, "op_t", &r), KT_OK);
    cr_expect_eq(r.status, KT_OP_RUNNING);
    kt__op_rec_fini(&r);
    kt__store_close(s);
}

Test(store_fault, failed_delete_commit_keeps_checkpoints)
{
    kt__store *s = tstore_open();
    kt_ckpt_rec r;
    uint64_t n = 0;
    tstore_new_op(s, "op_d", KT_OP_RUNNING);
    cr_assert_eq(tstore_save(s, "op_d", 1, 2, 300), KT_OK);
    tstore_f = (tstore_fault){.op = KT_PERSIST_OP_DB_COMMIT, .err = ENOSPC};
    cr_expect_neq(kt__store_ckpt_delete_op(s, "op_d", &n), KT_OK);
    tstore_f = (tstore_fault){.op = -1};
    cr_assert_eq(kt__store_ckpt_load(s, "op_d", 1, true, &r), KT_OK);
    kt__ckpt_rec_fini(&r);
    kt__store_close(s);
}
