// test_features.c: feature matrix of a strategy over bars: canonical
// column order, membership values, NaN (warm-up) -> 0, timeframe checks,
// forward-fill of a higher timeframe using completed bars only, the name
// check against a model, the indicator table, and an end-to-end run on
// synthetic data with the shipped strategy.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "domain/features.h"
#include "domain/labels.h"
#include "domain/synth.h"

#define TD1                                                \
    "training_data: {symbols: {mode: single, symbol: X}, " \
    "timeframes: {mode: single, timeframe: 1h}}\n"
#define TAIL "model: {type: mlp}\ntraining: {epochs: 1}\n"

static kt_strategy *
strat(const char *yaml)
{
    char err[512];
    kt_strategy *s = NULL;
    cr_assert_eq(
        kt_strategy_parse(yaml, strlen(yaml), "f.yaml", &s, err, sizeof(err)),
        KT_OK, "%s", err);
    return s;
}

// hour_bars makes n 1h bars from 2024-01-01 00:00 with the given closes
// (open = high = low = close).
static kt_ohlcv *
hour_bars(const double *c, size_t n, int64_t step, const char *tf)
{
    kt_ohlcv *b;
    cr_assert_eq(kt_ohlcv_alloc(n, &b), KT_OK);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(kt_ohlcv_push(b, 1704067200 + (int64_t)i * step, c[i],
                                   c[i], c[i], c[i], 1),
                     KT_OK);
    }
    strcpy(b->timeframe, tf);
    return b;
}

static const char two_inputs[] =
    "name: f\n" TD1
    "indicators: {sma_2: {type: sma, period: 2}, sma_1: {type: sma, "
    "period: 1}}\n"
    "fuzzy_sets:\n"
    "  avg: {indicator: sma_2, mid: [0, 10, 20], hi: [10, 20, 30]}\n"
    "  raw: {indicator: sma_1, low: {type: trapezoidal, "
    "parameters: [0, 0, 5, 10]}}\n"
    "nn_inputs: [{fuzzy_set: raw}, {fuzzy_set: avg}]\n" TAIL;

Test(features, order_values_and_warmup)
{
    kt_strategy *s = strat(two_inputs);
    double c[] = {4, 6, 10, 30};
    kt_ohlcv *b = hour_bars(c, 4, 3600, "1h");
    kt_features f = {0};
    char err[256];
    // nn_inputs order (raw, then avg); sma_2 = NaN, 5, 8, 20.
    float want[4][3] = {{1, 0, 0}, {0.8f, 0.5f, 0}, {0, 0.8f, 0}, {0, 0, 1}};

    cr_assert_eq(kt_features_build(s, b, &f, err, sizeof(err)), KT_OK, "%s",
                 err);
    cr_assert(f.n_rows == 4 && f.n_cols == 3);
    cr_expect_str_eq(f.names[0], "1h_raw_low");
    cr_expect_str_eq(f.names[1], "1h_avg_mid");
    cr_expect_str_eq(f.names[2], "1h_avg_hi");
    for (size_t r = 0; r < 4; r++) {
        cr_expect_eq(f.time[r], b->time[r]);
        for (size_t k = 0; k < 3; k++) {
            cr_expect(fabsf(f.x[r * 3 + k] - want[r][k]) < 1e-6f,
                      "row %zu col %zu: %g want %g", r, k,
                      (double)f.x[r * 3 + k], (double)want[r][k]);
        }
    }
    kt_features_free(&f);
    kt_features_free(&f); // zeroed: a no-op
    kt_ohlcv_free(b);
    kt_strategy_free(s);
}

Test(features, timeframe_mismatch_and_multi_timeframe_misuse)
{
    kt_strategy *s = strat(two_inputs);
    double c[] = {1, 2};
    kt_ohlcv *b = hour_bars(c, 2, 14400, "4h");
    kt_features f = {0};
    char err[256];

    cr_expect_eq(kt_features_build(s, b, &f, err, sizeof(err)), KT_EINVAL);
    cr_expect(strstr(err, "expects 1h bars for timeframe 0, got 4h bars"), "%s",
              err);
    cr_expect_null(f.x);
    kt_strategy_free(s);
    s = strat("name: m\ntraining_data: {symbols: {mode: single, symbol: X},"
              " timeframes: {list: [1h, 4h]}}\n"
              "indicators: {sma_1: {type: sma, period: 1}}\n"
              "fuzzy_sets: {p: {indicator: sma_1, m: [0, 1, 2]}}\n"
              "nn_inputs: [{fuzzy_set: p}]\n" TAIL);
    cr_expect_eq(kt_features_build(s, b, &f, err, sizeof(err)), KT_EINVAL);
    cr_expect(strstr(err, "use kt_features_build_mtf"), "%s", err);
    cr_expect_eq(kt_features_build_mtf(s, (const kt_ohlcv *const *)&b, 1, &f,
                                       err, sizeof(err)),
                 KT_EINVAL);
    cr_expect(strstr(err, "uses 2 timeframe(s), 1 bar set(s) given"), "%s",
              err);
    kt_ohlcv_free(b);
    kt_strategy_free(s);
}

Test(features, higher_timeframe_forward_fills_completed_bars_only)
{
    kt_strategy *s =
        strat("name: m\ntraining_data: {symbols: {mode: single, symbol: X}, "
              "timeframes: {list: [4h, 1h], base_timeframe: 1h}}\n"
              "indicators: {sma_1: {type: sma, period: 1}}\n"
              "fuzzy_sets: {p: {indicator: sma_1, m: [0, 10, 20]}}\n"
              "nn_inputs: [{fuzzy_set: p, timeframes: all}]\n" TAIL);
    double hc[] = {1, 2, 3, 4, 5, 6, 7, 8}, fc[] = {5, 12};
    kt_ohlcv *h = hour_bars(hc, 8, 3600, "1h");
    kt_ohlcv *f4 = hour_bars(fc, 2, 14400, "4h");
    const kt_ohlcv *tf[2] = {h, f4};
    kt_features f = {0};
    char err[256];
    // The 4h bar of 00:00 closes at 04:00: first seen by the 03:00 hourly
    // bar (which closes then); the 04:00 bar by the 07:00 one.
    float want4h[8] = {0, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f, 0.8f};

    cr_assert_eq(kt_features_build_mtf(s, tf, 2, &f, err, sizeof(err)), KT_OK,
                 "%s", err);
    cr_assert_eq(f.n_cols, 2);
    cr_expect_str_eq(f.names[0], "1h_p_m");
    cr_expect_str_eq(f.names[1], "4h_p_m");
    for (size_t r = 0; r < 8; r++) {
        cr_expect(fabsf(f.x[r * 2] - (float)hc[r] / 10) < 1e-6f, "1h %zu", r);
        cr_expect(fabsf(f.x[r * 2 + 1] - want4h[r]) < 1e-6f, "4h row %zu: %g",
                  r, (double)f.x[r * 2 + 1]);
    }
    kt_features_free(&f);
    kt_ohlcv_free(h);
    kt_ohlcv_free(f4);
    kt_strategy_free(s);
}

Test(features, check_against_model_names)
{
    kt_strategy *s = strat(two_inputs);
    double c[] = {1, 2};
    kt_ohlcv *b = hour_bars(c, 2, 3600, "");
    kt_features f = {0};
    char err[256];
    char n0[] = "1h_raw_low", n1[] = "1h_avg_mid", n2[] = "1h_avg_hi";
    char *same[] = {n0, n1, n2};
    char *swapped[] = {n0, n2, n1};

    cr_assert_eq(kt_features_build(s, b, &f, err, sizeof(err)), KT_OK);
    cr_expect_eq(kt_features_check(&f, same, 3, err, sizeof(err)), KT_OK);
    cr_expect_eq(kt_features_check(&f, swapped, 3, err, sizeof(err)),
                 KT_EINVAL);
    cr_expect(strstr(err, "feature 1 is '1h_avg_mid' but the model expects "
                          "'1h_avg_hi'"),
              "%s", err);
    cr_expect_eq(kt_features_check(&f, same, 2, err, sizeof(err)), KT_EINVAL);
    cr_expect(strstr(err, "3 features computed but the model expects 2"), "%s",
              err);
    kt_features_free(&f);
    kt_ohlcv_free(b);
    kt_strategy_free(s);
}

Test(features, indicator_table_has_every_output)
{
    kt_strategy *s =
        strat("name: t\n" TD1
              "indicators: {r: {type: rsi, period: 2}, m: {type: macd, "
              "fast_period: 1, slow_period: 3, signal_period: 3}}\n"
              "fuzzy_sets: {p: {indicator: m.signal, z: [0, 1, 2]}}\n"
              "nn_inputs: [{fuzzy_set: p}]\n" TAIL);
    double c[] = {1, 2, 3, 4};
    kt_ohlcv *b = hour_bars(c, 4, 3600, "1h");
    kt_ind_table t = {0};
    kt_features f = {0};
    char err[256];
    const char *names[] = {"r", "m.line", "m.signal", "m.histogram"};

    cr_assert_eq(kt_ind_table_build(s, b, &t, err, sizeof(err)), KT_OK);
    cr_assert_eq(t.n_cols, 4);
    for (int i = 0; i < 4; i++) {
        cr_expect_str_eq(t.names[i], names[i]);
    }
    cr_expect(isnan(t.v[0]) && isnan(t.v[1]) && t.v[2] == 100);
    cr_expect_float_eq(t.v[2 * 4 + 3], 0.6875, 1e-12); // signal, bar 3
    cr_assert_eq(kt_features_build(s, b, &f, err, sizeof(err)), KT_OK);
    cr_expect_float_eq(f.x[3], 0.6875f, 1e-6f); // the fuzzy set reads it
    kt_features_free(&f);
    kt_ind_table_free(&t);
    kt_ohlcv_free(b);
    kt_strategy_free(s);
}

Test(features, shipped_strategy_on_synthetic_bars)
{
    char err[512], path[512];
    kt_strategy *s;
    kt_ohlcv *b;
    kt_features f = {0}, g = {0};
    kt_synth_cfg c = {.symbol = "AAPL", .timeframe = "1h"};
    uint8_t *lab;
    size_t nv, counts[3] = {0};

    snprintf(path, sizeof(path), "%s/strategies/neuro_mean_reversion.yaml",
             KT_SOURCE_DIR);
    cr_assert_eq(kt_strategy_load(path, &s, err, sizeof(err)), KT_OK, "%s",
                 err);
    cr_assert_eq(
        kt_date_range_parse("2024-01-01", "2024-06-01", &c.start, &c.end),
        KT_OK);
    cr_assert_eq(kt_synth_generate(&c, &b, err, sizeof(err)), KT_OK);
    cr_assert_eq(kt_features_build(s, b, &f, err, sizeof(err)), KT_OK, "%s",
                 err);
    cr_assert_eq(kt_features_build(s, b, &g, err, sizeof(err)), KT_OK);
    cr_expect_eq(f.n_rows, b->n);
    cr_expect_eq(f.n_cols, 9);
    cr_expect_eq(memcmp(f.x, g.x, f.n_rows * f.n_cols * sizeof(float)), 0);
    for (size_t i = 0; i < f.n_rows * f.n_cols; i++) {
        cr_assert(f.x[i] >= 0 && f.x[i] <= 1, "x[%zu] = %g", i, (double)f.x[i]);
    }
    for (size_t k = 0; k < f.n_cols; k++) { // warm-up rows are zero
        cr_expect_eq(f.x[k], 0.0f);
    }
    lab = malloc(b->n);
    cr_assert_not_null(lab);
    cr_assert_eq(kt_labels_build(&s->labels, b, lab, &nv, err, sizeof(err)),
                 KT_OK);
    cr_expect_eq(nv, b->n);
    for (size_t i = 0; i < nv; i++) {
        counts[lab[i]]++;
    }
    cr_expect(counts[KT_BUY] > 0 && counts[KT_SELL] > 0 && counts[KT_HOLD] > 0,
              "BUY %zu HOLD %zu SELL %zu", counts[0], counts[1], counts[2]);
    free(lab);
    kt_features_free(&f);
    kt_features_free(&g);
    kt_ohlcv_free(b);
    kt_strategy_free(s);
}
