// metrics.h: backtest performance metrics (reference §4.4) as a pure
// function of the equity curve and the closed trades, so a resumed run that
// restores the same curve and trades computes bit-identical numbers.
#ifndef KT_DOMAIN_METRICS_H
#define KT_DOMAIN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "domain/position.h"

#ifdef __cplusplus
extern "C" {
#endif

// Ratios are fractions (0.05 = 5 %), like KTRDR's to_dict(); currency
// amounts are in the account currency; holding times in hours. Every value
// is finite: NaN becomes 0 and +-inf becomes +-999999 (KTRDR's rule).
typedef struct kt_metrics {
    double initial_capital;
    double final_equity;
    double total_return;      // final_equity - initial_capital
    double total_return_pct;  // total_return / initial_capital
    double annualized_return; // (final/initial)^(1/years) - 1
    double volatility;        // population std of per-bar returns x sqrt(P)
    double sharpe_ratio;      // mean / std x sqrt(P); 0 when std < 1e-10
    double sortino_ratio;     // mean / downside deviation x sqrt(P)
    double max_drawdown;      // largest peak-to-trough fall, currency
    double max_drawdown_pct;  // largest peak-to-trough fall / peak
    double calmar_ratio;      // annualized_return / max_drawdown_pct
    double recovery_factor;   // total_return / max_drawdown
    uint64_t total_trades;
    uint64_t winning_trades; // net_pnl > 0
    uint64_t losing_trades;  // net_pnl < 0
    double win_rate;         // winning / total
    double profit_factor;    // sum(wins) / |sum(losses)|, 999999 if none lost
    double avg_win;
    double avg_loss; // <= 0
    double largest_win;
    double largest_loss; // <= 0
    double avg_holding_hours;
    double avg_win_holding_hours;
    double avg_loss_holding_hours;
    double total_commission;
    double total_slippage;
    double periods_per_year; // P, the annualisation factor used
    double years;            // (last time - first time) / 365.25 days
    uint64_t n_bars;         // equity points the metrics were computed on
} kt_metrics;

// kt_metrics_compute fills *m from n equity points (equity[i] at time[i],
// one per simulated bar) and the closed trades. Per-bar returns are
// equity[i] / equity[i-1] - 1 for i >= 1 (skipped when equity[i-1] <= 0).
// periods_per_year is P above. n == 0 gives all-zero metrics with
// final_equity = initial_capital.
void kt_metrics_compute(const double *equity, const int64_t *time, size_t n,
                        double initial_capital, const kt_trade *trades,
                        size_t n_trades, double periods_per_year,
                        kt_metrics *m);

// kt_periods_per_year returns the annualisation factor for bars of
// tf_seconds: 252 trading days a year times the bars in 24 hours for
// intraday bars (1h -> 6048, 5m -> 72576), 252 for daily bars, 52 for
// weekly ones, 365.25 days / bar length otherwise. 0 for tf_seconds <= 0.
double kt_periods_per_year(int64_t tf_seconds);

// kt_infer_timeframe returns the smallest positive gap between consecutive
// times (the bar length of gapped data), or 0 when n < 2.
int64_t kt_infer_timeframe(const int64_t *time, size_t n);

#ifdef __cplusplus
}
#endif

#endif // KT_DOMAIN_METRICS_H
