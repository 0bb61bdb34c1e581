// indicators.h: the technical indicators of reference §1.3 (RSI, ADX, MACD,
// ROC, SMA, EMA, ATR, Bollinger Bands and width, Stochastic) with KTRDR's
// formulas and warm-up rules, their registry (names, aliases, outputs,
// parameters) and plain-array kernels.
//
// Warm-up: an output is NaN until its window is full (see each kernel).
// NaN inputs propagate by IEEE arithmetic: a windowed output is NaN while
// the NaN is in its window; a recursive one (EMA, RSI, MACD, ADX) stays NaN
// after it. Loaded bars never hold NaN (kt_ohlcv_read rejects them).
#ifndef KT_DOMAIN_INDICATORS_H
#define KT_DOMAIN_INDICATORS_H

#include <stdbool.h>
#include <stddef.h>

#include <kt/err.h>

#include "domain/ohlcv.h"
#include "domain/strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KT_IND_MAX_OUTPUTS 3

// kt_indicator_type_parse maps a YAML `type:` (case-insensitive; canonical
// names and KTRDR's aliases such as "bbands", "BollingerBandsIndicator") to
// a type. Returns false when unknown.
bool kt_indicator_type_parse(const char *name, kt_ind_type *out);

// kt_indicator_type_name is the canonical lower-case name ("rsi", ...).
const char *kt_indicator_type_name(kt_ind_type t);

// kt_indicator_type_list is a ", "-separated list of the canonical names,
// for error messages.
const char *kt_indicator_type_list(void);

// kt_indicator_n_outputs: 1 for single-output types, else 2 or 3.
int kt_indicator_n_outputs(kt_ind_type t);

// kt_indicator_output_name is output i's name ("upper"), or NULL for a
// single-output type. Output 0 is the primary one (bare-id references).
const char *kt_indicator_output_name(kt_ind_type t, int i);

// kt_indicator_output_index returns the index of the named output, or -1.
int kt_indicator_output_index(kt_ind_type t, const char *name);

// kt_indicator_defaults fills d with type t's default parameters (id is
// left untouched).
void kt_indicator_defaults(kt_ind_type t, kt_indicator_def *d);

// kt_indicator_set_param sets parameter key (a YAML key such as "period",
// "fast_period", "source") from its scalar text. KT_EINVAL with the reason
// in why when the key is not a parameter of d->type or the value is out of
// range. Accepted aliases: macd fast/slow/signal (= *_period), bollinger
// std_dev/num_std (= multiplier).
KT_NODISCARD kt_err kt_indicator_set_param(kt_indicator_def *d, const char *key,
                                           const char *value, char *why,
                                           size_t whylen);

// kt_indicator_check validates relations between parameters (MACD fast <
// slow). KT_EINVAL with the reason in why.
KT_NODISCARD kt_err kt_indicator_check(const kt_indicator_def *d, char *why,
                                       size_t whylen);

// kt_indicator_compute writes d's outputs over bars into outs[0..n_outputs),
// each an array of bars->n doubles owned by the caller. Errors: KT_ENOMEM
// (a derived source such as hl2 needs a scratch array).
KT_NODISCARD kt_err kt_indicator_compute(const kt_indicator_def *d,
                                         const kt_ohlcv *bars,
                                         double *const *outs);

// ---- kernels: x has n values, out n values (out may not alias x) --------

// SMA: mean of the last p values; NaN for i < p - 1.
void kt_ind_sma(const double *x, size_t n, int p, double *out);
// EMA with span p (alpha = 2/(p+1)), pandas ewm(adjust=adjust, min_periods
// 0): a value from i = 0.
void kt_ind_ema(const double *x, size_t n, int p, bool adjust, double *out);
// RSI: first average = mean of gains/losses 1..p, then Wilder recursion;
// NaN for i < p; average loss 0 -> 100 (50 when the average gain is 0 too).
void kt_ind_rsi(const double *x, size_t n, int p, double *out);
// ROC: 100 * (x[i] - x[i-p]) / x[i-p]; NaN for i < p or x[i-p] == 0.
void kt_ind_roc(const double *x, size_t n, int p, double *out);
// True range: max(h-l, |h-c[i-1]|, |l-c[i-1]|); h[0]-l[0] at i = 0.
void kt_ind_true_range(const double *h, const double *l, const double *c,
                       size_t n, double *out);
// ATR: simple rolling mean of the true range over p; NaN for i < p - 1.
void kt_ind_atr(const double *h, const double *l, const double *c, size_t n,
                int p, double *out);
// ADX, +DI, -DI: Wilder smoothing (EWM alpha 1/p, adjust=False, from i = 0)
// of TR, +DM, -DM; DI = 100 * DM~/TR~ (0 when TR~ is 0); DX = 100 *
// |+DI - -DI| / (+DI + -DI) (0 when the sum is 0); ADX = Wilder(DX). Values
// from i = 0, like KTRDR.
void kt_ind_adx(const double *h, const double *l, const double *c, size_t n,
                int p, double *adx, double *plus_di, double *minus_di);
// MACD: line = EMA(fast) - EMA(slow), signal = EMA(line, signal_p), both
// adjust=False; histogram = line - signal. Values from i = 0.
void kt_ind_macd(const double *x, size_t n, int fast, int slow, int signal_p,
                 double *line, double *signal, double *hist);
// Bollinger: middle = SMA(p), upper/lower = middle +- mult * sample std
// (ddof 1; NaN when p == 1); NaN for i < p - 1.
void kt_ind_bbands(const double *x, size_t n, int p, double mult, double *upper,
                   double *middle, double *lower);
// Bollinger band width: (upper - lower) / middle; 0 when |middle| <= 1e-10;
// NaN while the bands are NaN.
void kt_ind_bbwidth(const double *x, size_t n, int p, double mult, double *out);
// Stochastic: raw %K = 100 * (c - LL_k) / (HH_k - LL_k), 50 when HH == LL,
// NaN for i < k - 1; %K = rolling mean of raw over smooth_k, %D = rolling
// mean of %K over d_period, both over the non-NaN values of the window
// (pandas min_periods=1).
void kt_ind_stoch(const double *h, const double *l, const double *c, size_t n,
                  int k, int d_period, int smooth_k, double *pk, double *pd);

#ifdef __cplusplus
}
#endif

#endif // KT_DOMAIN_INDICATORS_H
