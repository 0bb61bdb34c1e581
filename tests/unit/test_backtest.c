// test_backtest.c: the engine's bar loop on hand-built price series with a
// scripted model (feature 0 of row i is i, the script says what the model
// answers at bar i), so every trade, cost and equity point is worked out by
// hand in the comments.
#include <ktpb/v1/backtest.pb-c.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "domain/backtest.h"

#define EPS  1e-6
#define MAXB 64
#define T0   ((int64_t)1700000000 - 1700000000 % 3600)

typedef struct fixture {
    size_t n;
    int64_t time[MAXB];
    double open[MAXB];
    double close[MAXB];
    float x[MAXB];
    float out[MAXB][KT_NCLASSES];
    int calls;
    kt_bt_config cfg;
    kt_bt_model model;
} fixture;

static void
script_predict(void *ctx, const float *x, float out[KT_NCLASSES])
{
    fixture *f = ctx;
    int i = (int)x[0];

    f->calls++;
    memcpy(out, f->out[i], sizeof(f->out[i]));
}

// fx_init: n hourly bars at price 100, HOLD everywhere, warm-up 2, no
// separation filter, KTRDR's costs.
static void
fx_init(fixture *f, size_t n)
{
    memset(f, 0, sizeof(*f));
    f->n = n;
    for (size_t i = 0; i < n; i++) {
        f->time[i] = T0 + (int64_t)i * 3600;
        f->open[i] = 100;
        f->close[i] = 100;
        f->x[i] = (float)i;
        f->out[i][KT_BUY] = 0.1f;
        f->out[i][KT_HOLD] = 0.8f;
        f->out[i][KT_SELL] = 0.1f;
    }
    kt_bt_config_default(&f->cfg);
    f->cfg.warmup_bars = 2;
    f->cfg.min_signal_separation_hours = 0;
    f->model.predict = script_predict;
    f->model.ctx = f;
}

// fx_say makes the model answer class c with probability p at bar i.
static void
fx_say(fixture *f, size_t i, int c, float p)
{
    for (int j = 0; j < KT_NCLASSES; j++) {
        f->out[i][j] = j == c ? p : (1.0f - p) / 2.0f;
    }
}

static kt_backtest *
fx_run(fixture *f)
{
    kt_bt_data d = {f->n, f->time, f->open, f->close, f->x, 1};
    kt_backtest *bt = NULL;
    char err[256];

    cr_assert_eq(kt_backtest_new(&f->cfg, &d, &f->model, &bt, err, sizeof(err)),
                 KT_OK, "%s", err);
    cr_assert_eq(kt_backtest_run(bt), KT_OK);
    cr_assert(kt_backtest_finished(bt));
    return bt;
}

Test(backtest, long_trade_fills_at_next_open_and_marks_at_closes)
{
    fixture f;
    size_t n, ne;

    fx_init(&f, 6);
    double op[] = {100, 100, 100, 100, 106, 110};
    double cl[] = {100, 100, 100, 104, 108, 111};
    memcpy(f.open, op, sizeof(op));
    memcpy(f.close, cl, sizeof(cl));
    fx_say(&f, 2, KT_BUY, 0.8f);  // fills at bar 3's open, 100
    fx_say(&f, 4, KT_SELL, 0.7f); // fills at bar 5's open, 110
    kt_backtest *bt = fx_run(&f);

    const kt_trade *t = kt_backtest_trades(bt, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(t[0].side, KT_POS_LONG);
    cr_assert_eq(t[0].entry_bar, 3);
    cr_assert_eq(t[0].exit_bar, 5);
    cr_assert_eq(t[0].entry_time, T0 + 3 * 3600);
    cr_assert_eq(t[0].quantity, 249); // floor(25000 / 1.001 / 100)
    cr_assert_float_eq(t[0].entry_price, 100.05, EPS);
    cr_assert_float_eq(t[0].exit_price, 109.945, EPS); // 110 * 0.9995
    // gross 249 * (109.945 - 100.05); commissions 24.91245 + 27.376305
    cr_assert_float_eq(t[0].gross_pnl, 2463.855, EPS);
    cr_assert_float_eq(t[0].net_pnl, 2463.855 - 24.91245 - 27.376305, EPS);
    cr_assert_float_eq(t[0].mfe, 1979.55, EPS); // (108 - 100.05) * 249
    cr_assert_float_eq(t[0].mae, 0.0, EPS);
    cr_assert_float_eq(t[0].holding_hours, 2.0, EPS);
    cr_assert_float_eq(t[0].entry_confidence, 0.8, EPS);
    cr_assert_not(t[0].forced);

    const double *eq = kt_backtest_equity(bt, &ne);
    cr_assert_eq(ne, 4); // bars 2..5
    double cash = 100000 - 24912.45 - 24.91245;
    cr_assert_float_eq(eq[0], 100000.0, EPS);
    cr_assert_float_eq(eq[1], cash + 249 * 104.0, EPS);
    cr_assert_float_eq(eq[2], cash + 249 * 108.0, EPS);
    cr_assert_float_eq(eq[3], 100000 + t[0].net_pnl, EPS);

    kt_metrics m;
    kt_backtest_metrics(bt, &m);
    cr_assert_float_eq(m.total_return, t[0].net_pnl, EPS);
    cr_assert_eq(m.total_trades, 1);
    cr_assert_eq(m.winning_trades, 1);
    cr_assert_eq(f.calls, 4, "the model is not asked during warm-up");
    kt_backtest_free(bt);
}

Test(backtest, short_trade_is_force_closed_at_the_last_close)
{
    fixture f;
    size_t n, ne;

    fx_init(&f, 6);
    f.cfg.allow_short_from_flat = true;
    double op[] = {100, 100, 100, 100, 98, 96};
    double cl[] = {100, 100, 100, 98, 97, 95};
    memcpy(f.open, op, sizeof(op));
    memcpy(f.close, cl, sizeof(cl));
    fx_say(&f, 2, KT_SELL, 0.9f); // short at bar 3's open: 99.95 x 249
    kt_backtest *bt = fx_run(&f);

    const kt_trade *t = kt_backtest_trades(bt, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(t[0].side, KT_POS_SHORT);
    cr_assert(t[0].forced);
    cr_assert_eq(t[0].exit_bar, 5);
    cr_assert_float_eq(t[0].exit_price, 95.0475, EPS); // 95 * 1.0005
    // gross 24887.55 - 23666.8275; commissions 24.88755 + 23.6668275
    cr_assert_float_eq(t[0].gross_pnl, 1220.7225, EPS);
    cr_assert_float_eq(t[0].net_pnl, 1220.7225 - 24.88755 - 23.6668275, EPS);
    cr_assert_float_eq(t[0].mfe, 1232.55, EPS); // (99.95 - 95) * 249
    const double *eq = kt_backtest_equity(bt, &ne);
    cr_assert_float_eq(eq[ne - 1], 100000 + t[0].net_pnl, EPS);
    cr_assert_eq(kt_backtest_book(bt)->pos.side, KT_POS_FLAT);
    kt_backtest_free(bt);
}

Test(backtest, confidence_below_threshold_is_hold_and_equal_passes)
{
    fixture f;
    size_t n;

    fx_init(&f, 6);
    fx_say(&f, 2, KT_BUY, 0.45f);
    kt_backtest *bt = fx_run(&f);
    kt_backtest_trades(bt, &n);
    cr_assert_eq(n, 0);
    cr_assert_eq(kt_backtest_book(bt)->cash, 100000.0);
    kt_backtest_free(bt);

    fx_say(&f, 2, KT_BUY, 0.5f); // 0.5 / 0.25 / 0.25: exactly the threshold
    bt = fx_run(&f);
    kt_backtest_trades(bt, &n);
    cr_assert_eq(n, 1, "opened at bar 3, force-closed at bar 5");
    kt_backtest_free(bt);
}

Test(backtest, signals_within_min_separation_of_last_fill_are_dropped)
{
    fixture f;
    size_t n;

    fx_init(&f, 12);
    f.cfg.min_signal_separation_hours = 4;
    fx_say(&f, 2, KT_BUY, 0.9f);  // fills at bar 3 (t = 3 h)
    fx_say(&f, 4, KT_SELL, 0.9f); // 1 h after the fill: dropped
    fx_say(&f, 6, KT_SELL, 0.9f); // 3 h: dropped
    fx_say(&f, 7, KT_SELL, 0.9f); // 4 h: passes, fills at bar 8
    kt_backtest *bt = fx_run(&f);
    const kt_trade *t = kt_backtest_trades(bt, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(t[0].entry_bar, 3);
    cr_assert_eq(t[0].exit_bar, 8);
    cr_assert_not(t[0].forced);
    kt_backtest_free(bt);
}

Test(backtest, position_awareness_blocks_shorts_from_flat_unless_allowed)
{
    fixture f;
    size_t n;

    fx_init(&f, 6);
    fx_say(&f, 2, KT_SELL, 0.9f);
    kt_backtest *bt = fx_run(&f);
    kt_backtest_trades(bt, &n);
    cr_assert_eq(n, 0, "SELL from flat is HOLD by default");
    kt_backtest_free(bt);

    f.cfg.position_awareness = false; // the book still refuses the short
    bt = fx_run(&f);
    kt_backtest_trades(bt, &n);
    cr_assert_eq(n, 0);
    kt_backtest_free(bt);

    f.cfg.allow_short_from_flat = true;
    bt = fx_run(&f);
    const kt_trade *t = kt_backtest_trades(bt, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(t[0].side, KT_POS_SHORT);
    kt_backtest_free(bt);
}

Test(backtest, redundant_buy_while_long_keeps_the_position_and_fill_time)
{
    fixture f;
    size_t n;

    fx_init(&f, 10);
    f.cfg.min_signal_separation_hours = 2;
    fx_say(&f, 2, KT_BUY, 0.9f);  // fills at bar 3
    fx_say(&f, 4, KT_BUY, 0.9f);  // long already: HOLD, no new fill time
    fx_say(&f, 5, KT_SELL, 0.9f); // 2 h after bar 3: fills at bar 6
    kt_backtest *bt = fx_run(&f);
    const kt_trade *t = kt_backtest_trades(bt, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(t[0].entry_bar, 3);
    cr_assert_eq(t[0].exit_bar, 6);
    kt_backtest_free(bt);
}

Test(backtest, zero_trades_leave_flat_equity_and_zero_metrics)
{
    fixture f;
    size_t n, ne;
    kt_metrics m;

    fx_init(&f, 20);
    for (size_t i = 0; i < 20; i++) {
        f.close[i] = 100 + (double)(i % 3);
    }
    kt_backtest *bt = fx_run(&f);
    kt_backtest_trades(bt, &n);
    const double *eq = kt_backtest_equity(bt, &ne);
    cr_assert_eq(n, 0);
    cr_assert_eq(ne, 18);
    for (size_t i = 0; i < ne; i++) {
        cr_assert_eq(eq[i], 100000.0);
    }
    kt_backtest_metrics(bt, &m);
    cr_assert_eq(m.total_return, 0.0);
    cr_assert_eq(m.sharpe_ratio, 0.0);
    cr_assert_eq(m.max_drawdown, 0.0);
    cr_assert_eq(m.total_trades, 0);
    cr_assert_float_eq(m.periods_per_year, 6048.0, EPS); // inferred 1 h bars
    kt_backtest_free(bt);
}

Test(backtest, outputs_not_summing_to_one_and_logits_are_softmaxed)
{
    fixture f;
    size_t n;

    fx_init(&f, 6);
    // 0.6 each: soft-maxed to 1/3 each, below the 0.5 threshold.
    f.out[2][0] = f.out[2][1] = f.out[2][2] = 0.6f;
    kt_backtest *bt = fx_run(&f);
    kt_backtest_trades(bt, &n);
    cr_assert_eq(n, 0);
    kt_backtest_free(bt);

    // Logits {2, 0, 0}: BUY with e^2 / (e^2 + 2) = 0.7870.
    f.model.logits = true;
    for (size_t i = 0; i < f.n; i++) {
        f.out[i][0] = f.out[i][2] = 0.0f;
        f.out[i][1] = 3.0f;
    }
    f.out[2][0] = 2.0f;
    f.out[2][1] = 0.0f;
    f.cfg.confidence_threshold = 0.78;
    bt = fx_run(&f);
    const kt_trade *t = kt_backtest_trades(bt, &n);
    cr_assert_eq(n, 1);
    cr_assert_float_eq(t[0].entry_confidence, exp(2.0) / (exp(2.0) + 2), EPS);
    kt_backtest_free(bt);
    f.cfg.confidence_threshold = 0.79;
    bt = fx_run(&f);
    kt_backtest_trades(bt, &n);
    cr_assert_eq(n, 0);
    kt_backtest_free(bt);
}

Test(backtest, nan_outputs_and_a_signal_on_the_last_bar_do_nothing)
{
    fixture f;
    size_t n;

    fx_init(&f, 6);
    f.out[2][0] = NAN;
    fx_say(&f, 5, KT_BUY, 0.9f); // no next bar to fill at
    kt_backtest *bt = fx_run(&f);
    kt_backtest_trades(bt, &n);
    cr_assert_eq(n, 0);
    cr_assert_eq(kt_backtest_book(bt)->pos.side, KT_POS_FLAT);
    cr_assert_eq(kt_backtest_book(bt)->cash, 100000.0);
    kt_backtest_free(bt);
}

Test(backtest, steps_run_in_slices_and_report_progress)
{
    fixture f;
    kt_bt_data d;
    kt_backtest *bt;
    size_t done;
    uint64_t a, b;

    fx_init(&f, 12);
    d = (kt_bt_data){f.n, f.time, f.open, f.close, f.x, 1};
    cr_assert_eq(kt_backtest_new(&f.cfg, &d, &f.model, &bt, NULL, 0), KT_OK);
    cr_assert_eq(kt_backtest_next_bar(bt), 2);
    cr_assert_eq(kt_backtest_step(bt, 3, &done), KT_OK);
    cr_assert_eq(done, 3);
    cr_assert_eq(kt_backtest_next_bar(bt), 5);
    kt_backtest_progress(bt, &a, &b);
    cr_assert_eq(a, 3);
    cr_assert_eq(b, 10);
    cr_assert_not(kt_backtest_finished(bt));
    cr_assert_eq(kt_backtest_step(bt, 100, &done), KT_OK);
    cr_assert_eq(done, 7);
    cr_assert(kt_backtest_finished(bt));
    cr_assert_eq(kt_backtest_step(bt, 100, &done), KT_OK);
    cr_assert_eq(done, 0);
    cr_assert_eq(kt_backtest_n_bars(bt), 12);
    kt_backtest_free(bt);
}

Test(backtest, new_refuses_bad_config_and_bad_data)
{
    fixture f;
    kt_bt_data d;
    kt_backtest *bt = (kt_backtest *)&f; // must stay untouched
    char err[256];

    fx_init(&f, 6);
    d = (kt_bt_data){f.n, f.time, f.open, f.close, f.x, 1};
    f.cfg.commission = 1.5;
    cr_assert_eq(kt_backtest_new(&f.cfg, &d, &f.model, &bt, err, 256),
                 KT_EINVAL);
    cr_assert(strstr(err, "commission") != NULL, "%s", err);
    fx_init(&f, 6);
    f.cfg.initial_capital = -1;
    cr_assert_eq(kt_backtest_new(&f.cfg, &d, &f.model, &bt, err, 256),
                 KT_EINVAL);
    f.cfg.initial_capital = 1000;
    f.cfg.confidence_threshold = NAN;
    cr_assert_eq(kt_backtest_new(&f.cfg, &d, &f.model, &bt, err, 256),
                 KT_EINVAL);
    fx_init(&f, 6);
    f.cfg.warmup_bars = 6;
    cr_assert_eq(kt_backtest_new(&f.cfg, &d, &f.model, &bt, err, 256),
                 KT_EINVAL);
    cr_assert(strstr(err, "warm-up") != NULL, "%s", err);
    fx_init(&f, 6);
    f.time[3] = f.time[2];
    cr_assert_eq(kt_backtest_new(&f.cfg, &d, &f.model, &bt, err, 256),
                 KT_EINVAL);
    fx_init(&f, 6);
    f.close[4] = NAN;
    cr_assert_eq(kt_backtest_new(&f.cfg, &d, &f.model, &bt, err, 256),
                 KT_EINVAL);
    fx_init(&f, 6);
    f.model.predict = NULL;
    cr_assert_eq(kt_backtest_new(&f.cfg, &d, &f.model, &bt, err, 256),
                 KT_EINVAL);
    cr_assert_eq(bt, (kt_backtest *)&f);
}

Test(backtest, results_pack_summary_trades_and_equity_curve)
{
    fixture f;
    uint8_t *buf;
    size_t len, n, ne;

    fx_init(&f, 8);
    strcpy(f.cfg.symbol, "EURUSD");
    fx_say(&f, 2, KT_BUY, 0.9f);
    fx_say(&f, 4, KT_SELL, 0.9f);
    fx_say(&f, 5, KT_BUY, 0.9f);
    f.close[6] = 101;
    kt_backtest *bt = fx_run(&f);
    const kt_trade *t = kt_backtest_trades(bt, &n);
    const double *eq = kt_backtest_equity(bt, &ne);
    kt_metrics m;
    kt_backtest_metrics(bt, &m);

    cr_assert_eq(kt_backtest_result(bt, KT_BT_SUMMARY, &buf, &len), KT_OK);
    Ktpb__V1__BacktestSummary *s =
        ktpb__v1__backtest_summary__unpack(NULL, len, buf);
    cr_assert_not_null(s);
    cr_assert_str_eq(s->config->symbol, "EURUSD");
    cr_assert_eq(s->trade_count, 2);
    cr_assert(s->finished);
    cr_assert_eq(s->metrics->total_return, m.total_return);
    cr_assert_eq(s->metrics->sharpe_ratio, m.sharpe_ratio);
    cr_assert_eq(s->start_time, f.time[2]);
    cr_assert_eq(s->end_time, f.time[7]);
    ktpb__v1__backtest_summary__free_unpacked(s, NULL);
    kt_backtest_buf_free(buf);

    cr_assert_eq(kt_backtest_result(bt, KT_BT_TRADES, &buf, &len), KT_OK);
    Ktpb__V1__BacktestTrades *tr =
        ktpb__v1__backtest_trades__unpack(NULL, len, buf);
    cr_assert_not_null(tr);
    cr_assert_eq(tr->n_trades, 2);
    cr_assert_eq(tr->trades[1]->net_pnl, t[1].net_pnl);
    cr_assert(tr->trades[1]->forced);
    ktpb__v1__backtest_trades__free_unpacked(tr, NULL);
    kt_backtest_buf_free(buf);

    cr_assert_eq(kt_backtest_result(bt, KT_BT_EQUITY, &buf, &len), KT_OK);
    Ktpb__V1__EquityCurve *e = ktpb__v1__equity_curve__unpack(NULL, len, buf);
    cr_assert_not_null(e);
    cr_assert_eq(e->first_bar, 2);
    cr_assert_eq(e->n_equity, ne);
    cr_assert_eq(e->time[0], f.time[2]);
    cr_assert_eq(e->close[4], 101.0);
    cr_assert_eq(memcmp(e->equity, eq, ne * sizeof(double)), 0);
    ktpb__v1__equity_curve__free_unpacked(e, NULL);
    kt_backtest_buf_free(buf);
    cr_assert_eq(kt_backtest_result(bt, (kt_bt_result)9, &buf, &len),
                 KT_EINVAL);
    kt_backtest_free(bt);
}
