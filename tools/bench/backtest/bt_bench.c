// bt_bench.c: times the backtest bar loop (inference + filters + book +
// equity) with a real MLP on seeded synthetic bars, in the 100-bar slices
// an actor runs between cancel checks. Optionally dumps the bars, features,
// weights and config for reference.py, so the Python loop runs the same
// model on the same data.
//
// usage: kt-bench-backtest N_BARS [--features F] [--hidden 64,32]
//        [--seed S] [--reps R] [--dump FILE]
// prints one line of key=value pairs.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kt/vec.h>

#include "domain/backtest.h"
#include "domain/mlp.h"
#include "domain/rng.h"

typedef struct bench {
    size_t n, f;
    kt_mlp_cfg arch;
    uint64_t seed;
    int reps;
    const char *dump;
    int64_t *time;
    double *open, *close;
    float *x;
    kt_mlp *mlp;
    kt_mlp_work *work;
} bench;

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double
uniform(kt_rng *r)
{
    return (double)(kt_rng_next(r) >> 11) / 9007199254740992.0;
}

// bench_data: 5-minute bars of a random walk; features are smooth
// membership-like values in [0, 1] (a slow sine of the price plus noise).
static int
bench_data(bench *b)
{
    kt_rng r;
    double px = 1.1;

    kt_rng_seed(&r, b->seed);
    b->time = malloc(b->n * sizeof(int64_t));
    b->open = malloc(b->n * sizeof(double));
    b->close = malloc(b->n * sizeof(double));
    b->x = malloc(b->n * b->f * sizeof(float));
    if (!b->time || !b->open || !b->close || !b->x) {
        return -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        b->time[i] = 1577836800 + (int64_t)i * 300;
        b->open[i] = px;
        px *= 1.0 + (uniform(&r) - 0.5) * 0.004;
        b->close[i] = px;
        for (size_t j = 0; j < b->f; j++) {
            double v = 0.5 + 0.4 * sin(px * 40.0 * (double)(j + 1)) +
                       0.1 * (uniform(&r) - 0.5);
            b->x[i * b->f + j] = (float)v;
        }
    }
    return 0;
}

// bench_model: PyTorch-default random weights; the head is scaled up so the
// softmax is confident enough to trade (a fresh net outputs near-uniform
// probabilities and would never pass the 0.5 threshold).
static int
bench_model(bench *b)
{
    kt_rng r;
    int in, out, last;
    float *w, *bias;

    kt_rng_seed(&r, b->seed + 1);
    if (kt_mlp_alloc(&b->arch, &b->mlp) != KT_OK) {
        return -1;
    }
    kt_mlp_init(b->mlp, &r);
    last = kt_mlp_n_layers(b->mlp) - 1;
    kt_mlp_layer_shape(b->mlp, last, &in, &out);
    w = malloc((size_t)(in * out) * sizeof(float));
    bias = malloc((size_t)out * sizeof(float));
    if (!w || !bias || kt_mlp_get_layer(b->mlp, last, w, bias) != KT_OK) {
        return -1;
    }
    for (int i = 0; i < in * out; i++) {
        w[i] *= 25.0f;
    }
    if (kt_mlp_set_layer(b->mlp, last, w, bias) != KT_OK) {
        return -1;
    }
    free(w);
    free(bias);
    return kt_mlp_work_alloc(b->mlp, 256, &b->work) == KT_OK ? 0 : -1;
}

static void
row_cb(void *ctx, const float *x, float out[KT_NCLASSES])
{
    bench *b = ctx;

    kt_mlp_logits(b->mlp, x, out);
}

static void
batch_cb(void *ctx, const float *x, size_t n, float *out)
{
    bench *b = ctx;

    kt_mlp_forward(b->mlp, b->work, x, n, NULL, out);
}

// bench_run times reps full runs in 100-bar slices; returns the best
// bars/s and leaves the last engine in *keep.
static double
bench_run(bench *b, bool batched, kt_backtest **keep)
{
    kt_bt_config cfg;
    kt_bt_data d = {b->n, b->time, b->open, b->close, b->x, b->f};
    kt_bt_model m = {row_cb, batched ? batch_cb : NULL, b, true};
    double best = 0;
    char err[256];

    kt_bt_config_default(&cfg);
    strcpy(cfg.timeframe, "5m");
    for (int r = 0; r < b->reps; r++) {
        kt_backtest *bt;
        uint64_t done, total;
        if (kt_backtest_new(&cfg, &d, &m, &bt, err, sizeof(err)) != KT_OK) {
            fprintf(stderr, "kt-bench-backtest: %s\n", err);
            exit(1);
        }
        double t0 = now_s();
        while (!kt_backtest_finished(bt)) {
            if (kt_backtest_step(bt, 100, NULL) != KT_OK) {
                exit(1);
            }
        }
        double dt = now_s() - t0;
        kt_backtest_progress(bt, &done, &total);
        best = fmax(best, (double)done / dt);
        if (r + 1 == b->reps && keep != NULL) {
            *keep = bt;
        } else {
            kt_backtest_free(bt);
        }
    }
    return best;
}

static void
put(FILE *f, const void *p, size_t sz, size_t n)
{
    if (fwrite(p, sz, n, f) != n) {
        perror("kt-bench-backtest: write");
        exit(1);
    }
}

static void
put_u64(FILE *f, uint64_t v)
{
    put(f, &v, sizeof(v), 1);
}

// bench_dump writes the little-endian file reference.py reads.
static void
bench_dump(const bench *b)
{
    kt_bt_config c;
    FILE *f = fopen(b->dump, "wb");
    int nl = kt_mlp_n_layers(b->mlp), in, out;

    if (f == NULL) {
        perror(b->dump);
        exit(1);
    }
    kt_bt_config_default(&c);
    put(f, "KTBT0001", 1, 8);
    put_u64(f, b->n);
    put_u64(f, b->f);
    put_u64(f, (uint64_t)nl);
    for (int l = 0; l < nl; l++) {
        kt_mlp_layer_shape(b->mlp, l, &in, &out);
        put_u64(f, (uint64_t)in);
        put_u64(f, (uint64_t)out);
    }
    double dv[] = {c.initial_capital,
                   c.commission,
                   c.slippage,
                   c.position_fraction,
                   c.confidence_threshold,
                   c.min_signal_separation_hours};
    put(f, dv, sizeof(double), 6);
    put_u64(f, c.warmup_bars);
    put_u64(f, c.position_awareness);
    put_u64(f, c.allow_short_from_flat);
    put(f, b->time, sizeof(int64_t), b->n);
    put(f, b->open, sizeof(double), b->n);
    put(f, b->close, sizeof(double), b->n);
    put(f, b->x, sizeof(float), b->n * b->f);
    for (int l = 0; l < nl; l++) {
        kt_mlp_layer_shape(b->mlp, l, &in, &out);
        float *w = malloc((size_t)(in * out) * sizeof(float));
        float *bias = malloc((size_t)out * sizeof(float));
        if (!w || !bias || kt_mlp_get_layer(b->mlp, l, w, bias) != KT_OK) {
            exit(1);
        }
        put(f, w, sizeof(float), (size_t)(in * out));
        put(f, bias, sizeof(float), (size_t)out);
        free(w);
        free(bias);
    }
    if (fclose(f) != 0) {
        perror(b->dump);
        exit(1);
    }
}

static void
bench_args(bench *b, int argc, char **argv)
{
    memset(b, 0, sizeof(*b));
    b->f = 12;
    b->seed = 42;
    b->reps = 3;
    b->arch.n_hidden = 2;
    b->arch.hidden[0] = 64;
    b->arch.hidden[1] = 32;
    b->arch.activation = KT_ACT_RELU;
    b->arch.dropout = 0.2;
    if (argc < 2) {
        fprintf(stderr, "usage: kt-bench-backtest N_BARS [--features F] "
                        "[--hidden 64,32] [--seed S] [--reps R] "
                        "[--dump FILE]\n");
        exit(2);
    }
    b->n = strtoull(argv[1], NULL, 10);
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--features") == 0) {
            b->f = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--seed") == 0) {
            b->seed = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--reps") == 0) {
            b->reps = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--dump") == 0) {
            b->dump = argv[i + 1];
        } else if (strcmp(argv[i], "--hidden") == 0) {
            char *s = argv[i + 1], *end;
            b->arch.n_hidden = 0;
            while (*s && b->arch.n_hidden < KT_MLP_MAX_LAYERS) {
                b->arch.hidden[b->arch.n_hidden++] = (int)strtol(s, &end, 10);
                s = *end == ',' ? end + 1 : end;
            }
        }
    }
    b->arch.n_inputs = (int)b->f;
    b->reps = b->reps < 1 ? 1 : b->reps;
}

int
main(int argc, char **argv)
{
    bench b;
    kt_backtest *bt = NULL;
    kt_metrics m;
    uint8_t *state;
    size_t len;

    bench_args(&b, argc, argv);
    if (bench_data(&b) != 0 || bench_model(&b) != 0) {
        fprintf(stderr, "kt-bench-backtest: setup failed\n");
        return 1;
    }
    if (b.dump != NULL) {
        bench_dump(&b);
    }
    double row = bench_run(&b, false, NULL);
    double batched = bench_run(&b, true, &bt);
    kt_backtest_metrics(bt, &m);
    double t0 = now_s();
    if (kt_backtest_export(bt, &state, &len) != KT_OK) {
        return 1;
    }
    double t_exp = now_s() - t0;
    t0 = now_s();
    if (kt_backtest_import(bt, state, len, NULL, 0) != KT_OK) {
        return 1;
    }
    double t_imp = now_s() - t0;
    printf("bars=%llu row_bars_per_s=%.0f batched_bars_per_s=%.0f "
           "trades=%llu final_equity=%.6f state_bytes=%zu export_ms=%.3f "
           "import_ms=%.3f vec=%s\n",
           (unsigned long long)m.n_bars, row, batched,
           (unsigned long long)m.total_trades, m.final_equity, len, t_exp * 1e3,
           t_imp * 1e3, kt_vec_level_name(kt_vec_level_get()));
    kt_backtest_buf_free(state);
    kt_backtest_free(bt);
    kt_mlp_work_free(b.work);
    kt_mlp_free(b.mlp);
    free(b.time);
    free(b.open);
    free(b.close);
    free(b.x);
    return 0;
}
