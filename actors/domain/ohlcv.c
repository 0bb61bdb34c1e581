// ohlcv.c: struct-of-arrays bars and the KTRDR CSV file layout
// ({SYMBOL}_{timeframe}.csv): reading with row validation, writing.
#include "domain/ohlcv.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "domain/errbuf.h"
#include "domain/slurp.h"

#define MAX_COLS 16
#define MAX_CSV  ((size_t)4 << 30) // 4 GiB: ~60 M bars

kt_err
kt_ohlcv_alloc(size_t cap, kt_ohlcv **out)
{
    kt_ohlcv *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return KT_ENOMEM;
    }
    if (cap > 0) {
        b->time = malloc(cap * sizeof(*b->time));
        b->open = malloc(cap * sizeof(double));
        b->high = malloc(cap * sizeof(double));
        b->low = malloc(cap * sizeof(double));
        b->close = malloc(cap * sizeof(double));
        b->volume = malloc(cap * sizeof(double));
        if (!b->time || !b->open || !b->high || !b->low || !b->close ||
            !b->volume) {
            kt_ohlcv_free(b);
            return KT_ENOMEM;
        }
        b->cap = cap;
    }
    *out = b;
    return KT_OK;
}

void
kt_ohlcv_free(kt_ohlcv *b)
{
    if (b == NULL) {
        return;
    }
    free(b->time);
    free(b->open);
    free(b->high);
    free(b->low);
    free(b->close);
    free(b->volume);
    free(b);
}

static bool
grow(void **p, size_t elem, size_t cap)
{
    void *q = realloc(*p, elem * cap);
    if (q == NULL) {
        return false;
    }
    *p = q;
    return true;
}

kt_err
kt_ohlcv_push(kt_ohlcv *b, int64_t t, double o, double h, double l, double c,
              double v)
{
    if (b->n == b->cap) {
        size_t cap = b->cap < 64 ? 64 : b->cap * 2;
        // Each array is grown on its own; a failure leaves the old ones valid
        // (some merely larger), and cap only moves when all succeeded.
        if (!grow((void **)&b->time, sizeof(*b->time), cap) ||
            !grow((void **)&b->open, sizeof(double), cap) ||
            !grow((void **)&b->high, sizeof(double), cap) ||
            !grow((void **)&b->low, sizeof(double), cap) ||
            !grow((void **)&b->close, sizeof(double), cap) ||
            !grow((void **)&b->volume, sizeof(double), cap)) {
            return KT_ENOMEM;
        }
        b->cap = cap;
    }
    b->time[b->n] = t;
    b->open[b->n] = o;
    b->high[b->n] = h;
    b->low[b->n] = l;
    b->close[b->n] = c;
    b->volume[b->n] = v;
    b->n++;
    return KT_OK;
}

kt_err
kt_ohlcv_path(char *buf, size_t buflen, const char *dir, const char *symbol,
              const char *timeframe)
{
    int n;
    if (symbol == NULL || timeframe == NULL || *symbol == '\0' ||
        *timeframe == '\0' || strchr(symbol, '/') || strchr(timeframe, '/')) {
        return KT_EINVAL;
    }
    n = snprintf(buf, buflen, "%s/%s_%s.csv",
                 dir != NULL && *dir != '\0' ? dir : ".", symbol, timeframe);
    return n < 0 || (size_t)n >= buflen ? KT_EINVAL : KT_OK;
}

void
kt_ohlcv_range(const kt_ohlcv *b, int64_t start, int64_t end, size_t *lo,
               size_t *hi)
{
    size_t a = 0, z = b->n;
    while (a < z) { // first index with time >= start
        size_t mid = a + (z - a) / 2;
        if (b->time[mid] < start) {
            a = mid + 1;
        } else {
            z = mid;
        }
    }
    *lo = a;
    z = b->n;
    while (a < z) { // first index with time >= end
        size_t mid = a + (z - a) / 2;
        if (b->time[mid] < end) {
            a = mid + 1;
        } else {
            z = mid;
        }
    }
    *hi = a;
}

// ---- reading ---------------------------------------------------------

enum { COL_O, COL_H, COL_L, COL_C, COL_V, NCOLS };
static const char *const col_names[NCOLS] = {"open", "high", "low", "close",
                                             "volume"};

typedef struct csv_ctx {
    const char *path;
    char *err;
    size_t errlen;
    int ncols;      // fields per row, from the header
    int col[NCOLS]; // field index of each price column
} csv_ctx;

// split cuts line at commas in place; returns the field count (or
// MAX_COLS + 1 when there are too many).
static int
split(char *line, char **f)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == MAX_COLS) {
            return MAX_COLS + 1;
        }
        f[n++] = p;
        p = strchr(p, ',');
        if (p == NULL) {
            return n;
        }
        *p++ = '\0';
    }
}

static char *
trim(char *s)
{
    size_t n;
    while (*s == ' ' || *s == '\t' || *s == '"') {
        s++;
    }
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '"' ||
                     s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    return s;
}

static kt_err
parse_header(csv_ctx *c, char *line)
{
    char *f[MAX_COLS];
    int n = split(line, f);
    const char *t0;

    if (n > MAX_COLS) {
        kt__errf(c->err, c->errlen, "%s:1: too many columns", c->path);
        return KT_EINVAL;
    }
    t0 = trim(f[0]);
    if (*t0 != '\0' && strcasecmp(t0, "date") != 0 &&
        strcasecmp(t0, "timestamp") != 0 && strcasecmp(t0, "time") != 0 &&
        strcasecmp(t0, "datetime") != 0) {
        kt__errf(c->err, c->errlen,
                 "%s:1: first column must be the timestamp ('', date, "
                 "timestamp, time or datetime), got '%s'",
                 c->path, t0);
        return KT_EINVAL;
    }
    c->ncols = n;
    for (int k = 0; k < NCOLS; k++) {
        c->col[k] = -1;
        for (int i = 1; i < n; i++) {
            if (strcasecmp(trim(f[i]), col_names[k]) == 0) {
                c->col[k] = i;
            }
        }
        if (c->col[k] < 0) {
            kt__errf(c->err, c->errlen, "%s:1: header has no '%s' column",
                     c->path, col_names[k]);
            return KT_EINVAL;
        }
    }
    return KT_OK;
}

static kt_err
parse_num(csv_ctx *c, long line, const char *field, int k, double *out)
{
    char *end;
    double v;

    if (*field == '\0') {
        kt__errf(c->err, c->errlen, "%s:%ld: missing %s", c->path, line,
                 col_names[k]);
        return KT_EINVAL;
    }
    errno = 0;
    v = strtod(field, &end);
    if (*end != '\0' || end == field || !isfinite(v)) {
        kt__errf(c->err, c->errlen, "%s:%ld: %s is not a finite number: '%s'",
                 c->path, line, col_names[k], field);
        return KT_EINVAL;
    }
    *out = v;
    return KT_OK;
}

static kt_err
check_bar(csv_ctx *c, long line, const double *v)
{
    const char *why = NULL;
    if (v[COL_H] < v[COL_L]) {
        why = "high < low";
    } else if (v[COL_O] > v[COL_H] || v[COL_C] > v[COL_H]) {
        why = "open or close above high";
    } else if (v[COL_O] < v[COL_L] || v[COL_C] < v[COL_L]) {
        why = "open or close below low";
    } else if (v[COL_V] < 0) {
        why = "negative volume";
    }
    if (why != NULL) {
        kt__errf(c->err, c->errlen, "%s:%ld: %s", c->path, line, why);
        return KT_EINVAL;
    }
    return KT_OK;
}

// parse_row validates one data row and appends it when in [start, end).
static kt_err
parse_row(csv_ctx *c, long line, char *text, int64_t *prev, int64_t start,
          int64_t end, kt_ohlcv *b)
{
    char *f[MAX_COLS];
    double v[NCOLS];
    int64_t t;
    int n = split(text, f);
    kt_err rv;

    if (n != c->ncols) {
        kt__errf(c->err, c->errlen, "%s:%ld: expected %d fields, got %d%s",
                 c->path, line, c->ncols, n > MAX_COLS ? MAX_COLS + 1 : n,
                 n < c->ncols ? " (missing field)" : "");
        return KT_EINVAL;
    }
    if (kt_time_parse(trim(f[0]), &t) != KT_OK) {
        kt__errf(c->err, c->errlen, "%s:%ld: bad timestamp '%s'", c->path, line,
                 f[0]);
        return KT_EINVAL;
    }
    for (int k = 0; k < NCOLS; k++) {
        if ((rv = parse_num(c, line, trim(f[c->col[k]]), k, &v[k])) != KT_OK) {
            return rv;
        }
    }
    if ((rv = check_bar(c, line, v)) != KT_OK) {
        return rv;
    }
    if (*prev != KT_TIME_MIN && t <= *prev) {
        kt__errf(c->err, c->errlen, "%s:%ld: timestamp %s %s the previous row",
                 c->path, line, trim(f[0]),
                 t == *prev ? "duplicates" : "is before");
        return KT_EINVAL;
    }
    *prev = t;
    if (t < start || t >= end) {
        return KT_OK;
    }
    return kt_ohlcv_push(b, t, v[COL_O], v[COL_H], v[COL_L], v[COL_C],
                         v[COL_V]);
}

// name_from_path fills symbol/timeframe from ".../{SYMBOL}_{tf}.csv".
static void
name_from_path(kt_ohlcv *b, const char *path)
{
    const char *base = strrchr(path, '/');
    const char *us, *dot;
    char tf[sizeof(b->timeframe)];

    base = base != NULL ? base + 1 : path;
    us = strrchr(base, '_');
    dot = strrchr(base, '.');
    if (us == NULL || dot == NULL || dot < us || strcmp(dot, ".csv") != 0 ||
        (size_t)(dot - us - 1) >= sizeof(tf) ||
        (size_t)(us - base) >= sizeof(b->symbol) || us == base) {
        return;
    }
    memcpy(tf, us + 1, (size_t)(dot - us - 1));
    tf[dot - us - 1] = '\0';
    if (kt_timeframe_seconds(tf) == 0) {
        return;
    }
    memcpy(b->symbol, base, (size_t)(us - base));
    b->symbol[us - base] = '\0';
    memcpy(b->timeframe, tf, sizeof(tf));
}

static kt_err
parse_lines(csv_ctx *c, char *p, int64_t start, int64_t end, kt_ohlcv *b)
{
    long line = 0;
    int64_t prev = KT_TIME_MIN;
    bool header = true;
    kt_err rv;

    if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF) {
        p += 3; // UTF-8 byte order mark
    }
    while (*p != '\0') {
        char *nl = strchr(p, '\n');
        char *next = nl != NULL ? nl + 1 : p + strlen(p);
        if (nl != NULL) {
            *nl = '\0';
        }
        line++;
        if (*trim(p) == '\0') { // blank lines (e.g. the last one) are skipped
            p = next;
            continue;
        }
        rv = header ? parse_header(c, p)
                    : parse_row(c, line, p, &prev, start, end, b);
        if (rv != KT_OK) {
            return rv;
        }
        header = false;
        p = next;
    }
    if (header) {
        kt__errf(c->err, c->errlen, "%s: empty file (no header)", c->path);
        return KT_EINVAL;
    }
    return KT_OK;
}

kt_err
kt_ohlcv_read(const char *path, int64_t start, int64_t end, kt_ohlcv **out,
              char *err, size_t errlen)
{
    csv_ctx c = {.path = path, .err = err, .errlen = errlen};
    char *text;
    size_t len;
    kt_ohlcv *b;
    kt_err rv;

    if ((rv = kt__slurp(path, MAX_CSV, &text, &len, err, errlen)) != KT_OK) {
        return rv;
    }
    if (strlen(text) != len) {
        kt__errf(err, errlen, "%s: contains a NUL byte (not a CSV text file)",
                 path);
        free(text);
        return KT_EINVAL;
    }
    if ((rv = kt_ohlcv_alloc(len / 48 + 1, &b)) != KT_OK) {
        free(text);
        return rv;
    }
    rv = parse_lines(&c, text, start, end, b);
    free(text);
    if (rv != KT_OK) {
        kt_ohlcv_free(b);
        return rv;
    }
    name_from_path(b, path);
    *out = b;
    return KT_OK;
}

kt_err
kt_ohlcv_load(const char *dir, const char *symbol, const char *timeframe,
              int64_t start, int64_t end, kt_ohlcv **out, char *err,
              size_t errlen)
{
    char path[4096];
    kt_err rv;

    if (kt_ohlcv_path(path, sizeof(path), dir, symbol, timeframe) != KT_OK) {
        kt__errf(
            err, errlen, "bad data file name for symbol '%s' timeframe '%s'",
            symbol != NULL ? symbol : "", timeframe != NULL ? timeframe : "");
        return KT_EINVAL;
    }
    rv = kt_ohlcv_read(path, start, end, out, err, errlen);
    if (rv == KT_ENOENT) {
        kt__errf(err, errlen,
                 "no market data: %s does not exist; create it with: kt-data "
                 "generate %s %s --start YYYY-MM-DD --end YYYY-MM-DD "
                 "--data-dir %s",
                 path, symbol, timeframe, dir != NULL && *dir ? dir : ".");
    }
    return rv;
}
