// kt_data_features.c: `kt-data features`: a strategy's indicators, fuzzy
// memberships (model inputs, model order) and labels over stored bars, as
// CSV.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "domain/features.h"
#include "domain/labels.h"
#include "domain/ohlcv.h"
#include "domain/strategy.h"
#include "kt_data.h"

// The data of one export.
typedef struct export
{
    kt_strategy *s;
    kt_ohlcv *bars[KT_STRAT_MAX_TF];
    kt_features f;
    kt_ind_table ind;
    uint8_t *labels;
    size_t n_valid;
}
export;

static void
export_fini(export *e)
{
    for (int i = 0; i < KT_STRAT_MAX_TF; i++) {
        kt_ohlcv_free(e->bars[i]);
    }
    kt_features_free(&e->f);
    kt_ind_table_free(&e->ind);
    free(e->labels);
    kt_strategy_free(e->s);
}

// load_bars reads the bars of every timeframe of the strategy.
static int
load_bars(export *e, const kt_data_opts *o, int64_t start, int64_t end)
{
    char err[1024];
    for (int t = 0; t < e->s->n_timeframes; t++) {
        if (kt_ohlcv_load(kt_data_dir(o), o->pos[1], e->s->timeframes[t], start,
                          end, &e->bars[t], err, sizeof(err)) != KT_OK) {
            (void)fprintf(stderr, "kt-data features: %s\n", err);
            return EXIT_FAIL;
        }
    }
    if (e->bars[0]->n == 0) {
        (void)fprintf(stderr, "kt-data features: no %s %s bars in the range\n",
                      o->pos[1], o->pos[2]);
        return EXIT_FAIL;
    }
    return EXIT_OKAY;
}

static int
compute(export *e)
{
    char err[1024];
    const kt_ohlcv *const *tf = (const kt_ohlcv *const *)e->bars;

    if (kt_features_build_mtf(e->s, tf, (size_t)e->s->n_timeframes, &e->f, err,
                              sizeof(err)) != KT_OK ||
        kt_ind_table_build(e->s, e->bars[0], &e->ind, err, sizeof(err)) !=
            KT_OK) {
        (void)fprintf(stderr, "kt-data features: %s\n", err);
        return EXIT_FAIL;
    }
    if ((e->labels = malloc(e->bars[0]->n)) == NULL ||
        kt_labels_build(&e->s->labels, e->bars[0], e->labels, &e->n_valid, err,
                        sizeof(err)) != KT_OK) {
        (void)fprintf(stderr, "kt-data features: labels: %s\n",
                      e->labels ? err : "out of memory");
        return EXIT_FAIL;
    }
    return EXIT_OKAY;
}

static int
write_csv(const export *e, FILE *fp)
{
    char ts[32];
    (void)fputs("timestamp", fp);
    for (size_t c = 0; c < e->ind.n_cols; c++) {
        (void)fprintf(fp, ",%s", e->ind.names[c]);
    }
    for (size_t c = 0; c < e->f.n_cols; c++) {
        (void)fprintf(fp, ",%s", e->f.names[c]);
    }
    (void)fputs(",label\n", fp);
    for (size_t r = 0; r < e->f.n_rows; r++) {
        kt_time_format(e->f.time[r], ts, sizeof(ts));
        (void)fputs(ts, fp);
        for (size_t c = 0; c < e->ind.n_cols; c++) {
            double v = e->ind.v[c * e->ind.n_rows + r];
            isnan(v) ? (void)fputc(',', fp) : (void)fprintf(fp, ",%.10g", v);
        }
        for (size_t c = 0; c < e->f.n_cols; c++) {
            (void)fprintf(fp, ",%.6g", (double)e->f.x[r * e->f.n_cols + c]);
        }
        r < e->n_valid ? (void)fprintf(fp, ",%d\n", e->labels[r])
                       : (void)fputs(",\n", fp);
    }
    return ferror(fp) ? EXIT_FAIL : EXIT_OKAY;
}

static int
output(const export *e, const char *out)
{
    FILE *fp = out != NULL ? fopen(out, "w") : stdout;
    int rc;
    if (fp == NULL) {
        perror(out);
        return EXIT_FAIL;
    }
    rc = write_csv(e, fp);
    if (out != NULL) {
        rc = fclose(fp) != 0 ? EXIT_FAIL : rc;
        if (rc == EXIT_OKAY) {
            (void)fprintf(stderr, "wrote %zu rows x %zu features to %s\n",
                          e->f.n_rows, e->f.n_cols, out);
        }
    } else if (fflush(stdout) != 0) {
        rc = EXIT_FAIL;
    }
    return rc;
}

int
kt_data_features(const kt_data_opts *o)
{
    char err[1024];
    export e = {0};
    int64_t start, end;
    int rc;

    if (o->n_pos != 3) {
        return kt_data_usage_error(
            "features needs STRATEGY.yaml SYMBOL TIMEFRAME");
    }
    if (kt_date_range_parse(o->start, o->end, &start, &end) != KT_OK) {
        return kt_data_usage_error("bad --start/--end (YYYY-MM-DD)");
    }
    if (kt_strategy_load(o->pos[0], &e.s, err, sizeof(err)) != KT_OK) {
        (void)fprintf(stderr, "kt-data features: %s\n", err);
        return EXIT_FAIL;
    }
    if (strcmp(e.s->timeframes[0], o->pos[2]) != 0) {
        (void)fprintf(stderr,
                      "kt-data features: strategy '%s' is built on %s bars "
                      "(training_data.timeframes), not %s\n",
                      e.s->name, e.s->timeframes[0], o->pos[2]);
        export_fini(&e);
        return EXIT_FAIL;
    }
    rc = load_bars(&e, o, start, end);
    if (rc == EXIT_OKAY) {
        rc = compute(&e);
    }
    if (rc == EXIT_OKAY) {
        rc = output(&e, o->out);
    }
    export_fini(&e);
    return rc;
}
