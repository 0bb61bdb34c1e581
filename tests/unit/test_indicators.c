// test_indicators.c: indicator kernels against hand-computed values (warm-up,
// constant series, NaN input, period 1, series shorter than the period),
// the registry (names, outputs, parameters) and dispatch over bars.
#include <math.h>
#include <string.h>

#include <criterion/criterion.h>

#include "domain/indicators.h"

#define EPS  1e-9
#define N(a) (sizeof(a) / sizeof((a)[0]))

// expect_series checks got[0..n) against want (NaN must match NaN).
static void
expect_series(const double *got, const double *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(want[i])) {
            cr_expect(isnan(got[i]), "%s[%zu] = %g, want NaN", what, i, got[i]);
        } else {
            cr_expect(fabs(got[i] - want[i]) < 1e-6 * (1 + fabs(want[i])),
                      "%s[%zu] = %.12g, want %.12g", what, i, got[i], want[i]);
        }
    }
}

Test(indicators, sma_warmup_period1_short_constant_and_nan)
{
    double x[] = {1, 2, 3, 4, 5}, out[5];
    double w3[] = {NAN, NAN, 2, 3, 4};
    double xn[] = {1, NAN, 3, 4, 5};
    double wn[] = {NAN, NAN, NAN, 3.5, 4.5};
    double c[] = {5, 5, 5, 5}, wc[] = {NAN, 5, 5, 5};

    kt_ind_sma(x, 5, 3, out);
    expect_series(out, w3, 5, "sma3");
    kt_ind_sma(x, 5, 1, out);
    expect_series(out, x, 5, "sma1");
    kt_ind_sma(x, 2, 3, out);
    expect_series(out, w3, 2, "sma short"); // both NaN
    kt_ind_sma(xn, 5, 2, out);
    expect_series(out, wn, 5, "sma nan");
    kt_ind_sma(c, 4, 2, out);
    expect_series(out, wc, 4, "sma const");
}

Test(indicators, ema_adjusted_and_recursive_forms)
{
    double x[] = {1, 2, 3, 4}, out[4];
    double rec[] = {1, 1.5, 2.25, 3.125};                      // alpha 0.5
    double adj[] = {1, 2.5 / 1.5, 4.25 / 1.75, 6.125 / 1.875}; // pandas adjust
    double c[] = {7, 7, 7};

    kt_ind_ema(x, 4, 3, false, out);
    expect_series(out, rec, 4, "ema recursive");
    kt_ind_ema(x, 4, 3, true, out);
    expect_series(out, adj, 4, "ema adjusted");
    kt_ind_ema(x, 4, 1, true, out); // span 1: alpha 1, the series itself
    expect_series(out, x, 4, "ema1");
    kt_ind_ema(c, 3, 20, true, out); // a value from bar 0, even if short
    expect_series(out, c, 3, "ema const");
    x[1] = NAN; // NaN poisons a recursive indicator from there on
    kt_ind_ema(x, 4, 3, false, out);
    cr_expect(out[0] == 1 && isnan(out[1]) && isnan(out[3]));
}

Test(indicators, rsi_wilder_by_hand)
{
    // deltas +1 +1 -1 +2 0: first averages 2/3 and 1/3 (RS 2), then
    // Wilder: gain 10/9, loss 2/9 (RS 5); gain 20/27, loss 4/27 (RS 5).
    double x[] = {10, 11, 12, 11, 13, 13}, out[6];
    double want[] = {
        NAN, NAN, NAN, 100 - 100 / 3.0, 100 - 100 / 6.0, 100 - 100 / 6.0};
    kt_ind_rsi(x, 6, 3, out);
    expect_series(out, want, 6, "rsi");
}

Test(indicators, rsi_edge_cases)
{
    double c[] = {5, 5, 5, 5, 5}, wc[] = {NAN, NAN, NAN, 50, 50};
    double up[] = {1, 2, 3, 4}, wup[] = {NAN, NAN, 100, 100};
    double dn[] = {4, 3, 2, 1}, wdn[] = {NAN, NAN, 0, 0};
    double p1[] = {1, 2, 1, 1}, wp1[] = {NAN, 100, 0, 50};
    double out[5];

    kt_ind_rsi(c, 5, 3, out);
    expect_series(out, wc, 5, "rsi const"); // constant series -> 50
    kt_ind_rsi(up, 4, 2, out);
    expect_series(out, wup, 4, "rsi gains only");
    kt_ind_rsi(dn, 4, 2, out);
    expect_series(out, wdn, 4, "rsi losses only");
    kt_ind_rsi(p1, 4, 1, out);
    expect_series(out, wp1, 4, "rsi period 1");
    kt_ind_rsi(up, 3, 3, out); // n <= period: nothing defined
    cr_expect(isnan(out[0]) && isnan(out[1]) && isnan(out[2]));
    p1[2] = NAN;
    kt_ind_rsi(p1, 4, 1, out);
    cr_expect(out[1] == 100 && isnan(out[2]) && isnan(out[3]));
}

Test(indicators, roc_and_zero_base)
{
    double x[] = {10, 11, 12, 0, 6}, out[5];
    double want[] = {NAN, NAN, 20, -100, -50};
    double z[] = {0, 1, 2}, wz[] = {NAN, NAN, 100};
    kt_ind_roc(x, 5, 2, out);
    expect_series(out, want, 5, "roc");
    kt_ind_roc(z, 3, 1, out); // base 0: undefined, not inf
    expect_series(out, wz, 3, "roc zero base");
}

Test(indicators, atr_uses_previous_close_and_simple_mean)
{
    // TR: 1 (first bar: high - low), 5.5 (|15 - 9.5|), 4 (|10 - 14|).
    double h[] = {10, 15, 11}, l[] = {9, 12, 10}, c[] = {9.5, 14, 10.5};
    double out[3], tr[] = {1, 5.5, 4}, want[] = {NAN, 3.25, 4.75};
    kt_ind_true_range(h, l, c, 3, out);
    expect_series(out, tr, 3, "true range");
    kt_ind_atr(h, l, c, 3, 2, out);
    expect_series(out, want, 3, "atr");
    kt_ind_atr(h, l, c, 3, 1, out);
    expect_series(out, tr, 3, "atr period 1");
    kt_ind_atr(h, l, c, 2, 3, out);
    cr_expect(isnan(out[0]) && isnan(out[1]));
}

Test(indicators, adx_wilder_by_hand)
{
    // period 2: alpha 0.5, adjust=False, from bar 0 (see the derivation in
    // docs/domain.md: +DM 2 at bars 1 and 3, -DM 3 at bar 4).
    double h[] = {10, 12, 11, 13, 12}, l[] = {8, 9, 9, 10, 7};
    double c[] = {9, 11, 10, 12, 8};
    double adx[5], pdi[5], mdi[5];
    double wadx[] = {0, 50, 75, 87.5, 0.5 * (100 * 0.875 / 2.125) + 43.75};
    double wpdi[] = {0, 40, 100 * 0.5 / 2.25, 100 * 1.25 / 2.625,
                     100 * 0.625 / 3.8125};
    double wmdi[] = {0, 0, 0, 0, 100 * 1.5 / 3.8125};

    kt_ind_adx(h, l, c, 5, 2, adx, pdi, mdi);
    expect_series(adx, wadx, 5, "adx");
    expect_series(pdi, wpdi, 5, "plus_di");
    expect_series(mdi, wmdi, 5, "minus_di");
}

Test(indicators, adx_flat_series_is_zero)
{
    double v[] = {5, 5, 5, 5}, adx[4], pdi[4], mdi[4], z[] = {0, 0, 0, 0};
    kt_ind_adx(v, v, v, 4, 14, adx, pdi, mdi); // TR 0: DI 0, DX 0
    expect_series(adx, z, 4, "adx flat");
    expect_series(pdi, z, 4, "pdi flat");
}

Test(indicators, macd_line_signal_histogram)
{
    // fast 1 (the series), slow 3 (alpha .5), signal 3 (alpha .5).
    double x[] = {1, 2, 3, 4}, line[4], sig[4], hist[4];
    double wl[] = {0, 0.5, 0.75, 0.875}, ws[] = {0, 0.25, 0.5, 0.6875};
    double wh[] = {0, 0.25, 0.25, 0.1875};
    kt_ind_macd(x, 4, 1, 3, 3, line, sig, hist);
    expect_series(line, wl, 4, "macd line");
    expect_series(sig, ws, 4, "macd signal");
    expect_series(hist, wh, 4, "macd histogram");
}

Test(indicators, bollinger_sample_std_and_width)
{
    double x[] = {1, 2, 3, 4, 6}, u[5], m[5], lo[5], w[5];
    double sd = sqrt(7.0 / 3.0); // sample std of {3, 4, 6}
    double wm[] = {NAN, NAN, 2, 3, 13.0 / 3};
    double wu[] = {NAN, NAN, 4, 5, 13.0 / 3 + 2 * sd};
    double wlo[] = {NAN, NAN, 0, 1, 13.0 / 3 - 2 * sd};
    double ww[] = {NAN, NAN, 2, 4.0 / 3, 4 * sd / (13.0 / 3)};
    double z[] = {-1, 0, 1};

    kt_ind_bbands(x, 5, 3, 2.0, u, m, lo);
    expect_series(m, wm, 5, "bb middle");
    expect_series(u, wu, 5, "bb upper");
    expect_series(lo, wlo, 5, "bb lower");
    kt_ind_bbwidth(x, 5, 3, 2.0, w);
    expect_series(w, ww, 5, "bb width");
    kt_ind_bbands(x, 5, 1, 2.0, u, m, lo); // one sample: std undefined
    expect_series(m, x, 5, "bb1 middle");
    cr_expect(isnan(u[0]) && isnan(lo[4]));
    kt_ind_bbwidth(z, 3, 3, 2.0, w); // middle 0: width 0, not inf
    cr_expect(w[2] == 0.0);
}

Test(indicators, stochastic_smoothing_and_flat_range)
{
    double h[] = {10, 11, 12, 13, 12}, l[] = {8, 9, 10, 11, 10};
    double c[] = {9, 10, 11, 12, 11}, k[5], d[5];
    double wk[] = {NAN, NAN, 75, 75, (75 + 100.0 / 3) / 2};
    double wd[] = {NAN, NAN, 75, 75, (75 + (75 + 100.0 / 3) / 2) / 2};
    double f[] = {5, 5, 5};

    kt_ind_stoch(h, l, c, 5, 3, 2, 2, k, d);
    expect_series(k, wk, 5, "stoch k");
    expect_series(d, wd, 5, "stoch d");
    kt_ind_stoch(f, f, f, 3, 2, 1, 1, k, d); // high == low: neutral 50
    cr_expect(isnan(k[0]) && k[1] == 50 && k[2] == 50 && d[2] == 50);
}

Test(indicators, registry_names_aliases_outputs)
{
    kt_ind_type t;
    cr_assert(kt_indicator_type_parse("BBands", &t));
    cr_expect_eq(t, KT_IND_BBANDS);
    cr_assert(kt_indicator_type_parse("BollingerBandsIndicator", &t));
    cr_expect_eq(t, KT_IND_BBANDS);
    cr_assert(kt_indicator_type_parse("RSI", &t));
    cr_expect_eq(t, KT_IND_RSI);
    cr_expect_not(kt_indicator_type_parse("ichimoku", &t));
    cr_expect_eq(kt_indicator_n_outputs(KT_IND_RSI), 1);
    cr_expect_null(kt_indicator_output_name(KT_IND_RSI, 0));
    cr_expect_eq(kt_indicator_n_outputs(KT_IND_ADX), 3);
    cr_expect_str_eq(kt_indicator_output_name(KT_IND_BBANDS, 0), "upper");
    cr_expect_eq(kt_indicator_output_index(KT_IND_MACD, "histogram"), 2);
    cr_expect_eq(kt_indicator_output_index(KT_IND_MACD, "hist"), -1);
    cr_expect_eq(kt_indicator_output_index(KT_IND_STOCH, "d"), 1);
}

Test(indicators, parameters_defaults_aliases_and_errors)
{
    kt_indicator_def d;
    char why[256];

    kt_indicator_defaults(KT_IND_MACD, &d);
    cr_expect(d.fast_period == 12 && d.slow_period == 26 &&
              d.signal_period == 9);
    cr_assert_eq(kt_indicator_set_param(&d, "fast", "5", why, sizeof(why)),
                 KT_OK); // KTRDR drops `fast`; we honour it
    cr_expect_eq(d.fast_period, 5);
    cr_expect_eq(kt_indicator_set_param(&d, "period", "5", why, sizeof(why)),
                 KT_EINVAL);
    cr_expect(strstr(why, "unknown parameter for macd") &&
                  strstr(why, "fast_period"),
              "%s", why);
    cr_expect_eq(kt_indicator_set_param(&d, "slow", "2.5", why, sizeof(why)),
                 KT_EINVAL);
    cr_expect(strstr(why, "integer"), "%s", why);
    cr_assert_eq(kt_indicator_set_param(&d, "slow", "4", why, sizeof(why)),
                 KT_OK);
    cr_expect_eq(kt_indicator_check(&d, why, sizeof(why)), KT_EINVAL);
    cr_expect(strstr(why, "fast_period (5) must be < slow_period (4)"));

    kt_indicator_defaults(KT_IND_RSI, &d);
    cr_expect_eq(d.period, 14);
    cr_expect_eq(kt_indicator_set_param(&d, "period", "0", why, sizeof(why)),
                 KT_EINVAL);
    cr_expect(strstr(why, "must be in [1, 1000]"), "%s", why);
    cr_expect_eq(kt_indicator_set_param(&d, "source", "vwap", why, sizeof(why)),
                 KT_EINVAL);
    cr_assert_eq(kt_indicator_set_param(&d, "source", "HL2", why, sizeof(why)),
                 KT_OK);
    cr_expect_eq(d.source, KT_SRC_HL2);
    kt_indicator_defaults(KT_IND_EMA, &d);
    cr_expect_eq(
        kt_indicator_set_param(&d, "adjust", "maybe", why, sizeof(why)),
        KT_EINVAL);
}

Test(indicators, compute_dispatches_sources_and_outputs)
{
    double o[] = {1, 2, 3}, h[] = {4, 5, 6}, l[] = {0, 1, 2};
    double c[] = {2, 3, 4}, v[] = {0, 0, 0}, out[3][3];
    int64_t t[] = {0, 60, 120};
    kt_ohlcv b = {.n = 3,
                  .time = t,
                  .open = o,
                  .high = h,
                  .low = l,
                  .close = c,
                  .volume = v};
    double *outs[3] = {out[0], out[1], out[2]};
    kt_indicator_def d;

    kt_indicator_defaults(KT_IND_SMA, &d);
    d.period = 1;
    d.source = KT_SRC_HLC3;
    cr_assert_eq(kt_indicator_compute(&d, &b, outs), KT_OK);
    cr_expect_float_eq(out[0][0], 2.0, EPS); // (4 + 0 + 2) / 3
    cr_expect_float_eq(out[0][2], 4.0, EPS);
    d.source = KT_SRC_OPEN;
    cr_assert_eq(kt_indicator_compute(&d, &b, outs), KT_OK);
    cr_expect_float_eq(out[0][1], 2.0, EPS);
    kt_indicator_defaults(KT_IND_BBANDS, &d);
    d.period = 2;
    cr_assert_eq(kt_indicator_compute(&d, &b, outs), KT_OK);
    cr_expect(isnan(out[1][0]));
    cr_expect_float_eq(out[1][1], 2.5, EPS); // middle of close 2, 3
    cr_expect_float_eq(out[0][1], 2.5 + 2 * sqrt(0.5), EPS);
}
