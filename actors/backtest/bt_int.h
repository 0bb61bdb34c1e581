// bt_int.h: the backtest actor's state, shared by its two files.
#ifndef KT_BACKTEST_BT_INT_H
#define KT_BACKTEST_BT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/backtest.h"
#include "domain/strategy.h"
#include "operations/worker.h"

typedef struct bt_actor {
    kt__worker w;
    Ktpb__V1__StartBacktestRequest *rq;
    kt_strategy *s;
    kt_ohlcv *bars; // borrowed by bt
    kt_backtest *bt;
    uint64_t every; // bars between periodic checkpoints
    bool periodic;
    int64_t interval_ms;
    uint64_t last_ckpt_bar;
} bt_actor;

KT_NODISCARD kt_err kt__bt_setup(bt_actor *b, char *err, size_t n);
KT_NODISCARD kt_err kt__bt_restore(bt_actor *b, const kt_msg *reply, char *err,
                                   size_t n);
void kt__bt_summary(bt_actor *b, Ktpb__V1__CheckpointSummary *sum);
KT_NODISCARD kt_err kt__bt_result(bt_actor *b, uint8_t **res, size_t *len);
void kt__bt_release(bt_actor *b);

#endif // KT_BACKTEST_BT_INT_H
