// sup_fixture.h: what the supervision tests share (header-only, on top of
// ops_fixture.h's strategy, data and asks): a backend in this process whose
// operations run in real `ktrdr worker` processes it spawns and
// supervises, or a backend in its own process (kt-sup-backend) that a
// test can SIGKILL and start again; helpers to find the worker running an
// operation, wait on conditions with deadlines, and read model weights
// (the other processes' helpers: sup_proc.h, included below).
#ifndef KT_TESTS_SUP_FIXTURE_H
#define KT_TESTS_SUP_FIXTURE_H

#include <ktpb/v1/workers.pb-c.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "domain/mlp.h"
#include "domain/model.h"
#include "ops_fixture.h"
#include "supervisor/pool.h"
#include "supervisor/supervisor.h"

#define SF_KTRDR   KT_BINARY_DIR "/cli/ktrdr"
#define SF_BACKEND KT_BINARY_DIR "/tools/bench/recovery/kt-sup-backend"

typedef struct sf {
    fx f;              // dir, strat, b, rt, ops (ops: local actor or proxy)
    kt_supervision *s; // in-process backend
    kt_aid reg, sup;
    char url[160];
    pid_t backend;   // out-of-process backend (0 = none)
    kt_runtime *crt; // the test's own runtime for a remote backend
} sf;

static inline void
sf_prepare(sf *t)
{
    FILE *fp;

    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->f.g.mu, NULL);
    pthread_cond_init(&t->f.g.cv, NULL);
    t->f.g.at = -1;
    snprintf(t->f.dir, sizeof(t->f.dir), "/tmp/kt-sup-XXXXXX");
    cr_assert_not_null(mkdtemp(t->f.dir));
    snprintf(t->f.strat, sizeof(t->f.strat), "%s/ops_test.yaml", t->f.dir);
    cr_assert_not_null(fp = fopen(t->f.strat, "w"));
    fputs(fx_yaml, fp);
    cr_assert_eq(fclose(fp), 0);
    fx_write_data(&t->f, "AAPL", "2024-01-01", "2024-04-30");
    snprintf(t->url, sizeof(t->url), "ipc://%s/b.sock", t->f.dir);
}

// sf_open: an in-process backend, n local worker processes.
static inline void
sf_open(sf *t, uint32_t n, const kt_restart_policy *pol, uint32_t hb_ms)
{
    kt_backend_cfg bc = {.data_dir = t->f.dir, .threads = 2};
    kt_supervision_cfg sc = {0};
    static const char *const wargs[] = {NULL};

    bc.ops.use_workers = true;
    bc.ops.train_batches = 4;
    bc.ops.bt_bars = 20;
    bc.ops.ask_timeout_ms = 10000;
    cr_assert_eq(kt_backend_open(&bc, &t->f.b), KT_OK);
    t->f.rt = kt_backend_runtime(t->f.b);
    t->f.ops = kt_backend_ops(t->f.b);
    cr_assert_eq(kt_runtime_listen(t->f.rt, t->url), KT_OK);
    sc.registry.heartbeat_ms = hb_ms;
    sc.registry.heartbeat_misses = 3;
    sc.registry.dispatch_timeout_ms = 15000;
    sc.sup.policy = *pol;
    sc.sup.policy_set = true;
    sc.sup.reclaim_grace_ms = 2000;
    sc.sup.seed = 42;
    sc.sup.data_dir = t->f.dir;
    sc.sup.local_workers = n;
    sc.sup.worker_exe = SF_KTRDR;
    sc.sup.backend_url = t->url;
    sc.sup.worker_args = wargs;
    cr_assert_eq(kt_supervision_start(t->f.rt, &sc, &t->s), KT_OK);
    t->reg = kt_supervision_registry(t->s);
    t->sup = kt_supervision_supervisor(t->s);
}

// sf_rm_rf removes a temporary tree (our own: ops_fixture's fx_rm_rf
// trips -Wformat-truncation when inlined here).
static inline void
sf_rm_rf(const char *path)
{
    char sub[4096];
    struct dirent *e;
    struct stat st;
    DIR *d;

    if (lstat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
                (size_t)snprintf(sub, sizeof(sub), "%.3800s/%.255s", path,
                                 e->d_name) >= sizeof(sub)) {
                continue;
            }
            sf_rm_rf(sub);
        }
        (void)closedir(d);
    }
    (void)remove(path);
}

// sf_kill_workers: workers whose backend was killed wait for the next one
// (up to 10 min, by design); a test leaves none behind, and none holds
// ctest's output pipe open.
static inline void
sf_kill_workers(const sf *t)
{
    char cmd[600];

    if (t->url[0] != '\0' &&
        (size_t)snprintf(cmd, sizeof(cmd),
                         "pkill -KILL -f -- 'worker --connect %s ' "
                         "2>/dev/null",
                         t->url) < sizeof(cmd)) {
        (void)system(cmd); // 1 = none left: fine
    }
}

static inline void
sf_close(sf *t)
{
    kt_supervision_quiesce(t->s); // supervisor.h: the stopping order
    if (t->f.b != NULL) {
        kt_backend_close(t->f.b);
        t->f.b = NULL;
    }
    if (t->s != NULL) {
        kt_supervision_close(t->s, false);
        t->s = NULL;
    }
    if (t->backend > 0) {
        (void)kill(t->backend, SIGKILL);
        (void)waitpid(t->backend, NULL, 0);
        t->backend = 0;
    }
    if (t->crt != NULL) {
        kt_runtime_stop(t->crt);
        t->crt = NULL;
    }
    sf_kill_workers(t);
    sf_rm_rf(t->f.dir);
}

static inline int64_t
sf_ms(void)
{
    return kt_mono_ns() / 1000000;
}

// sf_ask_to sends m to `to` (an actor of the backend) and returns the
// reply message (caller frees).
static inline kt_msg *
sf_ask_to(sf *t, kt_aid to, uint32_t type, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    kt_msg *req, *rep = NULL;

    cr_assert_eq(kt_msg_alloc(&req, type, n), KT_OK);
    protobuf_c_message_pack(m, kt_msg_body(req));
    cr_assert_eq(kt_runtime_ask(t->f.rt, to, req, FX_TIMEOUT_MS, &rep), KT_OK,
                 "no reply to request %u", type);
    return rep;
}

static inline Ktpb__V1__SupervisorStatusReply *
sf_sup_status(sf *t)
{
    Ktpb__V1__SupervisorStatusRequest q;
    Ktpb__V1__SupervisorStatusReply *r;
    kt_msg *rep;

    ktpb__v1__supervisor_status_request__init(&q);
    rep = sf_ask_to(t, t->sup, KT_SUP_STATUS, &q.base);
    cr_assert_eq(kt_msg_type(rep), KT_SUP_STATUS_REPLY);
    r = ktpb__v1__supervisor_status_reply__unpack(NULL, kt_msg_len(rep),
                                                  kt_msg_body(rep));
    kt_msg_free(rep);
    cr_assert_not_null(r);
    return r;
}

static inline Ktpb__V1__RegistryListReply *
sf_workers(sf *t)
{
    Ktpb__V1__RegistryListRequest q;
    Ktpb__V1__RegistryListReply *r;
    kt_msg *rep;

    ktpb__v1__registry_list_request__init(&q);
    rep = sf_ask_to(t, t->reg, KT_WK_LIST, &q.base);
    cr_assert_eq(kt_msg_type(rep), KT_WK_LIST_REPLY);
    r = ktpb__v1__registry_list_reply__unpack(NULL, kt_msg_len(rep),
                                              kt_msg_body(rep));
    kt_msg_free(rep);
    cr_assert_not_null(r);
    return r;
}

static inline size_t
sf_nworkers(sf *t)
{
    Ktpb__V1__RegistryListReply *r = sf_workers(t);
    size_t n = r->n_workers;

    ktpb__v1__registry_list_reply__free_unpacked(r, NULL);
    return n;
}

static inline bool
sf_wait_workers(sf *t, size_t n, int ms)
{
    int64_t end = sf_ms() + ms;

    while (sf_nworkers(t) < n) {
        if (sf_ms() > end) {
            return false;
        }
        usleep(5000);
    }
    return true;
}

// sf_slot_of: the local slot running op_id (-1 = none), from the
// registry's list ("local-<backend pid>-<slot>").
static inline int
sf_slot_of(sf *t, const char *op_id)
{
    Ktpb__V1__RegistryListReply *r = sf_workers(t);
    int slot = -1;

    for (size_t i = 0; i < r->n_workers && slot < 0; i++) {
        for (size_t k = 0; k < r->workers[i]->n_ops; k++) {
            const char *dash = strrchr(r->workers[i]->worker_id, '-');
            if (strcmp(r->workers[i]->ops[k]->op_id, op_id) == 0 &&
                dash != NULL) {
                slot = atoi(dash + 1);
            }
        }
    }
    ktpb__v1__registry_list_reply__free_unpacked(r, NULL);
    return slot;
}

// sf_get: OpsGet that survives a backend restart: a request lost with a
// killed backend is asked again (GET is idempotent).
static inline Ktpb__V1__OpsReply *
sf_get(sf *t, const char *id)
{
    Ktpb__V1__OpsGetRequest g;
    int64_t end = sf_ms() + FX_TIMEOUT_MS;

    ktpb__v1__ops_get_request__init(&g);
    g.id = FX_S(id);
    for (;;) {
        size_t n = ktpb__v1__ops_get_request__get_packed_size(&g);
        kt_msg *req, *rep = NULL;
        kt_err err;
        cr_assert_eq(kt_msg_alloc(&req, KT_OPS_GET, n), KT_OK);
        ktpb__v1__ops_get_request__pack(&g, kt_msg_body(req));
        if ((err = kt_runtime_ask(t->f.rt, t->f.ops, req, 2000, &rep)) ==
            KT_OK) {
            Ktpb__V1__OpsReply *r = ktpb__v1__ops_reply__unpack(
                NULL, kt_msg_len(rep), kt_msg_body(rep));
            kt_msg_free(rep);
            cr_assert_not_null(r);
            return r;
        }
        if (err != KT_ETIMEDOUT) {
            kt_msg_free(req);
        }
        if (sf_ms() >= end && t->backend > 0 && getenv("KT_SF_GDB")) {
            char cmd[400];
            snprintf(cmd, sizeof(cmd),
                     "gdb -p %d -batch -ex 'thread apply all bt' -ex "
                     "'p *rt_list->remotes' -ex "
                     "'p *rt_list->remotes->in.held' -ex "
                     "'p rt_list->remotes->in.held_to' >&2 2>/dev/null",
                     (int)t->backend);
            (void)system(cmd);
        }
        cr_assert_lt(sf_ms(), end, "no reply to OpsGet %s", id);
    }
}

static inline Ktpb__V1__OpStatus
sf_status(sf *t, const char *id)
{
    Ktpb__V1__OpsReply *r = sf_get(t, id);
    Ktpb__V1__OpStatus st = r->status == 0 && r->op ? r->op->status : 0;

    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    return st;
}

static inline bool
sf_wait_status(sf *t, const char *id, Ktpb__V1__OpStatus want, int ms)
{
    int64_t end = sf_ms() + ms;

    for (;;) {
        Ktpb__V1__OpsReply *r = sf_get(t, id);
        bool ok = r->status == 0 && r->op != NULL && r->op->status == want;
        ktpb__v1__ops_reply__free_unpacked(r, NULL);
        if (ok) {
            return true;
        }
        if (sf_ms() > end) {
            return false;
        }
        usleep(5000);
    }
}

// sf_record: the operation record (caller frees the reply).
static inline Ktpb__V1__OperationRecord *
sf_record(sf *t, const char *id, Ktpb__V1__OpsReply **keep)
{
    *keep = sf_get(t, id);
    cr_assert_eq((*keep)->status, 0, "%s", (*keep)->message);
    cr_assert_not_null((*keep)->op);
    return (*keep)->op;
}

// sf_wait_ckpt waits until op id has a checkpoint at unit value >= v while
// running.
static inline bool
sf_wait_ckpt(sf *t, const char *id, int64_t v, int ms)
{
    int64_t end = sf_ms() + ms;

    for (;;) {
        Ktpb__V1__OpsReply *keep;
        Ktpb__V1__OperationRecord *op = sf_record(t, id, &keep);
        bool ok = op->checkpoint_seq > 0 && op->checkpoint_unit_value >= v &&
                  op->status == KTPB__V1__OP_STATUS__OP_RUNNING;
        ktpb__v1__ops_reply__free_unpacked(keep, NULL);
        if (ok) {
            return true;
        }
        if (sf_ms() > end) {
            return false;
        }
        usleep(2000);
    }
}

// sf_params: the weights of the model a completed training op saved.
static inline float *
sf_params(sf *t, const char *id, size_t *n)
{
    Ktpb__V1__OpsResultsReply *r = fx_results(&t->f, id, false, false);
    kt_model *m;
    char err[256];
    float *p;

    cr_assert_eq(r->status, 0, "%s", r->message);
    cr_assert_not_null(r->training);
    cr_assert_eq(kt_model_load(r->training->model_path, &m, err, sizeof(err)),
                 KT_OK, "%s", err);
    *n = kt_mlp_n_params(kt_model_mlp(m));
    p = malloc(*n * sizeof(float));
    memcpy(p, kt_mlp_params_const(kt_model_mlp(m)), *n * sizeof(float));
    kt_model_free(m);
    ktpb__v1__ops_results_reply__free_unpacked(r, NULL);
    return p;
}

static inline void
sf_same_weights(sf *t, const char *a, const char *b)
{
    size_t na, nb;
    float *pa = sf_params(t, a, &na), *pb = sf_params(t, b, &nb);

    cr_assert_eq(na, nb);
    cr_assert(memcmp(pa, pb, na * sizeof(float)) == 0,
              "weights of %s and %s differ", a, b);
    free(pa);
    free(pb);
}

#include "sup_proc.h" // processes: workers, kt-sup-backend

// sf_model: trains a small model to completion and returns its path.
static inline char *
sf_model(sf *t, uint32_t epochs)
{
    char *id = fx_train_ok(&t->f, epochs, 0, -1), *path;
    Ktpb__V1__OpsResultsReply *r;

    cr_assert(
        fx_wait_status(&t->f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, 30000));
    r = fx_results(&t->f, id, false, false);
    cr_assert_not_null(r->training);
    path = strdup(r->training->model_path);
    ktpb__v1__ops_results_reply__free_unpacked(r, NULL);
    free(id);
    return path;
}

static inline char *
sf_backtest_ok(sf *t, const char *model, uint32_t freq)
{
    Ktpb__V1__StartBacktestRequest rq;
    Ktpb__V1__OpsReply *r;
    char *id;

    ktpb__v1__start_backtest_request__init(&rq);
    rq.strategy_path = t->f.strat;
    rq.model_path = FX_S(model);
    rq.symbol = FX_S("AAPL");
    rq.timeframe = FX_S("1h");
    rq.start_date = FX_S("2024-01-01");
    rq.end_date = FX_S("2024-04-30");
    rq.checkpoint_frequency = freq;
    r = fx_ask_op(&t->f, KT_OPS_START_BACKTEST, &rq.base);
    cr_assert_eq(r->status, 0, "backtest start: %s", r->message);
    id = strdup(r->op->id);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    return id;
}

// sf_same_trades: identical trade lists and metrics (packed bytes).
static inline void
sf_same_trades(sf *t, const char *a, const char *b)
{
    Ktpb__V1__OpsResultsReply *ra = fx_results(&t->f, a, true, true);
    Ktpb__V1__OpsResultsReply *rb = fx_results(&t->f, b, true, true);
    uint8_t *pa, *pb;
    size_t na, nb;

    cr_assert_eq(ra->status, 0, "%s", ra->message);
    cr_assert_eq(rb->status, 0, "%s", rb->message);
    cr_assert(ra->trades != NULL && rb->trades != NULL && ra->backtest &&
              rb->backtest);
    cr_assert_gt(ra->trades->n_trades, 0, "a backtest with no trades");
    na = ktpb__v1__backtest_trades__get_packed_size(ra->trades);
    nb = ktpb__v1__backtest_trades__get_packed_size(rb->trades);
    cr_assert_eq(na, nb, "trade lists differ in size");
    pa = malloc(na);
    pb = malloc(nb);
    ktpb__v1__backtest_trades__pack(ra->trades, pa);
    ktpb__v1__backtest_trades__pack(rb->trades, pb);
    cr_assert(memcmp(pa, pb, na) == 0, "trades of %s and %s differ", a, b);
    free(pa);
    free(pb);
    na = ktpb__v1__backtest_metrics__get_packed_size(ra->backtest->metrics);
    nb = ktpb__v1__backtest_metrics__get_packed_size(rb->backtest->metrics);
    cr_assert_eq(na, nb);
    pa = malloc(na);
    pb = malloc(nb);
    ktpb__v1__backtest_metrics__pack(ra->backtest->metrics, pa);
    ktpb__v1__backtest_metrics__pack(rb->backtest->metrics, pb);
    cr_assert(memcmp(pa, pb, na) == 0, "metrics differ");
    free(pa);
    free(pb);
    ktpb__v1__ops_results_reply__free_unpacked(ra, NULL);
    ktpb__v1__ops_results_reply__free_unpacked(rb, NULL);
}

#endif // KT_TESTS_SUP_FIXTURE_H
