// strategy_fx.h: what the strategy tests share (header-only): a base
// document in parts, so a test can replace one part, and parse().
#ifndef KT_TESTS_STRATEGY_FX_H
#define KT_TESTS_STRATEGY_FX_H

#include <string.h>

#include "domain/strategy.h"

#define NAME "name: t\n"
#define TD                                                      \
    "training_data: {symbols: {mode: single, symbol: EURUSD}, " \
    "timeframes: {mode: single, timeframe: 1h}}\n"
#define IND                                          \
    "indicators: {rsi_14: {type: rsi, period: 14}, " \
    "adx_14: {type: adx}}\n"
#define FS                                                     \
    "fuzzy_sets: {rsi: {indicator: rsi_14, low: [0, 30, 50], " \
    "high: [50, 70, 100]}}\n"
#define NN    "nn_inputs: [{fuzzy_set: rsi}]\n"
#define MODEL "model: {type: mlp}\n"
#define TRAIN "training: {epochs: 5}\n"
#define BASE  NAME TD IND FS NN MODEL TRAIN

static inline kt_err
parse(const char *yaml, kt_strategy **s, char *err, size_t errlen)
{
    return kt_strategy_parse(yaml, strlen(yaml), "t.yaml", s, err, errlen);
}

#endif // KT_TESTS_STRATEGY_FX_H
