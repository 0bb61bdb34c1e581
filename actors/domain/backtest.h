// backtest.h: the bar-by-bar backtest of a trained strategy (reference §4):
// per bar, the pending signal fills at the open, the model decides on the
// bar's features, the filters run, the book is marked at the close; the
// last bar force-closes. Runs in slices and exports its whole state as
// protobuf, so an actor can stop at any bar and a resumed run gives
// bit-identical trades, equity and metrics. See docs/backtest.md.
//
// Thread context: a kt_backtest is a plain object without locks; use it
// from one thread at a time. Nothing here blocks except kt_backtest_open
// (reads the model directory).
#ifndef KT_DOMAIN_BACKTEST_H
#define KT_DOMAIN_BACKTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kt/err.h>

#include "domain/metrics.h"
#include "domain/ohlcv.h"
#include "domain/position.h"
#include "domain/strategy.h"
#include "domain/types.h"

#ifdef __cplusplus
extern "C" {
#endif

// Format version of the exported state (BacktestState.version).
#define KT_BACKTEST_STATE_VERSION 1

// Simulation settings; kt_bt_config_default gives KTRDR's defaults.
typedef struct kt_bt_config {
    double initial_capital;      // 100000
    double commission;           // 0.001 of notional per fill, [0, 1)
    double slippage;             // 0.0005 of price per fill, [0, 1)
    double position_fraction;    // 0.25 of cash per new position, (0, 1]
    uint32_t warmup_bars;        // 50: first bar the model is asked about
    double confidence_threshold; // 0.5: below -> HOLD
    double min_signal_separation_hours; // 4: since the last fill -> HOLD
    bool position_awareness;    // true: no BUY when long / SELL when short
    bool allow_short_from_flat; // false: SELL from flat opens a short
    double periods_per_year;    // 0: from timeframe (kt_periods_per_year)
    char strategy_name[64];     // labels for the results
    char symbol[32];
    char timeframe[8]; // also picks periods_per_year when 0
    char model_path[256];
} kt_bt_config;

// kt_bt_config_default fills cfg with the defaults above (labels empty).
void kt_bt_config_default(kt_bt_config *cfg);

// kt_bt_config_from_strategy applies a strategy's `decisions:` section and
// its name, first symbol and base timeframe to cfg.
void kt_bt_config_from_strategy(kt_bt_config *cfg, const kt_strategy *s);

// The model seam. predict writes 3 outputs (KT_BUY, KT_HOLD, KT_SELL) for
// one feature row; predict_batch (optional, NULL) does n rows at once (x
// row-major, out n * 3). Outputs are probabilities, or raw logits when
// `logits` is set (then always soft-maxed). Both must be pure functions of
// their row: the engine calls batches over fixed, bar-aligned blocks, so a
// resumed run asks exactly the same questions.
typedef struct kt_bt_model {
    void (*predict)(void *ctx, const float *x, float out[KT_NCLASSES]);
    void (*predict_batch)(void *ctx, const float *x, size_t n, float *out);
    void *ctx;
    bool logits;
} kt_bt_model;

// The data a run is over, borrowed by kt_backtest_new: every array must
// outlive the engine. n_bars rows; times strictly increasing; open and close
// finite and > 0; x is n_bars * n_features floats, row i = bar i.
typedef struct kt_bt_data {
    size_t n_bars;
    const int64_t *time;
    const double *open;
    const double *close;
    const float *x;
    size_t n_features;
} kt_bt_data;

typedef struct kt_backtest kt_backtest;

// kt_backtest_new creates an engine at bar cfg->warmup_bars with the
// configured capital, borrowing data and model (copied structs, borrowed
// arrays and ctx). Errors (message in err): KT_EINVAL (bad config, bad or
// too short data: it needs more bars than warmup_bars), KT_ENOMEM. *out
// untouched on failure.
KT_NODISCARD kt_err kt_backtest_new(const kt_bt_config *cfg,
                                    const kt_bt_data *data,
                                    const kt_bt_model *model, kt_backtest **out,
                                    char *err, size_t errlen);

// kt_backtest_open is the full setup: loads and verifies the model artifact
// in model_dir (model.h), builds the strategy's features over bars
// (features.h), refuses features that differ from the model's stored order,
// and wires the real MLP. cfg may be NULL (defaults + strategy). The engine
// owns the model and the features; bars stay borrowed. Errors (message in
// err): those of kt_model_load (KT_ENOENT, KT_ECORRUPT, KT_EVERSION),
// KT_EINVAL (feature mismatch, bad data), KT_ENOMEM.
KT_NODISCARD kt_err kt_backtest_open(const char *model_dir,
                                     const kt_strategy *s, const kt_ohlcv *bars,
                                     const kt_bt_config *cfg, kt_backtest **out,
                                     char *err, size_t errlen);

// kt_backtest_free releases bt and what it owns; NULL is a no-op.
void kt_backtest_free(kt_backtest *bt);

// kt_backtest_step simulates up to max_bars bars (the slice an actor runs
// between cancel checks); processing the last bar also force-closes and
// finishes the run. *done (may be NULL) gets the bars simulated. On a
// finished engine it does nothing. Errors: KT_ENOMEM (the bar that failed
// is not applied; calling again retries it).
KT_NODISCARD kt_err kt_backtest_step(kt_backtest *bt, size_t max_bars,
                                     size_t *done);

// kt_backtest_run steps to the end.
KT_NODISCARD kt_err kt_backtest_run(kt_backtest *bt);

bool kt_backtest_finished(const kt_backtest *bt);
// Absolute index of the next bar to simulate (n_bars when finished).
uint64_t kt_backtest_next_bar(const kt_backtest *bt);
uint64_t kt_backtest_n_bars(const kt_backtest *bt);
// Bars simulated so far and in total (for progress: done / total).
void kt_backtest_progress(const kt_backtest *bt, uint64_t *done,
                          uint64_t *total);
const kt_bt_config *kt_backtest_config(const kt_backtest *bt);
// The book: cash, open position, closed trades (owned by bt, valid until the
// next step/import/free).
const kt_book *kt_backtest_book(const kt_backtest *bt);
// The closed trades (same lifetime as the book).
const kt_trade *kt_backtest_trades(const kt_backtest *bt, size_t *n);
// The equity after each simulated bar's close; point i is bar
// warmup_bars + i (the last one after the force close when finished).
const double *kt_backtest_equity(const kt_backtest *bt, size_t *n);

// kt_backtest_metrics computes the metrics of the run so far (final when
// finished) into *m.
void kt_backtest_metrics(const kt_backtest *bt, kt_metrics *m);

// kt_backtest_export packs the complete state as a ktpb.v1.BacktestState.
// On KT_OK *buf is a new buffer of *len bytes, released with
// kt_backtest_buf_free. Errors: KT_ENOMEM (*buf, *len untouched).
KT_NODISCARD kt_err kt_backtest_export(const kt_backtest *bt, uint8_t **buf,
                                       size_t *len);

// kt_backtest_import replaces bt's state with an exported one. The bytes
// are checked before anything changes: KT_ECORRUPT (truncated, bad
// checksum, undecodable or inconsistent), KT_EVERSION (other format
// version), KT_EINVAL (the state belongs to other data (bar count, times,
// features) or another config). On failure bt is unchanged. Message in err.
KT_NODISCARD kt_err kt_backtest_import(kt_backtest *bt, const uint8_t *buf,
                                       size_t len, char *err, size_t errlen);

// Results, each packed as a protobuf message (same buffer rules as
// kt_backtest_export): ktpb.v1.BacktestSummary (config + metrics + counts),
// ktpb.v1.BacktestTrades, ktpb.v1.EquityCurve.
typedef enum kt_bt_result {
    KT_BT_SUMMARY = 0,
    KT_BT_TRADES = 1,
    KT_BT_EQUITY = 2,
} kt_bt_result;

KT_NODISCARD kt_err kt_backtest_result(const kt_backtest *bt, kt_bt_result what,
                                       uint8_t **buf, size_t *len);

// kt_backtest_buf_free releases a buffer from export/result; NULL is a no-op.
void kt_backtest_buf_free(uint8_t *buf);

#ifdef __cplusplus
}
#endif

#endif // KT_DOMAIN_BACKTEST_H
