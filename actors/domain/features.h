// features.h: the model's input matrix for a strategy over bars: indicators
// -> fuzzy memberships -> columns in canonical order (reference §1.5), NaN
// (indicator warm-up) -> 0.0 as KTRDR does.
#ifndef KT_DOMAIN_FEATURES_H
#define KT_DOMAIN_FEATURES_H

#include <stddef.h>

#include <kt/err.h>

#include "domain/ohlcv.h"
#include "domain/strategy.h"
#include "domain/types.h"

#ifdef __cplusplus
extern "C" {
#endif

// kt_features_build fills *out with one row per bar of a single-timeframe
// strategy: out->n_rows = bars->n, out->n_cols = kt_strategy_n_features(s),
// out->names = kt_strategy_feature_names(s), out->time = bars->time.
// Memberships are in [0, 1]; rows in the indicators' warm-up hold 0.0.
// Multi-timeframe strategies need kt_features_build_mtf (KT_EINVAL here).
// When bars->timeframe is set it must equal the strategy's timeframe.
// *out is overwritten (not freed) on KT_OK and untouched on failure; release
// it with kt_features_free. Errors: KT_EINVAL (message in err), KT_ENOMEM.
KT_NODISCARD kt_err kt_features_build(const kt_strategy *s,
                                      const kt_ohlcv *bars, kt_features *out,
                                      char *err, size_t errlen);

// kt_features_build_mtf is kt_features_build for any number of timeframes:
// tf_bars[i] holds the bars of s->timeframes[i] (i = 0 is the base
// timeframe, which defines the rows). Each higher timeframe is computed at
// its own resolution and forward-filled onto the base rows: a base bar at
// time t sees the last higher-timeframe bar that has closed by t + base
// length (its open time + its length <= t + base length), so no row sees a
// bar that closes after the row itself. Before the first such bar the
// memberships are 0.0.
KT_NODISCARD kt_err kt_features_build_mtf(const kt_strategy *s,
                                          const kt_ohlcv *const *tf_bars,
                                          size_t n_tf, kt_features *out,
                                          char *err, size_t errlen);

// kt_features_free releases what kt_features_build put in f and zeroes it;
// a zeroed kt_features is a no-op.
void kt_features_free(kt_features *f);

// kt_features_check compares f's column names with expected (e.g. a model's
// stored resolved_features). KT_OK when identical in content and order;
// otherwise KT_EINVAL with the first difference described in err.
KT_NODISCARD kt_err kt_features_check(const kt_features *f,
                                      char *const *expected, size_t n,
                                      char *err, size_t errlen);

// A column-major table of every indicator output the strategy defines, one
// column per output named "{id}.{output}" (single-output indicators: "{id}"),
// NaN during warm-up. For the export tool and debugging.
typedef struct kt_ind_table {
    size_t n_rows;
    size_t n_cols;
    double *v;    // v[col * n_rows + row]
    char **names; // n_cols strings
} kt_ind_table;

// kt_ind_table_build computes every indicator of s over bars. On KT_OK *out
// is overwritten; release with kt_ind_table_free. Errors: KT_ENOMEM,
// KT_EINVAL.
KT_NODISCARD kt_err kt_ind_table_build(const kt_strategy *s,
                                       const kt_ohlcv *bars, kt_ind_table *out,
                                       char *err, size_t errlen);
void kt_ind_table_free(kt_ind_table *t);

#ifdef __cplusplus
}
#endif

#endif // KT_DOMAIN_FEATURES_H
