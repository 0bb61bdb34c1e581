// test_strategy.c: strategy YAML: the shipped strategies, KTRDR-shaped
// examples, defaults, feature order, the hash, every validation error (one
// table row each), malformed YAML, and robustness over truncated/corrupted
// input.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "domain/strategy.h"

#define NAME "name: t\n"
#define TD                                                      \
    "training_data: {symbols: {mode: single, symbol: EURUSD}, " \
    "timeframes: {mode: single, timeframe: 1h}}\n"
#define IND                                          \
    "indicators: {rsi_14: {type: rsi, period: 14}, " \
    "adx_14: {type: adx}}\n"
#define FS                                                     \
    "fuzzy_sets: {rsi: {indicator: rsi_14, low: [0, 30, 50], " \
    "high: [50, 70, 100]}}\n"
#define NN    "nn_inputs: [{fuzzy_set: rsi}]\n"
#define MODEL "model: {type: mlp}\n"
#define TRAIN "training: {epochs: 5}\n"
#define BASE  NAME TD IND FS NN MODEL TRAIN

static kt_err
parse(const char *yaml, kt_strategy **s, char *err, size_t errlen)
{
    return kt_strategy_parse(yaml, strlen(yaml), "t.yaml", s, err, errlen);
}

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

// ---- validation errors: one row per check --------------------------------

typedef struct bad_case {
    const char *yaml;
    const char *want; // substring of the message (after "t.yaml: ")
} bad_case;

#define TDX(sym, tfs) "training_data: {symbols: " sym ", timeframes: " tfs "}\n"
#define SINGLE_TF     "{mode: single, timeframe: 1h}"
#define SINGLE_SYM    "{mode: single, symbol: EURUSD}"
#define WITH_IND(i)   NAME TD "indicators: {" i "}\n" FS NN MODEL TRAIN
#define WITH_FS(f)    NAME TD IND "fuzzy_sets: {" f "}\n" NN MODEL TRAIN
#define WITH_NN(n)    NAME TD IND FS "nn_inputs: " n "\n" MODEL TRAIN
#define WITH_MODEL(m) NAME TD IND FS NN "model: " m "\n" TRAIN
#define WITH_DEC(d)   BASE "decisions: " d "\n"
#define WITH_TRAIN(t) NAME TD IND FS NN MODEL "training: " t "\n"
#define WITH_TD(t)    NAME t IND FS NN MODEL TRAIN

static const bad_case bad_cases[] = {
    // identity and sections
    {TD IND FS NN MODEL TRAIN, "name: must be a value (missing)"},
    {"name: \"\"\n" TD IND FS NN MODEL TRAIN, "name: must not be empty"},
    {"name: [a]\n" TD IND FS NN MODEL TRAIN, "name: must be a value"},
    {BASE "version: \"2.0\"\n", "version: only v3 strategies are supported"},
    {BASE "description: [x]\n", "description: must be a value"},
    {NAME IND FS NN MODEL TRAIN, "training_data: missing required section"},
    {NAME TD FS NN MODEL TRAIN, "indicators: missing required section"},
    {NAME TD IND NN MODEL TRAIN, "fuzzy_sets: missing required section"},
    {NAME TD IND FS MODEL TRAIN, "nn_inputs: missing required section"},
    {NAME TD IND FS NN TRAIN, "model: missing required section"},
    {NAME TD IND FS NN MODEL, "training: missing required section"},
    // training_data
    {WITH_TD("training_data: 5\n"), "training_data: must be a mapping"},
    {WITH_TD(TDX("[EURUSD]", SINGLE_TF)),
     "training_data.symbols: must be a mapping"},
    {WITH_TD(TDX("{mode: single}", SINGLE_TF)),
     "training_data.symbols: needs 'symbol' (single)"},
    {WITH_TD(TDX("{mode: multi_symbol, list: []}", SINGLE_TF)),
     "training_data.symbols.list: must list 1 to 64 entries, got 0"},
    {WITH_TD(TDX("{mode: multi_symbol, list: [A, B, A]}", SINGLE_TF)),
     "training_data.symbols.list[2]: duplicate entry 'A'"},
    {WITH_TD(TDX("{mode: multi_symbol, list: [A, {b: 1}]}", SINGLE_TF)),
     "training_data.symbols.list[1]: must be a value"},
    {WITH_TD(TDX(SINGLE_SYM, "1h")),
     "training_data.timeframes: must be a mapping"},
    {WITH_TD(TDX(SINGLE_SYM, "{mode: single}")),
     "training_data.timeframes: needs 'timeframe' (single)"},
    {WITH_TD(TDX(SINGLE_SYM, "{mode: single, timeframe: 2h}")),
     "training_data.timeframes.timeframe: unknown timeframe '2h'"},
    {WITH_TD(TDX(SINGLE_SYM, "{list: [1m, 5m, 15m, 1h, 1d]}")),
     "training_data.timeframes.list: must list 1 to 4 entries, got 5"},
    {WITH_TD(TDX(SINGLE_SYM, "{list: [1h, 1d], base_timeframe: 4h}")),
     "training_data.timeframes.base_timeframe: '4h' is not one of the "
     "listed timeframes"},
    {WITH_TD(TDX(SINGLE_SYM, "{list: [1h, 1h]}")),
     "training_data.timeframes.list[1]: duplicate entry '1h'"},
    {WITH_TD("training_data: {symbols: " SINGLE_SYM ", timeframes: " SINGLE_TF
             ", history_required: -1}\n"),
     "training_data.history_required: must be in [0, 1e+06], got -1"},
    {WITH_TD("training_data: {symbols: " SINGLE_SYM ", timeframes: " SINGLE_TF
             ", start_date: 2024-13-01}\n"),
     "training_data.start_date: not a date (YYYY-MM-DD): '2024-13-01'"},
    {WITH_TD("training_data: {symbols: " SINGLE_SYM ", timeframes: " SINGLE_TF
             ", date_range: {start: 2024-01-01, end: soon}}\n"),
     "training_data.date_range.end: not a date"},
    // indicators
    {NAME TD "indicators: [{type: rsi}]\n" FS NN MODEL TRAIN,
     "indicators: a list of indicators is the v2 format"},
    {WITH_IND(""), "indicators: at least one indicator needed"},
    {WITH_IND("rsi_14: 14"), "indicators.rsi_14: must be a mapping"},
    {WITH_IND("rsi_14: {period: 14}"),
     "indicators.rsi_14.type: must be a value (missing)"},
    {WITH_IND("rsi_14: {type: rsx}"),
     "indicators.rsi_14.type: unknown indicator type 'rsx' (supported: rsi,"},
    {WITH_IND("rsi_14: {type: rsi, length: 14}"),
     "indicators.rsi_14.length: unknown parameter for rsi (valid: period, "
     "source)"},
    {WITH_IND("rsi_14: {type: rsi, period: abc}"),
     "indicators.rsi_14.period: must be an integer, got 'abc'"},
    {WITH_IND("rsi_14: {type: rsi, period: 0}"),
     "indicators.rsi_14.period: must be in [1, 1000], got 0"},
    {WITH_IND("rsi_14: {type: rsi, period: [14]}"),
     "indicators.rsi_14.period: must be a value"},
    {WITH_IND("rsi_14: {type: rsi}, m: {type: macd, fast_period: 26, "
              "slow_period: 12}"),
     "indicators.m: fast_period (26) must be < slow_period (12)"},
    {WITH_IND("rsi_14: {type: rsi}, \"rsi.7\": {type: rsi}"),
     "indicators.rsi.7: invalid character '.' in id 'rsi.7'"},
    {WITH_IND("rsi_14: {type: rsi}, "
              "a123456789b123456789c123456789d123456789e123456789f123456789"
              "g123: {type: rsi}"),
     "indicators.a123456789b123456789c123456789d123456789e123456789"
     "f123456789g123: an id must have 1 to 63 characters"},
    {WITH_TD(TDX("{mode: single, symbol: "
                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789}",
                 SINGLE_TF)),
     "training_data.symbols.symbol: too long (at most 31 characters)"},
    {WITH_IND("rsi_14: {type: rsi, source: typical}"),
     "indicators.rsi_14.source: unknown source 'typical'"},
    // fuzzy sets
    {WITH_FS(""), "fuzzy_sets: at least one fuzzy set needed"},
    {NAME TD IND "fuzzy_sets: [a]\n" NN MODEL TRAIN,
     "fuzzy_sets: must be a mapping"},
    {WITH_FS("rsi: [0, 1, 2]"), "fuzzy_sets.rsi: must be a mapping"},
    {WITH_FS("rsi: {low: [0, 30, 50]}"),
     "fuzzy_sets.rsi.indicator: must be a value (missing)"},
    {WITH_FS("rsi: {indicator: rsi_99, low: [0, 30, 50]}"),
     "fuzzy_sets.rsi.indicator: unknown indicator 'rsi_99'"},
    {WITH_FS("rsi: {indicator: rsi_14.value, low: [0, 30, 50]}"),
     "fuzzy_sets.rsi.indicator: 'rsi_14' (rsi) has a single output: use "
     "'rsi_14' without '.value'"},
    {WITH_FS("rsi: {indicator: rsi_14, low: [0, 1, 2]}, "
             "a: {indicator: adx_14.di, low: [0, 1, 2]}"),
     "fuzzy_sets.a.indicator: adx_14 (adx) has no output 'di' (outputs: "
     "adx, plus_di, minus_di)"},
    {WITH_FS("rsi: {indicator: rsi_14}"),
     "fuzzy_sets.rsi: needs at least one membership function"},
    {WITH_FS("rsi: {indicator: rsi_14, low: 5}"),
     "fuzzy_sets.rsi.low: a membership is [a, b, c] or {type, parameters}"},
    {WITH_FS("rsi: {indicator: rsi_14, low: [0, 1, 2, 3, 4]}"),
     "fuzzy_sets.rsi.low: needs 2 to 4 numbers, got 5"},
    {WITH_FS("rsi: {indicator: rsi_14, low: [0, 1]}"),
     "fuzzy_sets.rsi.low: triangular needs 3 parameters, got 2"},
    {WITH_FS("rsi: {indicator: rsi_14, low: [0, x, 2]}"),
     "fuzzy_sets.rsi.low[1]: must be a number, got 'x'"},
    {WITH_FS("rsi: {indicator: rsi_14, low: [30, 20, 40]}"),
     "fuzzy_sets.rsi.low: triangular parameters must satisfy a <= b <= c"},
    {WITH_FS("rsi: {indicator: rsi_14, low: [0, 20, 10, 30]}"),
     "fuzzy_sets.rsi.low: trapezoidal parameters must satisfy"},
    {WITH_FS("rsi: {indicator: rsi_14, low: {type: sigmoid, "
             "parameters: [1, 2]}}"),
     "fuzzy_sets.rsi.low.type: unknown membership type 'sigmoid'"},
    {WITH_FS("rsi: {indicator: rsi_14, low: {type: gaussian}}"),
     "fuzzy_sets.rsi.low.parameters: must be a list (missing)"},
    {WITH_FS("rsi: {indicator: rsi_14, low: {type: gaussian, "
             "parameters: [50, 0]}}"),
     "fuzzy_sets.rsi.low: gaussian sigma must be > 0, got 0"},
    {WITH_FS("rsi: {indicator: rsi_14, \"lo w\": [0, 1, 2]}"),
     "fuzzy_sets.rsi.lo w: invalid character ' '"},
    // nn_inputs
    {WITH_NN("{fuzzy_set: rsi}"), "nn_inputs: must be a list"},
    {WITH_NN("[]"), "nn_inputs: at least one input needed"},
    {WITH_NN("[rsi]"), "nn_inputs[0]: must be a mapping"},
    {WITH_NN("[{raw_indicator: rsi_14}]"),
     "nn_inputs[0]: raw_indicator inputs are not supported"},
    {WITH_NN("[{timeframes: all}]"),
     "nn_inputs[0].fuzzy_set: must be a value (missing)"},
    {WITH_NN("[{fuzzy_set: rsi}, {fuzzy_set: macd}]"),
     "nn_inputs[1].fuzzy_set: unknown fuzzy set 'macd'"},
    {WITH_NN("[{fuzzy_set: rsi}, {fuzzy_set: rsi}]"),
     "nn_inputs[1].fuzzy_set: fuzzy set 'rsi' is listed twice"},
    {WITH_NN("[{fuzzy_set: rsi, timeframes: [4h]}]"),
     "nn_inputs[0].timeframes: timeframe '4h' is not in "
     "training_data.timeframes"},
    {WITH_NN("[{fuzzy_set: rsi, timeframes: {a: 1}}]"),
     "nn_inputs[0].timeframes: must be a list"},
    // model
    {WITH_MODEL("mlp"), "model: must be a mapping"},
    {WITH_MODEL("{type: lstm}"),
     "model.type: 'lstm' is not supported by this build (supported: mlp)"},
    {WITH_MODEL("{type: transformer}"),
     "model.type: unknown value 'transformer' (expected: mlp)"},
    {WITH_MODEL("{type: mlp, hidden_layers: []}"),
     "model.hidden_layers: needs 1 to 8 layer sizes, got 0"},
    {WITH_MODEL("{type: mlp, architecture: {hidden_layers: [64, 0]}}"),
     "model.architecture.hidden_layers[1]: must be in [1, 4096], got 0"},
    {WITH_MODEL("{type: mlp, architecture: 5}"),
     "model.architecture: must be a mapping"},
    {WITH_MODEL("{type: mlp, activation: sigmoid}"),
     "model.activation: 'sigmoid' is not supported by this build "
     "(supported: relu, tanh)"},
    {WITH_MODEL("{type: mlp, architecture: {dropout: 1.0}}"),
     "model.architecture.dropout: must be in [0, 0.99], got 1.0"},
    {NAME TD IND FS NN "model: {type: mlp, training: {epochs: 0}}\n" TRAIN,
     "model.training.epochs: must be in [1, 1e+06], got 0"},
    // decisions
    {WITH_DEC("[1]"), "decisions: must be a mapping"},
    {WITH_DEC("{output_format: regression}"),
     "decisions.output_format: 'regression' is not supported by this build"},
    {WITH_DEC("{confidence_threshold: 1.5}"),
     "decisions.confidence_threshold: must be in [0, 1], got 1.5"},
    {WITH_DEC("{position_awareness: maybe}"),
     "decisions.position_awareness: must be true or false, got 'maybe'"},
    {WITH_DEC("{filters: 4}"), "decisions.filters: must be a mapping"},
    {WITH_DEC("{filters: {min_signal_separation: -1}}"),
     "decisions.filters.min_signal_separation: must be in [0, 1e+06]"},
    // training
    {WITH_TRAIN("[1]"), "training: must be a mapping"},
    {WITH_TRAIN("{epochs: 0}"), "training.epochs: must be in [1, 1e+06]"},
    {WITH_TRAIN("{epochs: 2.5}"), "training.epochs: must be an integer"},
    {WITH_TRAIN("{learning_rate: 0}"), "training.learning_rate: must be in"},
    {WITH_TRAIN("{batch_size: -1}"), "training.batch_size: must be in"},
    {WITH_TRAIN("{loss: huber}"),
     "training.loss: 'huber' is not supported by this build (supported: "
     "cross_entropy, focal)"},
    {WITH_TRAIN("{loss: hinge}"), "training.loss: unknown value 'hinge'"},
    {WITH_TRAIN("{focal_gamma: -1}"), "training.focal_gamma: must be in"},
    {WITH_TRAIN("{seed: -1}"),
     "training.seed: must be an unsigned 64-bit integer, got '-1'"},
    {WITH_TRAIN("{seed: 99999999999999999999}"),
     "training.seed: must be an unsigned 64-bit integer"},
    {WITH_TRAIN("{gradient_clip: -1}"), "training.gradient_clip: must be in"},
    {WITH_TRAIN("{labels: zigzag}"), "training.labels: must be a mapping"},
    {WITH_TRAIN("{labels: {source: forward_return}}"),
     "training.labels.source: 'forward_return' is not supported"},
    {WITH_TRAIN("{labels: {source: magic}}"),
     "training.labels.source: unknown value 'magic' (expected: zigzag, "
     "triple_barrier)"},
    {WITH_TRAIN("{labels: {zigzag_threshold: 0}}"),
     "training.labels.zigzag_threshold: must be in"},
    {WITH_TRAIN("{labels: {source: triple_barrier, vol_method: close}}"),
     "training.labels.vol_method: 'close' is not supported"},
    {WITH_TRAIN("{labels: {source: triple_barrier, max_holding_period: 0}}"),
     "training.labels.max_holding_period: must be in [1, 100000]"},
    {WITH_TRAIN("{labels: {pt_multiplier: 0}}"),
     "training.labels.pt_multiplier: must be in"},
    {WITH_TRAIN("{data_split: 0.7}"), "training.data_split: must be a mapping"},
    {WITH_TRAIN("{data_split: {train: 0.7, validation: 0.2, test: 0.2}}"),
     "training.data_split: train + validation + test must be 1, got 1.1"},
    {WITH_TRAIN("{data_split: {train: 0.9, validation: 0.2}}"),
     "training.data_split: train + validation must be <= 1, got 1.1"},
    {WITH_TRAIN("{data_split: {train: 0}}"),
     "training.data_split.train: must be in [0.01, 1], got 0"},
};

Test(strategy, every_validation_error_names_file_key_and_problem)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        char err[512] = "", want[512];
        kt_strategy *s = (kt_strategy *)0x1;
        kt_err rv = parse(bad_cases[i].yaml, &s, err, sizeof(err));

        snprintf(want, sizeof(want), "t.yaml: %s", bad_cases[i].want);
        cr_expect_eq(rv, KT_EINVAL, "case %zu (%s): rv %d", i,
                     bad_cases[i].want, rv);
        cr_expect(strstr(err, want) != NULL, "case %zu:\n got: %s\nwant: %s", i,
                  err, want);
        cr_expect_eq(s, (kt_strategy *)0x1, "case %zu: out touched", i);
    }
}

// ---- malformed YAML and files
// ------------------------------------------------

static const bad_case yaml_cases[] = {
    {"name: a\nindicators: {rsi: [1, 2\n",
     ":3:1: YAML syntax error: did not find expected ',' or ']'"},
    {"a: 1\na: 2\n", ":2:1: duplicate key 'a'"},
    {"name: x\n---\nname: y\n", ":2:1: more than one YAML document"},
    {"x: &a 1\ny: *a\n", ":2:4: YAML aliases (*name) are not supported"},
    {"? [a, b]\n: 1\n", ":1:3: mapping keys must be plain scalars"},
    {"- a\n- b\n", "the document must be a mapping of sections"},
    {"just a scalar\n", "the document must be a mapping of sections"},
    {"", "the document must be a mapping of sections"},
    {"# only a comment\n", "the document must be a mapping of sections"},
    {"name: x\n\tindicators: {}\n", "YAML syntax error"},
    {"name: \"unterminated\n", "YAML syntax error"},
};

Test(strategy, malformed_yaml_is_reported_with_line)
{
    for (size_t i = 0; i < sizeof(yaml_cases) / sizeof(yaml_cases[0]); i++) {
        char err[512] = "";
        kt_strategy *s = NULL;
        kt_err rv = parse(yaml_cases[i].yaml, &s, err, sizeof(err));
        cr_expect_eq(rv, KT_EINVAL, "case %zu: rv %d", i, rv);
        cr_expect(strncmp(err, "t.yaml", 6) == 0 &&
                      strstr(err, yaml_cases[i].want) != NULL,
                  "case %zu:\n got: %s\nwant: %s", i, err, yaml_cases[i].want);
        cr_expect_null(s);
    }
}

Test(strategy, deep_nesting_is_refused)
{
    char doc[512] = "name: x\ndeep: ";
    char err[256];
    kt_strategy *s = NULL;
    for (int i = 0; i < 70; i++) {
        strcat(doc, "[");
    }
    strcat(doc, "\n");
    cr_expect_eq(parse(doc, &s, err, sizeof(err)), KT_EINVAL);
    cr_expect(strstr(err, "nesting too deep") || strstr(err, "YAML syntax"),
              "%s", err);
}

static void
expect_file_error(const char *rel, kt_err want_rv, const char *want)
{
    char path[1024], err[512] = "";
    kt_strategy *s = NULL;
    snprintf(path, sizeof(path), "%s/%s", KT_SOURCE_DIR, rel);
    cr_expect_eq(kt_strategy_load(path, &s, err, sizeof(err)), want_rv, "%s",
                 rel);
    cr_expect(strstr(err, path) == err, "message must start with the path: %s",
              err);
    cr_expect(strstr(err, want) != NULL, "%s:\n got: %s\nwant: %s", rel, err,
              want);
    cr_expect_null(s);
}

Test(strategy, fixture_files_fail_with_path_and_reason)
{
    expect_file_error("tests/data/strategy_unknown_indicator.yaml", KT_EINVAL,
                      ": fuzzy_sets.rsi_low.indicator: unknown indicator "
                      "'rsi_99'");
    expect_file_error("tests/data/strategy_bad_syntax.yaml", KT_EINVAL,
                      ":4:11: YAML syntax error: did not find "
                      "expected ',' or '}'");
    expect_file_error("tests/data/strategy_alias.yaml", KT_EINVAL,
                      "YAML aliases");
    expect_file_error("tests/data/strategy_tabs.yaml", KT_EINVAL,
                      "YAML syntax error");
    expect_file_error("tests/data/strategy_nul.yaml", KT_EINVAL,
                      "NUL character");
    expect_file_error("tests/data/no_such_strategy.yaml", KT_ENOENT,
                      ": cannot open strategy file: No such file");
}

Test(strategy, null_error_buffer_is_allowed)
{
    kt_strategy *s = NULL;
    cr_expect_eq(kt_strategy_parse("a: [", 4, NULL, &s, NULL, 0), KT_EINVAL);
    cr_expect_eq(kt_strategy_parse("a: 1", 4, NULL, &s, NULL, 0), KT_EINVAL);
    kt_strategy_free(NULL);
}

// Every prefix of a valid document, and deterministic byte corruptions of
// it, must give KT_OK or KT_EINVAL with a message: never a crash or leak
// (the sanitizer build checks the latter).
Test(strategy, truncated_and_corrupted_input_never_crashes)
{
    static const char doc[] = BASE "decisions: {filters: "
                                   "{min_signal_separation: 2}}\n";
    size_t n = strlen(doc);
    char *buf = malloc(n + 1), err[512];
    static const char junk[] = " :{}[],-\n#&*!|>'\"0a.\t\\";
    uint64_t x = 88172645463325252ULL;

    cr_assert_not_null(buf);
    for (size_t len = 0; len <= n; len++) {
        kt_strategy *s = NULL;
        memcpy(buf, doc, len);
        kt_err rv = kt_strategy_parse(buf, len, "p", &s, err, sizeof(err));
        cr_expect(rv == KT_OK || rv == KT_EINVAL, "prefix %zu: %d", len, rv);
        cr_expect(rv == KT_OK || err[0] != '\0', "prefix %zu: no message", len);
        kt_strategy_free(s);
    }
    for (int round = 0; round < 3000; round++) {
        kt_strategy *s = NULL;
        memcpy(buf, doc, n);
        for (int k = 0; k < 1 + round % 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[x % n] = junk[(x >> 32) % (sizeof(junk) - 1)];
        }
        kt_err rv = kt_strategy_parse(buf, n, "c", &s, err, sizeof(err));
        cr_expect(rv == KT_OK || rv == KT_EINVAL, "round %d: %d", round, rv);
        kt_strategy_free(s);
    }
    free(buf);
}

Test(strategy, unsupported_values_are_whole_words)
{
    char err[512];
    kt_strategy *s = NULL;
    // "gr" is a prefix of the unsupported "gru": still just unknown.
    cr_expect_eq(parse(NAME TD IND FS NN "model: {type: gr}\n" TRAIN, &s, err,
                       sizeof(err)),
                 KT_EINVAL);
    cr_expect(strstr(err, "model.type: unknown value 'gr'"), "%s", err);
    cr_expect_eq(parse(NAME TD IND FS NN "model: {type: gru}\n" TRAIN, &s, err,
                       sizeof(err)),
                 KT_EINVAL);
    cr_expect(strstr(err, "model.type: 'gru' is not supported"), "%s", err);
}
