// ohlcv.h: bars in struct-of-arrays form, the KTRDR CSV layout
// ({SYMBOL}_{timeframe}.csv, ISO-8601 UTC timestamps), date ranges and
// timeframes.
#ifndef KT_DOMAIN_OHLCV_H
#define KT_DOMAIN_OHLCV_H

#include <stddef.h>
#include <stdint.h>

#include <kt/err.h>

#ifdef __cplusplus
extern "C" {
#endif

// Bars sorted by strictly increasing time. time[i] is the bar's open time in
// seconds since the Unix epoch (UTC). All arrays have n elements and are
// owned by the struct. symbol/timeframe may be "" when unknown.
typedef struct kt_ohlcv {
    size_t n;
    size_t cap;
    int64_t *time;
    double *open;
    double *high;
    double *low;
    double *close;
    double *volume;
    char symbol[32];
    char timeframe[8];
} kt_ohlcv;

// Half-open time range [start, end) in Unix seconds. KT_TIME_MIN/MAX mean
// "unbounded".
#define KT_TIME_MIN INT64_MIN
#define KT_TIME_MAX INT64_MAX

// kt_ohlcv_alloc returns empty bars with room for cap rows (cap may be 0).
KT_NODISCARD kt_err kt_ohlcv_alloc(size_t cap, kt_ohlcv **out);

// kt_ohlcv_push appends one bar, growing the arrays. Does not validate.
KT_NODISCARD kt_err kt_ohlcv_push(kt_ohlcv *b, int64_t t, double o, double h,
                                  double l, double c, double v);

// kt_ohlcv_free releases b and its arrays; NULL is a no-op.
void kt_ohlcv_free(kt_ohlcv *b);

// kt_ohlcv_path writes "{dir}/{SYMBOL}_{timeframe}.csv" into buf. Returns
// KT_EINVAL when it does not fit or symbol/timeframe are empty or contain
// '/'.
KT_NODISCARD kt_err kt_ohlcv_path(char *buf, size_t buflen, const char *dir,
                                  const char *symbol, const char *timeframe);

// kt_ohlcv_read parses a KTRDR CSV file and keeps the bars with
// start <= time < end. Header: first column "", "date", "timestamp" or
// "time", then open,high,low,close,volume (any case, any order). Timestamps:
// "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS]", "YYYY-MM-DDTHH:MM:SS[Z|+00:00]".
// Every row is validated, also outside the range: a missing or extra
// field, a non-number, NaN/inf, high < max(open, close, low),
// low > min(open, close), a negative volume, and a time not after the
// previous row (duplicate or unsorted) fail with KT_EINVAL and
// "<path>:<line>: <reason>" in err. KT_ENOENT when the file is missing.
// On KT_OK *out owns new bars (maybe n == 0); symbol/timeframe are
// taken from the file name when it has the {SYMBOL}_{tf}.csv form.
KT_NODISCARD kt_err kt_ohlcv_read(const char *path, int64_t start, int64_t end,
                                  kt_ohlcv **out, char *err, size_t errlen);

// kt_ohlcv_load is kt_ohlcv_read on kt_ohlcv_path(dir, symbol, timeframe).
// A missing file gives KT_ENOENT with a message naming the file and the
// command that creates it ("kt-data generate SYMBOL TF ...").
KT_NODISCARD kt_err kt_ohlcv_load(const char *dir, const char *symbol,
                                  const char *timeframe, int64_t start,
                                  int64_t end, kt_ohlcv **out, char *err,
                                  size_t errlen);

// kt_ohlcv_write writes bars to path in the KTRDR layout:
// "timestamp,open,high,low,close,volume", times as %Y-%m-%dT%H:%M:%SZ,
// prices with up to 6 decimals (%.6f with trailing zeros trimmed), volume as
// an integer when integral. Written to path.tmp then renamed. Errors:
// KT_ESYSERR|errno.
KT_NODISCARD kt_err kt_ohlcv_write(const kt_ohlcv *b, const char *path,
                                   char *err, size_t errlen);

// kt_ohlcv_range returns in [*lo, *hi) the indexes of the bars with
// start <= time < end (binary search).
void kt_ohlcv_range(const kt_ohlcv *b, int64_t start, int64_t end, size_t *lo,
                    size_t *hi);

// kt_timeframe_seconds returns the bar length of "1m","5m","15m","30m",
// "1h","4h","1d","1w", or 0 for anything else.
int64_t kt_timeframe_seconds(const char *tf);

// kt_time_parse parses the timestamp forms of kt_ohlcv_read into Unix
// seconds. Returns KT_EINVAL on anything else (including invalid dates).
KT_NODISCARD kt_err kt_time_parse(const char *s, int64_t *out);

// kt_date_range_parse turns the CLI's --start/--end strings into [start,
// end). start is inclusive; end is inclusive of its whole day when given as
// a date ("2024-06-01" -> end = 2024-06-02T00:00:00Z), inclusive of that
// second when given with a time. NULL or "" leaves that side unbounded.
// KT_EINVAL when a string does not parse or start >= end.
KT_NODISCARD kt_err kt_date_range_parse(const char *start_s, const char *end_s,
                                        int64_t *start, int64_t *end);

// kt_time_format writes t as "YYYY-MM-DDTHH:MM:SSZ" (buf >= 21 bytes).
void kt_time_format(int64_t t, char *buf, size_t buflen);

// kt_days_from_civil / kt_civil_from_days: proleptic Gregorian date <->
// days since 1970-01-01 (H. Hinnant's algorithms).
int64_t kt_days_from_civil(int y, int m, int d);
void kt_civil_from_days(int64_t z, int *y, int *m, int *d);

#ifdef __cplusplus
}
#endif

#endif // KT_DOMAIN_OHLCV_H
