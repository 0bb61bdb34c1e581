// test_ohlcv.c: the KTRDR CSV layout: header variants, timestamps, date
// ranges, every row validation error with its line number, writing and
// reading back, and the file-name helpers.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "domain/ohlcv.h"

static char dir[256];

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/kt_ohlcv_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(ohlcv, .init = setup, .fini = teardown);

// put writes text to dir/name and returns the path (static buffer).
static const char *
put(const char *name, const char *text)
{
    static char path[512];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    cr_assert_eq(fclose(f), 0);
    return path;
}

static int64_t
ts(const char *s)
{
    int64_t t;
    cr_assert_eq(kt_time_parse(s, &t), KT_OK, "%s", s);
    return t;
}

Test(ohlcv, time_parse_forms_and_invalid_dates)
{
    cr_expect_eq(ts("1970-01-01"), 0);
    cr_expect_eq(ts("1969-12-31T23:59:59Z"), -1);
    cr_expect_eq(ts("2024-01-02"), 1704153600);
    cr_expect_eq(ts("2024-01-02T14:30:00Z"), 1704153600 + 52200);
    cr_expect_eq(ts("2024-01-02 14:30"), 1704153600 + 52200);
    cr_expect_eq(ts("2024-01-02T14:30:00.250Z"), 1704153600 + 52200);
    cr_expect_eq(ts("2024-01-02T16:30:00+02:00"), 1704153600 + 52200);
    cr_expect_eq(ts("2024-01-02T09:30:00-0500"), 1704153600 + 52200);
    cr_expect_eq(ts("2024-02-29"), 1709164800);
    const char *bad[] = {
        "2023-02-29",  "2024-02-30",           "2024-13-01",
        "2024-00-10",  "2024-01-02T24:00:00",  "2024-1-2",
        "20240102",    "2024-01-02T10",        "",
        "2024-01-02Z", "2024-01-02T10:00:00X", "2024-01-02T10:00:00+25:00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t t = 7;
        cr_expect_eq(kt_time_parse(bad[i], &t), KT_EINVAL, "%s", bad[i]);
        cr_expect_eq(t, 7);
    }
}

Test(ohlcv, civil_days_and_format)
{
    char buf[32];
    int y, m, d;
    cr_expect_eq(kt_days_from_civil(1970, 1, 1), 0);
    cr_expect_eq(kt_days_from_civil(2000, 3, 1), 11017);
    kt_civil_from_days(-1, &y, &m, &d);
    cr_expect(y == 1969 && m == 12 && d == 31);
    kt_civil_from_days(19782, &y, &m, &d); // 2024-02-29
    cr_expect(y == 2024 && m == 2 && d == 29);
    kt_time_format(1704153600 + 52200, buf, sizeof(buf));
    cr_expect_str_eq(buf, "2024-01-02T14:30:00Z");
    kt_time_format(-1, buf, sizeof(buf));
    cr_expect_str_eq(buf, "1969-12-31T23:59:59Z");
}

Test(ohlcv, date_range_end_date_is_inclusive)
{
    int64_t s, e;
    cr_assert_eq(kt_date_range_parse("2024-01-01", "2024-06-01", &s, &e),
                 KT_OK);
    cr_expect_eq(s, ts("2024-01-01"));
    cr_expect_eq(e, ts("2024-06-02")); // the whole of June 1st
    cr_assert_eq(kt_date_range_parse(NULL, "2024-06-01T10:00:00Z", &s, &e),
                 KT_OK);
    cr_expect_eq(s, KT_TIME_MIN);
    cr_expect_eq(e, ts("2024-06-01T10:00:01Z"));
    cr_assert_eq(kt_date_range_parse("", NULL, &s, &e), KT_OK);
    cr_expect(s == KT_TIME_MIN && e == KT_TIME_MAX);
    cr_expect_eq(kt_date_range_parse("2024-02-01", "2024-01-01", &s, &e),
                 KT_EINVAL);
    cr_expect_eq(kt_date_range_parse("yesterday", NULL, &s, &e), KT_EINVAL);
}

Test(ohlcv, timeframes_and_paths)
{
    char buf[64];
    cr_expect_eq(kt_timeframe_seconds("1m"), 60);
    cr_expect_eq(kt_timeframe_seconds("15m"), 900);
    cr_expect_eq(kt_timeframe_seconds("4h"), 14400);
    cr_expect_eq(kt_timeframe_seconds("1w"), 604800);
    cr_expect_eq(kt_timeframe_seconds("2h"), 0);
    cr_expect_eq(kt_timeframe_seconds(NULL), 0);
    cr_assert_eq(kt_ohlcv_path(buf, sizeof(buf), "data", "AAPL", "1h"), KT_OK);
    cr_expect_str_eq(buf, "data/AAPL_1h.csv");
    cr_expect_eq(kt_ohlcv_path(buf, sizeof(buf), "d", "../x/y", "1h"),
                 KT_EINVAL);
    cr_expect_eq(kt_ohlcv_path(buf, sizeof(buf), "d", "", "1h"), KT_EINVAL);
    cr_expect_eq(kt_ohlcv_path(buf, 8, "data", "AAPL", "1h"), KT_EINVAL);
}

Test(ohlcv, reads_header_variants_bom_crlf_and_extra_columns)
{
    char err[512];
    kt_ohlcv *b;
    char path[512];

    snprintf(path, sizeof(path), "%s/tests/data/DEMO_1h.csv", KT_SOURCE_DIR);
    cr_assert_eq(
        kt_ohlcv_read(path, KT_TIME_MIN, KT_TIME_MAX, &b, err, sizeof(err)),
        KT_OK, "%s", err);
    cr_expect_eq(b->n, 2);
    cr_expect_str_eq(b->symbol, "DEMO");
    cr_expect_str_eq(b->timeframe, "1h");
    cr_expect_eq(b->time[0], ts("2024-01-02T14:30:00Z"));
    cr_expect_eq(b->volume[0], 100.5); // float volume allowed
    kt_ohlcv_free(b);

    cr_assert_eq(
        kt_ohlcv_read(put("X_1d.csv", "Timestamp,Close,Volume,Adj Close,Open,"
                                      "Low,High\n2024-01-02,10.5,100,10.4,10,9,"
                                      "11\n"),
                      KT_TIME_MIN, KT_TIME_MAX, &b, err, sizeof(err)),
        KT_OK, "%s", err);
    cr_expect(b->n == 1 && b->open[0] == 10 && b->high[0] == 11 &&
              b->low[0] == 9 && b->close[0] == 10.5 && b->volume[0] == 100);
    kt_ohlcv_free(b);
}

Test(ohlcv, range_selection_start_inclusive_end_exclusive)
{
    char err[512];
    kt_ohlcv *b;
    size_t lo, hi;
    const char *p = put("R_1d.csv", "date,open,high,low,close,volume\n"
                                    "2024-01-01,1,1,1,1,1\n"
                                    "2024-01-02,2,2,2,2,1\n"
                                    "2024-01-03,3,3,3,3,1\n"
                                    "2024-01-04,4,4,4,4,1\n");
    cr_assert_eq(kt_ohlcv_read(p, ts("2024-01-02"), ts("2024-01-04"), &b, err,
                               sizeof(err)),
                 KT_OK, "%s", err);
    cr_expect(b->n == 2 && b->close[0] == 2 && b->close[1] == 3);
    kt_ohlcv_range(b, ts("2024-01-03"), KT_TIME_MAX, &lo, &hi);
    cr_expect(lo == 1 && hi == 2);
    kt_ohlcv_range(b, KT_TIME_MIN, ts("2024-01-02"), &lo, &hi);
    cr_expect(lo == 0 && hi == 0);
    kt_ohlcv_free(b);
}

#define HDR "timestamp,open,high,low,close,volume\n"
#define OK1 "2024-01-02T00:00:00Z,10,11,9,10.5,100\n"

typedef struct csv_case {
    const char *text;
    const char *want; // after "<path>"
} csv_case;

static const csv_case csv_cases[] = {
    {"", ": empty file (no header)"},
    {"\n\n", ": empty file (no header)"},
    {"when,open,high,low,close,volume\n" OK1,
     ":1: first column must be the timestamp"},
    {"timestamp,open,high,low,volume\n", ":1: header has no 'close' column"},
    {HDR "2024-01-02T00:00:00Z,10,11,9,10.5\n",
     ":2: expected 6 fields, got 5 (missing field)"},
    {HDR OK1 "2024-01-03T00:00:00Z,10,11,9,10.5,100,7\n",
     ":3: expected 6 fields, got 7"},
    {HDR "2024-02-30T00:00:00Z,10,11,9,10.5,100\n",
     ":2: bad timestamp '2024-02-30T00:00:00Z'"},
    {HDR "2024-01-02T00:00:00Z,10,11,9,,100\n", ":2: missing close"},
    {HDR "2024-01-02T00:00:00Z,10,11,9,abc,100\n",
     ":2: close is not a finite number: 'abc'"},
    {HDR "2024-01-02T00:00:00Z,10,11,9,nan,100\n",
     ":2: close is not a finite number: 'nan'"},
    {HDR "2024-01-02T00:00:00Z,10,1e400,9,10,100\n",
     ":2: high is not a finite number: '1e400'"},
    {HDR "2024-01-02T00:00:00Z,10,11,9,10x,100\n",
     ":2: close is not a finite number: '10x'"},
    {HDR OK1 "2024-01-03T00:00:00Z,10,8,9,8.5,100\n", ":3: high < low"},
    {HDR "2024-01-02T00:00:00Z,12,11,9,10,100\n",
     ":2: open or close above high"},
    {HDR "2024-01-02T00:00:00Z,10,11,9,8,100\n", ":2: open or close below low"},
    {HDR "2024-01-02T00:00:00Z,10,11,9,10,-1\n", ":2: negative volume"},
    {HDR OK1 OK1, ":3: timestamp 2024-01-02T00:00:00Z duplicates the "
                  "previous row"},
    {HDR OK1 "2024-01-01T00:00:00Z,10,11,9,10.5,100\n",
     ":3: timestamp 2024-01-01T00:00:00Z is before the previous row"},
    {HDR OK1 "\n" OK1, ":4: timestamp"}, // blank lines still count
};

Test(ohlcv, every_bad_row_is_reported_with_line_and_reason)
{
    for (size_t i = 0; i < sizeof(csv_cases) / sizeof(csv_cases[0]); i++) {
        char err[512] = "", want[700];
        kt_ohlcv *b = (kt_ohlcv *)0x1;
        const char *p = put("bad.csv", csv_cases[i].text);
        kt_err rv =
            kt_ohlcv_read(p, KT_TIME_MIN, KT_TIME_MAX, &b, err, sizeof(err));
        snprintf(want, sizeof(want), "%s%s", p, csv_cases[i].want);
        cr_expect_eq(rv, KT_EINVAL, "case %zu: rv %d", i, rv);
        cr_expect(strstr(err, want) == err, "case %zu:\n got: %s\nwant: %s", i,
                  err, want);
        cr_expect_eq(b, (kt_ohlcv *)0x1, "case %zu: out touched", i);
    }
}

Test(ohlcv, rows_outside_the_range_are_validated_too)
{
    char err[512];
    kt_ohlcv *b;
    const char *p = put("o.csv", HDR OK1 "2024-01-03T00:00:00Z,1,1,2,1,1\n");
    cr_expect_eq(
        kt_ohlcv_read(p, KT_TIME_MIN, ts("2024-01-03"), &b, err, sizeof(err)),
        KT_EINVAL);
    cr_expect(strstr(err, ":3: high < low"), "%s", err);
}

Test(ohlcv, fixture_files_and_missing_files)
{
    char err[512], path[512];
    kt_ohlcv *b;

    snprintf(path, sizeof(path), "%s/tests/data/ohlcv_duplicate_time.csv",
             KT_SOURCE_DIR);
    cr_expect_eq(
        kt_ohlcv_read(path, KT_TIME_MIN, KT_TIME_MAX, &b, err, sizeof(err)),
        KT_EINVAL);
    cr_expect(strstr(err, "ohlcv_duplicate_time.csv:4: timestamp 2024-01-03 "
                          "duplicates the previous row"),
              "%s", err);
    snprintf(path, sizeof(path), "%s/tests/data/ohlcv_high_below_low.csv",
             KT_SOURCE_DIR);
    cr_expect_eq(
        kt_ohlcv_read(path, KT_TIME_MIN, KT_TIME_MAX, &b, err, sizeof(err)),
        KT_EINVAL);
    cr_expect(strstr(err, "ohlcv_high_below_low.csv:3: high < low"), "%s", err);
    cr_expect_eq(
        kt_ohlcv_read("/nonexistent/x.csv", 0, 1, &b, err, sizeof(err)),
        KT_ENOENT);
    cr_expect_eq(kt_ohlcv_load(dir, "MSFT", "1h", KT_TIME_MIN, KT_TIME_MAX, &b,
                               err, sizeof(err)),
                 KT_ENOENT);
    cr_expect(strstr(err, "MSFT_1h.csv does not exist") &&
                  strstr(err, "kt-data generate MSFT 1h --start"),
              "%s", err);
    {
        static const char nul[] = HDR "2024-01-02T00:00:00Z,1,1,1,1,1\n";
        FILE *f = fopen(put("nul.csv", ""), "wb");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(nul, 1, sizeof(nul), f), sizeof(nul)); // + NUL
        cr_assert_eq(fclose(f), 0);
        cr_expect_eq(
            kt_ohlcv_read(put("nul.csv", ""), 0, 1, &b, err, sizeof(err)),
            KT_EINVAL);
    }
}

Test(ohlcv, write_then_read_back_is_exact)
{
    static const char want[] =
        "timestamp,open,high,low,close,volume\n"
        "2024-01-02T14:30:00Z,1.1,1.25,1,1.2,1500\n"
        "2024-01-02T15:30:00Z,1.2,1.3,1.15,1.223456,0.5\n"
        "2024-01-03T00:00:00Z,2,2,2,2,0\n";
    char err[512], path[512], text[512], tmp[600];
    kt_ohlcv *b, *r;
    FILE *f;
    size_t n;

    cr_assert_eq(kt_ohlcv_alloc(0, &b), KT_OK);
    cr_assert_eq(
        kt_ohlcv_push(b, ts("2024-01-02T14:30:00Z"), 1.1, 1.25, 1.0, 1.2, 1500),
        KT_OK);
    cr_assert_eq(kt_ohlcv_push(b, ts("2024-01-02T15:30:00Z"), 1.2, 1.3, 1.15,
                               1.223456, 0.5),
                 KT_OK);
    for (int i = 0; i < 200; i++) { // grows past the first capacity
        cr_assert_eq(kt_ohlcv_push(b, ts("2024-01-03") + i * 60, 2, 2, 2, 2, 0),
                     KT_OK);
    }
    snprintf(path, sizeof(path), "%s/W_1h.csv", dir);
    cr_assert_eq(kt_ohlcv_write(b, path, err, sizeof(err)), KT_OK, "%s", err);
    f = fopen(path, "r");
    cr_assert_not_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    cr_assert_eq(fclose(f), 0);
    cr_expect(strncmp(text, want, strlen(want)) == 0, "%s", text);
    cr_assert_eq(
        kt_ohlcv_read(path, KT_TIME_MIN, KT_TIME_MAX, &r, err, sizeof(err)),
        KT_OK, "%s", err);
    cr_assert_eq(r->n, b->n);
    for (size_t i = 0; i < b->n; i++) {
        cr_expect(r->time[i] == b->time[i] && r->close[i] == b->close[i] &&
                      r->volume[i] == b->volume[i],
                  "row %zu", i);
    }
    cr_expect_eq(access(path, F_OK), 0);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    cr_expect_neq(access(tmp, F_OK), 0); // the temporary was renamed
    kt_ohlcv_free(r);
    snprintf(path, sizeof(path), "%s/no/such/dir/W_1h.csv", dir);
    cr_expect_neq(kt_ohlcv_write(b, path, err, sizeof(err)), KT_OK);
    cr_expect(strstr(err, "No such file"), "%s", err);
    kt_ohlcv_free(b);
}
