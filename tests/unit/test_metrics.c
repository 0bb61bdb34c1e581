// test_metrics.c: backtest metrics on hand-worked equity curves and trades.
#include <math.h>
#include <string.h>

#include <criterion/criterion.h>

#include "domain/metrics.h"

#define EPS  1e-9
#define YEAR ((int64_t)(365.25 * 86400))

Test(metrics, equity_curve_statistics_match_hand_computation)
{
    // Returns: +0.1, -0.1, 121/99 - 1 = 2/9. Mean 2/27. Over one year.
    double eq[] = {100, 110, 99, 121};
    int64_t t[] = {0, YEAR / 3, 2 * YEAR / 3, YEAR};
    kt_metrics m;
    double mean = 2.0 / 27.0;
    double r[] = {0.1, -0.1, 2.0 / 9.0};
    double var = 0;

    for (int i = 0; i < 3; i++) {
        var += (r[i] - mean) * (r[i] - mean) / 3.0;
    }
    kt_metrics_compute(eq, t, 4, 100.0, NULL, 0, 252.0, &m);
    cr_assert_float_eq(m.final_equity, 121.0, EPS);
    cr_assert_float_eq(m.total_return, 21.0, EPS);
    cr_assert_float_eq(m.total_return_pct, 0.21, EPS);
    cr_assert_float_eq(m.years, 1.0, 1e-6);
    cr_assert_float_eq(m.annualized_return, 0.21, 1e-6);
    cr_assert_float_eq(m.volatility, sqrt(var) * sqrt(252.0), EPS);
    cr_assert_float_eq(m.sharpe_ratio, mean / sqrt(var) * sqrt(252.0), EPS);
    // downside deviation: sqrt(0.1^2 / 3) over all three returns
    cr_assert_float_eq(m.sortino_ratio, mean / sqrt(0.01 / 3) * sqrt(252.0),
                       1e-6);
    cr_assert_float_eq(m.max_drawdown, 11.0, EPS);    // 110 -> 99
    cr_assert_float_eq(m.max_drawdown_pct, 0.1, EPS); // 11 / 110
    cr_assert_float_eq(m.calmar_ratio, 2.1, 1e-5);    // 0.21 / 0.1
    cr_assert_float_eq(m.recovery_factor, 21.0 / 11.0, EPS);
    cr_assert_eq(m.n_bars, 4);
    cr_assert_eq(m.total_trades, 0);
    cr_assert_eq(m.profit_factor, 0.0);
}

Test(metrics, drawdown_uses_the_deepest_fall_not_the_final_peak)
{
    // Falls: 200 -> 150 (50, 25 %) and later 400 -> 320 (80, 20 %).
    double eq[] = {100, 200, 150, 400, 320};
    int64_t t[] = {0, 1, 2, 3, 4};
    kt_metrics m;

    kt_metrics_compute(eq, t, 5, 100.0, NULL, 0, 252.0, &m);
    cr_assert_float_eq(m.max_drawdown_pct, 0.25, EPS);
    cr_assert_float_eq(m.max_drawdown, 80.0, EPS);
}

Test(metrics, trade_statistics_split_wins_losses_and_flat_trades)
{
    kt_trade tr[4];
    double eq[] = {1000, 1020};
    int64_t t[] = {0, 3600};
    kt_metrics m;

    memset(tr, 0, sizeof(tr));
    tr[0].net_pnl = 30;
    tr[0].holding_hours = 2;
    tr[0].commission = 1;
    tr[0].slippage = 0.5;
    tr[1].net_pnl = -20;
    tr[1].holding_hours = 5;
    tr[1].commission = 1;
    tr[2].net_pnl = 10;
    tr[2].holding_hours = 4;
    tr[3].net_pnl = 0; // neither a win nor a loss
    tr[3].holding_hours = 1;
    kt_metrics_compute(eq, t, 2, 1000.0, tr, 4, 6048.0, &m);
    cr_assert_eq(m.total_trades, 4);
    cr_assert_eq(m.winning_trades, 2);
    cr_assert_eq(m.losing_trades, 1);
    cr_assert_float_eq(m.win_rate, 0.5, EPS);
    cr_assert_float_eq(m.profit_factor, 2.0, EPS); // 40 / 20
    cr_assert_float_eq(m.avg_win, 20.0, EPS);
    cr_assert_float_eq(m.avg_loss, -20.0, EPS);
    cr_assert_float_eq(m.largest_win, 30.0, EPS);
    cr_assert_float_eq(m.largest_loss, -20.0, EPS);
    cr_assert_float_eq(m.avg_holding_hours, 3.0, EPS); // 12 / 4
    cr_assert_float_eq(m.avg_win_holding_hours, 3.0, EPS);
    cr_assert_float_eq(m.avg_loss_holding_hours, 5.0, EPS);
    cr_assert_float_eq(m.total_commission, 2.0, EPS);
    cr_assert_float_eq(m.total_slippage, 0.5, EPS);
    cr_assert_eq(m.periods_per_year, 6048.0);
}

Test(metrics, no_losses_caps_profit_factor_and_no_data_gives_zeros)
{
    kt_trade tr;
    kt_metrics m;

    memset(&tr, 0, sizeof(tr));
    tr.net_pnl = 5;
    kt_metrics_compute(NULL, NULL, 0, 500.0, &tr, 1, 252.0, &m);
    cr_assert_eq(m.profit_factor, 999999.0);
    cr_assert_eq(m.final_equity, 500.0);
    cr_assert_eq(m.total_return, 0.0);
    cr_assert_eq(m.sharpe_ratio, 0.0);
    cr_assert_eq(m.max_drawdown, 0.0);
    cr_assert_eq(m.n_bars, 0);
}

Test(metrics, flat_equity_has_zero_risk_ratios_and_huge_values_are_capped)
{
    double flat[] = {100, 100, 100};
    double rocket[] = {100, 300};
    int64_t t[] = {0, 3600, 7200};
    kt_metrics m;

    kt_metrics_compute(flat, t, 3, 100.0, NULL, 0, 252.0, &m);
    cr_assert_eq(m.volatility, 0.0);
    cr_assert_eq(m.sharpe_ratio, 0.0);
    cr_assert_eq(m.sortino_ratio, 0.0);
    cr_assert_eq(m.calmar_ratio, 0.0);
    // Tripling in an hour annualises to +inf, reported as 999999.
    kt_metrics_compute(rocket, t, 2, 100.0, NULL, 0, 252.0, &m);
    cr_assert_eq(m.annualized_return, 999999.0);
    cr_assert(isfinite(m.sharpe_ratio));
}

Test(metrics, annualisation_follows_the_timeframe)
{
    cr_assert_float_eq(kt_periods_per_year(3600), 6048.0, EPS);
    cr_assert_float_eq(kt_periods_per_year(300), 72576.0, EPS);
    cr_assert_float_eq(kt_periods_per_year(86400), 252.0, EPS);
    cr_assert_float_eq(kt_periods_per_year(7 * 86400), 52.0, EPS);
    cr_assert_eq(kt_periods_per_year(0), 0.0);
    cr_assert_eq(kt_periods_per_year(-5), 0.0);
}

Test(metrics, timeframe_is_inferred_from_the_smallest_gap)
{
    int64_t t[] = {0, 3600, 7200, 7200 + 3 * 86400, 7200 + 3 * 86400 + 3600};

    cr_assert_eq(kt_infer_timeframe(t, 5), 3600);
    cr_assert_eq(kt_infer_timeframe(t, 1), 0);
}
