// indicators.c: indicator kernels on plain arrays (formulas of reference
// §1.3; see indicators.h for each warm-up rule).
#include "domain/indicators.h"

#include <math.h>

void
kt_ind_sma(const double *x, size_t n, int p, double *out)
{
    size_t w = (size_t)p;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        if (i + 1 < w) {
            out[i] = NAN;
            continue;
        }
        // Summed afresh per window: exact for golden tests, and a NaN
        // leaves the result once it leaves the window.
        for (size_t j = i + 1 - w; j <= i; j++) {
            s += x[j];
        }
        out[i] = s / (double)w;
    }
}

// ewm is pandas' ewm(alpha).mean() with ignore_na=False, min_periods=0.
static void
ewm(const double *x, size_t n, double alpha, bool adjust, double *out)
{
    double keep = 1.0 - alpha, num = 0, den = 0, e = 0;
    for (size_t i = 0; i < n; i++) {
        if (adjust) {
            num = x[i] + keep * num;
            den = 1.0 + keep * den;
            out[i] = num / den;
        } else {
            e = i == 0 ? x[0] : alpha * x[i] + keep * e;
            out[i] = e;
        }
    }
}

void
kt_ind_ema(const double *x, size_t n, int p, bool adjust, double *out)
{
    ewm(x, n, 2.0 / (p + 1.0), adjust, out);
}

static double
rsi_value(double avg_gain, double avg_loss)
{
    if (avg_loss == 0) {
        return avg_gain == 0 ? 50.0 : 100.0;
    }
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss);
}

void
kt_ind_rsi(const double *x, size_t n, int p, double *out)
{
    size_t w = (size_t)p;
    double g = 0, l = 0;

    for (size_t i = 0; i < n && i < w; i++) {
        out[i] = NAN;
    }
    if (n <= w) {
        return;
    }
    for (size_t i = 1; i <= w; i++) {
        double d = x[i] - x[i - 1];
        g += d > 0 ? d : 0;
        l += d < 0 ? -d : 0;
        if (isnan(d)) {
            g = l = NAN;
        }
    }
    g /= p;
    l /= p;
    out[w] = rsi_value(g, l);
    for (size_t i = w + 1; i < n; i++) {
        double d = x[i] - x[i - 1];
        double gi = d > 0 ? d : 0, li = d < 0 ? -d : 0;
        if (isnan(d)) {
            gi = li = NAN;
        }
        g = (g * (p - 1) + gi) / p;
        l = (l * (p - 1) + li) / p;
        out[i] = isnan(g) || isnan(l) ? NAN : rsi_value(g, l);
    }
}

void
kt_ind_roc(const double *x, size_t n, int p, double *out)
{
    size_t w = (size_t)p;
    for (size_t i = 0; i < n; i++) {
        if (i < w || x[i - w] == 0) {
            out[i] = NAN;
        } else {
            out[i] = 100.0 * (x[i] - x[i - w]) / x[i - w];
        }
    }
}

void
kt_ind_true_range(const double *h, const double *l, const double *c, size_t n,
                  double *out)
{
    for (size_t i = 0; i < n; i++) {
        double tr = h[i] - l[i];
        if (i > 0) {
            double a = fabs(h[i] - c[i - 1]), b = fabs(l[i] - c[i - 1]);
            tr = fmax(tr, fmax(a, b));
            if (isnan(h[i] - l[i]) || isnan(a) || isnan(b)) {
                tr = NAN; // fmax would hide a NaN
            }
        }
        out[i] = tr;
    }
}

void
kt_ind_atr(const double *h, const double *l, const double *c, size_t n, int p,
           double *out)
{
    // True range into out, then the rolling mean in place, walking
    // backwards so each window still reads unmodified true ranges.
    kt_ind_true_range(h, l, c, n, out);
    for (size_t i = n; i-- > 0;) {
        double s = 0;
        if (i + 1 < (size_t)p) {
            out[i] = NAN;
            continue;
        }
        for (size_t j = i + 1 - (size_t)p; j <= i; j++) {
            s += out[j];
        }
        out[i] = s / p;
    }
}

void
kt_ind_adx(const double *h, const double *l, const double *c, size_t n, int p,
           double *adx, double *plus_di, double *minus_di)
{
    double a = 1.0 / p, keep = 1.0 - a;
    double tr_s = 0, pdm_s = 0, mdm_s = 0, adx_s = 0;

    for (size_t i = 0; i < n; i++) {
        double tr = h[i] - l[i], pdm = 0, mdm = 0, pdi = 0, mdi = 0, dx = 0;
        if (i > 0) {
            double up = h[i] - h[i - 1], down = l[i - 1] - l[i];
            double ta = fabs(h[i] - c[i - 1]), tb = fabs(l[i] - c[i - 1]);
            tr = isnan(ta) || isnan(tb) ? NAN : fmax(tr, fmax(ta, tb));
            pdm = up > down && up > 0 ? up : 0;
            mdm = down > up && down > 0 ? down : 0;
            if (isnan(up) || isnan(down)) {
                pdm = mdm = NAN;
            }
        }
        tr_s = i == 0 ? tr : a * tr + keep * tr_s;
        pdm_s = i == 0 ? pdm : a * pdm + keep * pdm_s;
        mdm_s = i == 0 ? mdm : a * mdm + keep * mdm_s;
        if (tr_s != 0) { // NaN compares unequal: NaN flows through
            pdi = 100.0 * pdm_s / tr_s;
            mdi = 100.0 * mdm_s / tr_s;
        }
        if (pdi + mdi != 0) {
            dx = 100.0 * fabs(pdi - mdi) / (pdi + mdi);
        }
        adx_s = i == 0 ? dx : a * dx + keep * adx_s;
        adx[i] = adx_s;
        plus_di[i] = pdi;
        minus_di[i] = mdi;
    }
}

void
kt_ind_macd(const double *x, size_t n, int fast, int slow, int signal_p,
            double *line, double *signal, double *hist)
{
    // hist and signal double as scratch for the two EMAs.
    kt_ind_ema(x, n, fast, false, hist);
    kt_ind_ema(x, n, slow, false, signal);
    for (size_t i = 0; i < n; i++) {
        line[i] = hist[i] - signal[i];
    }
    kt_ind_ema(line, n, signal_p, false, signal);
    for (size_t i = 0; i < n; i++) {
        hist[i] = line[i] - signal[i];
    }
}

void
kt_ind_bbands(const double *x, size_t n, int p, double mult, double *upper,
              double *middle, double *lower)
{
    size_t w = (size_t)p;
    kt_ind_sma(x, n, p, middle);
    for (size_t i = 0; i < n; i++) {
        double ss = 0, sd;
        if (i + 1 < w || w < 2) {
            upper[i] = lower[i] = NAN;
            continue;
        }
        for (size_t j = i + 1 - w; j <= i; j++) {
            ss += (x[j] - middle[i]) * (x[j] - middle[i]);
        }
        sd = sqrt(ss / (double)(w - 1));
        upper[i] = middle[i] + mult * sd;
        lower[i] = middle[i] - mult * sd;
    }
}

void
kt_ind_bbwidth(const double *x, size_t n, int p, double mult, double *out)
{
    // Only the running middle and the band distance are needed: compute
    // them per window without extra arrays.
    size_t w = (size_t)p;
    for (size_t i = 0; i < n; i++) {
        double s = 0, ss = 0, m;
        if (i + 1 < w || w < 2) {
            out[i] = NAN;
            continue;
        }
        for (size_t j = i + 1 - w; j <= i; j++) {
            s += x[j];
        }
        m = s / (double)w;
        for (size_t j = i + 1 - w; j <= i; j++) {
            ss += (x[j] - m) * (x[j] - m);
        }
        if (isnan(m) || isnan(ss)) {
            out[i] = NAN;
        } else {
            out[i] = fabs(m) > 1e-10
                         ? 2.0 * mult * sqrt(ss / (double)(w - 1)) / m
                         : 0.0;
        }
    }
}

// nan_mean is the mean of the non-NaN values of x[lo..hi], NaN if none.
static double
nan_mean(const double *x, size_t lo, size_t hi)
{
    double s = 0;
    size_t k = 0;
    for (size_t j = lo; j <= hi; j++) {
        if (!isnan(x[j])) {
            s += x[j];
            k++;
        }
    }
    return k > 0 ? s / (double)k : NAN;
}

void
kt_ind_stoch(const double *h, const double *l, const double *c, size_t n, int k,
             int d_period, int smooth_k, double *pk, double *pd)
{
    size_t w = (size_t)k;
    // raw %K goes into pd (scratch), smoothed into pk, then %D into pd.
    for (size_t i = 0; i < n; i++) {
        double hh = -INFINITY, ll = INFINITY;
        bool bad = false;
        if (i + 1 < w) {
            pd[i] = NAN;
            continue;
        }
        for (size_t j = i + 1 - w; j <= i; j++) {
            bad = bad || isnan(h[j]) || isnan(l[j]);
            hh = fmax(hh, h[j]);
            ll = fmin(ll, l[j]);
        }
        if (bad || isnan(c[i])) {
            pd[i] = NAN;
        } else {
            pd[i] = hh == ll ? 50.0 : 100.0 * (c[i] - ll) / (hh - ll);
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t lo = i + 1 >= (size_t)smooth_k ? i + 1 - (size_t)smooth_k : 0;
        pk[i] = nan_mean(pd, lo, i);
    }
    for (size_t i = 0; i < n; i++) {
        size_t lo = i + 1 >= (size_t)d_period ? i + 1 - (size_t)d_period : 0;
        pd[i] = nan_mean(pk, lo, i);
    }
}
