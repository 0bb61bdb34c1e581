// labels.c: ZigZag-segment and triple-barrier labels (reference §1.6).
#include "domain/labels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "domain/errbuf.h"

size_t
kt_zigzag_extremes(const double *x, size_t n, double t, size_t *idx)
{
    size_t k = 0;
    int dir = 0; // 0 until the first move of t, then +1 up / -1 down
    double last;

    if (n == 0) {
        return 0;
    }
    idx[k++] = 0;
    last = x[0];
    for (size_t i = 1; i < n; i++) {
        double pct = (x[i] - last) / last;
        if (dir == 0) {
            if (fabs(pct) >= t) {
                dir = pct > 0 ? 1 : -1;
                idx[k++] = i;
                last = x[i];
            }
        } else if ((dir == 1 && x[i] > last) || (dir == -1 && x[i] < last)) {
            idx[k - 1] = i; // the current extreme moves on
            last = x[i];
        } else if ((dir == 1 && pct <= -t) || (dir == -1 && pct >= t)) {
            dir = -dir; // reversal: a new extreme
            idx[k++] = i;
            last = x[i];
        }
    }
    return k;
}

kt_err
kt_labels_zigzag(const double *close, size_t n, double threshold, uint8_t *out)
{
    size_t *idx, k;

    memset(out, KT_HOLD, n);
    if (n == 0) {
        return KT_OK;
    }
    if ((idx = malloc(n * sizeof(*idx))) == NULL) {
        return KT_ENOMEM;
    }
    k = kt_zigzag_extremes(close, n, threshold, idx);
    for (size_t e = 0; e + 1 < k; e++) {
        uint8_t lab = close[idx[e + 1]] > close[idx[e]] ? KT_BUY : KT_SELL;
        for (size_t j = idx[e] + 1; j < idx[e + 1]; j++) {
            out[j] = lab;
        }
    }
    free(idx);
    return KT_OK;
}

// Volatility for the barriers: pandas ewm(span).mean() (adjust=True) of
// (high - low) / close, computed as a stream.
typedef struct vol_ewm {
    double keep, num, den;
} vol_ewm;

static double
vol_next(vol_ewm *v, const kt_ohlcv *b, size_t i)
{
    v->num = (b->high[i] - b->low[i]) / b->close[i] + v->keep * v->num;
    v->den = 1.0 + v->keep * v->den;
    return v->num / v->den;
}

// barrier_label scans bars t+1..t+h for the first barrier touch.
static int
barrier_label(const kt_ohlcv *b, size_t t, int h, double vol, double pt,
              double sl)
{
    double entry = b->close[t];
    double upper = entry * (1 + pt * vol), lower = entry * (1 - sl * vol);
    double ret, thr;

    for (size_t i = t + 1; i <= t + (size_t)h; i++) {
        bool up = b->high[i] >= upper, down = b->low[i] <= lower;
        if (up && down) { // both in one bar: that bar's close decides
            return b->close[i] >= entry ? 1 : -1;
        }
        if (up || down) {
            return up ? 1 : -1;
        }
    }
    ret = (b->close[t + (size_t)h] - entry) / entry;
    thr = vol * sqrt((double)h) * 0.5;
    if (fabs(ret) < thr) {
        return 0;
    }
    return ret > 0 ? 1 : ret < 0 ? -1 : 0;
}

size_t
kt_labels_triple_barrier(const kt_ohlcv *b, double pt_mult, double sl_mult,
                         int max_hold, int vol_span, uint8_t *out)
{
    size_t n = b->n, h = (size_t)max_hold, first, n_lab;
    double keep = 1.0 - 2.0 / (vol_span + 1.0), fill = 0.01;
    vol_ewm v = {keep, 0, 0};

    memset(out, KT_HOLD, n);
    if (n <= h) {
        return 0;
    }
    n_lab = n - h;
    // KTRDR replaces NaN/zero volatility before bar min(vol_span, n-1) by
    // the value at that bar: find it with a first pass.
    first = (size_t)vol_span < n - 1 ? (size_t)vol_span : n - 1;
    for (size_t i = 0; i <= first; i++) {
        fill = vol_next(&v, b, i);
    }
    v = (vol_ewm){keep, 0, 0};
    for (size_t t = 0; t < n_lab; t++) {
        double vol = vol_next(&v, b, t);
        if (t < first && (isnan(vol) || vol == 0)) {
            vol = fill;
        }
        int lab = barrier_label(b, t, max_hold, vol, pt_mult, sl_mult);
        out[t] = lab > 0 ? KT_BUY : lab < 0 ? KT_SELL : KT_HOLD;
    }
    return n_lab;
}

kt_err
kt_labels_build(const kt_label_cfg *cfg, const kt_ohlcv *bars, uint8_t *out,
                size_t *n_valid, char *err, size_t errlen)
{
    kt_err rv;

    if (cfg->source == KT_LABEL_ZIGZAG) {
        if (!(cfg->zigzag_threshold > 0 && cfg->zigzag_threshold < 1)) {
            kt__errf(err, errlen, "zigzag_threshold must be in (0, 1), got %g",
                     cfg->zigzag_threshold);
            return KT_EINVAL;
        }
        if ((rv = kt_labels_zigzag(bars->close, bars->n, cfg->zigzag_threshold,
                                   out)) != KT_OK) {
            return rv;
        }
        *n_valid = bars->n;
        return KT_OK;
    }
    if (cfg->source != KT_LABEL_TRIPLE_BARRIER || cfg->max_holding_period < 1 ||
        cfg->vol_span < 1 || !(cfg->pt_multiplier > 0) ||
        !(cfg->sl_multiplier > 0)) {
        kt__errf(err, errlen,
                 "bad label config (source %d, max_holding_period %d, "
                 "vol_span %d, pt %g, sl %g)",
                 (int)cfg->source, cfg->max_holding_period, cfg->vol_span,
                 cfg->pt_multiplier, cfg->sl_multiplier);
        return KT_EINVAL;
    }
    *n_valid =
        kt_labels_triple_barrier(bars, cfg->pt_multiplier, cfg->sl_multiplier,
                                 cfg->max_holding_period, cfg->vol_span, out);
    return KT_OK;
}
