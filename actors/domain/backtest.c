// backtest.c: the engine's bar loop (reference §4.2): fill the pending
// signal at the open, ask the model, filter, mark at the close; the last bar
// force-closes. Setup, stepping and accessors; state export/import is in
// backtest_state.c.
#include "domain/backtest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/backtest_int.h"

void
kt__bt_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0) {
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void
kt_bt_config_default(kt_bt_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->initial_capital = 100000.0;
    cfg->commission = 0.001;
    cfg->slippage = 0.0005;
    cfg->position_fraction = 0.25;
    cfg->warmup_bars = 50;
    cfg->confidence_threshold = 0.5;
    cfg->min_signal_separation_hours = 4.0;
    cfg->position_awareness = true;
    cfg->allow_short_from_flat = false;
}

void
kt_bt_config_from_strategy(kt_bt_config *cfg, const kt_strategy *s)
{
    cfg->confidence_threshold = s->decisions.confidence_threshold;
    cfg->min_signal_separation_hours = s->decisions.min_signal_separation;
    cfg->position_awareness = s->decisions.position_awareness;
    cfg->allow_short_from_flat = s->decisions.allow_short_from_flat;
    (void)snprintf(cfg->strategy_name, sizeof(cfg->strategy_name), "%s",
                   s->name);
    if (s->n_symbols > 0) {
        (void)snprintf(cfg->symbol, sizeof(cfg->symbol), "%s", s->symbols[0]);
    }
    if (s->n_timeframes > 0) {
        (void)snprintf(cfg->timeframe, sizeof(cfg->timeframe), "%s",
                       s->timeframes[0]);
    }
}

static bool
bt_frac_ok(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v < hi;
}

static kt_err
bt_check_config(const kt_bt_config *c, char *err, size_t errlen)
{
    const char *bad = NULL;

    if (!(isfinite(c->initial_capital) && c->initial_capital > 0)) {
        bad = "initial_capital must be > 0";
    } else if (!bt_frac_ok(c->commission, 0, 1)) {
        bad = "commission must be in [0, 1)";
    } else if (!bt_frac_ok(c->slippage, 0, 1)) {
        bad = "slippage must be in [0, 1)";
    } else if (!(c->position_fraction > 0 && c->position_fraction <= 1)) {
        bad = "position_fraction must be in (0, 1]";
    } else if (!(c->confidence_threshold >= 0 &&
                 c->confidence_threshold <= 1)) {
        bad = "confidence_threshold must be in [0, 1]";
    } else if (!bt_frac_ok(c->min_signal_separation_hours, 0, INFINITY)) {
        bad = "min_signal_separation_hours must be >= 0";
    } else if (!bt_frac_ok(c->periods_per_year, 0, INFINITY)) {
        bad = "periods_per_year must be >= 0";
    }
    if (bad != NULL) {
        kt__bt_errf(err, errlen, "backtest config: %s", bad);
        return KT_EINVAL;
    }
    return KT_OK;
}

static kt_err
bt_check_data(const kt_bt_config *c, const kt_bt_data *d, char *err,
              size_t errlen)
{
    if (d->n_bars <= c->warmup_bars) {
        kt__bt_errf(err, errlen,
                    "backtest data: %zu bars, need more than the %u warm-up "
                    "bars",
                    d->n_bars, c->warmup_bars);
        return KT_EINVAL;
    }
    if (d->time == NULL || d->open == NULL || d->close == NULL ||
        d->x == NULL || d->n_features == 0) {
        kt__bt_errf(err, errlen, "backtest data: missing arrays or features");
        return KT_EINVAL;
    }
    for (size_t i = 0; i < d->n_bars; i++) {
        if (i > 0 && d->time[i] <= d->time[i - 1]) {
            kt__bt_errf(err, errlen,
                        "backtest data: bar %zu: time not after the previous "
                        "bar",
                        i);
            return KT_EINVAL;
        }
        if (!(isfinite(d->open[i]) && d->open[i] > 0 && isfinite(d->close[i]) &&
              d->close[i] > 0)) {
            kt__bt_errf(err, errlen,
                        "backtest data: bar %zu: open/close must be finite "
                        "and > 0",
                        i);
            return KT_EINVAL;
        }
    }
    return KT_OK;
}

static double
bt_resolve_ppy(const kt_bt_config *c, const kt_bt_data *d)
{
    int64_t tf;

    if (c->periods_per_year > 0) {
        return c->periods_per_year;
    }
    tf = kt_timeframe_seconds(c->timeframe);
    if (tf <= 0) {
        tf = kt_infer_timeframe(d->time, d->n_bars);
    }
    return kt_periods_per_year(tf);
}

kt_err
kt_backtest_new(const kt_bt_config *cfg, const kt_bt_data *data,
                const kt_bt_model *model, kt_backtest **out, char *err,
                size_t errlen)
{
    kt_backtest *bt;
    kt_book_cfg bc;
    kt_err rv;

    if ((rv = bt_check_config(cfg, err, errlen)) != KT_OK ||
        (rv = bt_check_data(cfg, data, err, errlen)) != KT_OK) {
        return rv;
    }
    if (model == NULL || model->predict == NULL) {
        kt__bt_errf(err, errlen, "backtest: no predict function");
        return KT_EINVAL;
    }
    if ((bt = calloc(1, sizeof(*bt))) == NULL) {
        goto nomem;
    }
    bt->equity = malloc((data->n_bars - cfg->warmup_bars) * sizeof(double));
    bt->block_out = malloc(KT__BT_BLOCK * KT_NCLASSES * sizeof(float));
    if (bt->equity == NULL || bt->block_out == NULL) {
        goto free_bt;
    }
    bt->cfg = *cfg;
    bt->cfg.periods_per_year = bt_resolve_ppy(cfg, data);
    bt->data = *data;
    bt->model = *model;
    bt->data_hash = kt__bt_data_hash(data);
    bc.commission = cfg->commission;
    bc.slippage = cfg->slippage;
    bc.fraction = cfg->position_fraction;
    kt_book_init(&bt->book, &bc, cfg->initial_capital);
    bt->next_bar = cfg->warmup_bars;
    bt->pending = KT_HOLD;
    *out = bt;
    return KT_OK;
free_bt:
    free(bt->equity);
    free(bt->block_out);
    free(bt);
nomem:
    kt__bt_errf(err, errlen, "backtest: out of memory");
    return KT_ENOMEM;
}

void
kt_backtest_free(kt_backtest *bt)
{
    if (bt == NULL) {
        return;
    }
    kt_book_fini(&bt->book);
    free(bt->equity);
    free(bt->block_out);
    if (bt->owned_free != NULL) {
        bt->owned_free(bt->owned);
    }
    free(bt);
}

// bt_outputs returns the model's 3 outputs for bar i: from the cached block
// when the model batches (refilling the bar-aligned block on a miss), else
// from a single predict into tmp.
static const float *
bt_outputs(kt_backtest *bt, uint64_t i, float tmp[KT_NCLASSES])
{
    const kt_bt_data *d = &bt->data;
    uint64_t start, end;

    if (bt->model.predict_batch == NULL) {
        bt->model.predict(bt->model.ctx, d->x + i * d->n_features, tmp);
        return tmp;
    }
    if (bt->block_len == 0 || i < bt->block_start ||
        i >= bt->block_start + bt->block_len) {
        start = i - i % KT__BT_BLOCK;
        if (start < bt->cfg.warmup_bars) {
            start = bt->cfg.warmup_bars;
        }
        end = (i - i % KT__BT_BLOCK) + KT__BT_BLOCK;
        end = end > d->n_bars ? d->n_bars : end;
        bt->model.predict_batch(bt->model.ctx, d->x + start * d->n_features,
                                end - start, bt->block_out);
        bt->block_start = start;
        bt->block_len = end - start;
    }
    return bt->block_out + (i - bt->block_start) * KT_NCLASSES;
}

// bt_decide turns model outputs into a filtered signal (reference §4.2 c):
// softmax unless they already are probabilities, argmax (first on ties),
// then confidence, separation and position-awareness filters.
static int
bt_decide(const kt_backtest *bt, const float o[KT_NCLASSES], int64_t now,
          double *conf)
{
    const kt_bt_config *c = &bt->cfg;
    double p[KT_NCLASSES], sum = (double)o[0] + o[1] + o[2];
    int k = 0;
    kt_pos_side side = bt->book.pos.side;

    if (bt->model.logits || !(fabs(sum - 1.0) < 1e-6)) {
        double mx = fmax(fmax(o[0], o[1]), o[2]);
        sum = 0;
        for (int j = 0; j < KT_NCLASSES; j++) {
            p[j] = exp((double)o[j] - mx);
            sum += p[j];
        }
        for (int j = 0; j < KT_NCLASSES; j++) {
            p[j] /= sum;
        }
    } else {
        for (int j = 0; j < KT_NCLASSES; j++) {
            p[j] = o[j];
        }
    }
    for (int j = 1; j < KT_NCLASSES; j++) {
        k = p[j] > p[k] ? j : k;
    }
    *conf = p[k];
    if (!isfinite(p[0] + p[1] + p[2]) || p[k] < c->confidence_threshold) {
        return KT_HOLD;
    }
    if (bt->has_last_trade && (double)(now - bt->last_trade_time) / 3600.0 <
                                  c->min_signal_separation_hours) {
        return KT_HOLD;
    }
    if (c->position_awareness &&
        ((side == KT_POS_LONG && k == KT_BUY) ||
         (side == KT_POS_SHORT && k == KT_SELL) ||
         (side == KT_POS_FLAT && k == KT_SELL && !c->allow_short_from_flat))) {
        return KT_HOLD;
    }
    return k;
}

// bt_bar simulates bar i. Capacity for one closed trade is reserved first,
// so nothing after that can fail and a failed bar changes nothing.
static kt_err
bt_bar(kt_backtest *bt, uint64_t i)
{
    const kt_bt_data *d = &bt->data;
    float tmp[KT_NCLASSES];
    const float *o;
    double conf;
    bool traded;
    int sig;
    kt_err rv;

    if ((rv = kt_book_reserve(&bt->book, 1)) != KT_OK) {
        return rv;
    }
    if (bt->pending != KT_HOLD) {
        rv = kt_book_execute(&bt->book, bt->pending, d->open[i], (int64_t)i,
                             d->time[i], bt->pending_conf,
                             bt->cfg.allow_short_from_flat, false, &traded);
        if (traded) {
            bt->has_last_trade = true;
            bt->last_trade_time = d->time[i];
        }
        bt->pending = KT_HOLD;
        bt->pending_conf = 0;
    }
    o = bt_outputs(bt, i, tmp);
    sig = bt_decide(bt, o, d->time[i], &conf);
    if (sig != KT_HOLD) {
        bt->pending = sig;
        bt->pending_conf = conf;
    }
    kt_book_mark(&bt->book, d->close[i]);
    bt->equity[bt->n_equity++] = kt_book_equity(&bt->book, d->close[i]);
    bt->next_bar = i + 1;
    if (bt->next_bar == d->n_bars) {
        // End of data: force-close at the last close; the last equity point
        // becomes the settled cash and a signal left pending is dropped.
        rv = kt_book_close(&bt->book, d->close[i], (int64_t)i, d->time[i],
                           &traded);
        bt->equity[bt->n_equity - 1] = kt_book_equity(&bt->book, d->close[i]);
        bt->pending = KT_HOLD;
        bt->pending_conf = 0;
        bt->finished = true;
    }
    return rv;
}

kt_err
kt_backtest_step(kt_backtest *bt, size_t max_bars, size_t *done)
{
    size_t k = 0;
    kt_err rv = KT_OK;

    while (k < max_bars && !bt->finished) {
        if ((rv = bt_bar(bt, bt->next_bar)) != KT_OK) {
            break;
        }
        k++;
    }
    if (done != NULL) {
        *done = k;
    }
    return rv;
}

kt_err
kt_backtest_run(kt_backtest *bt)
{
    return kt_backtest_step(bt, SIZE_MAX, NULL);
}

bool
kt_backtest_finished(const kt_backtest *bt)
{
    return bt->finished;
}

uint64_t
kt_backtest_next_bar(const kt_backtest *bt)
{
    return bt->next_bar;
}

uint64_t
kt_backtest_n_bars(const kt_backtest *bt)
{
    return bt->data.n_bars;
}

void
kt_backtest_progress(const kt_backtest *bt, uint64_t *done, uint64_t *total)
{
    *done = bt->next_bar - bt->cfg.warmup_bars;
    *total = bt->data.n_bars - bt->cfg.warmup_bars;
}

const kt_bt_config *
kt_backtest_config(const kt_backtest *bt)
{
    return &bt->cfg;
}

const kt_book *
kt_backtest_book(const kt_backtest *bt)
{
    return &bt->book;
}

const kt_trade *
kt_backtest_trades(const kt_backtest *bt, size_t *n)
{
    *n = bt->book.n_trades;
    return bt->book.trades;
}

const double *
kt_backtest_equity(const kt_backtest *bt, size_t *n)
{
    *n = bt->n_equity;
    return bt->equity;
}

void
kt_backtest_metrics(const kt_backtest *bt, kt_metrics *m)
{
    kt_metrics_compute(bt->equity, bt->data.time + bt->cfg.warmup_bars,
                       bt->n_equity, bt->cfg.initial_capital, bt->book.trades,
                       bt->book.n_trades, bt->cfg.periods_per_year, m);
}

void
kt_backtest_buf_free(uint8_t *buf)
{
    free(buf);
}
