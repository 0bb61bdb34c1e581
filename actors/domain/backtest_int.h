// backtest_int.h: the engine object shared by backtest.c (loop),
// backtest_state.c (export/import), backtest_pb.c (protobuf conversions and
// results) and backtest_open.c (model glue). Not a public header.
#ifndef KT_DOMAIN_BACKTEST_INT_H
#define KT_DOMAIN_BACKTEST_INT_H

#include <ktpb/v1/backtest.pb-c.h>
#include <stdarg.h>

#include "domain/backtest.h"

// Rows per predict_batch call; blocks start at multiples of this (absolute
// bar index), so the questions asked never depend on where a run stopped.
#define KT__BT_BLOCK 256

struct kt_backtest {
    kt_bt_config cfg; // periods_per_year resolved
    kt_bt_data data;
    kt_bt_model model;
    uint64_t data_hash;

    // The simulation state (everything BacktestState holds).
    uint64_t next_bar;
    kt_book book;
    int pending; // KT_BUY / KT_HOLD / KT_SELL
    double pending_conf;
    bool has_last_trade;
    int64_t last_trade_time;
    double *equity; // capacity n_bars - warmup_bars
    size_t n_equity;
    bool finished;

    // Cache of model outputs for one block (predict_batch only).
    float *block_out;     // KT__BT_BLOCK * 3
    uint64_t block_start; // first bar of the cached block
    size_t block_len;     // 0: empty

    // Resources the engine owns (kt_backtest_open), released by free.
    void (*owned_free)(void *owned);
    void *owned;
};

// kt__bt_errf formats into err (may be NULL / errlen 0).
void kt__bt_errf(char *err, size_t errlen, const char *fmt, ...)
    KT_PRINTF(3, 4);

// kt__bt_data_hash is the FNV-1a hash of the data's times, opens, closes
// and features.
uint64_t kt__bt_data_hash(const kt_bt_data *d);

// kt__bt_crc32 is the IEEE CRC-32 of buf[0..len).
uint32_t kt__bt_crc32(const uint8_t *buf, size_t len);

// Protobuf <-> C conversions (backtest_pb.c). The *_to_pb functions fill a
// caller-initialised message with pointers into the C value (no copies).
void kt__bt_config_to_pb(const kt_bt_config *c, Ktpb__V1__BacktestConfig *p);
void kt__bt_config_from_pb(const Ktpb__V1__BacktestConfig *p, kt_bt_config *c);
void kt__bt_trade_to_pb(const kt_trade *t, Ktpb__V1__BacktestTrade *p);
void kt__bt_trade_from_pb(const Ktpb__V1__BacktestTrade *p, kt_trade *t);
// kt__bt_trades_pb builds n trade messages and the pointer array protobuf-c
// wants. *msgs/*ptrs are new (free both). KT_ENOMEM.
kt_err kt__bt_trades_pb(const kt_trade *t, size_t n,
                        Ktpb__V1__BacktestTrade **msgs,
                        Ktpb__V1__BacktestTrade ***ptrs);

#endif // KT_DOMAIN_BACKTEST_INT_H
