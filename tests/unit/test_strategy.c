// test_strategy.c: strategy YAML that parses: the shipped strategies,
// KTRDR-shaped examples, defaults, feature order and the hash (errors:
// test_strategy_errors.c).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "domain/strategy.h"
#include "strategy_fx.h"

static kt_strategy *
parse_ok(const char *yaml)
{
    char err[512] = "";
    kt_strategy *s = NULL;
    kt_err rv = parse(yaml, &s, err, sizeof(err));
    cr_assert_eq(rv, KT_OK, "parse failed: %s", err);
    return s;
}

static kt_strategy *
load_ok(const char *rel)
{
    char path[1024], err[512] = "";
    kt_strategy *s = NULL;
    snprintf(path, sizeof(path), "%s/%s", KT_SOURCE_DIR, rel);
    cr_assert_eq(kt_strategy_load(path, &s, err, sizeof(err)), KT_OK, "%s",
                 err);
    return s;
}

static void
expect_names(const kt_strategy *s, const char *const *want, size_t n)
{
    char **names;
    size_t k;
    cr_assert_eq(kt_strategy_feature_names(s, &names, &k), KT_OK);
    cr_assert_eq(k, n, "%zu features, want %zu", k, n);
    for (size_t i = 0; i < n; i++) {
        cr_expect_str_eq(names[i], want[i]);
    }
    cr_expect_eq(kt_strategy_n_features(s), n);
    cr_expect_eq((size_t)s->mlp.n_inputs, n);
    kt_names_free(names, k);
}

Test(strategy, base_document_parses_with_defaults)
{
    kt_strategy *s = parse_ok(BASE);
    const char *want[] = {"1h_rsi_low", "1h_rsi_high"};

    cr_expect_str_eq(s->name, "t");
    cr_expect_str_eq(s->version, "3.0");
    cr_expect_str_eq(s->description, "");
    cr_expect_str_eq(s->source_path, "t.yaml");
    cr_expect_eq(s->n_symbols, 1);
    cr_expect_str_eq(s->symbols[0], "EURUSD");
    cr_expect_eq(s->n_timeframes, 1);
    cr_expect_eq(s->history_required, 100);
    cr_expect_eq(s->mlp.n_hidden, 2);
    cr_expect(s->mlp.hidden[0] == 64 && s->mlp.hidden[1] == 32);
    cr_expect_eq(s->mlp.activation, KT_ACT_RELU);
    cr_expect_float_eq(s->mlp.dropout, 0.2, 1e-12);
    cr_expect_eq(s->train.epochs, 5);
    cr_expect_float_eq(s->train.learning_rate, 0.001, 1e-12);
    cr_expect_eq(s->train.batch_size, 32);
    cr_expect_eq(s->train.loss, KT_LOSS_CROSS_ENTROPY);
    cr_expect_float_eq(s->train.focal_gamma, 2.0, 1e-12);
    cr_expect_float_eq(s->train.weight_decay, 1e-4, 1e-15);
    cr_expect_float_eq(s->train.grad_clip, 1.0, 1e-12);
    cr_expect_float_eq(s->train.train_frac, 0.7, 1e-12);
    cr_expect_float_eq(s->train.val_frac, 0.15, 1e-12);
    cr_expect_eq(s->train.seed, 42);
    cr_expect_eq(s->labels.source, KT_LABEL_ZIGZAG);
    cr_expect_float_eq(s->labels.zigzag_threshold, 0.02, 1e-12);
    cr_expect_eq(s->labels.label_lookahead, 10);
    cr_expect_float_eq(s->decisions.confidence_threshold, 0.5, 1e-12);
    cr_expect(s->decisions.position_awareness);
    cr_expect_not(s->decisions.allow_short_from_flat);
    cr_expect_float_eq(s->decisions.min_signal_separation, 4.0, 1e-12);
    cr_expect_eq(s->fuzzy_sets[0].mfs[0].type, KT_MF_TRIANGULAR);
    expect_names(s, want, 2);
    cr_expect_eq(kt_strategy_find_indicator(s, "adx_14"), 1);
    cr_expect_eq(kt_strategy_find_indicator(s, "nope"), -1);
    kt_strategy_free(s);
}

Test(strategy, shipped_neuro_mean_reversion)
{
    kt_strategy *s = load_ok("strategies/neuro_mean_reversion.yaml");
    const char *want[] = {
        "1h_rsi_zone_oversold",     "1h_rsi_zone_neutral",
        "1h_rsi_zone_overbought",   "1h_range_position_bottom",
        "1h_range_position_middle", "1h_range_position_top",
        "1h_band_width_squeeze",    "1h_band_width_normal",
        "1h_band_width_wide"};

    cr_expect_str_eq(s->name, "neuro_mean_reversion");
    cr_expect_str_eq(s->symbols[0], "AAPL");
    cr_expect_str_eq(s->timeframes[0], "1h");
    cr_expect(s->mlp.hidden[0] == 64 && s->mlp.hidden[1] == 32);
    cr_expect_eq(s->labels.source, KT_LABEL_ZIGZAG);
    cr_expect_float_eq(s->labels.zigzag_threshold, 0.03, 1e-12);
    cr_expect_str_eq(s->start_date, "2024-01-01");
    cr_expect_eq(s->fuzzy_sets[1].output, 0); // stoch_14.k
    cr_expect_eq(s->fuzzy_sets[2].mfs[0].type, KT_MF_GAUSSIAN);
    cr_expect_eq(s->fuzzy_sets[1].mfs[0].type, KT_MF_TRAPEZOIDAL);
    expect_names(s, want, 9);
    kt_strategy_free(s);
}

Test(strategy, shipped_minimal_and_trend_strategies)
{
    kt_strategy *s = load_ok("strategies/minimal.yaml");
    const char *want[] = {"1h_rsi_low", "1h_rsi_high"};
    expect_names(s, want, 2);
    cr_expect_eq(s->indicators[0].period, 14);
    kt_strategy_free(s);

    s = load_ok("strategies/trend_momentum_tb.yaml");
    cr_expect_eq(s->labels.source, KT_LABEL_TRIPLE_BARRIER);
    cr_expect_eq(s->labels.max_holding_period, 50);
    cr_expect_eq(s->train.loss, KT_LOSS_FOCAL);
    cr_expect_eq(s->train.batch_size, 256);
    cr_expect_eq(s->fuzzy_sets[2].output, 1); // adx_14.plus_di
    cr_expect_eq(s->fuzzy_sets[3].output, 2); // macd.histogram
    cr_expect_eq(kt_strategy_n_features(s), 10);
    kt_strategy_free(s);
}

// The layouts of KTRDR's v3 examples (v3_minimal, v3_multi_output_indicator,
// trend_tb_signal_v1), re-typed: they must parse unchanged.
static const char ktrdr_minimal_shape[] =
    "name: small\nversion: \"3.0\"\ndescription: smallest\n"
    "indicators:\n  rsi_14:\n    type: rsi\n    period: 14\n"
    "fuzzy_sets:\n  rsi_momentum:\n    indicator: rsi_14\n"
    "    oversold: [0, 25, 40]\n    overbought: [60, 75, 100]\n"
    "nn_inputs:\n  - fuzzy_set: rsi_momentum\n    timeframes: [\"1h\"]\n"
    "model:\n  type: mlp\n  hidden_layers: [32, 16]\n  dropout: 0.2\n"
    "decisions:\n  output_format: classification\n"
    "training:\n  epochs: 10\n  batch_size: 32\n  learning_rate: 0.001\n"
    "training_data:\n  symbols:\n    mode: single\n    symbol: EURUSD\n"
    "  timeframes:\n    mode: single\n    timeframe: \"1h\"\n"
    "  history_required: 100\n";

static const char ktrdr_multi_output_shape[] =
    "name: multi_out\nversion: \"3.0\"\n"
    "training_data:\n  symbols: {mode: single, symbol: EURUSD}\n"
    "  timeframes: {mode: single, timeframe: \"1h\"}\n"
    "  history_required: 200\n"
    "indicators:\n  adx_14:\n    type: adx\n    period: 14\n"
    "fuzzy_sets:\n  adx_strength:\n    indicator: adx_14\n"
    "    weak:\n      type: triangular\n      parameters: [0, 15, 25]\n"
    "  di_plus:\n    indicator: adx_14\n"
    "    low:\n      type: triangular\n      parameters: [0, 15, 25]\n"
    "nn_inputs:\n  - fuzzy_set: adx_strength\n    timeframes: all\n"
    "  - fuzzy_set: di_plus\n    timeframes: all\n"
    "model:\n  type: mlp\n  architecture:\n    hidden_layers: [64, 32]\n"
    "    activation: relu\n    output_activation: softmax\n"
    "    dropout: 0.2\n"
    "  features: {include_price_context: false, lookback_periods: 2}\n"
    "  training:\n    learning_rate: 0.01\n    batch_size: 64\n"
    "    epochs: 77\n    optimizer: adam\n"
    "    early_stopping: {enabled: true, patience: 15}\n"
    "decisions:\n  output_format: classification\n"
    "  confidence_threshold: 0.6\n  position_awareness: true\n"
    "training:\n  method: supervised\n"
    "  labels: {source: zigzag, zigzag_threshold: 0.025, "
    "label_lookahead: 20}\n"
    "  data_split: {train: 0.7, validation: 0.15, test: 0.15}\n";

static const char ktrdr_triple_barrier_shape[] =
    "name: tb\nversion: \"3.0\"\ndescription: >\n  folded\n  text\n"
    "training_data:\n  symbols: {mode: single, symbol: EURUSD}\n"
    "  timeframes: {mode: single, timeframe: 1h}\n"
    "  start_date: \"2020-01-01\"\n  end_date: \"2024-01-01\"\n"
    "indicators:\n  macd_12_26_9: {type: macd, fast: 10, slow: 20, "
    "signal: 5}\n  roc_10: {type: roc, period: 10}\n"
    "fuzzy_sets:\n  macd_momentum:\n    indicator: macd_12_26_9.histogram\n"
    "    falling: [-0.0005, -0.0002, 0]\n    rising: [0, 0.0002, 0.0005]\n"
    "nn_inputs:\n  - {fuzzy_set: macd_momentum, timeframes: all}\n"
    "model: {type: mlp, architecture: {hidden_layers: [64, 32], "
    "dropout: 0.3, activation: relu}}\n"
    "decisions:\n  output_format: classification\n  num_classes: 3\n"
    "  confidence_threshold: 0.5\n"
    "  cost_model: {round_trip_cost: 0.0002, min_edge_multiplier: 2.0}\n"
    "  position_awareness: true\n  filters: {min_signal_separation: 4}\n"
    "training:\n  labels:\n    source: triple_barrier\n"
    "    pt_multiplier: 2.5\n    sl_multiplier: 1.0\n"
    "    max_holding_period: 30\n    vol_span: 20\n    vol_method: atr\n"
    "    compute_weights: true\n"
    "  loss: focal\n  focal_gamma: 3.0\n  epochs: 200\n"
    "  learning_rate: 0.001\n  batch_size: 256\n"
    "  early_stopping: {patience: 15, min_delta: 0.001}\n"
    "  lr_scheduler: true\n  gradient_clip: 0.5\n";

Test(strategy, ktrdr_example_layouts_parse_unchanged)
{
    kt_strategy *s = parse_ok(ktrdr_minimal_shape);
    cr_expect(s->mlp.n_hidden == 2 && s->mlp.hidden[0] == 32);
    cr_expect_eq(s->train.epochs, 10);
    kt_strategy_free(s);

    s = parse_ok(ktrdr_multi_output_shape);
    // model.training is only a fallback (KTRDR ignores it in v3).
    cr_expect_eq(s->train.epochs, 77);
    cr_expect_eq(s->train.batch_size, 64);
    cr_expect_float_eq(s->train.learning_rate, 0.01, 1e-12);
    cr_expect_float_eq(s->labels.zigzag_threshold, 0.025, 1e-12);
    cr_expect_eq(s->labels.label_lookahead, 20);
    cr_expect_float_eq(s->decisions.confidence_threshold, 0.6, 1e-12);
    cr_expect_eq(s->fuzzy_sets[1].output, 0); // bare id: primary (adx)
    cr_expect_eq(kt_strategy_n_features(s), 2);
    kt_strategy_free(s);

    s = parse_ok(ktrdr_triple_barrier_shape);
    cr_expect_str_eq(s->description, "folded text\n");
    cr_expect(s->indicators[0].fast_period == 10 &&
              s->indicators[0].slow_period == 20 &&
              s->indicators[0].signal_period == 5);
    cr_expect_eq(s->labels.source, KT_LABEL_TRIPLE_BARRIER);
    cr_expect_float_eq(s->labels.pt_multiplier, 2.5, 1e-12);
    cr_expect_float_eq(s->labels.sl_multiplier, 1.0, 1e-12);
    cr_expect_eq(s->labels.max_holding_period, 30);
    cr_expect_eq(s->labels.vol_span, 20);
    cr_expect_eq(s->train.loss, KT_LOSS_FOCAL);
    cr_expect_float_eq(s->train.focal_gamma, 3.0, 1e-12);
    cr_expect_float_eq(s->train.grad_clip, 0.5, 1e-12);
    cr_expect_str_eq(s->end_date, "2024-01-01");
    kt_strategy_free(s);
}

Test(strategy, multi_symbol_and_multi_timeframe)
{
    kt_strategy *s = parse_ok(
        NAME
        "training_data:\n  symbols: {mode: multi_symbol, list: [AAPL, MSFT]}\n"
        "  timeframes: {mode: multi_timeframe, list: [5m, 1h, 1d],\n"
        "               base_timeframe: 1h}\n" IND
        "fuzzy_sets:\n  rsi: {indicator: rsi_14, low: [0, 30, 50]}\n"
        "  trend: {indicator: adx_14.adx, weak: [0, 10, 20], "
        "strong: [20, 40, 100]}\n"
        "nn_inputs:\n  - {fuzzy_set: rsi, timeframes: [1d, 5m]}\n"
        "  - {fuzzy_set: trend, timeframes: all}\n" MODEL TRAIN);
    // The base timeframe moves first; an explicit list keeps its order.
    const char *want[] = {
        "1d_rsi_low",    "5m_rsi_low",      "1h_trend_weak", "1h_trend_strong",
        "5m_trend_weak", "5m_trend_strong", "1d_trend_weak", "1d_trend_strong"};

    cr_expect_eq(s->n_symbols, 2);
    cr_expect_str_eq(s->symbols[1], "MSFT");
    cr_expect_eq(s->n_timeframes, 3);
    cr_expect_str_eq(s->timeframes[0], "1h");
    cr_expect_str_eq(s->timeframes[1], "5m");
    cr_expect_str_eq(s->timeframes[2], "1d");
    expect_names(s, want, 8);
    kt_strategy_free(s);

    s = parse_ok(NAME "training_data: {symbols: {mode: multi_symbol, symbols: "
                      "[A, B, C]}, timeframes: {mode: multi_timeframe, "
                      "timeframes: [4h, 1d]}}\n" IND FS NN MODEL TRAIN);
    cr_expect_eq(s->n_symbols, 3);
    cr_expect_str_eq(s->timeframes[0], "4h"); // no base: first listed
    kt_strategy_free(s);
}

Test(strategy, hash_tracks_what_changes_the_model)
{
    kt_strategy *a = parse_ok(BASE);
    kt_strategy *b =
        parse_ok("name: other\ndescription: words\n" TD IND FS NN MODEL TRAIN);
    kt_strategy *c =
        parse_ok(NAME TD IND FS NN MODEL "training: {epochs: 6}\n");
    kt_strategy *d = parse_ok(
        NAME TD IND "fuzzy_sets: {rsi: {indicator: rsi_14, "
                    "low: [0, 31, 50], high: [50, 70, 100]}}\n" NN MODEL TRAIN);
    cr_expect_eq(kt_strategy_hash(a), kt_strategy_hash(b));
    cr_expect_neq(kt_strategy_hash(a), kt_strategy_hash(c));
    cr_expect_neq(kt_strategy_hash(a), kt_strategy_hash(d));
    kt_strategy_free(a);
    kt_strategy_free(b);
    kt_strategy_free(c);
    kt_strategy_free(d);
}

Test(strategy, explicit_values_override_defaults)
{
    kt_strategy *s = parse_ok(
        NAME TD IND FS NN
        "model: {type: mlp, hidden_layers: [8], activation: tanh, "
        "dropout: 0}\n"
        "decisions: {confidence_threshold: 0.7, position_awareness: false, "
        "allow_short_from_flat: yes, filters: {min_signal_separation: 0}}\n"
        "training: {epochs: 3, learning_rate: 0.01, batch_size: 7, "
        "seed: 18446744073709551615, weight_decay: 0, "
        "data_split: {train: 0.6, validation: 0.2},\n"
        "  labels: {source: zigzag, zigzag_threshold: 0.05}}\n");
    cr_expect(s->mlp.n_hidden == 1 && s->mlp.hidden[0] == 8);
    cr_expect_eq(s->mlp.activation, KT_ACT_TANH);
    cr_expect_eq(s->mlp.dropout, 0.0);
    cr_expect_float_eq(s->decisions.confidence_threshold, 0.7, 1e-12);
    cr_expect_not(s->decisions.position_awareness);
    cr_expect(s->decisions.allow_short_from_flat);
    cr_expect_eq(s->decisions.min_signal_separation, 0.0);
    cr_expect_eq(s->train.seed, UINT64_MAX);
    cr_expect_eq(s->train.batch_size, 7);
    cr_expect_float_eq(s->train.train_frac, 0.6, 1e-12);
    cr_expect_float_eq(s->train.val_frac, 0.2, 1e-12);
    cr_expect_eq(s->train.weight_decay, 0.0);
    cr_expect_float_eq(s->labels.zigzag_threshold, 0.05, 1e-12);
    kt_strategy_free(s);
}
