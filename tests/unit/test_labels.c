// test_labels.c: ZigZag extremes and segment labels, and triple-barrier
// labels (take profit, stop loss, both in one bar, time expiry with and
// without a signed return, early-volatility fill) on hand-built series.
#include <string.h>

#include <criterion/criterion.h>

#include "domain/labels.h"

enum { B = KT_BUY, H = KT_HOLD, S = KT_SELL };

static void
expect_labels(const uint8_t *got, const uint8_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(got[i], want[i], "bar %zu: %d, want %d", i, got[i],
                     want[i]);
    }
}

Test(labels, zigzag_extremes_move_with_the_trend)
{
    // 111 (+11%) sets an up leg; 95 (-14% from 111) reverses; 90 extends
    // the down leg; 100 (+11% from 90) reverses again; 99 is noise.
    double x[] = {100, 105, 111, 108, 95, 90, 97, 100, 99};
    size_t idx[9], want[] = {0, 2, 5, 7};
    uint8_t out[9], wl[] = {H, B, H, S, S, H, B, H, H};

    cr_assert_eq(kt_zigzag_extremes(x, 9, 0.1, idx), 4);
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(idx[i], want[i]);
    }
    cr_assert_eq(kt_labels_zigzag(x, 9, 0.1, out), KT_OK);
    expect_labels(out, wl, 9);
}

Test(labels, zigzag_first_leg_down_and_degenerate_series)
{
    double down[] = {100, 95, 89, 92, 99}, flat[] = {5, 5, 5, 5};
    uint8_t out[5], wd[] = {H, S, H, B, H}, wf[] = {H, H, H, H};
    size_t idx[5];

    cr_assert_eq(kt_labels_zigzag(down, 5, 0.1, out), KT_OK);
    expect_labels(out, wd, 5);
    cr_assert_eq(kt_labels_zigzag(flat, 4, 0.02, out), KT_OK);
    expect_labels(out, wf, 4);
    cr_expect_eq(kt_zigzag_extremes(flat, 0, 0.02, idx), 0);
    cr_expect_eq(kt_zigzag_extremes(flat, 1, 0.02, idx), 1);
    cr_assert_eq(kt_labels_zigzag(flat, 0, 0.02, out), KT_OK);
}

// bars builds bars with high = close * (1 + r), low = close * (1 - r), so
// (high - low) / close = 2r and the volatility is 2r from bar 0.
static kt_ohlcv
bars(double *c, double *h, double *l, double *o, double *v, int64_t *t,
     size_t n, double r)
{
    for (size_t i = 0; i < n; i++) {
        h[i] = c[i] * (1 + r);
        l[i] = c[i] * (1 - r);
        o[i] = c[i];
        v[i] = 1;
        t[i] = (int64_t)i * 3600;
    }
    return (kt_ohlcv){.n = n,
                      .time = t,
                      .open = o,
                      .high = h,
                      .low = l,
                      .close = c,
                      .volume = v};
}

Test(labels, triple_barrier_hits_and_expiry)
{
    // vol 0.02, pt 2 -> +4 %, sl 1 -> -2 %, 3 bars ahead; expiry band
    // 0.02 * sqrt(3) / 2 = 1.73 %.
    double c[] = {100, 101, 105, 104, 103, 100, 100, 100, 100, 100};
    double h[10], l[10], o[10], v[10];
    int64_t t[10];
    kt_ohlcv b = bars(c, h, l, o, v, t, 10, 0.01);
    uint8_t out[10], want[] = {B, B, S, S, S, H, H, H, H, H};

    cr_assert_eq(kt_labels_triple_barrier(&b, 2.0, 1.0, 3, 50, out), 7);
    expect_labels(out, want, 10);
}

Test(labels, triple_barrier_expiry_takes_the_return_sign_beyond_the_band)
{
    double c[] = {100, 101, 102, 102.5}, h[4], l[4], o[4], v[4];
    int64_t t[4];
    kt_ohlcv b = bars(c, h, l, o, v, t, 4, 0.01);
    uint8_t out[4];

    // No bar reaches 104 (highs 102.01 .. 103.53), but +2.5 % > 1.73 %.
    cr_assert_eq(kt_labels_triple_barrier(&b, 2.0, 1.0, 3, 50, out), 1);
    cr_expect_eq(out[0], B);
    c[3] = 97.6; // -2.4 %, with tiny ranges so no low reaches -4 %
    b = bars(c, h, l, o, v, t, 4, 0.001); // vol 0.002: band 0.17 %
    cr_assert_eq(kt_labels_triple_barrier(&b, 20.0, 20.0, 3, 50, out), 1);
    cr_expect_eq(out[0], S); // barriers +-4 % untouched, return -2.4 %
}

Test(labels, triple_barrier_both_barriers_in_one_bar)
{
    double c[] = {100, 99}, h[] = {101, 105}, l[] = {99, 97};
    double o[] = {100, 100}, v[] = {1, 1};
    int64_t t[] = {0, 3600};
    kt_ohlcv b = {.n = 2,
                  .time = t,
                  .open = o,
                  .high = h,
                  .low = l,
                  .close = c,
                  .volume = v};
    uint8_t out[2];

    // vol(0) = 0.02: barriers 104 / 98, both crossed by bar 1.
    cr_assert_eq(kt_labels_triple_barrier(&b, 2.0, 1.0, 1, 10, out), 1);
    cr_expect_eq(out[0], S); // closed below the entry
    c[1] = 101;
    cr_assert_eq(kt_labels_triple_barrier(&b, 2.0, 1.0, 1, 10, out), 1);
    cr_expect_eq(out[0], B);
}

Test(labels, triple_barrier_fills_early_zero_volatility)
{
    // Bars 0-1 have no range (vol 0); KTRDR replaces early zero vol by the
    // value at bar vol_span (2): 0.08 * 9 / 13. Without the fill both
    // barriers would sit at the entry and bar 1 would hit them (BUY).
    double c[] = {100, 100, 100, 100, 100, 100};
    double h[] = {100, 100, 104, 101, 101, 101};
    double l[] = {100, 100, 96, 99, 99, 99};
    double o[6] = {100, 100, 100, 100, 100, 100}, v[6] = {0};
    int64_t t[6] = {0, 1, 2, 3, 4, 5};
    kt_ohlcv b = {.n = 6,
                  .time = t,
                  .open = o,
                  .high = h,
                  .low = l,
                  .close = c,
                  .volume = v};
    uint8_t out[6];

    cr_assert_eq(kt_labels_triple_barrier(&b, 1.0, 1.0, 1, 2, out), 5);
    cr_expect_eq(out[0], H);
}

Test(labels, build_dispatches_and_validates)
{
    double c[] = {100, 105, 111, 108, 95, 90, 97, 100, 99};
    double h[9], l[9], o[9], v[9];
    int64_t t[9];
    kt_ohlcv b = bars(c, h, l, o, v, t, 9, 0.0);
    kt_label_cfg cfg = {.source = KT_LABEL_ZIGZAG,
                        .zigzag_threshold = 0.1,
                        .pt_multiplier = 2,
                        .sl_multiplier = 1.5,
                        .max_holding_period = 50,
                        .vol_span = 50};
    uint8_t out[9];
    size_t nv = 0;
    char err[256];

    cr_assert_eq(kt_labels_build(&cfg, &b, out, &nv, err, sizeof(err)), KT_OK);
    cr_expect_eq(nv, 9);
    cr_expect_eq(out[1], B);
    cfg.source = KT_LABEL_TRIPLE_BARRIER; // fewer bars than max_hold
    cr_assert_eq(kt_labels_build(&cfg, &b, out, &nv, err, sizeof(err)), KT_OK);
    cr_expect_eq(nv, 0);
    cr_expect_eq(out[0], H);
    cfg.max_holding_period = 0;
    cr_expect_eq(kt_labels_build(&cfg, &b, out, &nv, err, sizeof(err)),
                 KT_EINVAL);
    cr_expect(strstr(err, "max_holding_period 0"), "%s", err);
    cfg.source = KT_LABEL_ZIGZAG;
    cfg.zigzag_threshold = 0;
    cr_expect_eq(kt_labels_build(&cfg, &b, out, &nv, err, sizeof(err)),
                 KT_EINVAL);
    cr_expect(strstr(err, "zigzag_threshold must be in (0, 1)"), "%s", err);
}
