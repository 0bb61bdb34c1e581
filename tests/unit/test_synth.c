// test_synth.c: the synthetic OHLCV generator: determinism (arrays and
// files), seeds, range independence, calendars, agreement between
// timeframes, bar validity and argument checks.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "domain/synth.h"

static int64_t
ts(const char *s)
{
    int64_t t;
    cr_assert_eq(kt_time_parse(s, &t), KT_OK, "%s", s);
    return t;
}

static kt_ohlcv *
gen(const char *sym, const char *tf, const char *a, const char *z)
{
    char err[256];
    kt_ohlcv *b;
    kt_synth_cfg c = {.symbol = sym, .timeframe = tf};
    cr_assert_eq(kt_date_range_parse(a, z, &c.start, &c.end), KT_OK);
    cr_assert_eq(kt_synth_generate(&c, &b, err, sizeof(err)), KT_OK, "%s", err);
    return b;
}

static bool
same_bars(const kt_ohlcv *a, size_t ia, const kt_ohlcv *b, size_t ib, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a->time[ia + i] != b->time[ib + i] ||
            a->open[ia + i] != b->open[ib + i] ||
            a->high[ia + i] != b->high[ib + i] ||
            a->low[ia + i] != b->low[ib + i] ||
            a->close[ia + i] != b->close[ib + i] ||
            a->volume[ia + i] != b->volume[ib + i]) {
            return false;
        }
    }
    return true;
}

Test(synth, same_input_same_bars_and_same_file_bytes)
{
    kt_ohlcv *a = gen("AAPL", "1h", "2024-01-01", "2024-03-31");
    kt_ohlcv *b = gen("AAPL", "1h", "2024-01-01", "2024-03-31");
    char pa[] = "/tmp/kt_synth_a_XXXXXX", pb[] = "/tmp/kt_synth_b_XXXXXX";
    char err[256], cmd[128];
    int fa = mkstemp(pa), fb = mkstemp(pb);

    cr_assert(fa >= 0 && fb >= 0);
    cr_assert_eq(a->n, b->n);
    cr_expect(same_bars(a, 0, b, 0, a->n));
    cr_expect_str_eq(a->symbol, "AAPL");
    cr_expect_str_eq(a->timeframe, "1h");
    cr_assert_eq(kt_ohlcv_write(a, pa, err, sizeof(err)), KT_OK, "%s", err);
    cr_assert_eq(kt_ohlcv_write(b, pb, err, sizeof(err)), KT_OK, "%s", err);
    snprintf(cmd, sizeof(cmd), "cmp -s %s %s", pa, pb);
    cr_expect_eq(system(cmd), 0, "files differ");
    remove(pa);
    remove(pb);
    kt_ohlcv_free(a);
    kt_ohlcv_free(b);
}

Test(synth, seeds_default_from_symbol)
{
    char err[256];
    kt_ohlcv *a, *b, *c;
    kt_synth_cfg cfg = {.symbol = "AAPL",
                        .timeframe = "1d",
                        .start = ts("2024-01-01"),
                        .end = ts("2024-02-01")};

    cr_expect_eq(kt_synth_default_seed("AAPL"), kt_synth_default_seed("AAPL"));
    cr_expect_neq(kt_synth_default_seed("AAPL"), kt_synth_default_seed("MSFT"));
    cr_expect_eq(kt_synth_default_seed(""), 0xcbf29ce484222325ULL);
    cr_assert_eq(kt_synth_generate(&cfg, &a, err, sizeof(err)), KT_OK);
    cfg.has_seed = true;
    cfg.seed = kt_synth_default_seed("AAPL");
    cr_assert_eq(kt_synth_generate(&cfg, &b, err, sizeof(err)), KT_OK);
    cfg.seed = 7;
    cr_assert_eq(kt_synth_generate(&cfg, &c, err, sizeof(err)), KT_OK);
    cr_expect(same_bars(a, 0, b, 0, a->n)); // explicit = default seed
    cr_expect_not(same_bars(a, 0, c, 0, a->n));
    kt_ohlcv_free(a);
    kt_ohlcv_free(b);
    kt_ohlcv_free(c);
}

Test(synth, bars_do_not_depend_on_where_the_range_starts)
{
    kt_ohlcv *all = gen("EURUSD", "15m", "2023-12-20", "2024-01-20");
    kt_ohlcv *part = gen("EURUSD", "15m", "2024-01-08", "2024-01-10");
    size_t lo, hi;
    kt_ohlcv_range(all, ts("2024-01-08"), ts("2024-01-11"), &lo, &hi);
    cr_assert_eq(hi - lo, part->n);
    cr_expect_eq(part->n, 3 * 96);
    cr_expect(same_bars(all, lo, part, 0, part->n));
    kt_ohlcv_free(all);
    kt_ohlcv_free(part);
}

Test(synth, stock_and_forex_calendars)
{
    kt_ohlcv *s = gen("AAPL", "1h", "2024-01-05", "2024-01-08"); // Fri..Mon
    kt_ohlcv *f = gen("EURUSD", "4h", "2024-01-05", "2024-01-08");
    kt_ohlcv *m = gen("AAPL", "1m", "2024-01-08", "2024-01-08");
    kt_ohlcv *w = gen("AAPL", "1w", "2024-01-03", "2024-01-31");

    cr_assert_eq(s->n, 14); // 7 session bars on Friday and on Monday
    cr_expect_eq(s->time[0], ts("2024-01-05T14:30:00Z"));
    cr_expect_eq(s->time[6], ts("2024-01-05T20:30:00Z"));
    cr_expect_eq(s->time[7], ts("2024-01-08T14:30:00Z"));
    cr_assert_eq(f->n, 12); // 6 bars a day, no weekend
    cr_expect_eq(f->time[5], ts("2024-01-05T20:00:00Z"));
    cr_expect_eq(f->time[6], ts("2024-01-08T00:00:00Z"));
    cr_expect_eq(m->n, 390);
    cr_expect_eq(m->time[389], ts("2024-01-08T20:59:00Z"));
    cr_assert_eq(w->n, 4); // Mondays 8, 15, 22, 29 (Jan 1 < start)
    cr_expect_eq(w->time[0], ts("2024-01-08"));
    cr_expect(kt_synth_is_fx("EURUSD") && kt_synth_is_fx("USDJPY"));
    cr_expect_not(kt_synth_is_fx("AAPL"));
    cr_expect_not(kt_synth_is_fx("USDUSD"));
    cr_expect_not(kt_synth_is_fx("eurusd"));
    kt_ohlcv_free(s);
    kt_ohlcv_free(f);
    kt_ohlcv_free(m);
    kt_ohlcv_free(w);
}

Test(synth, timeframes_of_one_symbol_agree)
{
    kt_ohlcv *h = gen("MSFT", "1h", "2024-03-01", "2024-03-29");
    kt_ohlcv *d = gen("MSFT", "1d", "2024-03-01", "2024-03-29");
    kt_ohlcv *w = gen("MSFT", "1w", "2024-03-04", "2024-03-08");

    cr_assert_eq(h->n, d->n * 7);
    for (size_t k = 0; k < d->n; k++) {
        double hi = 0, lo = 1e300, v = 0;
        for (size_t j = k * 7; j < k * 7 + 7; j++) {
            hi = hi > h->high[j] ? hi : h->high[j];
            lo = lo < h->low[j] ? lo : h->low[j];
            v += h->volume[j];
        }
        cr_expect_eq(d->open[k], h->open[k * 7], "day %zu open", k);
        cr_expect_eq(d->close[k], h->close[k * 7 + 6], "day %zu close", k);
        cr_expect_eq(d->high[k], hi, "day %zu high", k);
        cr_expect_eq(d->low[k], lo, "day %zu low", k);
        cr_expect(v - d->volume[k] <= 4 && d->volume[k] - v <= 4); // rounding
    }
    cr_assert_eq(w->n, 1);
    cr_expect_eq(w->open[0], d->open[1]);   // Mon 2024-03-04 is d[1]
    cr_expect_eq(w->close[0], d->close[5]); // Fri 03-08
    cr_expect_eq(w->high[0], fmax(fmax(fmax(d->high[1], d->high[2]),
                                       fmax(d->high[3], d->high[4])),
                                  d->high[5]));
    kt_ohlcv_free(h);
    kt_ohlcv_free(d);
    kt_ohlcv_free(w);
}

Test(synth, every_bar_is_valid)
{
    const char *sym[] = {"AAPL", "EURUSD", "USDJPY", "BRK.B"};
    const char *tf[] = {"5m", "30m", "1d", "1h"};
    for (int k = 0; k < 4; k++) {
        kt_ohlcv *b = gen(sym[k], tf[k], "2021-06-01", "2021-08-31");
        cr_expect(b->n > 0);
        for (size_t i = 0; i < b->n; i++) {
            cr_expect(b->low[i] > 0 && b->low[i] <= b->open[i] &&
                          b->low[i] <= b->close[i] &&
                          b->high[i] >= b->open[i] &&
                          b->high[i] >= b->close[i] && b->volume[i] >= 0,
                      "%s %s bar %zu", sym[k], tf[k], i);
            cr_expect(i == 0 || b->time[i] > b->time[i - 1]);
        }
        kt_ohlcv_free(b);
    }
}

Test(synth, bad_arguments)
{
    char err[256];
    kt_ohlcv *b = (kt_ohlcv *)0x1;
    kt_synth_cfg c = {.symbol = "AAPL",
                      .timeframe = "2h",
                      .start = ts("2024-01-01"),
                      .end = ts("2024-02-01")};
    cr_expect_eq(kt_synth_generate(&c, &b, err, sizeof(err)), KT_EINVAL);
    cr_expect(strstr(err, "unknown timeframe '2h'"), "%s", err);
    c.timeframe = "1h";
    c.symbol = "AA/PL";
    cr_expect_eq(kt_synth_generate(&c, &b, err, sizeof(err)), KT_EINVAL);
    cr_expect(strstr(err, "only letters, digits"), "%s", err);
    c.symbol = "";
    cr_expect_eq(kt_synth_generate(&c, &b, err, sizeof(err)), KT_EINVAL);
    c.symbol = "AAPL";
    c.start = ts("1989-12-31");
    cr_expect_eq(kt_synth_generate(&c, &b, err, sizeof(err)), KT_EINVAL);
    cr_expect(strstr(err, "1990-01-01 .. 2100-01-01"), "%s", err);
    c.start = c.end;
    cr_expect_eq(kt_synth_generate(&c, &b, err, sizeof(err)), KT_EINVAL);
    cr_expect_eq(b, (kt_ohlcv *)0x1);
    c.start = ts("2024-01-06"); // a weekend: valid, no bars
    c.end = ts("2024-01-08");
    cr_assert_eq(kt_synth_generate(&c, &b, err, sizeof(err)), KT_OK);
    cr_expect_eq(b->n, 0);
    kt_ohlcv_free(b);
}
