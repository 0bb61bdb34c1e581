// opreq.h: start requests checked and turned into engine inputs: the
// strategy, the date range, the market data files (with the command that
// makes a missing one), used by the operations actor before it creates an
// operation and by the training / backtest actors when they load data.
#ifndef KT_OPERATIONS_OPREQ_H
#define KT_OPERATIONS_OPREQ_H

#include <ktpb/v1/ops.pb-c.h>
#include <stddef.h>

#include <kt/err.h>

#include "domain/ohlcv.h"
#include "domain/strategy.h"

// kt__opreq_check_train validates rq: strategy loads and validates, the
// timeframe is the strategy's base one ("" = it), the dates parse, every
// data file the strategy needs exists, the checkpoint frequency and epochs
// are sane. Errors (one line in err): KT_ENOENT (strategy or data file
// missing), KT_EINVAL.
KT_NODISCARD kt_err
kt__opreq_check_train(const Ktpb__V1__StartTrainingRequest *rq,
                      const char *data_dir, char *err, size_t errlen);
// kt__opreq_check_backtest: the same for a backtest, plus the model
// directory exists.
KT_NODISCARD kt_err
kt__opreq_check_backtest(const Ktpb__V1__StartBacktestRequest *rq,
                         const char *data_dir, char *err, size_t errlen);
// kt__opreq_load loads the strategy and the bars of each of its timeframes
// for symbol in [start, end) (bars[i] for s->timeframes[i], caller frees
// each with kt_ohlcv_free and s with kt_strategy_free).
KT_NODISCARD kt_err kt__opreq_load(const char *strategy_path,
                                   const char *symbol, const char *timeframe,
                                   const char *start, const char *end,
                                   const char *data_dir, kt_strategy **sp,
                                   kt_ohlcv **bars, char *err, size_t errlen);

#endif // KT_OPERATIONS_OPREQ_H
