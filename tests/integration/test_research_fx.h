// test_research_fx.h: what the research tests share (header-only, static
// inline): a temporary data directory with generated AAPL 1h bars and a
// small strategy, a backend with the research manager over it, a gate
// hook that holds a training/backtest worker at a chosen unit, plug-ins
// that block until released (or until the research is cancelled), and
// synchronous asks.
#ifndef KT_TESTS_RESEARCH_FX_H
#define KT_TESTS_RESEARCH_FX_H

#include <dirent.h>
#include <ktpb/v1/ops.pb-c.h>
#include <ktpb/v1/research.pb-c.h>
#include <poll.h>
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
#include "research/research.h"

#define RX_MS   20000
#define RX_S(s) ((char *)(uintptr_t)(s))

static const char rx_yaml[] =
    "name: rx_test\n"
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
    "  architecture: {hidden_layers: [16, 8], activation: relu, dropout: 0}\n"
    "decisions:\n"
    "  confidence_threshold: 0.34\n"
    "  filters: {min_signal_separation: 0}\n"
    "training:\n"
    "  labels: {source: zigzag, zigzag_threshold: 0.01}\n"
    "  epochs: 4\n"
    "  batch_size: 32\n"
    "  learning_rate: 0.005\n"
    "  seed: 7\n";

// A gate: holds whoever reaches it (a worker hook, a plug-in) until
// released; plug-ins also return when their research is cancelled.
typedef struct rx_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char unit[8]; // hook: "epoch" / "bar"; plug-ins: "design" / "assess"
    int64_t at;   // -1 = open
    bool reached, released;
    int calls;
    int64_t last; // last value seen
    uint64_t gen; // bumped by a step: the holder moves on
} rx_gate;

typedef struct rx {
    char dir[128];
    char strat[256];
    kt_backend *b;
    kt_runtime *rt;
    kt_aid ops, research;
    rx_gate g;
    kt_research_cfg rc;
    int invalid_designs; // test designer: this many bad YAMLs first
    int design_calls;
    kt_persist_fault_fn fault; // persistence fault hook (NULL: none)
} rx;

static inline bool
rx_gate_hit(rx_gate *g, const char *unit, int64_t value, int cancel_fd)
{
    struct timespec dl;
    bool held = false;

    pthread_mutex_lock(&g->mu);
    g->calls++;
    if (strcmp(unit, g->unit) == 0) {
        g->last = value;
    }
    if (g->at >= 0 && strcmp(unit, g->unit) == 0 && value >= g->at &&
        !g->reached) {
        uint64_t gen = g->gen;
        g->reached = true;
        held = true;
        pthread_cond_broadcast(&g->cv);
        while (!g->released && g->gen == gen) {
            struct pollfd p = {.fd = cancel_fd, .events = POLLIN};
            (void)clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_nsec += 20 * 1000000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            (void)pthread_cond_timedwait(&g->cv, &g->mu, &dl);
            if (cancel_fd >= 0 && poll(&p, 1, 0) > 0) {
                break; // the research was cancelled
            }
        }
    }
    pthread_mutex_unlock(&g->mu);
    return held;
}

static inline kt_err
rx_hook(void *arg, const char *op_id, const char *unit, int64_t value)
{
    (void)op_id;
    (void)rx_gate_hit(arg, unit, value, -1);
    return KT_OK;
}

static inline void
rx_gate_set(rx *f, const char *unit, int64_t at)
{
    pthread_mutex_lock(&f->g.mu);
    snprintf(f->g.unit, sizeof(f->g.unit), "%s", unit);
    f->g.at = at;
    f->g.reached = false;
    f->g.released = false;
    pthread_mutex_unlock(&f->g.mu);
}

static inline bool
rx_gate_wait(rx *f)
{
    struct timespec dl;
    bool ok;

    (void)clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 20;
    pthread_mutex_lock(&f->g.mu);
    while (!f->g.reached &&
           pthread_cond_timedwait(&f->g.cv, &f->g.mu, &dl) == 0) {
    }
    ok = f->g.reached;
    pthread_mutex_unlock(&f->g.mu);
    return ok;
}

static inline void
rx_gate_release(rx *f)
{
    pthread_mutex_lock(&f->g.mu);
    f->g.released = true;
    f->g.at = -1;
    pthread_cond_broadcast(&f->g.cv);
    pthread_mutex_unlock(&f->g.mu);
}

static inline Ktpb__V1__OpStatus rx_status(rx *f, const char *id);

// rx_step_until lets the held worker go one unit at a time until
// operation id has status want: a cancel in flight lands at the next
// safe point without the operation running away to its end.
static inline bool
rx_step_until(rx *f, const char *id, Ktpb__V1__OpStatus want, int ms)
{
    for (int i = 0; i < ms / 2; i++) {
        if (rx_status(f, id) == want) {
            rx_gate_release(f);
            return true;
        }
        pthread_mutex_lock(&f->g.mu);
        if (f->g.reached) {
            f->g.gen++;
            f->g.at = f->g.last + 1;
            f->g.reached = false;
            pthread_cond_broadcast(&f->g.cv);
        }
        pthread_mutex_unlock(&f->g.mu);
        usleep(2000);
    }
    rx_gate_release(f);
    return rx_status(f, id) == want;
}

// The test designer: the offline one, behind the gate ("design"), after
// invalid_designs bad answers.
static inline void
rx_design(void *arg, const Ktpb__V1__DesignRequest *in, int cancel_fd,
          Ktpb__V1__DesignResult *out)
{
    rx *f = arg;
    bool bad;

    (void)rx_gate_hit(&f->g, "design", 0, cancel_fd);
    pthread_mutex_lock(&f->g.mu);
    bad = f->design_calls++ < f->invalid_designs;
    pthread_mutex_unlock(&f->g.mu);
    if (bad) {
        out->yaml = strdup("name: broken\nindicators:\n  x: {type: nope}\n");
        out->name = strdup("broken");
        out->tokens_in = 10;
        out->cost_usd = 0.001;
        return;
    }
    kt_rs_offline_designer.design(NULL, in, cancel_fd, out);
}

static inline void
rx_assess(void *arg, const Ktpb__V1__AssessRequest *in, int cancel_fd,
          Ktpb__V1__AssessResult *out)
{
    rx *f = arg;

    (void)rx_gate_hit(&f->g, "assess", 0, cancel_fd);
    kt_rs_rules_assessor.assess(NULL, in, cancel_fd, out);
}

static inline void
rx_write_data(rx *f, const char *symbol, const char *start, const char *end)
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

// rx_open starts a backend and the research manager over f->dir with
// f->rc (data_dir filled in).
static inline kt_err
rx_open(rx *f)
{
    kt_backend_cfg bc = {.data_dir = f->dir, .threads = 2};
    kt_err rv;

    bc.ops.hook = rx_hook;
    bc.ops.hook_arg = &f->g;
    bc.ops.train_batches = 4;
    bc.ops.bt_bars = 20;
    bc.ops.ask_timeout_ms = 10000;
    bc.persist.fault = f->fault;
    if ((rv = kt_backend_open(&bc, &f->b)) != KT_OK) {
        return rv;
    }
    f->rt = kt_backend_runtime(f->b);
    f->ops = kt_backend_ops(f->b);
    f->rc.data_dir = f->dir;
    return kt_research_start(f->rt, &f->rc, &f->research);
}

static inline void
rx_setup(rx *f)
{
    FILE *fp;

    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->g.mu, NULL);
    pthread_cond_init(&f->g.cv, NULL);
    f->g.at = -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/kt-rs-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    snprintf(f->strat, sizeof(f->strat), "%s/rx_test.yaml", f->dir);
    cr_assert_not_null(fp = fopen(f->strat, "w"));
    fputs(rx_yaml, fp);
    cr_assert_eq(fclose(fp), 0);
    rx_write_data(f, "AAPL", "2024-01-01", "2024-04-30");
    f->rc.designer = (kt_rs_designer){"test", rx_design, f};
    f->rc.assessor = (kt_rs_assessor){"test", rx_assess, f};
    f->rc.child_grace_ms = 300;
}

static inline void
rx_rm_rf(const char *path)
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
                rx_rm_rf(sub);
            }
        }
        (void)closedir(d);
    }
    (void)remove(path);
}

static inline void
rx_teardown(rx *f)
{
    rx_gate_release(f);
    if (f->b != NULL) {
        kt_backend_close(f->b);
        f->b = NULL;
    }
    rx_rm_rf(f->dir);
}

static inline kt_msg *
rx_ask(rx *f, kt_aid to, uint32_t type, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    kt_msg *req, *rep = NULL;

    cr_assert_eq(kt_msg_alloc(&req, type, n), KT_OK);
    protobuf_c_message_pack(m, kt_msg_body(req));
    cr_assert_eq(kt_runtime_ask(f->rt, to, req, RX_MS, &rep), KT_OK,
                 "no reply to request %u", type);
    return rep;
}

// rx_reply asks and decodes a ResearchReply (also OpsReply-shaped ones).
static inline Ktpb__V1__ResearchReply *
rx_reply(rx *f, kt_aid to, uint32_t type, const ProtobufCMessage *m)
{
    kt_msg *rep = rx_ask(f, to, type, m);
    Ktpb__V1__ResearchReply *r = ktpb__v1__research_reply__unpack(
        NULL, kt_msg_len(rep), kt_msg_body(rep));

    kt_msg_free(rep);
    cr_assert_not_null(r);
    return r;
}

static inline Ktpb__V1__ResearchReply *
rx_trigger(rx *f, const char *brief, const char *strategy, bool bypass,
           uint32_t epochs)
{
    Ktpb__V1__ResearchTriggerRequest t;

    ktpb__v1__research_trigger_request__init(&t);
    t.brief = RX_S(brief);
    t.strategy_path = RX_S(strategy);
    t.bypass_gates = bypass;
    t.symbol = RX_S("AAPL");
    t.timeframe = RX_S("1h");
    t.start_date = RX_S("2024-01-01");
    t.end_date = RX_S("2024-03-31");
    t.bt_start_date = RX_S("2024-04-01");
    t.bt_end_date = RX_S("2024-04-30");
    t.epochs = epochs;
    return rx_reply(f, f->research, KT_RS_TRIGGER, &t.base);
}

// rx_start triggers and returns the research id (caller frees).
static inline char *
rx_start(rx *f, const char *brief, const char *strategy, bool bypass)
{
    Ktpb__V1__ResearchReply *r = rx_trigger(f, brief, strategy, bypass, 3);
    char *id;

    cr_assert_eq(r->status, 0, "trigger failed: %s", r->message);
    cr_assert_not_null(r->op);
    id = strdup(r->op->id);
    ktpb__v1__research_reply__free_unpacked(r, NULL);
    return id;
}

static inline Ktpb__V1__OpsReply *
rx_get(rx *f, const char *id)
{
    Ktpb__V1__OpsGetRequest g;
    kt_msg *rep;
    Ktpb__V1__OpsReply *r;

    ktpb__v1__ops_get_request__init(&g);
    g.id = RX_S(id);
    rep = rx_ask(f, f->ops, KT_OPS_GET, &g.base);
    r = ktpb__v1__ops_reply__unpack(NULL, kt_msg_len(rep), kt_msg_body(rep));
    kt_msg_free(rep);
    cr_assert_not_null(r);
    return r;
}

static inline Ktpb__V1__OpStatus
rx_status(rx *f, const char *id)
{
    Ktpb__V1__OpsReply *r = rx_get(f, id);
    Ktpb__V1__OpStatus st = r->status == 0 && r->op ? r->op->status : 0;

    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    return st;
}

static inline bool
rx_wait(rx *f, const char *id, Ktpb__V1__OpStatus want, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (rx_status(f, id) == want) {
            return true;
        }
        usleep(10000);
    }
    return rx_status(f, id) == want;
}

// rx_info: `agent status ID` (caller frees the reply).
static inline Ktpb__V1__ResearchStatusReply *
rx_info(rx *f, const char *id)
{
    Ktpb__V1__ResearchStatusRequest q;
    Ktpb__V1__ResearchStatusReply *r;
    kt_msg *rep;

    ktpb__v1__research_status_request__init(&q);
    q.op_id = RX_S(id);
    rep = rx_ask(f, f->research, KT_RS_STATUS, &q.base);
    cr_assert_eq(kt_msg_type(rep), KT_RS_STATUS_REPLY);
    r = ktpb__v1__research_status_reply__unpack(NULL, kt_msg_len(rep),
                                                kt_msg_body(rep));
    kt_msg_free(rep);
    cr_assert_not_null(r);
    return r;
}

static inline Ktpb__V1__OpsReply *
rx_ops_ctl(rx *f, uint32_t type, const char *id)
{
    Ktpb__V1__OpsCancelRequest c; // OpsResumeRequest shares id = 1
    kt_msg *rep;
    Ktpb__V1__OpsReply *r;

    ktpb__v1__ops_cancel_request__init(&c);
    c.id = RX_S(id);
    rep = rx_ask(f, f->ops, type, &c.base);
    r = ktpb__v1__ops_reply__unpack(NULL, kt_msg_len(rep), kt_msg_body(rep));
    kt_msg_free(rep);
    cr_assert_not_null(r);
    return r;
}

static inline bool
rx_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

#endif // KT_TESTS_RESEARCH_FX_H
