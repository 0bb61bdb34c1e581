// indicators_reg.c: the indicator registry: type names and aliases,
// outputs, parameters with their defaults and ranges, and dispatch from a
// kt_indicator_def to the kernels.
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "domain/errbuf.h"
#include "domain/indicators.h"

typedef struct ind_info {
    const char *name;                        // canonical
    const char *aliases[4];                  // also accepted, case-insensitive
    const char *outputs[KT_IND_MAX_OUTPUTS]; // NULL-terminated; none = 1
} ind_info;

static const ind_info infos[KT_IND_COUNT] = {
    [KT_IND_RSI] = {"rsi", {"rsiindicator"}, {NULL}},
    [KT_IND_ADX] = {"adx", {"adxindicator"}, {"adx", "plus_di", "minus_di"}},
    [KT_IND_MACD] = {"macd",
                     {"macdindicator"},
                     {"line", "signal", "histogram"}},
    [KT_IND_ROC] = {"roc", {"rocindicator", "rateofchange"}, {NULL}},
    [KT_IND_SMA] = {"sma", {"simplemovingaverage"}, {NULL}},
    [KT_IND_EMA] = {"ema", {"exponentialmovingaverage"}, {NULL}},
    [KT_IND_ATR] = {"atr", {"atrindicator", "averagetruerange"}, {NULL}},
    [KT_IND_BBANDS] = {"bollingerbands",
                       {"bbands", "bollingerbandsindicator"},
                       {"upper", "middle", "lower"}},
    [KT_IND_BBWIDTH] = {"bollingerbandwidth",
                        {"bollingerbandwidthindicator", "bbwidth"},
                        {NULL}},
    [KT_IND_STOCH] = {"stochastic", {"stochasticindicator"}, {"k", "d"}},
};

bool
kt_indicator_type_parse(const char *name, kt_ind_type *out)
{
    for (int t = 0; t < KT_IND_COUNT; t++) {
        bool hit = strcasecmp(name, infos[t].name) == 0;
        for (int a = 0; !hit && a < 4 && infos[t].aliases[a]; a++) {
            hit = strcasecmp(name, infos[t].aliases[a]) == 0;
        }
        if (hit) {
            *out = (kt_ind_type)t;
            return true;
        }
    }
    return false;
}

const char *
kt_indicator_type_name(kt_ind_type t)
{
    return t < KT_IND_COUNT ? infos[t].name : "?";
}

const char *
kt_indicator_type_list(void)
{
    return "rsi, adx, macd, roc, sma, ema, atr, bollingerbands (bbands), "
           "bollingerbandwidth, stochastic";
}

int
kt_indicator_n_outputs(kt_ind_type t)
{
    int n = 0;
    while (n < KT_IND_MAX_OUTPUTS && infos[t].outputs[n] != NULL) {
        n++;
    }
    return n == 0 ? 1 : n;
}

const char *
kt_indicator_output_name(kt_ind_type t, int i)
{
    if (i < 0 || i >= KT_IND_MAX_OUTPUTS) {
        return NULL;
    }
    return infos[t].outputs[i];
}

int
kt_indicator_output_index(kt_ind_type t, const char *name)
{
    for (int i = 0; i < KT_IND_MAX_OUTPUTS && infos[t].outputs[i]; i++) {
        if (strcmp(infos[t].outputs[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

void
kt_indicator_defaults(kt_ind_type t, kt_indicator_def *d)
{
    static const int period[KT_IND_COUNT] = {
        [KT_IND_RSI] = 14,    [KT_IND_ADX] = 14,     [KT_IND_ROC] = 10,
        [KT_IND_SMA] = 20,    [KT_IND_EMA] = 20,     [KT_IND_ATR] = 14,
        [KT_IND_BBANDS] = 20, [KT_IND_BBWIDTH] = 20,
    };
    d->type = t;
    d->source = KT_SRC_CLOSE;
    d->period = period[t];
    d->fast_period = 12;
    d->slow_period = 26;
    d->signal_period = 9;
    d->k_period = 14;
    d->d_period = 3;
    d->smooth_k = 3;
    d->multiplier = 2.0;
    d->adjust = true;
}

// ---- parameters --------------------------------------------------------

enum { P_INT, P_DBL, P_SRC, P_BOOL };

typedef struct param_info {
    const char *key;
    unsigned types; // bit mask of kt_ind_type
    int kind;
    size_t off;    // offset in kt_indicator_def
    double lo, hi; // inclusive range
} param_info;

#define T(x) (1u << (x))
#define ALL_PRICE                                                     \
    (T(KT_IND_RSI) | T(KT_IND_MACD) | T(KT_IND_ROC) | T(KT_IND_SMA) | \
     T(KT_IND_EMA) | T(KT_IND_BBANDS) | T(KT_IND_BBWIDTH))
#define OFF(f) offsetof(kt_indicator_def, f)

static const param_info params[] = {
    {"period",
     T(KT_IND_RSI) | T(KT_IND_ADX) | T(KT_IND_ROC) | T(KT_IND_SMA) |
         T(KT_IND_EMA) | T(KT_IND_ATR) | T(KT_IND_BBANDS) | T(KT_IND_BBWIDTH),
     P_INT, OFF(period), 1, 1000},
    {"source", ALL_PRICE, P_SRC, OFF(source), 0, 0},
    {"fast_period", T(KT_IND_MACD), P_INT, OFF(fast_period), 1, 1000},
    {"fast", T(KT_IND_MACD), P_INT, OFF(fast_period), 1, 1000},
    {"slow_period", T(KT_IND_MACD), P_INT, OFF(slow_period), 1, 1000},
    {"slow", T(KT_IND_MACD), P_INT, OFF(slow_period), 1, 1000},
    {"signal_period", T(KT_IND_MACD), P_INT, OFF(signal_period), 1, 1000},
    {"signal", T(KT_IND_MACD), P_INT, OFF(signal_period), 1, 1000},
    {"k_period", T(KT_IND_STOCH), P_INT, OFF(k_period), 1, 1000},
    {"d_period", T(KT_IND_STOCH), P_INT, OFF(d_period), 1, 1000},
    {"smooth_k", T(KT_IND_STOCH), P_INT, OFF(smooth_k), 1, 1000},
    {"multiplier", T(KT_IND_BBANDS) | T(KT_IND_BBWIDTH), P_DBL, OFF(multiplier),
     0, 100},
    {"std_dev", T(KT_IND_BBANDS) | T(KT_IND_BBWIDTH), P_DBL, OFF(multiplier), 0,
     100},
    {"num_std", T(KT_IND_BBANDS) | T(KT_IND_BBWIDTH), P_DBL, OFF(multiplier), 0,
     100},
    {"adjust", T(KT_IND_EMA), P_BOOL, OFF(adjust), 0, 0},
};

static const char *const src_names[] = {
    [KT_SRC_CLOSE] = "close",   [KT_SRC_OPEN] = "open",
    [KT_SRC_HIGH] = "high",     [KT_SRC_LOW] = "low",
    [KT_SRC_VOLUME] = "volume", [KT_SRC_HL2] = "hl2",
    [KT_SRC_HLC3] = "hlc3",     [KT_SRC_OHLC4] = "ohlc4",
};

// param_list writes the parameter names valid for type t into buf.
static void
param_list(kt_ind_type t, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        if (params[i].types & T(t)) {
            int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                             params[i].key);
            if (w < 0 || (size_t)w >= len - used) {
                return;
            }
            used += (size_t)w;
        }
    }
}

static kt_err
set_value(kt_indicator_def *d, const param_info *p, const char *value,
          char *why, size_t whylen)
{
    char *end;
    double v;
    unsigned char *base = (unsigned char *)d;

    if (p->kind == P_SRC) {
        for (size_t i = 0; i < sizeof(src_names) / sizeof(src_names[0]); i++) {
            if (strcasecmp(value, src_names[i]) == 0) {
                d->source = (kt_source)i;
                return KT_OK;
            }
        }
        kt__errf(why, whylen,
                 "unknown source '%s' (close, open, high, low, volume, hl2, "
                 "hlc3, ohlc4)",
                 value);
        return KT_EINVAL;
    }
    if (p->kind == P_BOOL) {
        bool t = strcasecmp(value, "true") == 0,
             f = strcasecmp(value, "false") == 0;
        if (!t && !f) {
            kt__errf(why, whylen, "must be true or false, got '%s'", value);
            return KT_EINVAL;
        }
        *(bool *)(base + p->off) = t;
        return KT_OK;
    }
    errno = 0;
    v = strtod(value, &end);
    if (end == value || *end != '\0' || !isfinite(v) ||
        (p->kind == P_INT && v != floor(v))) {
        kt__errf(why, whylen, "must be %s, got '%s'",
                 p->kind == P_INT ? "an integer" : "a number", value);
        return KT_EINVAL;
    }
    if (v < p->lo || v > p->hi) {
        kt__errf(why, whylen, "must be in [%g, %g], got %s", p->lo, p->hi,
                 value);
        return KT_EINVAL;
    }
    if (p->kind == P_INT) {
        *(int *)(base + p->off) = (int)v;
    } else {
        *(double *)(base + p->off) = v;
    }
    return KT_OK;
}

kt_err
kt_indicator_set_param(kt_indicator_def *d, const char *key, const char *value,
                       char *why, size_t whylen)
{
    char list[256];
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        if (strcmp(params[i].key, key) == 0 && (params[i].types & T(d->type))) {
            return set_value(d, &params[i], value, why, whylen);
        }
    }
    param_list(d->type, list, sizeof(list));
    kt__errf(why, whylen, "unknown parameter for %s (valid: %s)",
             infos[d->type].name, list);
    return KT_EINVAL;
}

kt_err
kt_indicator_check(const kt_indicator_def *d, char *why, size_t whylen)
{
    if (d->type == KT_IND_MACD && d->fast_period >= d->slow_period) {
        kt__errf(why, whylen, "fast_period (%d) must be < slow_period (%d)",
                 d->fast_period, d->slow_period);
        return KT_EINVAL;
    }
    return KT_OK;
}

// ---- dispatch ------------------------------------------------------------

// source_series returns the price series d reads; *owned is set when it
// had to be built (the caller frees it).
static kt_err
source_series(const kt_indicator_def *d, const kt_ohlcv *b, const double **x,
              double **owned)
{
    double *s;
    *owned = NULL;
    switch (d->source) {
    case KT_SRC_OPEN:
        *x = b->open;
        return KT_OK;
    case KT_SRC_HIGH:
        *x = b->high;
        return KT_OK;
    case KT_SRC_LOW:
        *x = b->low;
        return KT_OK;
    case KT_SRC_VOLUME:
        *x = b->volume;
        return KT_OK;
    case KT_SRC_CLOSE:
        *x = b->close;
        return KT_OK;
    default:
        break;
    }
    if ((s = malloc((b->n ? b->n : 1) * sizeof(*s))) == NULL) {
        return KT_ENOMEM;
    }
    for (size_t i = 0; i < b->n; i++) {
        if (d->source == KT_SRC_HL2) {
            s[i] = (b->high[i] + b->low[i]) / 2;
        } else if (d->source == KT_SRC_HLC3) {
            s[i] = (b->high[i] + b->low[i] + b->close[i]) / 3;
        } else {
            s[i] = (b->open[i] + b->high[i] + b->low[i] + b->close[i]) / 4;
        }
    }
    *x = s;
    *owned = s;
    return KT_OK;
}

kt_err
kt_indicator_compute(const kt_indicator_def *d, const kt_ohlcv *b,
                     double *const *o)
{
    const double *x;
    double *owned;
    size_t n = b->n;
    kt_err rv = source_series(d, b, &x, &owned);

    if (rv != KT_OK) {
        return rv;
    }
    switch (d->type) {
    case KT_IND_RSI:
        kt_ind_rsi(x, n, d->period, o[0]);
        break;
    case KT_IND_ROC:
        kt_ind_roc(x, n, d->period, o[0]);
        break;
    case KT_IND_SMA:
        kt_ind_sma(x, n, d->period, o[0]);
        break;
    case KT_IND_EMA:
        kt_ind_ema(x, n, d->period, d->adjust, o[0]);
        break;
    case KT_IND_ATR:
        kt_ind_atr(b->high, b->low, b->close, n, d->period, o[0]);
        break;
    case KT_IND_ADX:
        kt_ind_adx(b->high, b->low, b->close, n, d->period, o[0], o[1], o[2]);
        break;
    case KT_IND_MACD:
        kt_ind_macd(x, n, d->fast_period, d->slow_period, d->signal_period,
                    o[0], o[1], o[2]);
        break;
    case KT_IND_BBANDS:
        kt_ind_bbands(x, n, d->period, d->multiplier, o[0], o[1], o[2]);
        break;
    case KT_IND_BBWIDTH:
        kt_ind_bbwidth(x, n, d->period, d->multiplier, o[0]);
        break;
    case KT_IND_STOCH:
        kt_ind_stoch(b->high, b->low, b->close, n, d->k_period, d->d_period,
                     d->smooth_k, o[0], o[1]);
        break;
    default:
        break;
    }
    free(owned);
    return KT_OK;
}
