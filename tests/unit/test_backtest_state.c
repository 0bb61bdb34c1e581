// test_backtest_state.c: stop at any bar, export, import into a new engine,
// continue: trades, equity and metrics must equal an uninterrupted run bit
// for bit (one and two resumes, per-row and batched models). And import
// must refuse every truncation, corruption, other version, other data and
// other config without changing the engine.
#include <ktpb/v1/backtest.pb-c.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "domain/backtest.h"
#include "domain/backtest_int.h"

#define NB 400

typedef struct world {
    size_t n;
    int64_t time[NB];
    double open[NB];
    double close[NB];
    float x[NB * 2];
    kt_bt_config cfg;
    kt_bt_model model;
} world;

static uint64_t
mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double
unit(uint64_t *s)
{
    *s = mix(*s);
    return (double)(*s >> 11) / 9007199254740992.0;
}

// A pure function of the row: class and confidence from a hash of x[0].
static void
rnd_predict(void *ctx, const float *x, float out[KT_NCLASSES])
{
    uint64_t h = mix((uint64_t)x[0] * 7919u + 1);
    float p = 0.34f + (float)(h % 1000) / 1500.0f;
    int c = (int)((h >> 20) % 3);

    (void)ctx;
    for (int j = 0; j < KT_NCLASSES; j++) {
        out[j] = j == c ? p : (1.0f - p) / 2.0f;
    }
}

// A batched model whose answers depend (slightly) on the row's place in the
// batch: resumed runs match only if batches are aligned to absolute bars.
static void
rnd_batch(void *ctx, const float *x, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++) {
        rnd_predict(ctx, x + i * 2, out + i * 3);
        out[i * 3] += 1e-4f * (float)i;
    }
}

static void
world_init(world *w, size_t n, uint64_t seed, bool batch)
{
    uint64_t s = seed;
    double px = 100;

    memset(w, 0, sizeof(*w));
    w->n = n;
    for (size_t i = 0; i < NB; i++) { // all of them: tests may grow n
        w->time[i] = 1600000000 + (int64_t)i * 3600 + (i > 200 ? 172800 : 0);
        w->open[i] = px;
        px *= 1.0 + (unit(&s) - 0.5) * 0.02;
        w->close[i] = px;
        w->x[2 * i] = (float)i;
        w->x[2 * i + 1] = (float)unit(&s);
    }
    kt_bt_config_default(&w->cfg);
    w->cfg.allow_short_from_flat = true;
    strcpy(w->cfg.strategy_name, "rnd");
    w->cfg.min_signal_separation_hours = 3;
    w->model.predict = rnd_predict;
    w->model.predict_batch = batch ? rnd_batch : NULL;
}

static kt_backtest *
world_engine(world *w)
{
    kt_bt_data d = {w->n, w->time, w->open, w->close, w->x, 2};
    kt_backtest *bt = NULL;
    char err[256];

    cr_assert_eq(kt_backtest_new(&w->cfg, &d, &w->model, &bt, err, sizeof(err)),
                 KT_OK, "%s", err);
    return bt;
}

static void
export_ok(kt_backtest *bt, uint8_t **buf, size_t *len)
{
    cr_assert_eq(kt_backtest_export(bt, buf, len), KT_OK);
}

static bool
same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static void
assert_same_trade(const kt_trade *a, const kt_trade *b, size_t i)
{
    cr_assert(a->id == b->id && a->side == b->side &&
                  a->quantity == b->quantity && a->entry_bar == b->entry_bar &&
                  a->exit_bar == b->exit_bar &&
                  a->entry_time == b->entry_time &&
                  a->exit_time == b->exit_time && a->forced == b->forced,
              "trade %zu differs", i);
    cr_assert(same_double(a->entry_price, b->entry_price) &&
                  same_double(a->exit_price, b->exit_price) &&
                  same_double(a->gross_pnl, b->gross_pnl) &&
                  same_double(a->commission, b->commission) &&
                  same_double(a->slippage, b->slippage) &&
                  same_double(a->net_pnl, b->net_pnl) &&
                  same_double(a->holding_hours, b->holding_hours) &&
                  same_double(a->mfe, b->mfe) && same_double(a->mae, b->mae) &&
                  same_double(a->entry_confidence, b->entry_confidence) &&
                  same_double(a->exit_confidence, b->exit_confidence),
              "trade %zu differs in a double", i);
}

static void
assert_same_run(kt_backtest *a, kt_backtest *b)
{
    size_t na, nb, ea, eb;
    const kt_trade *ta = kt_backtest_trades(a, &na);
    const kt_trade *tb = kt_backtest_trades(b, &nb);
    const double *qa = kt_backtest_equity(a, &ea);
    const double *qb = kt_backtest_equity(b, &eb);
    kt_metrics ma, mb;

    cr_assert(kt_backtest_finished(a) && kt_backtest_finished(b));
    cr_assert_eq(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_same_trade(&ta[i], &tb[i], i);
    }
    cr_assert_eq(ea, eb);
    cr_assert_eq(memcmp(qa, qb, ea * sizeof(double)), 0, "equity differs");
    kt_backtest_metrics(a, &ma);
    kt_backtest_metrics(b, &mb);
    cr_assert_eq(memcmp(&ma, &mb, sizeof(ma)), 0, "metrics differ");
}

// resume_at runs `stops` (absolute bars, increasing) with an export, a new
// engine and an import at each, then to the end.
static kt_backtest *
resume_at(world *w, const uint64_t *stops, int n_stops)
{
    kt_backtest *bt = world_engine(w);
    uint8_t *buf;
    size_t len;
    char err[256];

    for (int s = 0; s < n_stops; s++) {
        uint64_t k = stops[s] - kt_backtest_next_bar(bt);
        cr_assert_eq(kt_backtest_step(bt, k, NULL), KT_OK);
        cr_assert_eq(kt_backtest_next_bar(bt), stops[s]);
        export_ok(bt, &buf, &len);
        kt_backtest_free(bt);
        bt = world_engine(w);
        cr_assert_eq(kt_backtest_import(bt, buf, len, err, sizeof(err)), KT_OK,
                     "%s", err);
        cr_assert_eq(kt_backtest_next_bar(bt), stops[s]);
        kt_backtest_buf_free(buf);
    }
    cr_assert_eq(kt_backtest_run(bt), KT_OK);
    return bt;
}

static void
check_equivalence(bool batch)
{
    world w;
    uint64_t s = 12345 + batch;
    size_t n;

    world_init(&w, NB, 7, batch);
    kt_backtest *ref = world_engine(&w);
    cr_assert_eq(kt_backtest_run(ref), KT_OK);
    kt_backtest_trades(ref, &n);
    cr_assert_gt(n, 10, "the scenario should trade (%zu trades)", n);

    uint64_t edges[] = {50, 51, 255, 256, 257, NB - 1, NB};
    for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++) {
        kt_backtest *bt = resume_at(&w, &edges[e], 1);
        assert_same_run(ref, bt);
        kt_backtest_free(bt);
    }
    for (int r = 0; r < 25; r++) {
        uint64_t k[2];
        k[0] = 50 + (uint64_t)(unit(&s) * (NB - 50));
        k[1] = k[0] + (uint64_t)(unit(&s) * (double)(NB - k[0]));
        kt_backtest *one = resume_at(&w, k, 1);
        kt_backtest *two = resume_at(&w, k, 2);
        assert_same_run(ref, one);
        assert_same_run(ref, two);
        kt_backtest_free(one);
        kt_backtest_free(two);
    }
    kt_backtest_free(ref);
}

Test(backtest_state, resume_at_random_bars_matches_uninterrupted_run)
{
    check_equivalence(false);
}

Test(backtest_state, batched_model_resume_matches_uninterrupted_run)
{
    check_equivalence(true);
}

Test(backtest_state, any_slicing_gives_the_same_run)
{
    world w;
    uint64_t s = 99;

    world_init(&w, NB, 3, true);
    kt_backtest *ref = world_engine(&w);
    cr_assert_eq(kt_backtest_run(ref), KT_OK);
    kt_backtest *bt = world_engine(&w);
    while (!kt_backtest_finished(bt)) {
        cr_assert_eq(kt_backtest_step(bt, 1 + (size_t)(unit(&s) * 40), NULL),
                     KT_OK);
    }
    assert_same_run(ref, bt);
    kt_backtest_free(bt);
    kt_backtest_free(ref);
}

// small_state: a 60-bar run stopped at bar 57 with a trade and a position.
static void
small_state(world *w, kt_backtest **bt, uint8_t **buf, size_t *len)
{
    world_init(w, 60, 11, false);
    w->cfg.min_signal_separation_hours = 0;
    *bt = world_engine(w);
    cr_assert_eq(kt_backtest_step(*bt, 7, NULL), KT_OK);
    export_ok(*bt, buf, len);
}

static void
assert_unchanged(kt_backtest *bt, const uint8_t *before, size_t len)
{
    uint8_t *now;
    size_t n;

    export_ok(bt, &now, &n);
    cr_assert_eq(n, len);
    cr_assert_eq(memcmp(now, before, n), 0, "a failed import changed state");
    kt_backtest_buf_free(now);
}

Test(backtest_state, every_truncated_prefix_and_byte_flip_is_refused)
{
    world w;
    kt_backtest *bt, *fresh;
    uint8_t *buf;
    size_t len;
    char err[256];

    small_state(&w, &bt, &buf, &len);
    fresh = world_engine(&w);
    uint8_t *before;
    size_t blen;
    export_ok(fresh, &before, &blen);
    for (size_t k = 0; k < len; k++) {
        kt_err rv = kt_backtest_import(fresh, buf, k, err, sizeof(err));
        cr_assert(rv == KT_ECORRUPT || rv == KT_EVERSION,
                  "prefix %zu of %zu: %d", k, len, rv);
    }
    cr_assert_eq(kt_backtest_import(fresh, NULL, 0, err, 256), KT_ECORRUPT);
    for (size_t k = 0; k < len; k++) {
        buf[k] ^= 0x5A;
        cr_assert_neq(kt_backtest_import(fresh, buf, len, err, 256), KT_OK,
                      "flip at %zu accepted", k);
        buf[k] ^= 0x5A;
    }
    assert_unchanged(fresh, before, blen);
    cr_assert_eq(kt_backtest_import(fresh, buf, len, err, 256), KT_OK, "%s",
                 err);
    kt_backtest_buf_free(before);
    kt_backtest_buf_free(buf);
    kt_backtest_free(fresh);
    kt_backtest_free(bt);
}

Test(backtest_state, garbage_is_corrupt_not_a_crash)
{
    world w;
    uint64_t s = 5;
    uint8_t junk[512];
    char err[256];

    world_init(&w, 60, 1, false);
    kt_backtest *bt = world_engine(&w);
    for (int r = 0; r < 200; r++) {
        size_t n = (size_t)(unit(&s) * sizeof(junk));
        for (size_t i = 0; i < n; i++) {
            junk[i] = (uint8_t)(unit(&s) * 256);
        }
        kt_err rv = kt_backtest_import(bt, junk, n, err, sizeof(err));
        cr_assert(rv == KT_ECORRUPT || rv == KT_EVERSION, "%d", rv);
    }
    cr_assert_eq(kt_backtest_next_bar(bt), w.cfg.warmup_bars);
    kt_backtest_free(bt);
}

// repack decodes a state, lets edit() change it and packs it again with a
// valid checksum (or none), so only the semantic checks can refuse it.
static void
repack(const uint8_t *buf, size_t len, void (*edit)(Ktpb__V1__BacktestState *),
       bool with_crc, uint8_t **out, size_t *olen)
{
    Ktpb__V1__BacktestState *s =
        ktpb__v1__backtest_state__unpack(NULL, len, buf);
    size_t n;
    uint32_t crc;

    cr_assert_not_null(s);
    s->crc32 = 0;
    edit(s);
    n = ktpb__v1__backtest_state__get_packed_size(s);
    *out = malloc(n + 6);
    ktpb__v1__backtest_state__pack(s, *out);
    crc = kt__bt_crc32(*out, n);
    (*out)[n] = 0xA5;
    (*out)[n + 1] = 0x06;
    memcpy(*out + n + 2, &crc, 4); // little-endian machine
    *olen = with_crc ? n + 6 : n;
    ktpb__v1__backtest_state__free_unpacked(s, NULL);
}

static void
ed_version(Ktpb__V1__BacktestState *s)
{
    s->version = 2;
}
static void
ed_next_bar(Ktpb__V1__BacktestState *s)
{
    s->next_bar = 70;
}
static void
ed_equity(Ktpb__V1__BacktestState *s)
{
    s->n_equity--;
}
static void
ed_pending(Ktpb__V1__BacktestState *s)
{
    s->pending_signal = 7;
}
static void
ed_trade_id(Ktpb__V1__BacktestState *s)
{
    s->trades[0]->id = 9;
}
static void
ed_nan_cash(Ktpb__V1__BacktestState *s)
{
    s->cash = NAN;
}
static void
ed_commission(Ktpb__V1__BacktestState *s)
{
    s->config->commission = 0.002;
}
static void
ed_label(Ktpb__V1__BacktestState *s)
{
    s->config->strategy_name[0] = 'X'; // labels may differ
}
static void
ed_position(Ktpb__V1__BacktestState *s)
{
    s->position->side = KTPB__V1__POSITION_SIDE__POSITION_SIDE_LONG;
    s->position->quantity = 0;
}

Test(backtest_state, version_and_inconsistent_states_are_refused)
{
    world w;
    kt_backtest *bt;
    uint8_t *buf, *b2;
    size_t len, l2;
    char err[256];
    size_t n;
    struct {
        void (*ed)(Ktpb__V1__BacktestState *);
        kt_err want;
    } cases[] = {
        {ed_next_bar, KT_ECORRUPT}, {ed_equity, KT_ECORRUPT},
        {ed_pending, KT_ECORRUPT},  {ed_trade_id, KT_ECORRUPT},
        {ed_nan_cash, KT_ECORRUPT}, {ed_position, KT_ECORRUPT},
        {ed_commission, KT_EINVAL}, {ed_label, KT_OK},
    };

    small_state(&w, &bt, &buf, &len);
    kt_backtest_trades(bt, &n);
    cr_assert_geq(n, 1, "the small state needs a closed trade");
    kt_backtest *fresh = world_engine(&w);
    for (int crc = 0; crc < 2; crc++) {
        repack(buf, len, ed_version, crc, &b2, &l2);
        cr_assert_eq(kt_backtest_import(fresh, b2, l2, err, 256), KT_EVERSION);
        cr_assert(strstr(err, "version 2") != NULL, "%s", err);
        free(b2);
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        repack(buf, len, cases[i].ed, true, &b2, &l2);
        cr_assert_eq(kt_backtest_import(fresh, b2, l2, err, 256), cases[i].want,
                     "case %zu: %s", i, err);
        free(b2);
    }
    kt_backtest_buf_free(buf);
    kt_backtest_free(fresh);
    kt_backtest_free(bt);
}

Test(backtest_state, state_of_other_data_is_refused_with_a_clear_error)
{
    world w;
    kt_backtest *bt, *other;
    uint8_t *buf;
    size_t len;
    char err[256];

    small_state(&w, &bt, &buf, &len);
    w.n = 61; // one more bar
    other = world_engine(&w);
    cr_assert_eq(kt_backtest_import(other, buf, len, err, 256), KT_EINVAL);
    cr_assert(strstr(err, "other data") != NULL, "%s", err);
    kt_backtest_free(other);
    w.n = 60;
    w.close[30] *= 1.0001; // same shape, different prices
    other = world_engine(&w);
    cr_assert_eq(kt_backtest_import(other, buf, len, err, 256), KT_EINVAL);
    kt_backtest_free(other);
    w.close[30] /= 1.0001;
    w.x[7] += 0.5f; // different features
    other = world_engine(&w);
    cr_assert_eq(kt_backtest_import(other, buf, len, err, 256), KT_EINVAL);
    kt_backtest_free(other);
    kt_backtest_buf_free(buf);
    kt_backtest_free(bt);
}
