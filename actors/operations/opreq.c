// opreq.c: validation of start requests and the data loading they imply.
#include "operations/opreq.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "operations/pbmsg.h"

#define OPREQ_MAX_EPOCHS 1000000

// opreq_strategy loads the strategy and checks the timeframe against it.
static kt_err
opreq_strategy(const char *path, const char *timeframe, kt_strategy **sp,
               char *err, size_t n)
{
    kt_strategy *s;
    kt_err rv;

    if (path == NULL || path[0] == '\0') {
        (void)snprintf(err, n, "strategy_path is required");
        return KT_EINVAL;
    }
    if ((rv = kt_strategy_load(path, &s, err, n)) != KT_OK) {
        if (rv == KT_ENOENT) {
            (void)snprintf(err, n, "Strategy file not found: %s", path);
        }
        return rv;
    }
    if (timeframe != NULL && timeframe[0] != '\0' &&
        strcmp(timeframe, s->timeframes[0]) != 0) {
        (void)snprintf(err, n,
                       "timeframe %s does not match strategy '%s' (built on "
                       "%s bars)",
                       timeframe, s->name, s->timeframes[0]);
        kt_strategy_free(s);
        return KT_EINVAL;
    }
    *sp = s;
    return KT_OK;
}

// opreq_data checks the symbol, the dates and that every data file exists.
static kt_err
opreq_data(const kt_strategy *s, const char *symbol, const char *start,
           const char *end, const char *data_dir, char *err, size_t n)
{
    char path[1200];
    int64_t lo, hi;
    struct stat st;

    if (symbol == NULL || symbol[0] == '\0') {
        (void)snprintf(err, n, "symbol is required");
        return KT_EINVAL;
    }
    if (kt_date_range_parse(start, end, &lo, &hi) != KT_OK) {
        (void)snprintf(err, n, "bad date range: start '%s', end '%s'",
                       start != NULL ? start : "", end != NULL ? end : "");
        return KT_EINVAL;
    }
    for (int i = 0; i < s->n_timeframes; i++) {
        if (kt_ohlcv_path(path, sizeof(path), data_dir, symbol,
                          s->timeframes[i]) != KT_OK) {
            (void)snprintf(err, n, "bad symbol '%s'", symbol);
            return KT_EINVAL;
        }
        if (stat(path, &st) != 0) {
            (void)snprintf(err, n,
                           "no market data: %s does not exist; create it "
                           "with: kt-data generate %s %s --start %s --end %s "
                           "--data-dir %s",
                           path, symbol, s->timeframes[i],
                           start != NULL && start[0] ? start : "YYYY-MM-DD",
                           end != NULL && end[0] ? end : "YYYY-MM-DD",
                           data_dir);
            return KT_ENOENT;
        }
    }
    return KT_OK;
}

kt_err
kt__opreq_check_train(const Ktpb__V1__StartTrainingRequest *rq,
                      const char *data_dir, char *err, size_t errlen)
{
    kt_strategy *s;
    kt_err rv;

    if ((rv = opreq_strategy(rq->strategy_path, rq->timeframe, &s, err,
                             errlen)) != KT_OK) {
        return rv;
    }
    rv = opreq_data(s, rq->symbol, rq->start_date, rq->end_date, data_dir, err,
                    errlen);
    if (rv == KT_OK && rq->epochs > OPREQ_MAX_EPOCHS) {
        (void)snprintf(err, errlen, "epochs must be 1..%d", OPREQ_MAX_EPOCHS);
        rv = KT_EINVAL;
    }
    if (rv == KT_OK && rq->epochs == 0 && s->train.epochs <= 0) {
        (void)snprintf(err, errlen, "epochs must be > 0");
        rv = KT_EINVAL;
    }
    kt_strategy_free(s);
    return rv;
}

kt_err
kt__opreq_check_backtest(const Ktpb__V1__StartBacktestRequest *rq,
                         const char *data_dir, char *err, size_t errlen)
{
    kt_strategy *s;
    struct stat st;
    kt_err rv;

    if (rq->model_path == NULL || rq->model_path[0] == '\0') {
        (void)snprintf(err, errlen, "model_path is required");
        return KT_EINVAL;
    }
    if (stat(rq->model_path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        (void)snprintf(err, errlen, "Model not found: %s", rq->model_path);
        return KT_ENOENT;
    }
    if ((rv = opreq_strategy(rq->strategy_path, rq->timeframe, &s, err,
                             errlen)) != KT_OK) {
        return rv;
    }
    rv = opreq_data(s, rq->symbol, rq->start_date, rq->end_date, data_dir, err,
                    errlen);
    if (rv == KT_OK && s->n_timeframes != 1) {
        (void)snprintf(err, errlen,
                       "backtests of multi-timeframe strategies are not "
                       "supported yet");
        rv = KT_EINVAL;
    }
    kt_strategy_free(s);
    return rv;
}

kt_err
kt__opreq_load(const char *strategy_path, const char *symbol,
               const char *timeframe, const char *start, const char *end,
               const char *data_dir, kt_strategy **sp, kt_ohlcv **bars,
               char *err, size_t errlen)
{
    kt_strategy *s;
    int64_t lo, hi;
    kt_err rv;
    int i;

    if ((rv = opreq_strategy(strategy_path, timeframe, &s, err, errlen)) !=
        KT_OK) {
        return rv;
    }
    if (kt_date_range_parse(start, end, &lo, &hi) != KT_OK) {
        (void)snprintf(err, errlen, "bad date range");
        kt_strategy_free(s);
        return KT_EINVAL;
    }
    for (i = 0; i < s->n_timeframes; i++) {
        rv = kt_ohlcv_load(data_dir, symbol, s->timeframes[i], lo, hi, &bars[i],
                           err, errlen);
        if (rv == KT_OK && bars[i]->n == 0) {
            kt_ohlcv_free(bars[i]);
            (void)snprintf(err, errlen, "no %s %s bars in the date range",
                           symbol, s->timeframes[i]);
            rv = KT_EINVAL;
        }
        if (rv != KT_OK) {
            goto free_bars;
        }
    }
    *sp = s;
    return KT_OK;
free_bars:
    while (i-- > 0) {
        kt_ohlcv_free(bars[i]);
        bars[i] = NULL;
    }
    kt_strategy_free(s);
    return rv;
}
