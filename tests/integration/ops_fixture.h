// ops_fixture.h: what the operations tests share (header-only, static
// inline, so each test binary stays one file): a temporary data directory
// with a small strategy and generated AAPL 1h bars, a backend over it, a
// gate hook that holds a worker at a chosen epoch / bar (or fails it
// there), and synchronous asks to the operations actor.
#ifndef KT_TESTS_OPS_FIXTURE_H
#define KT_TESTS_OPS_FIXTURE_H

#include <dirent.h>
#include <ktpb/v1/ops.pb-c.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <kt/kt.h>

#include "domain/ohlcv.h"
#include "domain/synth.h"
#include "operations/backend.h"

#define FX_TIMEOUT_MS 20000
#define FX_S(s)       ((char *)(uintptr_t)(s))

static const char fx_yaml[] =
    "name: ops_test\n"
    "training_data:\n"
    "  symbols: {mode: single, symbol: AAPL}\n"
    "  timeframes: {mode: single, timeframe: 1h}\n"
    "indicators:\n"
    "  rsi_14: {type: rsi}\n"
    "  roc_5: {type: roc, period: 5}\n"
    "fuzzy_sets:\n"
    "  rsi:\n"
    "    indicator: rsi_14\n"
    "    low: [0, 30, 50]\n"
    "    high: [50, 70, 100]\n"
    "  roc:\n"
    "    indicator: roc_5\n"
    "    down: [-5, -1, 0]\n"
    "    up: [0, 1, 5]\n"
    "nn_inputs:\n"
    "  - fuzzy_set: rsi\n"
    "  - fuzzy_set: roc\n"
    "model:\n"
    "  type: mlp\n"
    "  architecture:\n"
    "    hidden_layers: [16, 8]\n"
    "    activation: relu\n"
    "    dropout: 0.2\n"
    "decisions:\n"
    "  confidence_threshold: 0.4\n"
    "  filters: {min_signal_separation: 0}\n"
    "training:\n"
    "  labels: {source: zigzag, zigzag_threshold: 0.01}\n"
    "  epochs: 12\n"
    "  batch_size: 32\n"
    "  learning_rate: 0.005\n"
    "  seed: 7\n";

// The gate: holds the worker that reaches unit/at until released, or
// fails it there with fail_rv.
typedef struct fx_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char unit[8];
    int64_t at; // -1 = no gate
    bool fail;  // fail instead of holding
    kt_err fail_rv;
    bool reached, released;
    bool brake;     // hold the next call up to 100 ms (a late cancel lands)
    int64_t last;   // last value seen
    int64_t at_was; // the gate's value before its release
    int calls;
} fx_gate;

typedef struct fx {
    char dir[128];
    char strat[256];
    kt_backend *b;
    kt_runtime *rt;
    kt_aid ops;
    fx_gate g;
} fx;

static inline kt_err
fx_hook(void *arg, const char *op_id, const char *unit, int64_t value)
{
    fx_gate *g = arg;
    struct timespec dl;
    kt_err rv = KT_OK;

    (void)op_id;
    (void)clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 15;
    pthread_mutex_lock(&g->mu);
    if (strcmp(unit, g->unit) != 0) {
        pthread_mutex_unlock(&g->mu);
        return KT_OK; // "loaded", "restored"
    }
    g->last = value;
    g->calls++;
    if (g->brake && g->reached && value > g->at_was) {
        // A cancel sent while the gate held is normally seen before the
        // next slice; if its frame was still in flight, this gives it
        // time to arrive, so it lands one unit later at the latest.
        struct timespec b;
        (void)clock_gettime(CLOCK_REALTIME, &b);
        b.tv_nsec += 100 * 1000000L;
        if (b.tv_nsec >= 1000000000L) {
            b.tv_sec++;
            b.tv_nsec -= 1000000000L;
        }
        g->brake = false;
        (void)pthread_cond_timedwait(&g->cv, &g->mu, &b);
    }
    if (g->at >= 0 && strcmp(unit, g->unit) == 0 && value >= g->at &&
        !g->reached) {
        g->reached = true;
        pthread_cond_broadcast(&g->cv);
        if (g->fail) {
            rv = g->fail_rv;
        } else {
            while (!g->released &&
                   pthread_cond_timedwait(&g->cv, &g->mu, &dl) == 0) {
            }
        }
    }
    pthread_mutex_unlock(&g->mu);
    return rv;
}

static inline void
fx_gate_set(fx *f, const char *unit, int64_t at, bool fail)
{
    pthread_mutex_lock(&f->g.mu);
    snprintf(f->g.unit, sizeof(f->g.unit), "%s", unit);
    f->g.at = at;
    f->g.fail = fail;
    f->g.fail_rv = KT_EINVAL;
    f->g.reached = false;
    f->g.released = false;
    f->g.brake = false;
    pthread_mutex_unlock(&f->g.mu);
}

static inline bool
fx_gate_wait(fx *f)
{
    struct timespec dl;
    bool ok;

    (void)clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 15;
    pthread_mutex_lock(&f->g.mu);
    while (!f->g.reached &&
           pthread_cond_timedwait(&f->g.cv, &f->g.mu, &dl) == 0) {
    }
    ok = f->g.reached;
    pthread_mutex_unlock(&f->g.mu);
    return ok;
}

static inline void
fx_gate_release(fx *f)
{
    pthread_mutex_lock(&f->g.mu);
    f->g.released = true;
    f->g.at_was = f->g.at;
    f->g.at = -1;
    pthread_cond_broadcast(&f->g.cv);
    pthread_mutex_unlock(&f->g.mu);
}

static inline void
fx_write_data(fx *f, const char *symbol, const char *start, const char *end)
{
    kt_synth_cfg sc = {.symbol = symbol, .timeframe = "1h"};
    char path[256], err[256];
    kt_ohlcv *bars;

    cr_assert_eq(kt_date_range_parse(start, end, &sc.start, &sc.end), KT_OK);
    cr_assert_eq(kt_synth_generate(&sc, &bars, err, sizeof(err)), KT_OK, "%s",
                 err);
    snprintf(path, sizeof(path), "%s/%s_1h.csv", f->dir, symbol);
    cr_assert_eq(kt_ohlcv_write(bars, path, err, sizeof(err)), KT_OK, "%s",
                 err);
    kt_ohlcv_free(bars);
}

static inline void
fx_open(fx *f, uint32_t train_batches, uint32_t bt_bars)
{
    kt_backend_cfg bc = {.data_dir = f->dir, .threads = 2};

    bc.ops.hook = fx_hook;
    bc.ops.hook_arg = &f->g;
    bc.ops.train_batches = train_batches;
    bc.ops.bt_bars = bt_bars;
    bc.ops.ask_timeout_ms = 10000;
    cr_assert_eq(kt_backend_open(&bc, &f->b), KT_OK);
    f->rt = kt_backend_runtime(f->b);
    f->ops = kt_backend_ops(f->b);
}

static inline void
fx_setup(fx *f)
{
    FILE *fp;

    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->g.mu, NULL);
    pthread_cond_init(&f->g.cv, NULL);
    f->g.at = -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/kt-ops-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    snprintf(f->strat, sizeof(f->strat), "%s/ops_test.yaml", f->dir);
    cr_assert_not_null(fp = fopen(f->strat, "w"));
    fputs(fx_yaml, fp);
    cr_assert_eq(fclose(fp), 0);
    fx_write_data(f, "AAPL", "2024-01-01", "2024-04-30");
    fx_open(f, 4, 20);
}

static inline void
fx_rm_rf(const char *path)
{
    struct stat st;
    struct dirent *e;
    char sub[1024];
    DIR *d;

    if (lstat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
                fx_rm_rf(sub);
            }
        }
        (void)closedir(d);
    }
    (void)remove(path);
}

static inline void
fx_teardown(fx *f)
{
    fx_gate_release(f);
    kt_backend_close(f->b);
    f->b = NULL;
    fx_rm_rf(f->dir);
}

// fx_ask sends m as `type` to the operations actor and returns the reply.
static inline kt_msg *
fx_ask(fx *f, uint32_t type, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    kt_msg *req, *rep = NULL;

    cr_assert_eq(kt_msg_alloc(&req, type, n), KT_OK);
    protobuf_c_message_pack(m, kt_msg_body(req));
    cr_assert_eq(kt_runtime_ask(f->rt, f->ops, req, FX_TIMEOUT_MS, &rep), KT_OK,
                 "no reply to request %u", type);
    return rep;
}

static inline void
fx_send(fx *f, uint32_t type, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    kt_msg *req;

    cr_assert_eq(kt_msg_alloc(&req, type, n), KT_OK);
    protobuf_c_message_pack(m, kt_msg_body(req));
    cr_assert_eq(kt_runtime_send(f->rt, f->ops, req), KT_OK);
}

static inline Ktpb__V1__OpsReply *
fx_ask_op(fx *f, uint32_t type, const ProtobufCMessage *m)
{
    kt_msg *rep = fx_ask(f, type, m);
    Ktpb__V1__OpsReply *r;

    cr_assert_eq(kt_msg_type(rep), KT_OPS_REPLY);
    r = ktpb__v1__ops_reply__unpack(NULL, kt_msg_len(rep), kt_msg_body(rep));
    kt_msg_free(rep);
    cr_assert_not_null(r);
    return r;
}

static inline Ktpb__V1__OpsReply *
fx_get(fx *f, const char *id)
{
    Ktpb__V1__OpsGetRequest g;

    ktpb__v1__ops_get_request__init(&g);
    g.id = FX_S(id);
    return fx_ask_op(f, KT_OPS_GET, &g.base);
}

static inline Ktpb__V1__OpStatus
fx_status(fx *f, const char *id)
{
    Ktpb__V1__OpsReply *r = fx_get(f, id);
    Ktpb__V1__OpStatus st = r->status == 0 && r->op ? r->op->status : 0;

    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    return st;
}

static inline bool
fx_wait_status(fx *f, const char *id, Ktpb__V1__OpStatus want, int ms)
{
    for (int i = 0; i < ms / 5; i++) {
        if (fx_status(f, id) == want) {
            return true;
        }
        usleep(5000);
    }
    return fx_status(f, id) == want;
}

// fx_start_train starts training; enabled < 0 leaves checkpoint_enabled
// unset. Returns the reply (caller frees).
static inline Ktpb__V1__OpsReply *
fx_train(fx *f, uint32_t epochs, uint32_t freq, int enabled)
{
    Ktpb__V1__StartTrainingRequest rq;

    ktpb__v1__start_training_request__init(&rq);
    rq.strategy_path = f->strat;
    rq.symbol = FX_S("AAPL");
    rq.timeframe = FX_S("1h");
    rq.start_date = FX_S("2024-01-01");
    rq.end_date = FX_S("2024-04-30");
    rq.epochs = epochs;
    rq.checkpoint_frequency = freq;
    if (enabled >= 0) {
        rq.opt_checkpoint_enabled_case =
            KTPB__V1__START_TRAINING_REQUEST__OPT_CHECKPOINT_ENABLED_CHECKPOINT_ENABLED;
        rq.checkpoint_enabled = enabled != 0;
    }
    return fx_ask_op(f, KT_OPS_START_TRAINING, &rq.base);
}

// fx_train_ok starts training and returns its id (caller frees).
static inline char *
fx_train_ok(fx *f, uint32_t epochs, uint32_t freq, int enabled)
{
    Ktpb__V1__OpsReply *r = fx_train(f, epochs, freq, enabled);
    char *id;

    cr_assert_eq(r->status, 0, "start failed: %s", r->message);
    cr_assert_not_null(r->op);
    cr_assert_eq(r->op->status, KTPB__V1__OP_STATUS__OP_RUNNING);
    id = strdup(r->op->id);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    return id;
}

// fx_cancel_held cancels op id while the gate holds its worker: the cancel
// is in the worker's mailbox (a later GET was answered) before release.
static inline void
fx_cancel_held(fx *f, const char *id)
{
    Ktpb__V1__OpsCancelRequest c;

    ktpb__v1__ops_cancel_request__init(&c);
    cr_assert(fx_gate_wait(f), "the worker never reached the gate");
    c.id = FX_S(id);
    fx_send(f, KT_OPS_CANCEL, &c.base);
    (void)fx_status(f, id); // the operations actor handled the cancel
    pthread_mutex_lock(&f->g.mu);
    f->g.brake = true;
    pthread_mutex_unlock(&f->g.mu);
    fx_gate_release(f);
}

static inline Ktpb__V1__OpsReply *
fx_resume(fx *f, const char *id)
{
    Ktpb__V1__OpsResumeRequest r;

    ktpb__v1__ops_resume_request__init(&r);
    r.id = FX_S(id);
    return fx_ask_op(f, KT_OPS_RESUME, &r.base);
}

static inline Ktpb__V1__OpsResultsReply *
fx_results(fx *f, const char *id, bool trades, bool equity)
{
    Ktpb__V1__OpsResultsRequest q;
    Ktpb__V1__OpsResultsReply *r;
    kt_msg *rep;

    ktpb__v1__ops_results_request__init(&q);
    q.id = FX_S(id);
    q.with_trades = trades;
    q.with_equity = equity;
    rep = fx_ask(f, KT_OPS_RESULTS, &q.base);
    cr_assert_eq(kt_msg_type(rep), KT_OPS_RESULTS_REPLY);
    r = ktpb__v1__ops_results_reply__unpack(NULL, kt_msg_len(rep),
                                            kt_msg_body(rep));
    kt_msg_free(rep);
    cr_assert_not_null(r);
    return r;
}

#endif // KT_TESTS_OPS_FIXTURE_H
