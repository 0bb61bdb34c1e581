// ohlcv_time.c: UTC calendar arithmetic, timestamp parsing/formatting and
// timeframes for the OHLCV layer. No time zone database: everything is UTC.
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "domain/ohlcv.h"

int64_t
kt_days_from_civil(int y, int m, int d)
{
    // H. Hinnant, "chrono-Compatible Low-Level Date Algorithms".
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t mp = (m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void
kt_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t dd = doy - (153 * mp + 2) / 5 + 1;
    int64_t mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (mm <= 2));
    *m = (int)mm;
    *d = (int)dd;
}

static int
days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

// digits reads exactly n decimal digits at *s, advancing it.
static bool
digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*s)[i])) {
            return false;
        }
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return true;
}

// parse_clock reads "HH:MM[:SS[.fff]]" and returns seconds in the day.
static bool
parse_clock(const char **s, int64_t *secs)
{
    int hh, mi, ss = 0;
    if (!digits(s, 2, &hh) || **s != ':') {
        return false;
    }
    (*s)++;
    if (!digits(s, 2, &mi)) {
        return false;
    }
    if (**s == ':') {
        (*s)++;
        if (!digits(s, 2, &ss)) {
            return false;
        }
        if (**s == '.') { // fractional seconds are dropped
            (*s)++;
            if (!isdigit((unsigned char)**s)) {
                return false;
            }
            while (isdigit((unsigned char)**s)) {
                (*s)++;
            }
        }
    }
    if (hh > 23 || mi > 59 || ss > 59) {
        return false;
    }
    *secs = (int64_t)hh * 3600 + (int64_t)mi * 60 + ss;
    return true;
}

// parse_zone reads "", "Z", "+HH:MM", "-HH:MM" or "+HHMM": offset seconds.
static bool
parse_zone(const char *s, int64_t *off)
{
    int hh, mi;
    int sign;

    *off = 0;
    if (*s == '\0' || (s[0] == 'Z' && s[1] == '\0')) {
        return true;
    }
    if (*s != '+' && *s != '-') {
        return false;
    }
    sign = *s == '-' ? -1 : 1;
    s++;
    if (!digits(&s, 2, &hh)) {
        return false;
    }
    if (*s == ':') {
        s++;
    }
    if (!digits(&s, 2, &mi) || *s != '\0' || hh > 23 || mi > 59) {
        return false;
    }
    *off = (int64_t)sign * (hh * 3600 + mi * 60);
    return true;
}

kt_err
kt_time_parse(const char *s, int64_t *out)
{
    int y, m, d;
    int64_t secs = 0, off = 0;

    if (s == NULL || !digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &m) ||
        *s++ != '-' || !digits(&s, 2, &d)) {
        return KT_EINVAL;
    }
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) {
        return KT_EINVAL;
    }
    if (*s == 'T' || *s == ' ') {
        s++;
        if (!parse_clock(&s, &secs)) {
            return KT_EINVAL;
        }
        if (!parse_zone(s, &off)) {
            return KT_EINVAL;
        }
    } else if (*s != '\0') {
        return KT_EINVAL;
    }
    *out = kt_days_from_civil(y, m, d) * 86400 + secs - off;
    return KT_OK;
}

void
kt_time_format(int64_t t, char *buf, size_t buflen)
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t rem = t - days * 86400;
    int y, m, d;

    kt_civil_from_days(days, &y, &m, &d);
    (void)snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
                   (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

kt_err
kt_date_range_parse(const char *start_s, const char *end_s, int64_t *start,
                    int64_t *end)
{
    int64_t s = KT_TIME_MIN, e = KT_TIME_MAX;

    if (start_s != NULL && *start_s != '\0' &&
        kt_time_parse(start_s, &s) != KT_OK) {
        return KT_EINVAL;
    }
    if (end_s != NULL && *end_s != '\0') {
        if (kt_time_parse(end_s, &e) != KT_OK) {
            return KT_EINVAL;
        }
        // A bare date covers its whole day; a time covers that second.
        e += strlen(end_s) == 10 ? 86400 : 1;
    }
    if (s >= e) {
        return KT_EINVAL;
    }
    *start = s;
    *end = e;
    return KT_OK;
}

int64_t
kt_timeframe_seconds(const char *tf)
{
    static const struct {
        const char *name;
        int64_t secs;
    } tfs[] = {
        {"1m", 60},   {"5m", 300},   {"15m", 900},  {"30m", 1800},
        {"1h", 3600}, {"4h", 14400}, {"1d", 86400}, {"1w", 604800},
    };
    if (tf == NULL) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(tfs) / sizeof(tfs[0]); i++) {
        if (strcmp(tf, tfs[i].name) == 0) {
            return tfs[i].secs;
        }
    }
    return 0;
}
