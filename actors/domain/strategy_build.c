// strategy_build.c: validation of a strategy document tree into a
// kt_strategy: identity, training_data, indicators, fuzzy_sets, nn_inputs
// (model, decisions and training are in strategy_model.c).
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "domain/errbuf.h"
#include "domain/ohlcv.h"
#include "domain/strategy_int.h"

#define PATH_MAX_LEN 256

kt_err
kt__sb_fail(kt__sb *b, const char *path, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kt__errf(b->err, b->errlen, "%s: %s: %s", b->file, path, msg);
    return KT_EINVAL;
}

static const char *
kind_name(kt__ykind k)
{
    return k == KT_Y_MAP ? "a mapping" : k == KT_Y_SEQ ? "a list" : "a value";
}

kt_err
kt__sb_kind(kt__sb *b, const kt__ynode *n, const char *path, kt__ykind kind)
{
    if (n == NULL || n->kind != kind) {
        return kt__sb_fail(b, path, "must be %s%s", kind_name(kind),
                           n == NULL ? " (missing)" : "");
    }
    return KT_OK;
}

kt_err
kt__sb_dbl(kt__sb *b, const kt__ynode *n, const char *path, double lo,
           double hi, double *out)
{
    char *end;
    double v;
    if (kt__sb_kind(b, n, path, KT_Y_SCALAR) != KT_OK) {
        return KT_EINVAL;
    }
    errno = 0;
    v = strtod(n->str, &end);
    if (end == n->str || *end != '\0' || !isfinite(v)) {
        return kt__sb_fail(b, path, "must be a number, got '%s'", n->str);
    }
    if (v < lo || v > hi) {
        return kt__sb_fail(b, path, "must be in [%g, %g], got %s", lo, hi,
                           n->str);
    }
    *out = v;
    return KT_OK;
}

kt_err
kt__sb_int(kt__sb *b, const kt__ynode *n, const char *path, int lo, int hi,
           int *out)
{
    double v;
    if (kt__sb_dbl(b, n, path, lo, hi, &v) != KT_OK) {
        return KT_EINVAL;
    }
    if (v != floor(v)) {
        return kt__sb_fail(b, path, "must be an integer, got '%s'", n->str);
    }
    *out = (int)v;
    return KT_OK;
}

kt_err
kt__sb_bool(kt__sb *b, const kt__ynode *n, const char *path, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    if (kt__sb_kind(b, n, path, KT_Y_SCALAR) != KT_OK) {
        return KT_EINVAL;
    }
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(n->str, yes[i]) == 0 || strcasecmp(n->str, no[i]) == 0) {
            *out = strcasecmp(n->str, yes[i]) == 0;
            return KT_OK;
        }
    }
    return kt__sb_fail(b, path, "must be true or false, got '%s'", n->str);
}

kt_err
kt__sb_str(kt__sb *b, const kt__ynode *n, const char *path, char *dst,
           size_t cap)
{
    if (kt__sb_kind(b, n, path, KT_Y_SCALAR) != KT_OK) {
        return KT_EINVAL;
    }
    if (strlen(n->str) >= cap) {
        return kt__sb_fail(b, path, "too long (at most %zu characters)",
                           cap - 1);
    }
    memcpy(dst, n->str, strlen(n->str) + 1);
    return KT_OK;
}

// kt__sb_ident checks an id: letters, digits, '_' and '-' (no '.', which is the
// output separator); the error names path.
kt_err
kt__sb_ident(kt__sb *b, const char *id, const char *path, size_t cap)
{
    if (*id == '\0' || strlen(id) >= cap) {
        return kt__sb_fail(b, path, "an id must have 1 to %zu characters",
                           cap - 1);
    }
    for (const char *p = id; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-') {
            return kt__sb_fail(b, path,
                               "invalid character '%c' in id '%s' (letters, "
                               "digits, '_' and '-' only)",
                               *p, id);
        }
    }
    return KT_OK;
}

// ---- training_data -------------------------------------------------------

// str_list reads a list of scalars (or one scalar) at n into out[cap][len].
static kt_err
str_list(kt__sb *b, const kt__ynode *n, const char *path, char *out, size_t len,
         int cap, int *count)
{
    char p[PATH_MAX_LEN];
    if (n != NULL && n->kind == KT_Y_SCALAR) {
        *count = 1;
        return kt__sb_str(b, n, path, out, len);
    }
    if (kt__sb_kind(b, n, path, KT_Y_SEQ) != KT_OK) {
        return KT_EINVAL;
    }
    if (n->n == 0 || n->n > (size_t)cap) {
        return kt__sb_fail(b, path, "must list 1 to %d entries, got %zu", cap,
                           n->n);
    }
    for (size_t i = 0; i < n->n; i++) {
        kt__fmt(p, sizeof(p), "%s[%zu]", path, i);
        if (kt__sb_str(b, n->items[i], p, out + i * len, len) != KT_OK) {
            return KT_EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(out + i * len, out + j * len) == 0) {
                return kt__sb_fail(b, p, "duplicate entry '%s'", out + i * len);
            }
        }
    }
    *count = (int)n->n;
    return KT_OK;
}

static kt_err
symbols(kt__sb *b, const kt__ynode *td)
{
    const kt__ynode *sy = kt__ymap_get(td, "symbols");
    const kt__ynode *v;
    const char *key;
    kt_strategy *s = b->s;

    if (kt__sb_kind(b, sy, "training_data.symbols", KT_Y_MAP) != KT_OK) {
        return KT_EINVAL;
    }
    // KTRDR writes {mode: single, symbol} or {mode: multi_symbol,
    // symbols|list}; accept whichever key is present (the reference's
    // agent read only `list`, a quirk).
    key = "symbol";
    if ((v = kt__ymap_get(sy, key)) == NULL) {
        key = "symbols";
        if ((v = kt__ymap_get(sy, key)) == NULL) {
            key = "list";
            v = kt__ymap_get(sy, key);
        }
    }
    if (v == NULL) {
        return kt__sb_fail(b, "training_data.symbols",
                           "needs 'symbol' (single) or 'symbols'/'list' "
                           "(multi_symbol)");
    }
    s->symbols = calloc(64, sizeof(*s->symbols));
    if (s->symbols == NULL) {
        return KT_ENOMEM;
    }
    char p[PATH_MAX_LEN];
    kt__fmt(p, sizeof(p), "training_data.symbols.%s", key);
    return str_list(b, v, p, s->symbols[0], KT_SYMBOL_MAX, 64, &s->n_symbols);
}

static kt_err
timeframes(kt__sb *b, const kt__ynode *td)
{
    const kt__ynode *tf = kt__ymap_get(td, "timeframes");
    const kt__ynode *v, *base;
    kt_strategy *s = b->s;
    char p[PATH_MAX_LEN], tmp[KT_TF_MAX];
    const char *key = "timeframe";

    if (kt__sb_kind(b, tf, "training_data.timeframes", KT_Y_MAP) != KT_OK) {
        return KT_EINVAL;
    }
    if ((v = kt__ymap_get(tf, key)) == NULL) {
        key = "timeframes";
        if ((v = kt__ymap_get(tf, key)) == NULL) {
            key = "list";
            v = kt__ymap_get(tf, key);
        }
    }
    if (v == NULL) {
        return kt__sb_fail(b, "training_data.timeframes",
                           "needs 'timeframe' (single) or 'timeframes'/"
                           "'list' (multi_timeframe)");
    }
    kt__fmt(p, sizeof(p), "training_data.timeframes.%s", key);
    if (str_list(b, v, p, s->timeframes[0], KT_TF_MAX, KT_STRAT_MAX_TF,
                 &s->n_timeframes) != KT_OK) {
        return KT_EINVAL;
    }
    for (int i = 0; i < s->n_timeframes; i++) {
        if (kt_timeframe_seconds(s->timeframes[i]) == 0) {
            return kt__sb_fail(b, p,
                               "unknown timeframe '%s' (1m, 5m, 15m, 30m, "
                               "1h, 4h, 1d, 1w)",
                               s->timeframes[i]);
        }
    }
    if ((base = kt__ymap_get(tf, "base_timeframe")) == NULL) {
        return KT_OK; // the first listed timeframe is the base
    }
    if (kt__sb_str(b, base, "training_data.timeframes.base_timeframe", tmp,
                   sizeof(tmp)) != KT_OK) {
        return KT_EINVAL;
    }
    for (int i = 0; i < s->n_timeframes; i++) {
        if (strcmp(s->timeframes[i], tmp) == 0) {
            // Move the base first, keeping the others' order.
            memmove(s->timeframes[1], s->timeframes[0], (size_t)i * KT_TF_MAX);
            memcpy(s->timeframes[0], tmp, KT_TF_MAX);
            return KT_OK;
        }
    }
    return kt__sb_fail(b, "training_data.timeframes.base_timeframe",
                       "'%s' is not one of the listed timeframes", tmp);
}

static kt_err
date_key(kt__sb *b, const kt__ynode *n, const char *path, char *dst, size_t cap)
{
    int64_t t;
    if (kt__ynull(n)) {
        return KT_OK;
    }
    if (kt__sb_str(b, n, path, dst, cap) != KT_OK) {
        return KT_EINVAL;
    }
    if (kt_time_parse(dst, &t) != KT_OK) {
        return kt__sb_fail(b, path, "not a date (YYYY-MM-DD): '%s'", dst);
    }
    return KT_OK;
}

static kt_err
training_data(kt__sb *b, const kt__ynode *root)
{
    const kt__ynode *td = kt__ymap_get(root, "training_data");
    const kt__ynode *dr, *hr;
    kt_strategy *s = b->s;
    kt_err rv;

    if (kt__sb_kind(b, td, "training_data", KT_Y_MAP) != KT_OK) {
        return KT_EINVAL;
    }
    if ((rv = symbols(b, td)) != KT_OK || (rv = timeframes(b, td)) != KT_OK) {
        return rv;
    }
    s->history_required = 100;
    if ((hr = kt__ymap_get(td, "history_required")) != NULL &&
        kt__sb_int(b, hr, "training_data.history_required", 0, 1000000,
                   &s->history_required) != KT_OK) {
        return KT_EINVAL;
    }
    dr = kt__ymap_get(td, "date_range");
    if (date_key(b, kt__ymap_get(td, "start_date"), "training_data.start_date",
                 s->start_date, sizeof(s->start_date)) != KT_OK ||
        date_key(b, kt__ymap_get(td, "end_date"), "training_data.end_date",
                 s->end_date, sizeof(s->end_date)) != KT_OK) {
        return KT_EINVAL;
    }
    if (dr != NULL && s->start_date[0] == '\0' && s->end_date[0] == '\0' &&
        (date_key(b, kt__ymap_get(dr, "start"),
                  "training_data.date_range.start", s->start_date,
                  sizeof(s->start_date)) != KT_OK ||
         date_key(b, kt__ymap_get(dr, "end"), "training_data.date_range.end",
                  s->end_date, sizeof(s->end_date)) != KT_OK)) {
        return KT_EINVAL;
    }
    return KT_OK;
}

// ---- nn_inputs -----------------------------------------------------------

static int
find_fuzzy_set(const kt_strategy *s, const char *id)
{
    for (int i = 0; i < s->n_fuzzy_sets; i++) {
        if (strcmp(s->fuzzy_sets[i].id, id) == 0) {
            return i;
        }
    }
    return -1;
}

static kt_err
nn_timeframes(kt__sb *b, const kt__ynode *tfs, const char *path,
              kt_nn_input *in)
{
    const kt_strategy *s = b->s;
    char names[KT_STRAT_MAX_TF][KT_TF_MAX];
    int n = 0;

    if (kt__ynull(tfs) ||
        (tfs->kind == KT_Y_SCALAR && strcmp(tfs->str, "all") == 0)) {
        in->n_tf = s->n_timeframes;
        for (int t = 0; t < s->n_timeframes; t++) {
            in->tf[t] = t;
        }
        return KT_OK;
    }
    if (str_list(b, tfs, path, names[0], KT_TF_MAX, KT_STRAT_MAX_TF, &n) !=
        KT_OK) {
        return KT_EINVAL;
    }
    for (int i = 0; i < n; i++) {
        int t = 0;
        while (t < s->n_timeframes && strcmp(s->timeframes[t], names[i]) != 0) {
            t++;
        }
        if (t == s->n_timeframes) {
            return kt__sb_fail(b, path,
                               "timeframe '%s' is not in "
                               "training_data.timeframes",
                               names[i]);
        }
        in->tf[i] = t;
    }
    in->n_tf = n;
    return KT_OK;
}

static kt_err
nn_inputs(kt__sb *b, const kt__ynode *root)
{
    const kt__ynode *n = kt__ymap_get(root, "nn_inputs");
    kt_strategy *s = b->s;
    char p[PATH_MAX_LEN], pt[PATH_MAX_LEN];

    if (kt__sb_kind(b, n, "nn_inputs", KT_Y_SEQ) != KT_OK) {
        return KT_EINVAL;
    }
    if (n->n == 0) {
        return kt__sb_fail(b, "nn_inputs", "at least one input needed");
    }
    if ((s->nn_inputs = calloc(n->n, sizeof(*s->nn_inputs))) == NULL) {
        return KT_ENOMEM;
    }
    for (size_t i = 0; i < n->n; i++) {
        const kt__ynode *e = n->items[i], *fs;
        kt_nn_input *in = &s->nn_inputs[i];
        kt__fmt(p, sizeof(p), "nn_inputs[%zu]", i);
        if (kt__sb_kind(b, e, p, KT_Y_MAP) != KT_OK) {
            return KT_EINVAL;
        }
        if (kt__ymap_get(e, "raw_indicator") != NULL) {
            return kt__sb_fail(b, p,
                               "raw_indicator inputs are not supported "
                               "(fuzzy_set inputs only)");
        }
        fs = kt__ymap_get(e, "fuzzy_set");
        kt__fmt(pt, sizeof(pt), "nn_inputs[%zu].fuzzy_set", i);
        if (kt__sb_kind(b, fs, pt, KT_Y_SCALAR) != KT_OK) {
            return KT_EINVAL;
        }
        if ((in->fuzzy_set = find_fuzzy_set(s, fs->str)) < 0) {
            return kt__sb_fail(b, pt, "unknown fuzzy set '%s'", fs->str);
        }
        for (size_t j = 0; j < i; j++) {
            if (s->nn_inputs[j].fuzzy_set == in->fuzzy_set) {
                return kt__sb_fail(b, pt, "fuzzy set '%s' is listed twice",
                                   fs->str);
            }
        }
        kt__fmt(pt, sizeof(pt), "nn_inputs[%zu].timeframes", i);
        if (nn_timeframes(b, kt__ymap_get(e, "timeframes"), pt, in) != KT_OK) {
            return KT_EINVAL;
        }
        s->n_nn_inputs++;
    }
    return KT_OK;
}

// ---- top level -------------------------------------------------------------

static kt_err
identity(kt__sb *b, const kt__ynode *root)
{
    kt_strategy *s = b->s;
    const kt__ynode *desc = kt__ymap_get(root, "description");
    const kt__ynode *ver = kt__ymap_get(root, "version");

    if (kt__sb_str(b, kt__ymap_get(root, "name"), "name", s->name,
                   sizeof(s->name)) != KT_OK) {
        return KT_EINVAL;
    }
    if (s->name[0] == '\0') {
        return kt__sb_fail(b, "name", "must not be empty");
    }
    memcpy(s->version, "3.0", 4);
    if (ver != NULL) {
        if (kt__sb_str(b, ver, "version", s->version, sizeof(s->version)) !=
            KT_OK) {
            return KT_EINVAL;
        }
        if (s->version[0] != '3') {
            return kt__sb_fail(b, "version",
                               "only v3 strategies are supported, got '%s'",
                               s->version);
        }
    }
    if (!kt__ynull(desc) &&
        kt__sb_kind(b, desc, "description", KT_Y_SCALAR) != KT_OK) {
        return KT_EINVAL;
    }
    s->description = kt__dom_strdup(kt__ynull(desc) ? "" : desc->str);
    return s->description != NULL ? KT_OK : KT_ENOMEM;
}

kt_err
kt__strategy_build(const kt__ynode *root, const char *file, kt_strategy *s,
                   char *err, size_t errlen)
{
    kt__sb b = {.file = file, .err = err, .errlen = errlen, .s = s};
    static const char *const required[] = {"training_data", "indicators",
                                           "fuzzy_sets",    "nn_inputs",
                                           "model",         "training"};
    kt_err rv;

    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (kt__ymap_get(root, required[i]) == NULL) {
            return kt__sb_fail(&b, required[i], "missing required section");
        }
    }
    if ((rv = identity(&b, root)) != KT_OK ||
        (rv = training_data(&b, root)) != KT_OK ||
        (rv = kt__sb_indicators(&b, root)) != KT_OK ||
        (rv = kt__sb_fuzzy_sets(&b, root)) != KT_OK ||
        (rv = nn_inputs(&b, root)) != KT_OK ||
        (rv = kt__sb_model(&b, root)) != KT_OK ||
        (rv = kt__sb_decisions(&b, root)) != KT_OK ||
        (rv = kt__sb_training(&b, root)) != KT_OK) {
        return rv;
    }
    s->mlp.n_inputs = (int)kt_strategy_n_features(s);
    return KT_OK;
}
