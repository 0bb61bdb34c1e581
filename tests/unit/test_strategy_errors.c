// test_strategy_errors.c: strategy YAML that must be refused: every
// validation error (one table row each), malformed YAML and fixture files,
// and robustness over truncated/corrupted input.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "domain/strategy.h"
#include "strategy_fx.h"

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

Test(strategy_errors, every_validation_error_names_file_key_and_problem)
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

Test(strategy_errors, malformed_yaml_is_reported_with_line)
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

Test(strategy_errors, deep_nesting_is_refused)
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

Test(strategy_errors, fixture_files_fail_with_path_and_reason)
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

Test(strategy_errors, null_error_buffer_is_allowed)
{
    kt_strategy *s = NULL;
    cr_expect_eq(kt_strategy_parse("a: [", 4, NULL, &s, NULL, 0), KT_EINVAL);
    cr_expect_eq(kt_strategy_parse("a: 1", 4, NULL, &s, NULL, 0), KT_EINVAL);
    kt_strategy_free(NULL);
}

// Every prefix of a valid document, and deterministic byte corruptions of
// it, must give KT_OK or KT_EINVAL with a message: never a crash or leak
// (the sanitizer build checks the latter).
Test(strategy_errors, truncated_and_corrupted_input_never_crashes)
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

Test(strategy_errors, unsupported_values_are_whole_words)
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
