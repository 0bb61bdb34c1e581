// feat_bench.c: bars per second of the strategy engine's data path on
// seeded synthetic bars: CSV read, features (indicators + memberships),
// labels. Prints one "k=v ..." line.
// usage: kt-bench-features STRATEGY.yaml SYMBOL TIMEFRAME BARS [--reps N]
//        [--dump FILE]
// --dump writes n, columns, then close/high/low (double), the features
// (float, row-major) and the labels (uint8) for reference.py to check.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/features.h"
#include "domain/labels.h"
#include "domain/synth.h"

static double
now(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// gen makes at least n bars from 2015-01-01 on and keeps the first n.
static kt_ohlcv *
gen(const char *sym, const char *tf, size_t n, double *secs)
{
    char err[256];
    kt_ohlcv *b;
    kt_synth_cfg c = {.symbol = sym, .timeframe = tf};
    int64_t len = kt_timeframe_seconds(tf), per_day;
    double t0;

    if (len == 0 ||
        kt_date_range_parse("2015-01-01", NULL, &c.start, &c.end) != KT_OK) {
        return NULL;
    }
    per_day = kt_synth_is_fx(sym) ? 86400 / len : (23400 + len - 1) / len;
    per_day = per_day > 0 ? per_day : 1;
    c.end = c.start + ((int64_t)n / per_day * 7 / 5 + 30) * 86400;
    t0 = now();
    if (kt_synth_generate(&c, &b, err, sizeof(err)) != KT_OK) {
        (void)fprintf(stderr, "generate: %s\n", err);
        return NULL;
    }
    *secs = now() - t0;
    if (b->n < n) {
        (void)fprintf(stderr, "generate: only %zu bars\n", b->n);
        kt_ohlcv_free(b);
        return NULL;
    }
    b->n = n;
    b->timeframe[0] = '\0'; // any bars feed the strategy's base timeframe
    return b;
}

static double
time_read(const kt_ohlcv *b)
{
    char path[] = "/tmp/kt_bench_feat_XXXXXX", err[256];
    kt_ohlcv *r = NULL;
    double t0, t;
    int fd = mkstemp(path);

    if (fd < 0 || kt_ohlcv_write(b, path, err, sizeof(err)) != KT_OK) {
        return -1;
    }
    t0 = now();
    if (kt_ohlcv_read(path, KT_TIME_MIN, KT_TIME_MAX, &r, err, sizeof(err)) !=
        KT_OK) {
        (void)fprintf(stderr, "read: %s\n", err);
        t = -1;
    } else {
        t = now() - t0;
    }
    kt_ohlcv_free(r);
    (void)remove(path);
    return t;
}

// best_of times features and labels reps times and keeps the fastest.
static int
best_of(const kt_strategy *s, const kt_ohlcv *b, int reps, double *tf,
        double *tl, size_t *cols)
{
    char err[256];
    uint8_t *lab = malloc(b->n);
    size_t nv;
    int rc = lab == NULL;

    *tf = *tl = 1e30;
    for (int r = 0; r < reps && rc == 0; r++) {
        kt_features f = {0};
        double t0 = now(), t1, t2;
        if (kt_features_build(s, b, &f, err, sizeof(err)) != KT_OK) {
            (void)fprintf(stderr, "features: %s\n", err);
            rc = 1;
            break;
        }
        t1 = now();
        *cols = f.n_cols;
        kt_features_free(&f);
        if (kt_labels_build(&s->labels, b, lab, &nv, err, sizeof(err)) !=
            KT_OK) {
            (void)fprintf(stderr, "labels: %s\n", err);
            rc = 1;
            break;
        }
        t2 = now();
        *tf = t1 - t0 < *tf ? t1 - t0 : *tf;
        *tl = t2 - t1 < *tl ? t2 - t1 : *tl;
    }
    free(lab);
    return rc;
}

// dump writes the bars, features and labels for the Python reference.
static int
dump(const char *path, const kt_strategy *s, const kt_ohlcv *b)
{
    char err[256];
    kt_features f = {0};
    uint8_t *lab = malloc(b->n);
    FILE *fp = fopen(path, "wb");
    uint64_t hdr[2];
    size_t nv;
    int rc = 1;

    if (lab != NULL && fp != NULL &&
        kt_features_build(s, b, &f, err, sizeof(err)) == KT_OK &&
        kt_labels_build(&s->labels, b, lab, &nv, err, sizeof(err)) == KT_OK) {
        hdr[0] = b->n;
        hdr[1] = f.n_cols;
        rc = fwrite(hdr, sizeof(hdr), 1, fp) != 1 ||
             fwrite(b->close, sizeof(double), b->n, fp) != b->n ||
             fwrite(b->high, sizeof(double), b->n, fp) != b->n ||
             fwrite(b->low, sizeof(double), b->n, fp) != b->n ||
             fwrite(f.x, sizeof(float), b->n * f.n_cols, fp) !=
                 b->n * f.n_cols ||
             fwrite(lab, 1, b->n, fp) != b->n;
    }
    if (fp != NULL && fclose(fp) != 0) {
        rc = 1;
    }
    kt_features_free(&f);
    free(lab);
    return rc;
}

int
main(int argc, char **argv)
{
    char err[512];
    kt_strategy *s;
    kt_ohlcv *b;
    double tg, tr, tf, tl;
    size_t n, cols = 0;
    const char *dump_path = NULL;
    int reps = 3;

    if (argc < 5) {
        (void)fprintf(stderr, "usage: kt-bench-features STRATEGY.yaml SYMBOL "
                              "TIMEFRAME BARS [--reps N]\n");
        return 2;
    }
    for (int i = 5; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--reps") == 0) {
            reps = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--dump") == 0) {
            dump_path = argv[i + 1];
        }
    }
    n = (size_t)strtoull(argv[4], NULL, 10);
    if (kt_strategy_load(argv[1], &s, err, sizeof(err)) != KT_OK) {
        (void)fprintf(stderr, "%s\n", err);
        return 1;
    }
    if ((b = gen(argv[2], argv[3], n, &tg)) == NULL ||
        best_of(s, b, reps > 0 ? reps : 1, &tf, &tl, &cols) != 0) {
        kt_strategy_free(s);
        kt_ohlcv_free(b);
        return 1;
    }
    tr = time_read(b);
    if (dump_path != NULL && dump(dump_path, s, b) != 0) {
        (void)fprintf(stderr, "cannot write %s\n", dump_path);
    }
    (void)printf("bars=%zu features=%zu labels=%s generate_s=%.4f "
                 "read_bars_per_s=%.0f features_bars_per_s=%.0f "
                 "labels_bars_per_s=%.0f total_bars_per_s=%.0f\n",
                 n, cols,
                 s->labels.source == KT_LABEL_ZIGZAG ? "zigzag"
                                                     : "triple_barrier",
                 tg, tr > 0 ? (double)n / tr : 0, (double)n / tf,
                 (double)n / tl, (double)n / (tf + tl));
    kt_ohlcv_free(b);
    kt_strategy_free(s);
    return 0;
}
