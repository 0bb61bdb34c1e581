// features.c: strategy + bars -> feature matrix (indicators, fuzzy
// memberships, canonical column order, NaN -> 0), with forward-fill of
// higher timeframes onto the base rows; and the indicator table.
#include "domain/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "domain/errbuf.h"
#include "domain/fuzzy.h"
#include "domain/indicators.h"

// The outputs of every indicator of a strategy over one set of bars:
// out[i * KT_IND_MAX_OUTPUTS + k] is output k of indicator i (NULL when the
// indicator is not needed).
typedef struct ind_vals {
    int n_ind;
    double **out;
} ind_vals;

// nz avoids malloc(0), whose NULL would read as an allocation failure.
static size_t
nz(size_t n)
{
    return n != 0 ? n : 1;
}

static void
ind_vals_free(ind_vals *v)
{
    if (v->out != NULL) {
        for (int i = 0; i < v->n_ind * KT_IND_MAX_OUTPUTS; i++) {
            free(v->out[i]);
        }
        free(v->out);
    }
    v->out = NULL;
}

// ind_vals_compute computes the indicators with need[i] set (all when need
// is NULL) over b.
static kt_err
ind_vals_compute(const kt_strategy *s, const kt_ohlcv *b, const bool *need,
                 ind_vals *v)
{
    size_t n = nz(b->n);
    v->n_ind = s->n_indicators;
    v->out =
        calloc((size_t)s->n_indicators * KT_IND_MAX_OUTPUTS, sizeof(*v->out));
    if (v->out == NULL) {
        return KT_ENOMEM;
    }
    for (int i = 0; i < s->n_indicators; i++) {
        double **o = &v->out[(size_t)i * KT_IND_MAX_OUTPUTS];
        if (need != NULL && !need[i]) {
            continue;
        }
        for (int k = 0; k < kt_indicator_n_outputs(s->indicators[i].type);
             k++) {
            if ((o[k] = malloc(n * sizeof(double))) == NULL) {
                ind_vals_free(v);
                return KT_ENOMEM;
            }
        }
        if (kt_indicator_compute(&s->indicators[i], b, o) != KT_OK) {
            ind_vals_free(v);
            return KT_ENOMEM;
        }
    }
    return KT_OK;
}

// needed marks the indicators that nn_inputs using timeframe tf read.
static void
needed(const kt_strategy *s, int tf, bool *need)
{
    memset(need, 0, (size_t)s->n_indicators * sizeof(*need));
    for (int i = 0; i < s->n_nn_inputs; i++) {
        const kt_nn_input *in = &s->nn_inputs[i];
        for (int t = 0; t < in->n_tf; t++) {
            if (in->tf[t] == tf) {
                need[s->fuzzy_sets[in->fuzzy_set].ind] = true;
            }
        }
    }
}

// fill_column writes membership mf of x (indicator values of the tf) into
// column col of f: for base row r, x[map[r]] (map NULL: x[r]; map[r] ==
// SIZE_MAX: no bar yet -> 0).
static void
fill_column(kt_features *f, size_t col, const kt_mf *mf, const double *x,
            const size_t *map)
{
    for (size_t r = 0; r < f->n_rows; r++) {
        size_t j = map != NULL ? map[r] : r;
        double m = j == SIZE_MAX ? 0.0 : kt_mf_eval(mf, x[j]);
        f->x[r * f->n_cols + col] = isnan(m) ? 0.0f : (float)m;
    }
}

// align maps each base row to the last higher-timeframe bar that has
// closed by the end of the base bar (SIZE_MAX if none).
static void
align(const kt_ohlcv *base, int64_t base_len, const kt_ohlcv *hi,
      int64_t hi_len, size_t *map)
{
    size_t j = 0;
    for (size_t r = 0; r < base->n; r++) {
        int64_t seen = base->time[r] + base_len;
        while (j < hi->n && hi->time[j] + hi_len <= seen) {
            j++;
        }
        map[r] = j == 0 ? SIZE_MAX : j - 1;
    }
}

static kt_err
check_inputs(const kt_strategy *s, const kt_ohlcv *const *tf_bars, size_t n_tf,
             char *err, size_t errlen)
{
    if (n_tf != (size_t)s->n_timeframes) {
        kt__errf(err, errlen,
                 "strategy '%s' uses %d timeframe(s), %zu bar set(s) given",
                 s->name, s->n_timeframes, n_tf);
        return KT_EINVAL;
    }
    for (size_t t = 0; t < n_tf; t++) {
        const char *tf = tf_bars[t]->timeframe;
        if (tf[0] != '\0' && strcmp(tf, s->timeframes[t]) != 0) {
            kt__errf(err, errlen,
                     "strategy '%s' expects %s bars for timeframe %zu, got "
                     "%s bars",
                     s->name, s->timeframes[t], t, tf);
            return KT_EINVAL;
        }
    }
    return KT_OK;
}

// fill_tf writes every column that reads timeframe t.
static void
fill_tf(const kt_strategy *s, int t, const ind_vals *v, const size_t *map,
        kt_features *f)
{
    size_t col = 0;
    for (int i = 0; i < s->n_nn_inputs; i++) {
        const kt_nn_input *in = &s->nn_inputs[i];
        const kt_fuzzy_set *fs = &s->fuzzy_sets[in->fuzzy_set];
        const double *x =
            v->out[(size_t)fs->ind * KT_IND_MAX_OUTPUTS + (size_t)fs->output];
        for (int k = 0; k < in->n_tf; k++, col += (size_t)fs->n_mfs) {
            if (in->tf[k] != t) {
                continue;
            }
            for (int m = 0; m < fs->n_mfs; m++) {
                fill_column(f, col + (size_t)m, &fs->mfs[m], x, map);
            }
        }
    }
}

static kt_err
build_tf(const kt_strategy *s, const kt_ohlcv *const *tf_bars, int t,
         bool *need, size_t *map, kt_features *f)
{
    ind_vals v = {0};
    kt_err rv;

    needed(s, t, need);
    if ((rv = ind_vals_compute(s, tf_bars[t], need, &v)) != KT_OK) {
        return rv;
    }
    if (t > 0) {
        align(tf_bars[0], kt_timeframe_seconds(s->timeframes[0]), tf_bars[t],
              kt_timeframe_seconds(s->timeframes[t]), map);
    }
    fill_tf(s, t, &v, t > 0 ? map : NULL, f);
    ind_vals_free(&v);
    return KT_OK;
}

kt_err
kt_features_build_mtf(const kt_strategy *s, const kt_ohlcv *const *tf_bars,
                      size_t n_tf, kt_features *out, char *err, size_t errlen)
{
    kt_features f = {0};
    bool *need = NULL;
    size_t *map = NULL;
    kt_err rv;

    if ((rv = check_inputs(s, tf_bars, n_tf, err, errlen)) != KT_OK) {
        return rv;
    }
    f.n_rows = tf_bars[0]->n;
    f.n_cols = kt_strategy_n_features(s);
    if ((rv = kt_strategy_feature_names(s, &f.names, &f.n_cols)) != KT_OK) {
        return rv;
    }
    f.x = malloc(nz(f.n_rows * f.n_cols) * sizeof(float));
    f.time = malloc(nz(f.n_rows) * sizeof(int64_t));
    need = malloc(nz((size_t)s->n_indicators) * sizeof(*need));
    map = n_tf > 1 ? malloc(nz(f.n_rows) * sizeof(*map)) : NULL;
    rv = f.x && f.time && need && (n_tf == 1 || map) ? KT_OK : KT_ENOMEM;
    for (int t = 0; rv == KT_OK && t < s->n_timeframes; t++) {
        rv = build_tf(s, tf_bars, t, need, map, &f);
    }
    free(need);
    free(map);
    if (rv != KT_OK) {
        kt_features_free(&f);
        return rv;
    }
    memcpy(f.time, tf_bars[0]->time, f.n_rows * sizeof(int64_t));
    *out = f;
    return KT_OK;
}

kt_err
kt_features_build(const kt_strategy *s, const kt_ohlcv *bars, kt_features *out,
                  char *err, size_t errlen)
{
    if (s->n_timeframes != 1) {
        kt__errf(err, errlen,
                 "strategy '%s' is multi-timeframe (%d timeframes): use "
                 "kt_features_build_mtf",
                 s->name, s->n_timeframes);
        return KT_EINVAL;
    }
    return kt_features_build_mtf(s, &bars, 1, out, err, errlen);
}

void
kt_features_free(kt_features *f)
{
    kt_names_free(f->names, f->n_cols);
    free(f->x);
    free(f->time);
    memset(f, 0, sizeof(*f));
}

kt_err
kt_features_check(const kt_features *f, char *const *expected, size_t n,
                  char *err, size_t errlen)
{
    for (size_t i = 0; i < n && i < f->n_cols; i++) {
        if (strcmp(f->names[i], expected[i]) != 0) {
            kt__errf(err, errlen,
                     "feature %zu is '%s' but the model expects '%s'", i,
                     f->names[i], expected[i]);
            return KT_EINVAL;
        }
    }
    if (n != f->n_cols) {
        kt__errf(err, errlen, "%zu features computed but the model expects %zu",
                 f->n_cols, n);
        return KT_EINVAL;
    }
    return KT_OK;
}

// ---- indicator table -------------------------------------------------------

kt_err
kt_ind_table_build(const kt_strategy *s, const kt_ohlcv *bars,
                   kt_ind_table *out, char *err, size_t errlen)
{
    kt_ind_table t = {.n_rows = bars->n};
    ind_vals v = {0};
    size_t c = 0, n = bars->n;
    kt_err rv;

    (void)err;
    (void)errlen;
    for (int i = 0; i < s->n_indicators; i++) {
        t.n_cols += (size_t)kt_indicator_n_outputs(s->indicators[i].type);
    }
    t.names = calloc(nz(t.n_cols), sizeof(*t.names));
    t.v = malloc(nz(t.n_cols * n) * sizeof(double));
    if (t.names == NULL || t.v == NULL ||
        (rv = ind_vals_compute(s, bars, NULL, &v)) != KT_OK) {
        kt_ind_table_free(&t);
        return KT_ENOMEM;
    }
    for (int i = 0; i < s->n_indicators && rv == KT_OK; i++) {
        const kt_indicator_def *d = &s->indicators[i];
        for (int k = 0; k < kt_indicator_n_outputs(d->type); k++, c++) {
            const char *o = kt_indicator_output_name(d->type, k);
            size_t len = strlen(d->id) + (o ? strlen(o) + 1 : 0) + 1;
            if ((t.names[c] = malloc(len)) == NULL) {
                rv = KT_ENOMEM;
                break;
            }
            kt__fmt(t.names[c], len, "%s%s%s", d->id, o ? "." : "", o ? o : "");
            memcpy(t.v + c * n, v.out[i * KT_IND_MAX_OUTPUTS + k],
                   n * sizeof(double));
        }
    }
    ind_vals_free(&v);
    if (rv != KT_OK) {
        kt_ind_table_free(&t);
        return rv;
    }
    *out = t;
    return KT_OK;
}

void
kt_ind_table_free(kt_ind_table *t)
{
    kt_names_free(t->names, t->n_cols);
    free(t->v);
    memset(t, 0, sizeof(*t));
}
