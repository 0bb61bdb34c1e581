// test_store_util.h: helpers shared by the store tests: a temp data dir, a
// controllable clock and a fault hook that fails the n-th call of one step.
#ifndef KT_TESTS_TEST_STORE_UTIL_H
#define KT_TESTS_TEST_STORE_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "persistence/store.h"

typedef struct tstore_fault {
    int op;    // kt_persist_fault_op to fail, -1 = none
    int after; // calls of that op to let through first
    int err;   // errno to inject
    int seen;  // calls of that op so far
    int hits;  // injections done
} tstore_fault;

static int64_t tstore_clock_ms = 1735264697000; // 2024-12-27T01:58:17Z
static tstore_fault tstore_f = {.op = -1};
static char tstore_dir[256];
// Inline threshold of tstore_open's stores: files unless a test says so.
static int64_t tstore_inline_max = -1;
static bool tstore_inline_terminal;

static inline int64_t
tstore_now(void *arg)
{
    (void)arg;
    return tstore_clock_ms;
}

static inline int
tstore_fault_cb(void *arg, kt_persist_fault_op op, const char *path)
{
    tstore_fault *f = arg;
    (void)path;
    if ((int)op != f->op) {
        return 0;
    }
    if (f->seen++ < f->after) {
        return 0;
    }
    f->hits++;
    return f->err;
}

static inline kt_persist_cfg
tstore_cfg(void)
{
    kt_persist_cfg c = {.data_dir = tstore_dir,
                        .now_ms = tstore_now,
                        .fault = tstore_fault_cb,
                        .fault_arg = &tstore_f,
                        .inline_max_bytes = tstore_inline_max,
                        .inline_terminal = tstore_inline_terminal};
    return c;
}

static inline void
tstore_mkdir(void)
{
    snprintf(tstore_dir, sizeof(tstore_dir), "/tmp/kt_store_XXXXXX");
    cr_assert_not_null(mkdtemp(tstore_dir));
}

static inline void
tstore_rmdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tstore_dir);
    cr_assert_eq(system(cmd), 0);
}

static inline kt__store *
tstore_open(void)
{
    kt_persist_cfg c = tstore_cfg();
    kt__store *s = NULL;
    char err[256] = "";
    cr_assert_eq(kt__store_open(&s, &c, err, sizeof(err)), KT_OK, "%s", err);
    return s;
}

static inline void
tstore_new_op(kt__store *s, const char *id, kt_op_status to)
{
    kt_op_new n = {.id = id, .type = "training"};
    cr_assert_eq(kt__store_op_create(s, &n), KT_OK, "%s", kt__store_errmsg(s));
    if (to == KT_OP_RUNNING) {
        kt_op_change c = {.id = id, .to = KT_OP_RUNNING};
        cr_assert_eq(kt__store_op_change(s, &c), KT_OK);
    }
}

// tstore_event: a checkpoint with nart artifacts of len bytes each, the
// bytes derived from seq so every checkpoint differs.
typedef struct tstore_ev {
    kt_ckpt_event e;
    kt_ckpt_artifact a[4];
    char names[4][16];
    uint8_t *bufs[4];
    char state[32];
} tstore_ev;

static inline void
tstore_ev_init(tstore_ev *t, const char *op, uint64_t seq, size_t nart,
               size_t len)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->state, sizeof(t->state), "state-%llu", (unsigned long long)seq);
    for (size_t i = 0; i < nart && i < 4; i++) {
        snprintf(t->names[i], sizeof(t->names[i]), "art%zu.bin", i);
        t->bufs[i] = malloc(len + 1);
        for (size_t j = 0; j < len; j++) {
            t->bufs[i][j] = (uint8_t)(seq * 31 + i * 7 + j);
        }
        t->a[i] = (kt_ckpt_artifact){
            .name = t->names[i], .data = t->bufs[i], .len = len};
    }
    t->e = (kt_ckpt_event){.op_id = op,
                           .attempt = 1,
                           .seq = seq,
                           .type = KT_CKPT_PERIODIC,
                           .unit = "epoch",
                           .unit_value = (int64_t)seq * 5,
                           .state = (const uint8_t *)t->state,
                           .state_len = strlen(t->state),
                           .artifacts = t->a,
                           .nartifacts = nart,
                           .format_version = 1};
}

static inline void
tstore_ev_fini(tstore_ev *t)
{
    for (int i = 0; i < 4; i++) {
        free(t->bufs[i]);
    }
}

static inline kt_err
tstore_save(kt__store *s, const char *op, uint64_t seq, size_t nart, size_t len)
{
    tstore_ev t;
    kt_err rv;
    tstore_ev_init(&t, op, seq, nart, len);
    rv = kt__store_ckpt_save(s, &t.e);
    tstore_ev_fini(&t);
    return rv;
}

// tstore_exists: does data_dir/rel exist?
static inline int
tstore_exists(const char *rel)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", tstore_dir, rel);
    return stat(p, &st) == 0;
}

static inline int
tstore_count_entries(const char *sub)
{
    char cmd[512];
    int n = -1;
    snprintf(cmd, sizeof(cmd), "ls -A '%s/%s' 2>/dev/null | wc -l", tstore_dir,
             sub);
    FILE *p = popen(cmd, "r");
    if (p != NULL) {
        if (fscanf(p, "%d", &n) != 1) {
            n = -1;
        }
        pclose(p);
    }
    return n;
}

#endif // KT_TESTS_TEST_STORE_UTIL_H
