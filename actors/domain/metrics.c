// metrics.c: the performance metrics of a backtest from its equity curve and
// trades (reference §4.4; deviations in docs/backtest.md).
#include "domain/metrics.h"

#include <math.h>
#include <string.h>

#define METRICS_CAP          999999.0
#define METRICS_YEAR_SECONDS (365.25 * 86400.0)

static double
metrics_finite(double v)
{
    if (isnan(v)) {
        return 0.0;
    }
    if (v > METRICS_CAP) {
        return METRICS_CAP;
    }
    if (v < -METRICS_CAP) {
        return -METRICS_CAP;
    }
    return v;
}

// metrics_returns computes the per-bar return statistics in two passes
// (mean first, then squared deviations) for accuracy.
static void
metrics_returns(const double *equity, size_t n, double ppy, kt_metrics *m)
{
    double sum = 0, mean, dev = 0, down = 0, std, dstd;
    size_t nr = 0;

    for (size_t i = 1; i < n; i++) {
        if (equity[i - 1] > 0) {
            sum += equity[i] / equity[i - 1] - 1.0;
            nr++;
        }
    }
    if (nr < 2) {
        return;
    }
    mean = sum / (double)nr;
    for (size_t i = 1; i < n; i++) {
        if (equity[i - 1] > 0) {
            double r = equity[i] / equity[i - 1] - 1.0;
            dev += (r - mean) * (r - mean);
            down += r < 0 ? r * r : 0.0;
        }
    }
    std = sqrt(dev / (double)nr);
    dstd = sqrt(down / (double)nr);
    m->volatility = std * sqrt(ppy);
    m->sharpe_ratio = std > 1e-10 ? mean / std * sqrt(ppy) : 0.0;
    m->sortino_ratio = dstd > 1e-10 ? mean / dstd * sqrt(ppy) : 0.0;
}

static void
metrics_drawdown(const double *equity, size_t n, kt_metrics *m)
{
    double peak = equity[0];

    for (size_t i = 0; i < n; i++) {
        double e = equity[i];
        if (e > peak) {
            peak = e;
        }
        if (peak - e > m->max_drawdown) {
            m->max_drawdown = peak - e;
        }
        if (peak > 0 && (peak - e) / peak > m->max_drawdown_pct) {
            m->max_drawdown_pct = (peak - e) / peak;
        }
    }
}

static void
metrics_trades(const kt_trade *t, size_t n, kt_metrics *m)
{
    double wins = 0, losses = 0, hold = 0, hold_w = 0, hold_l = 0;

    m->total_trades = n;
    for (size_t i = 0; i < n; i++) {
        double p = t[i].net_pnl;
        hold += t[i].holding_hours;
        m->total_commission += t[i].commission;
        m->total_slippage += t[i].slippage;
        if (p > 0) {
            m->winning_trades++;
            wins += p;
            hold_w += t[i].holding_hours;
            m->largest_win = p > m->largest_win ? p : m->largest_win;
        } else if (p < 0) {
            m->losing_trades++;
            losses += p;
            hold_l += t[i].holding_hours;
            m->largest_loss = p < m->largest_loss ? p : m->largest_loss;
        }
    }
    if (n == 0) {
        return;
    }
    m->win_rate = (double)m->winning_trades / (double)n;
    if (losses < 0) {
        m->profit_factor = wins / -losses;
    } else {
        m->profit_factor = wins > 0 ? METRICS_CAP : 0.0;
    }
    m->avg_holding_hours = hold / (double)n;
    if (m->winning_trades) {
        m->avg_win = wins / (double)m->winning_trades;
        m->avg_win_holding_hours = hold_w / (double)m->winning_trades;
    }
    if (m->losing_trades) {
        m->avg_loss = losses / (double)m->losing_trades;
        m->avg_loss_holding_hours = hold_l / (double)m->losing_trades;
    }
}

static void
metrics_sanitize(kt_metrics *m)
{
    double *f[] = {
        &m->final_equity,
        &m->total_return,
        &m->total_return_pct,
        &m->annualized_return,
        &m->volatility,
        &m->sharpe_ratio,
        &m->sortino_ratio,
        &m->max_drawdown,
        &m->max_drawdown_pct,
        &m->calmar_ratio,
        &m->recovery_factor,
        &m->win_rate,
        &m->profit_factor,
        &m->avg_win,
        &m->avg_loss,
        &m->largest_win,
        &m->largest_loss,
        &m->avg_holding_hours,
        &m->avg_win_holding_hours,
        &m->avg_loss_holding_hours,
        &m->total_commission,
        &m->total_slippage,
    };

    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        *f[i] = metrics_finite(*f[i]);
    }
}

void
kt_metrics_compute(const double *equity, const int64_t *time, size_t n,
                   double initial_capital, const kt_trade *trades,
                   size_t n_trades, double periods_per_year, kt_metrics *m)
{
    double fin;

    memset(m, 0, sizeof(*m));
    m->initial_capital = initial_capital;
    m->periods_per_year = periods_per_year;
    m->n_bars = n;
    metrics_trades(trades, n_trades, m);
    fin = n ? equity[n - 1] : initial_capital;
    m->final_equity = fin;
    m->total_return = fin - initial_capital;
    if (initial_capital > 0) {
        m->total_return_pct = m->total_return / initial_capital;
    }
    if (n == 0) {
        metrics_sanitize(m);
        return;
    }
    m->years = (double)(time[n - 1] - time[0]) / METRICS_YEAR_SECONDS;
    if (m->years > 0 && initial_capital > 0) {
        m->annualized_return =
            fin > 0 ? pow(fin / initial_capital, 1.0 / m->years) - 1.0 : -1.0;
    }
    metrics_returns(equity, n, periods_per_year, m);
    metrics_drawdown(equity, n, m);
    if (m->max_drawdown_pct > 0) {
        m->calmar_ratio = m->annualized_return / m->max_drawdown_pct;
    }
    if (m->max_drawdown > 0) {
        m->recovery_factor = m->total_return / m->max_drawdown;
    }
    metrics_sanitize(m);
}

double
kt_periods_per_year(int64_t tf_seconds)
{
    if (tf_seconds <= 0) {
        return 0.0;
    }
    if (tf_seconds < 86400) {
        return 252.0 * 86400.0 / (double)tf_seconds;
    }
    if (tf_seconds == 86400) {
        return 252.0;
    }
    if (tf_seconds == 7 * 86400) {
        return 52.0;
    }
    return METRICS_YEAR_SECONDS / (double)tf_seconds;
}

int64_t
kt_infer_timeframe(const int64_t *time, size_t n)
{
    int64_t best = 0;

    for (size_t i = 1; i < n; i++) {
        int64_t d = time[i] - time[i - 1];
        if (d > 0 && (best == 0 || d < best)) {
            best = d;
        }
    }
    return best;
}
