// backtest_pb.c: C <-> protobuf for the backtest's config and trades, and
// the packed results (summary, trade list, equity curve).
#include <stdlib.h>
#include <string.h>

#include "domain/backtest_int.h"

void
kt__bt_config_to_pb(const kt_bt_config *c, Ktpb__V1__BacktestConfig *p)
{
    p->initial_capital = c->initial_capital;
    p->commission = c->commission;
    p->slippage = c->slippage;
    p->position_fraction = c->position_fraction;
    p->warmup_bars = c->warmup_bars;
    p->confidence_threshold = c->confidence_threshold;
    p->min_signal_separation_hours = c->min_signal_separation_hours;
    p->position_awareness = c->position_awareness;
    p->allow_short_from_flat = c->allow_short_from_flat;
    p->periods_per_year = c->periods_per_year;
    // protobuf-c takes char * but only reads them when packing.
    p->strategy_name = (char *)(uintptr_t)c->strategy_name;
    p->symbol = (char *)(uintptr_t)c->symbol;
    p->timeframe = (char *)(uintptr_t)c->timeframe;
    p->model_path = (char *)(uintptr_t)c->model_path;
}

static void
bt_copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;

    n = n < cap ? n : cap - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

void
kt__bt_config_from_pb(const Ktpb__V1__BacktestConfig *p, kt_bt_config *c)
{
    memset(c, 0, sizeof(*c));
    c->initial_capital = p->initial_capital;
    c->commission = p->commission;
    c->slippage = p->slippage;
    c->position_fraction = p->position_fraction;
    c->warmup_bars = p->warmup_bars;
    c->confidence_threshold = p->confidence_threshold;
    c->min_signal_separation_hours = p->min_signal_separation_hours;
    c->position_awareness = p->position_awareness;
    c->allow_short_from_flat = p->allow_short_from_flat;
    c->periods_per_year = p->periods_per_year;
    bt_copy_str(c->strategy_name, sizeof(c->strategy_name), p->strategy_name);
    bt_copy_str(c->symbol, sizeof(c->symbol), p->symbol);
    bt_copy_str(c->timeframe, sizeof(c->timeframe), p->timeframe);
    bt_copy_str(c->model_path, sizeof(c->model_path), p->model_path);
}

void
kt__bt_trade_to_pb(const kt_trade *t, Ktpb__V1__BacktestTrade *p)
{
    p->id = t->id;
    p->side = (Ktpb__V1__PositionSide)t->side;
    p->quantity = t->quantity;
    p->entry_bar = t->entry_bar;
    p->exit_bar = t->exit_bar;
    p->entry_time = t->entry_time;
    p->exit_time = t->exit_time;
    p->entry_price = t->entry_price;
    p->exit_price = t->exit_price;
    p->gross_pnl = t->gross_pnl;
    p->commission = t->commission;
    p->slippage = t->slippage;
    p->net_pnl = t->net_pnl;
    p->holding_hours = t->holding_hours;
    p->mfe = t->mfe;
    p->mae = t->mae;
    p->entry_confidence = t->entry_confidence;
    p->exit_confidence = t->exit_confidence;
    p->forced = t->forced;
}

void
kt__bt_trade_from_pb(const Ktpb__V1__BacktestTrade *p, kt_trade *t)
{
    memset(t, 0, sizeof(*t));
    t->id = p->id;
    t->side = (kt_pos_side)p->side;
    t->quantity = p->quantity;
    t->entry_bar = p->entry_bar;
    t->exit_bar = p->exit_bar;
    t->entry_time = p->entry_time;
    t->exit_time = p->exit_time;
    t->entry_price = p->entry_price;
    t->exit_price = p->exit_price;
    t->gross_pnl = p->gross_pnl;
    t->commission = p->commission;
    t->slippage = p->slippage;
    t->net_pnl = p->net_pnl;
    t->holding_hours = p->holding_hours;
    t->mfe = p->mfe;
    t->mae = p->mae;
    t->entry_confidence = p->entry_confidence;
    t->exit_confidence = p->exit_confidence;
    t->forced = p->forced;
}

kt_err
kt__bt_trades_pb(const kt_trade *t, size_t n, Ktpb__V1__BacktestTrade **msgs,
                 Ktpb__V1__BacktestTrade ***ptrs)
{
    Ktpb__V1__BacktestTrade *m = malloc((n ? n : 1) * sizeof(*m));
    Ktpb__V1__BacktestTrade **p = malloc((n ? n : 1) * sizeof(*p));

    if (m == NULL || p == NULL) {
        free(m);
        free(p);
        return KT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        ktpb__v1__backtest_trade__init(&m[i]);
        kt__bt_trade_to_pb(&t[i], &m[i]);
        p[i] = &m[i];
    }
    *msgs = m;
    *ptrs = p;
    return KT_OK;
}

// bt_pack packs any message into a new buffer.
static kt_err
bt_pack(const ProtobufCMessage *msg, uint8_t **buf, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *b = malloc(n ? n : 1);

    if (b == NULL) {
        return KT_ENOMEM;
    }
    (void)protobuf_c_message_pack(msg, b);
    *buf = b;
    *len = n;
    return KT_OK;
}

static void
bt_metrics_to_pb(const kt_metrics *m, Ktpb__V1__BacktestMetrics *p)
{
    p->initial_capital = m->initial_capital;
    p->final_equity = m->final_equity;
    p->total_return = m->total_return;
    p->total_return_pct = m->total_return_pct;
    p->annualized_return = m->annualized_return;
    p->volatility = m->volatility;
    p->sharpe_ratio = m->sharpe_ratio;
    p->sortino_ratio = m->sortino_ratio;
    p->max_drawdown = m->max_drawdown;
    p->max_drawdown_pct = m->max_drawdown_pct;
    p->calmar_ratio = m->calmar_ratio;
    p->recovery_factor = m->recovery_factor;
    p->total_trades = m->total_trades;
    p->winning_trades = m->winning_trades;
    p->losing_trades = m->losing_trades;
    p->win_rate = m->win_rate;
    p->profit_factor = m->profit_factor;
    p->avg_win = m->avg_win;
    p->avg_loss = m->avg_loss;
    p->largest_win = m->largest_win;
    p->largest_loss = m->largest_loss;
    p->avg_holding_hours = m->avg_holding_hours;
    p->avg_win_holding_hours = m->avg_win_holding_hours;
    p->avg_loss_holding_hours = m->avg_loss_holding_hours;
    p->total_commission = m->total_commission;
    p->total_slippage = m->total_slippage;
    p->periods_per_year = m->periods_per_year;
    p->years = m->years;
    p->n_bars = m->n_bars;
}

static kt_err
bt_result_summary(const kt_backtest *bt, uint8_t **buf, size_t *len)
{
    Ktpb__V1__BacktestSummary s = KTPB__V1__BACKTEST_SUMMARY__INIT;
    Ktpb__V1__BacktestConfig c;
    Ktpb__V1__BacktestMetrics mp = KTPB__V1__BACKTEST_METRICS__INIT;
    kt_metrics m;
    uint64_t w = bt->cfg.warmup_bars;

    kt_backtest_metrics(bt, &m);
    ktpb__v1__backtest_config__init(&c); // its INIT macro casts away const
    kt__bt_config_to_pb(&bt->cfg, &c);
    bt_metrics_to_pb(&m, &mp);
    s.config = &c;
    s.metrics = &mp;
    s.n_bars = bt->data.n_bars;
    s.bars_simulated = bt->next_bar - w;
    s.start_time = bt->data.time[w];
    s.end_time = bt->data.time[bt->next_bar > w ? bt->next_bar - 1 : w];
    s.trade_count = bt->book.n_trades;
    s.equity_curve_length = bt->n_equity;
    s.finished = bt->finished;
    return bt_pack(&s.base, buf, len);
}

static kt_err
bt_result_trades(const kt_backtest *bt, uint8_t **buf, size_t *len)
{
    Ktpb__V1__BacktestTrades t = KTPB__V1__BACKTEST_TRADES__INIT;
    Ktpb__V1__BacktestTrade *msgs, **ptrs;
    kt_err rv;

    rv = kt__bt_trades_pb(bt->book.trades, bt->book.n_trades, &msgs, &ptrs);
    if (rv != KT_OK) {
        return rv;
    }
    t.n_trades = bt->book.n_trades;
    t.trades = ptrs;
    rv = bt_pack(&t.base, buf, len);
    free(ptrs);
    free(msgs);
    return rv;
}

static kt_err
bt_result_equity(const kt_backtest *bt, uint8_t **buf, size_t *len)
{
    Ktpb__V1__EquityCurve e = KTPB__V1__EQUITY_CURVE__INIT;
    uint64_t w = bt->cfg.warmup_bars;

    // Read-only views of the engine's arrays; protobuf-c wants non-const.
    e.first_bar = w;
    e.n_time = bt->n_equity;
    e.time = (int64_t *)(uintptr_t)(bt->data.time + w);
    e.n_equity = bt->n_equity;
    e.equity = bt->equity;
    e.n_close = bt->n_equity;
    e.close = (double *)(uintptr_t)(bt->data.close + w);
    return bt_pack(&e.base, buf, len);
}

kt_err
kt_backtest_result(const kt_backtest *bt, kt_bt_result what, uint8_t **buf,
                   size_t *len)
{
    switch (what) {
    case KT_BT_SUMMARY:
        return bt_result_summary(bt, buf, len);
    case KT_BT_TRADES:
        return bt_result_trades(bt, buf, len);
    case KT_BT_EQUITY:
        return bt_result_equity(bt, buf, len);
    default:
        return KT_EINVAL;
    }
}
