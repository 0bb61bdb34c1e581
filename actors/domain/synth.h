// synth.h: deterministic synthetic OHLCV: a seeded daily random walk with
// regimes (trend up / trend down / mean-reverting range; calm / normal /
// stormy volatility) and, inside each day, a 1-minute Brownian bridge from
// the day's open to its close, aggregated into bars of any timeframe. All
// timeframes of one symbol and seed come from the same minute path, so
// they agree (a 1d bar's high is the max of its 1h highs).
//
// Calendar (fixed offsets, no daylight saving, no holidays):
//  - stocks: Monday-Friday, session 14:30-21:00 UTC (09:30-16:00 at UTC-5);
//    intraday bars start at 14:30 + k * timeframe, the last one may be short
//    (1h: 14:30 ... 20:30 = 7 bars); an overnight gap opens each day.
//  - forex pairs (six letters, two ISO currency codes: EURUSD, USDJPY...):
//    Monday-Friday, 24 h UTC days, bars on UTC multiples of the timeframe.
//  - 1d bars are stamped 00:00 UTC of their day, 1w bars 00:00 UTC of the
//    week's Monday (covering Monday-Friday).
// The walk starts on 1990-01-01 whatever the range, so a range's bars do
// not depend on where the range starts (generating 2024 or 2020-2025 gives
// the same 2024 bars).
#ifndef KT_DOMAIN_SYNTH_H
#define KT_DOMAIN_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kt/err.h>

#include "domain/ohlcv.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KT_SYNTH_MIN_YEAR 1990
#define KT_SYNTH_MAX_YEAR 2100

typedef struct kt_synth_cfg {
    const char *symbol;    // letters, digits, '.', '-' (1..31 chars)
    const char *timeframe; // 1m 5m 15m 30m 1h 4h 1d 1w
    int64_t start;         // bars with start <= open time < end
    int64_t end;
    bool has_seed; // false: kt_synth_default_seed(symbol)
    uint64_t seed;
} kt_synth_cfg;

// kt_synth_default_seed: FNV-1a 64 of the symbol, so "AAPL" always gives
// the same series.
uint64_t kt_synth_default_seed(const char *symbol);

// kt_synth_is_fx says whether symbol is treated as a forex pair.
bool kt_synth_is_fx(const char *symbol);

// kt_synth_generate makes the bars of cfg. On KT_OK *out owns new bars
// (symbol and timeframe set; maybe n == 0 when the range has no trading
// time). KT_EINVAL (bad symbol, timeframe, or range outside
// KT_SYNTH_MIN_YEAR..KT_SYNTH_MAX_YEAR; message in err), KT_ENOMEM.
// Same cfg -> identical bars on every run.
KT_NODISCARD kt_err kt_synth_generate(const kt_synth_cfg *cfg, kt_ohlcv **out,
                                      char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif // KT_DOMAIN_SYNTH_H
