// bt_setup.c: the backtest actor's engine: opened over the model and the
// bars, restored from a checkpoint, exported for checkpoints, and its
// final result (summary, trades, equity curve) packed for the operation.
#include <ktpb/v1/persist.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backtest/backtest.h"
#include "backtest/bt_int.h"
#include "operations/opreq.h"
#include "operations/pbmsg.h"

kt_err
kt__bt_setup(bt_actor *b, char *err, size_t n)
{
    const Ktpb__V1__StartBacktestRequest *rq = b->rq;
    kt_ohlcv *bars[KT_STRAT_MAX_TF] = {0};
    kt_bt_config cfg;
    kt_err rv;

    rv = kt__opreq_load(rq->strategy_path, rq->symbol, rq->timeframe,
                        rq->start_date, rq->end_date, b->w.data_dir, &b->s,
                        bars, err, n);
    if (rv != KT_OK) {
        return rv;
    }
    b->bars = bars[0];
    for (int i = 1; i < KT_STRAT_MAX_TF; i++) {
        kt_ohlcv_free(bars[i]);
    }
    kt_bt_config_default(&cfg);
    kt_bt_config_from_strategy(&cfg, b->s);
    kt__strlcpy(cfg.symbol, rq->symbol, sizeof(cfg.symbol));
    kt__strlcpy(cfg.model_path, rq->model_path, sizeof(cfg.model_path));
    if (rq->opt_initial_capital_case != 0) {
        cfg.initial_capital = rq->initial_capital;
    }
    if (rq->opt_commission_case != 0) {
        cfg.commission = rq->commission;
    }
    if (rq->opt_slippage_case != 0) {
        cfg.slippage = rq->slippage;
    }
    return kt_backtest_open(rq->model_path, b->s, b->bars, &cfg, &b->bt, err,
                            n);
}

static kt_err
bt_import(void *arg, const uint8_t *data, size_t len, char *err, size_t n)
{
    bt_actor *b = arg;

    return kt_backtest_import(b->bt, data, len, err, n);
}

kt_err
kt__bt_restore(bt_actor *b, const kt_msg *reply, char *err, size_t n)
{
    kt_err rv =
        kt__worker_restore(reply, KT_BACKTEST_ARTIFACT, bt_import, b, err, n);

    if (rv == KT_OK) {
        b->last_ckpt_bar = kt_backtest_next_bar(b->bt);
    }
    return rv;
}

void
kt__bt_summary(bt_actor *b, Ktpb__V1__CheckpointSummary *sum)
{
    uint64_t done, total;
    size_t ntr = 0;
    kt_metrics m;

    kt_backtest_progress(b->bt, &done, &total);
    kt_backtest_metrics(b->bt, &m);
    (void)kt_backtest_trades(b->bt, &ntr);
    ktpb__v1__checkpoint_summary__init(sum);
    sum->op_type = KT_PB_STR("backtesting");
    sum->unit = KT_PB_STR("bar");
    sum->unit_value = (int64_t)kt_backtest_next_bar(b->bt);
    sum->unit_total = (int64_t)kt_backtest_n_bars(b->bt);
    sum->equity = m.final_equity;
    sum->trades = ntr;
}

// result_part unpacks one of the engine's packed results.
static ProtobufCMessage *
result_part(bt_actor *b, kt_bt_result what, const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = NULL;
    uint8_t *buf;
    size_t len;

    if (kt_backtest_result(b->bt, what, &buf, &len) == KT_OK) {
        m = protobuf_c_message_unpack(d, NULL, len, buf);
        kt_backtest_buf_free(buf);
    }
    return m;
}

kt_err
kt__bt_result(bt_actor *b, uint8_t **res, size_t *len)
{
    Ktpb__V1__BacktestRunResult r;
    kt_err rv = KT_ENOMEM;

    ktpb__v1__backtest_run_result__init(&r);
    r.summary = (Ktpb__V1__BacktestSummary *)result_part(
        b, KT_BT_SUMMARY, &ktpb__v1__backtest_summary__descriptor);
    r.trades = (Ktpb__V1__BacktestTrades *)result_part(
        b, KT_BT_TRADES, &ktpb__v1__backtest_trades__descriptor);
    r.equity = (Ktpb__V1__EquityCurve *)result_part(
        b, KT_BT_EQUITY, &ktpb__v1__equity_curve__descriptor);
    if (r.summary != NULL && r.trades != NULL && r.equity != NULL) {
        *len = ktpb__v1__backtest_run_result__get_packed_size(&r);
        if ((*res = malloc(*len > 0 ? *len : 1)) != NULL) {
            (void)ktpb__v1__backtest_run_result__pack(&r, *res);
            rv = KT_OK;
        }
    }
    if (r.summary != NULL) {
        ktpb__v1__backtest_summary__free_unpacked(r.summary, NULL);
    }
    if (r.trades != NULL) {
        ktpb__v1__backtest_trades__free_unpacked(r.trades, NULL);
    }
    if (r.equity != NULL) {
        ktpb__v1__equity_curve__free_unpacked(r.equity, NULL);
    }
    return rv;
}

void
kt__bt_release(bt_actor *b)
{
    kt_backtest_free(b->bt);
    kt_ohlcv_free(b->bars);
    kt_strategy_free(b->s);
    if (b->rq != NULL) {
        ktpb__v1__start_backtest_request__free_unpacked(b->rq, NULL);
    }
    memset(b, 0, sizeof(*b));
}
