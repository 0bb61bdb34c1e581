// strategy.h: KTRDR v3 strategy files (YAML) parsed and validated into a
// plain, immutable kt_strategy. libyaml is used in strategy.c only.
#ifndef KT_DOMAIN_STRATEGY_H
#define KT_DOMAIN_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kt/err.h>

#include "domain/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KT_ID_MAX       64 // ids, names, membership names (incl. NUL)
#define KT_REF_MAX      96 // "indicator_id.output" references (incl. NUL)
#define KT_SYMBOL_MAX   32
#define KT_TF_MAX       8 // "1m" .. "1w"
#define KT_STRAT_MAX_TF 4 // timeframes per strategy

// Indicator types implemented (reference §1.3, §8.1). Type names in YAML are
// case-insensitive; see kt_indicator_type_name() in indicators.h.
typedef enum kt_ind_type {
    KT_IND_RSI = 0,
    KT_IND_ADX,  // outputs adx (primary), plus_di, minus_di
    KT_IND_MACD, // outputs line (primary), signal, histogram
    KT_IND_ROC,
    KT_IND_SMA,
    KT_IND_EMA,
    KT_IND_ATR,
    KT_IND_BBANDS,  // outputs upper (primary), middle, lower
    KT_IND_BBWIDTH, // bollingerbandwidth
    KT_IND_STOCH,   // outputs k (primary), d
    KT_IND_COUNT
} kt_ind_type;

// Price series an indicator reads (`source:`), default close.
typedef enum kt_source {
    KT_SRC_CLOSE = 0,
    KT_SRC_OPEN,
    KT_SRC_HIGH,
    KT_SRC_LOW,
    KT_SRC_VOLUME,
    KT_SRC_HL2,   // (high + low) / 2
    KT_SRC_HLC3,  // (high + low + close) / 3
    KT_SRC_OHLC4, // (open + high + low + close) / 4
} kt_source;

// One `indicators:` entry. Unused fields keep their defaults.
typedef struct kt_indicator_def {
    char id[KT_ID_MAX];
    kt_ind_type type;
    kt_source source;
    int period;        // rsi 14, roc 10, sma/ema 20, atr 14, adx 14, bb 20
    int fast_period;   // macd 12
    int slow_period;   // macd 26
    int signal_period; // macd 9
    int k_period;      // stochastic 14
    int d_period;      // stochastic 3
    int smooth_k;      // stochastic 3
    double multiplier; // bollinger std-dev multiplier 2.0
    bool adjust;       // ema: pandas adjust=True weights (default true)
} kt_indicator_def;

typedef enum kt_mf_type {
    KT_MF_TRIANGULAR = 0,  // p[0..2] = a <= b <= c
    KT_MF_TRAPEZOIDAL = 1, // p[0..3] = a <= b <= c <= d
    KT_MF_GAUSSIAN = 2,    // p[0..1] = mu, sigma > 0
} kt_mf_type;

// One membership function of a fuzzy set, e.g. `oversold: [0, 30, 40]`.
typedef struct kt_mf {
    char name[KT_ID_MAX];
    kt_mf_type type;
    int n_params;
    double p[4];
} kt_mf;

// One `fuzzy_sets:` entry. `indicator` is the reference as written
// ("rsi_14", "bbands_20.upper"); ind is the index into kt_strategy.indicators
// and output the output index (the primary output when no dot is given).
typedef struct kt_fuzzy_set {
    char id[KT_ID_MAX];
    char indicator[KT_REF_MAX];
    int ind;
    int output;
    int n_mfs;
    kt_mf *mfs; // YAML order
} kt_fuzzy_set;

// One `nn_inputs:` entry (fuzzy_set inputs only). tf[0..n_tf) are indexes
// into kt_strategy.timeframes in feature order: `timeframes: all` is every
// strategy timeframe (base first), a list keeps the list's order.
typedef struct kt_nn_input {
    int fuzzy_set; // index into kt_strategy.fuzzy_sets
    int n_tf;
    int tf[KT_STRAT_MAX_TF];
} kt_nn_input;

typedef enum kt_label_source {
    KT_LABEL_ZIGZAG = 0,
    KT_LABEL_TRIPLE_BARRIER = 1,
} kt_label_source;

// `training.labels:`. Defaults as in the reference (§1.6).
typedef struct kt_label_cfg {
    kt_label_source source;  // default zigzag
    double zigzag_threshold; // fraction, default 0.02
    int label_lookahead;    // default 10 (parsed; unused by the segment method)
    double pt_multiplier;   // triple barrier: take profit x vol, default 2.0
    double sl_multiplier;   // stop loss x vol, default 1.5
    int max_holding_period; // bars scanned forward, default 50
    int vol_span;           // EWM span of (high-low)/close, default 50
} kt_label_cfg;

// `decisions:` (classification only).
typedef struct kt_decisions {
    double confidence_threshold;  // default 0.5
    bool position_awareness;      // default true
    bool allow_short_from_flat;   // default false
    double min_signal_separation; // hours, filters.min_signal_separation, 4
} kt_decisions;

// A validated strategy. Every field is read-only for callers; the strategy
// owns all memory it points to (released by kt_strategy_free).
typedef struct kt_strategy {
    char name[KT_ID_MAX];
    char *description; // "" when absent
    char version[16];  // "3.0" when absent
    char *source_path; // file it came from, or the name given to parse

    // training_data: symbols (single or multi_symbol, `symbols`/`list`
    // keys both accepted); timeframes with the base timeframe first.
    int n_symbols;
    char (*symbols)[KT_SYMBOL_MAX];
    int n_timeframes; // 1..KT_STRAT_MAX_TF
    char timeframes[KT_STRAT_MAX_TF][KT_TF_MAX];
    int history_required; // bars, default 100
    char start_date[32];  // "" when absent (ISO date as written)
    char end_date[32];

    int n_indicators;
    kt_indicator_def *indicators; // YAML order
    int n_fuzzy_sets;
    kt_fuzzy_set *fuzzy_sets; // YAML order
    int n_nn_inputs;
    kt_nn_input *nn_inputs; // YAML order

    kt_mlp_cfg mlp; // n_inputs = kt_strategy_n_features()
    kt_decisions decisions;
    kt_label_cfg labels;
    kt_train_cfg train; // seed default 42 (training.seed overrides)
} kt_strategy;

// kt_strategy_load reads and validates the YAML file at path. On KT_OK *out
// owns a new strategy (free with kt_strategy_free). On failure *out is
// untouched and, when err != NULL, err holds one line
// "<path>: <key.path>: <problem>". Errors: KT_ENOENT (cannot open),
// KT_EINVAL (malformed YAML or failed validation), KT_ENOMEM.
KT_NODISCARD kt_err kt_strategy_load(const char *path, kt_strategy **out,
                                     char *err, size_t errlen);

// kt_strategy_parse is kt_strategy_load on an in-memory document of len
// bytes; name is used in messages and as source_path (may be NULL).
KT_NODISCARD kt_err kt_strategy_parse(const char *yaml_text, size_t len,
                                      const char *name, kt_strategy **out,
                                      char *err, size_t errlen);

// kt_strategy_free releases s and everything it owns; NULL is a no-op.
void kt_strategy_free(kt_strategy *s);

// kt_strategy_n_features is the number of model inputs (the length of the
// resolved feature list).
size_t kt_strategy_n_features(const kt_strategy *s);

// kt_strategy_feature_names returns the ordered feature ids of reference
// §1.5: for each nn_input (YAML order), for each of its timeframes (strategy
// order, base first), for each membership (YAML order):
// "{tf}_{fuzzy_set}_{membership}". On KT_OK *names is a new array of *n
// strings, released with kt_names_free(). Errors: KT_ENOMEM.
KT_NODISCARD kt_err kt_strategy_feature_names(const kt_strategy *s,
                                              char ***names, size_t *n);

// kt_names_free releases an array of n strings returned by this library.
void kt_names_free(char **names, size_t n);

// kt_strategy_find_indicator returns the index of the indicator with id, or
// -1.
int kt_strategy_find_indicator(const kt_strategy *s, const char *id);

// kt_strategy_hash is a 64-bit FNV-1a hash of the canonical description of
// everything that changes features, labels, model or training (not name or
// description), e.g. to check that a model matches its strategy.
uint64_t kt_strategy_hash(const kt_strategy *s);

#ifdef __cplusplus
}
#endif

#endif // KT_DOMAIN_STRATEGY_H
