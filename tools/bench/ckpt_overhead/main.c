// kt-bench-ckpt-overhead DIR ROUNDS EPOCHS: in one process and one data
// directory, trains the same strategy with checkpoint_enabled=false, with
// the default checkpoint frequency (every 5 epochs) and with a checkpoint
// every epoch, ROUNDS times each in rotation, and prints per mode the
// fastest and median wall time (start request -> end of the last epoch). Then
// measures resume latency: a run cancelled at epoch 5 is resumed ROUNDS times;
// the times from the resume request to "data loaded", to "checkpoint restored"
// and to the end of the first new epoch are reported, plus the data loading
// time alone (strategy + CSV + features + labels, measured directly).
// Output: "key value" lines for tools/bench/checkpoint-overhead.sh.
#include <ktpb/v1/ops.pb-c.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <kt/kt.h>

#include "domain/features.h"
#include "domain/labels.h"
#include "domain/ohlcv.h"
#include "domain/synth.h"
#include "operations/backend.h"
#include "operations/pbmsg.h"

#define MAXR 64

static const char yaml[] =
    "name: bench_ckpt\n"
    "training_data:\n"
    "  symbols: {mode: single, symbol: AAPL}\n"
    "  timeframes: {mode: single, timeframe: 1m}\n"
    "indicators:\n"
    "  rsi_14: {type: rsi}\n"
    "  roc_5: {type: roc, period: 5}\n"
    "  macd: {type: macd}\n"
    "fuzzy_sets:\n"
    "  rsi: {indicator: rsi_14, low: [0, 30, 50], mid: [30, 50, 70],"
    " high: [50, 70, 100]}\n"
    "  roc: {indicator: roc_5, down: [-5, -1, 0], flat: [-1, 0, 1],"
    " up: [0, 1, 5]}\n"
    "  macd: {indicator: macd, neg: [-5, -1, 0], pos: [0, 1, 5]}\n"
    "nn_inputs:\n"
    "  - fuzzy_set: rsi\n"
    "  - fuzzy_set: roc\n"
    "  - fuzzy_set: macd\n"
    "model:\n"
    "  type: mlp\n"
    "  architecture: {hidden_layers: [64, 32], activation: relu, "
    "dropout: 0.2}\n"
    "training:\n"
    "  labels: {source: zigzag, zigzag_threshold: 0.02}\n"
    "  epochs: 20\n"
    "  batch_size: 32\n"
    "  seed: 42\n";

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int64_t t_start, t_loaded, t_restored, t_epoch, hold_at = -1;
static int64_t restored_epoch = -1;
static int64_t last_epoch = -1, t_last; // the run's final epoch, its end
static bool held, release;

static int64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static kt_err
hook(void *arg, const char *op, const char *unit, int64_t v)
{
    int64_t t = now_us();

    (void)arg;
    (void)op;
    pthread_mutex_lock(&mu);
    if (strcmp(unit, "start") == 0) {
        t_start = t;
    } else if (strcmp(unit, "loaded") == 0) {
        t_loaded = t;
    } else if (strcmp(unit, "restored") == 0) {
        t_restored = t;
        restored_epoch = v;
    } else if (t_restored != 0 && t_epoch == 0 && v > restored_epoch) {
        t_epoch = t; // the end of the first new epoch
    }
    if (getenv("KT_BENCH_TRACE") != NULL && strcmp(unit, "epoch") == 0) {
        static int64_t prev;
        fprintf(stderr, "epoch %lld %+.2f ms\n", (long long)v,
                (double)(t - prev) / 1000.0);
        prev = t;
    }
    if (strcmp(unit, "epoch") == 0 && v == last_epoch) {
        t_last = t;
        pthread_cond_broadcast(&cv);
    }
    if (strcmp(unit, "epoch") == 0 && v == hold_at) {
        held = true;
        pthread_cond_broadcast(&cv);
        while (!release) {
            pthread_cond_wait(&cv, &mu);
        }
    }
    pthread_mutex_unlock(&mu);
    return KT_OK;
}

static kt_backend *be;

static Ktpb__V1__OpsReply *
ask(uint32_t type, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    kt_msg *req, *rep = NULL;
    Ktpb__V1__OpsReply *r = NULL;

    if (kt_msg_alloc(&req, type, n) != KT_OK) {
        exit(1);
    }
    protobuf_c_message_pack(m, kt_msg_body(req));
    if (kt_runtime_ask(kt_backend_runtime(be), kt_backend_ops(be), req, 600000,
                       &rep) != KT_OK) {
        fprintf(stderr, "no reply\n");
        exit(1);
    }
    r = ktpb__v1__ops_reply__unpack(NULL, kt_msg_len(rep), kt_msg_body(rep));
    kt_msg_free(rep);
    if (r == NULL) {
        exit(1);
    }
    return r;
}

static Ktpb__V1__OpStatus
status(const char *id)
{
    Ktpb__V1__OpsGetRequest g;
    Ktpb__V1__OpsReply *r;
    Ktpb__V1__OpStatus st;

    ktpb__v1__ops_get_request__init(&g);
    g.id = KT_PB_STR(id);
    r = ask(KT_OPS_GET, &g.base);
    st = r->op != NULL ? r->op->status : 0;
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    return st;
}

static void
wait_status(const char *id, Ktpb__V1__OpStatus want)
{
    while (status(id) != want) {
        usleep(2000);
    }
}

// train runs one training op; freq 0 = default; enabled 0/1.
static double
train(const char *strat, uint32_t epochs, uint32_t freq, int enabled,
      char *id_out)
{
    Ktpb__V1__StartTrainingRequest rq;
    Ktpb__V1__OpsReply *r;
    int64_t t0;
    char id[96];

    pthread_mutex_lock(&mu);
    last_epoch = id_out == NULL ? (int64_t)epochs : -1;
    t_last = 0;
    pthread_mutex_unlock(&mu);
    t0 = now_us();
    ktpb__v1__start_training_request__init(&rq);
    rq.strategy_path = KT_PB_STR(strat);
    rq.symbol = KT_PB_STR("AAPL");
    rq.timeframe = KT_PB_STR("1m");
    rq.epochs = epochs;
    rq.checkpoint_frequency = freq;
    rq.opt_checkpoint_enabled_case =
        KTPB__V1__START_TRAINING_REQUEST__OPT_CHECKPOINT_ENABLED_CHECKPOINT_ENABLED;
    rq.checkpoint_enabled = enabled != 0;
    r = ask(KT_OPS_START_TRAINING, &rq.base);
    if (r->status != 0) {
        fprintf(stderr, "start: %s\n", r->message);
        exit(1);
    }
    snprintf(id, sizeof(id), "%s", r->op->id);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    if (id_out != NULL) {
        strcpy(id_out, id);
        return 0;
    }
    // No polling while it trains: the hook signals the last epoch's end.
    pthread_mutex_lock(&mu);
    while (t_last == 0) {
        pthread_cond_wait(&cv, &mu);
    }
    double secs = (double)(t_last - t0) / 1e6;
    pthread_mutex_unlock(&mu);
    wait_status(id, KTPB__V1__OP_STATUS__OP_COMPLETED);
    return secs;
}

static double
cpu_now(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int
cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// load_ms: the data loading of a training run, timed directly.
static double
load_ms(const char *dir, const char *strat)
{
    kt_strategy *s;
    kt_ohlcv *bars;
    kt_features f;
    uint8_t *labels;
    size_t nv;
    char err[512];
    int64_t t0 = now_us();

    if (kt_strategy_load(strat, &s, err, sizeof(err)) != KT_OK ||
        kt_ohlcv_load(dir, "AAPL", "1m", KT_TIME_MIN, KT_TIME_MAX, &bars, err,
                      sizeof(err)) != KT_OK ||
        kt_features_build(s, bars, &f, err, sizeof(err)) != KT_OK) {
        fprintf(stderr, "load: %s\n", err);
        exit(1);
    }
    labels = malloc(bars->n);
    if (kt_labels_build(&s->labels, bars, labels, &nv, err, sizeof(err)) !=
        KT_OK) {
        exit(1);
    }
    double ms = (double)(now_us() - t0) / 1000.0;
    free(labels);
    kt_features_free(&f);
    kt_ohlcv_free(bars);
    kt_strategy_free(s);
    return ms;
}

static void
setup(const char *dir, char *strat, size_t n)
{
    kt_synth_cfg sc = {.symbol = "AAPL", .timeframe = "1m"};
    kt_backend_cfg bc = {.data_dir = dir, .threads = 2};
    char path[512], err[256];
    kt_ohlcv *bars;
    FILE *fp;

    (void)mkdir(dir, 0755);
    snprintf(strat, n, "%s/bench_ckpt.yaml", dir);
    if ((fp = fopen(strat, "w")) == NULL) {
        exit(1);
    }
    fputs(yaml, fp);
    fclose(fp);
    if (kt_date_range_parse("2023-01-01", "2023-12-31", &sc.start, &sc.end) !=
            KT_OK ||
        kt_synth_generate(&sc, &bars, err, sizeof(err)) != KT_OK) {
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/AAPL_1m.csv", dir);
    if (kt_ohlcv_write(bars, path, err, sizeof(err)) != KT_OK) {
        exit(1);
    }
    kt_ohlcv_free(bars);
    bc.ops.hook = hook;
    if (kt_backend_open(&bc, &be) != KT_OK) {
        exit(1);
    }
}

static void
resume_round(const char *strat, double *req_start, double *loading,
             double *load_rest, double *rest_epoch)
{
    Ktpb__V1__OpsCancelRequest c;
    Ktpb__V1__OpsResumeRequest q;
    Ktpb__V1__OpsReply *r;
    char id[96];
    int64_t t0;

    pthread_mutex_lock(&mu);
    hold_at = 5;
    held = release = false;
    pthread_mutex_unlock(&mu);
    train(strat, 10, 0, 1, id);
    pthread_mutex_lock(&mu);
    while (!held) {
        pthread_cond_wait(&cv, &mu);
    }
    pthread_mutex_unlock(&mu);
    ktpb__v1__ops_cancel_request__init(&c);
    c.id = id;
    {
        size_t n = ktpb__v1__ops_cancel_request__get_packed_size(&c);
        kt_msg *m;
        if (kt_msg_alloc(&m, KT_OPS_CANCEL, n) != KT_OK) {
            exit(1);
        }
        ktpb__v1__ops_cancel_request__pack(&c, kt_msg_body(m));
        if (kt_runtime_send(kt_backend_runtime(be), kt_backend_ops(be), m) !=
            KT_OK) {
            exit(1);
        }
    }
    (void)status(id);
    pthread_mutex_lock(&mu);
    hold_at = -1;
    release = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    wait_status(id, KTPB__V1__OP_STATUS__OP_CANCELLED);
    pthread_mutex_lock(&mu);
    t_start = t_loaded = t_restored = t_epoch = 0;
    restored_epoch = -1;
    pthread_mutex_unlock(&mu);
    ktpb__v1__ops_resume_request__init(&q);
    q.id = id;
    t0 = now_us();
    r = ask(KT_OPS_RESUME, &q.base);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    for (;;) {
        pthread_mutex_lock(&mu);
        bool done = t_epoch != 0;
        pthread_mutex_unlock(&mu);
        if (done) {
            break;
        }
        usleep(200);
    }
    *req_start = (double)(t_start - t0) / 1000.0;
    *loading = (double)(t_loaded - t_start) / 1000.0;
    *load_rest = (double)(t_restored - t_loaded) / 1000.0;
    *rest_epoch = (double)(t_epoch - t_restored) / 1000.0;
    wait_status(id, KTPB__V1__OP_STATUS__OP_COMPLETED);
}

int
main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp/kt-bench-ckpt";
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    uint32_t epochs = argc > 3 ? (uint32_t)atoi(argv[3]) : 20;
    double off[MAXR], def[MAXR], every[MAXR], a[MAXR], b[MAXR], c[MAXR],
        d[MAXR], coff[MAXR], cdef[MAXR], cevery[MAXR], t;
    char strat[512];

    if (rounds < 1 || rounds > MAXR) {
        return 2;
    }
    setup(dir, strat, sizeof(strat));
    (void)train(strat, 2, 0, 0, NULL); // warm-up
    for (int i = 0; i < rounds; i++) {
        // CPU time of the whole process (every thread) per run: others'
        // load on the machine barely moves it, unlike wall time.
        t = cpu_now();
        off[i] = train(strat, epochs, 0, 0, NULL);
        coff[i] = cpu_now() - t;
        t = cpu_now();
        def[i] = train(strat, epochs, 0, 1, NULL);
        cdef[i] = cpu_now() - t;
        t = cpu_now();
        every[i] = train(strat, epochs, 1, 1, NULL);
        cevery[i] = cpu_now() - t;
    }
    for (int i = 0; i < rounds; i++) {
        resume_round(strat, &a[i], &d[i], &b[i], &c[i]);
    }
    printf("epochs %u\nrounds %d\n", epochs, rounds);
    // The fastest run of each mode: on a shared machine the minimum is the
    // least noisy estimate (others' load only ever adds time).
    qsort(off, (size_t)rounds, sizeof(double), cmp_d);
    qsort(def, (size_t)rounds, sizeof(double), cmp_d);
    qsort(every, (size_t)rounds, sizeof(double), cmp_d);
    printf("wall_off %.6f\nwall_default %.6f\nwall_every %.6f\n", off[0],
           def[0], every[0]);
    printf("cpu_off %.6f\ncpu_default %.6f\ncpu_every %.6f\n",
           median(coff, rounds), median(cdef, rounds), median(cevery, rounds));
    printf("median_off %.6f\nmedian_default %.6f\nmedian_every %.6f\n",
           median(off, rounds), median(def, rounds), median(every, rounds));
    printf("resume_to_start_ms %.3f\nloading_ms %.3f\n"
           "loaded_to_restored_ms %.3f\nrestored_to_epoch_ms %.3f\n"
           "data_load_direct_ms %.3f\n",
           median(a, rounds), median(d, rounds), median(b, rounds),
           median(c, rounds), load_ms(dir, strat));
    kt_backend_close(be);
    return 0;
}
