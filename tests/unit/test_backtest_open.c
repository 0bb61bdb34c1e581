// test_backtest_open.c: the backtest over a real, saved model artifact:
// strategy YAML -> features -> a tiny MLP saved as a model directory ->
// kt_backtest_open -> run, resume; and the refusals (feature order, missing,
// corrupt, other format version).
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "domain/backtest.h"
#include "domain/features.h"
#include "domain/mlp.h"
#include "domain/model.h"
#include "domain/rng.h"
#include "domain/strategy.h"

static const char yaml[] =
    "name: bt_e2e\n"
    "version: \"3.0\"\n"
    "training_data:\n"
    "  symbols: {mode: single, symbol: EURUSD}\n"
    "  timeframes: {mode: single, timeframe: 1h}\n"
    "  history_required: 50\n"
    "indicators:\n"
    "  rsi_14: {type: rsi, period: 14, source: close}\n"
    "fuzzy_sets:\n"
    "  rsi_14:\n"
    "    indicator: rsi_14\n"
    "    oversold: [0, 30, 45]\n"
    "    neutral: [35, 50, 65]\n"
    "    overbought: [55, 70, 100]\n"
    "nn_inputs:\n"
    "  - {fuzzy_set: rsi_14, timeframes: all}\n"
    "model:\n"
    "  type: mlp\n"
    "  architecture: {hidden_layers: [16, 8], activation: relu, "
    "dropout: 0.2}\n"
    "decisions:\n"
    "  output_format: classification\n"
    "  confidence_threshold: 0.45\n"
    "  position_awareness: true\n"
    "  allow_short_from_flat: true\n"
    "  filters: {min_signal_separation: 2}\n"
    "training:\n"
    "  labels: {source: zigzag, zigzag_threshold: 0.02}\n"
    "  epochs: 2\n";

static char tmp[64];
static kt_strategy *strat;
static kt_ohlcv *bars;
static kt_features feat;
static kt_mlp *mlp;

static int
rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void
teardown(void)
{
    kt_mlp_free(mlp);
    kt_features_free(&feat);
    kt_ohlcv_free(bars);
    kt_strategy_free(strat);
    if (tmp[0] != '\0') {
        (void)nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    }
}

// save_model writes mlp with the given feature names to tmp/<name>.
static void
save_model(const char *name, char *const *names, size_t n, char *dir,
           size_t dirlen)
{
    kt_model *m;
    char err[256];

    cr_assert_eq(kt_model_alloc(mlp, names, n, "bt_e2e", "1h", NULL, NULL, &m,
                                err, sizeof(err)),
                 KT_OK, "%s", err);
    (void)snprintf(dir, dirlen, "%s/%s", tmp, name);
    cr_assert_eq(kt_model_save_dir(m, dir, err, sizeof(err)), KT_OK, "%s", err);
    kt_model_free(m);
}

// set_weights makes the [16, 8] network a small mean-reversion model: the
// hidden layers pass the 3 RSI memberships through (ReLU of non-negative
// values), the head scores BUY on oversold, HOLD on neutral, SELL on
// overbought. (A freshly initialised net answers one class everywhere.)
static void
set_weights(kt_mlp *m)
{
    float w[16 * 16], b[16];
    int in, out;

    for (int l = 0; l < kt_mlp_n_layers(m); l++) {
        kt_mlp_layer_shape(m, l, &in, &out);
        memset(w, 0, sizeof(w));
        memset(b, 0, sizeof(b));
        for (int k = 0; k < 3; k++) {
            w[k * in + k] = l + 1 == kt_mlp_n_layers(m) ? 6.0f : 1.0f;
        }
        cr_assert_eq(kt_mlp_set_layer(m, l, w, b), KT_OK);
    }
}

// setup: 400 hourly bars of a seeded random walk, the strategy, its
// features and the model of set_weights.
static void
setup(void)
{
    kt_rng r;
    char err[256];
    double px = 1.1;

    strcpy(tmp, "/tmp/kt_bt_open_XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    cr_assert_eq(kt_strategy_parse(yaml, sizeof(yaml) - 1, "bt_e2e", &strat,
                                   err, sizeof(err)),
                 KT_OK, "%s", err);
    cr_assert_eq(kt_ohlcv_alloc(400, &bars), KT_OK);
    kt_rng_seed(&r, 17);
    for (int i = 0; i < 400; i++) {
        double o = px;
        px *=
            1.0 +
            ((double)(kt_rng_next(&r) >> 11) / 9007199254740992.0 - 0.5) * 0.01;
        cr_assert_eq(
            kt_ohlcv_push(bars,
                          1700000000 - 1700000000 % 3600 + (int64_t)i * 3600, o,
                          fmax(o, px) * 1.001, fmin(o, px) * 0.999, px, 1000),
            KT_OK);
    }
    strcpy(bars->timeframe, "1h");
    cr_assert_eq(kt_features_build(strat, bars, &feat, err, sizeof(err)), KT_OK,
                 "%s", err);
    cr_assert_eq(kt_mlp_alloc(&strat->mlp, &mlp), KT_OK);
    set_weights(mlp);
}

TestSuite(backtest_open, .init = setup, .fini = teardown, .timeout = 20.0);

static void
logits_cb(void *ctx, const float *x, float out[KT_NCLASSES])
{
    kt_mlp_logits(ctx, x, out);
}

Test(backtest_open, real_model_runs_end_to_end_and_resumes)
{
    char dir[128], err[256];
    kt_backtest *bt, *ref, *res;
    size_t n, nr, ne, ner;
    uint8_t *buf;
    size_t len;

    save_model("m1", feat.names, feat.n_cols, dir, sizeof(dir));
    cr_assert_eq(
        kt_backtest_open(dir, strat, bars, NULL, &bt, err, sizeof(err)), KT_OK,
        "%s", err);
    cr_assert_eq(kt_backtest_config(bt)->confidence_threshold, 0.45);
    cr_assert_str_eq(kt_backtest_config(bt)->symbol, "EURUSD");
    cr_assert_eq(kt_backtest_run(bt), KT_OK);
    const kt_trade *t = kt_backtest_trades(bt, &n);
    cr_assert_gt(n, 2, "the model should trade (%zu trades)", n);

    // The same network per row through the seam: identical run.
    kt_bt_config c = *kt_backtest_config(bt);
    kt_bt_data d = {bars->n,     bars->time, bars->open,
                    bars->close, feat.x,     feat.n_cols};
    kt_bt_model m = {logits_cb, NULL, mlp, true};
    cr_assert_eq(kt_backtest_new(&c, &d, &m, &ref, err, sizeof(err)), KT_OK,
                 "%s", err);
    cr_assert_eq(kt_backtest_run(ref), KT_OK);
    const kt_trade *tr = kt_backtest_trades(ref, &nr);
    cr_assert_eq(nr, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(t[i].exit_bar, tr[i].exit_bar);
        cr_assert_eq(memcmp(&t[i].net_pnl, &tr[i].net_pnl, 8), 0);
    }

    // Stop at bar 200, continue in a freshly opened engine.
    cr_assert_eq(kt_backtest_open(dir, strat, bars, NULL, &res, err, 256),
                 KT_OK);
    cr_assert_eq(kt_backtest_step(res, 150, NULL), KT_OK);
    cr_assert_eq(kt_backtest_export(res, &buf, &len), KT_OK);
    kt_backtest_free(res);
    cr_assert_eq(kt_backtest_open(dir, strat, bars, NULL, &res, err, 256),
                 KT_OK);
    cr_assert_eq(kt_backtest_import(res, buf, len, err, 256), KT_OK, "%s", err);
    cr_assert_eq(kt_backtest_next_bar(res), 200);
    cr_assert_eq(kt_backtest_run(res), KT_OK);
    const double *e1 = kt_backtest_equity(bt, &ne);
    const double *e2 = kt_backtest_equity(res, &ner);
    cr_assert_eq(ne, ner);
    cr_assert_eq(memcmp(e1, e2, ne * sizeof(double)), 0);
    kt_backtest_buf_free(buf);
    kt_backtest_free(res);
    kt_backtest_free(ref);
    kt_backtest_free(bt);
}

Test(backtest_open, features_in_another_order_are_refused)
{
    char dir[128], err[256];
    kt_backtest *bt = NULL;
    char *swapped[8];

    cr_assert_geq(feat.n_cols, 2);
    for (size_t i = 0; i < feat.n_cols; i++) {
        swapped[i] = feat.names[i];
    }
    swapped[0] = feat.names[1];
    swapped[1] = feat.names[0];
    save_model("swapped", swapped, feat.n_cols, dir, sizeof(dir));
    err[0] = '\0';
    cr_assert_eq(
        kt_backtest_open(dir, strat, bars, NULL, &bt, err, sizeof(err)),
        KT_EINVAL);
    cr_assert_null(bt);
    cr_assert(strstr(err, feat.names[0]) != NULL, "%s", err);
}

// flip_byte corrupts one byte in the middle of dir/file.
static void
flip_byte(const char *dir, const char *file)
{
    char p[256];
    FILE *f;
    long sz;
    int c;

    (void)snprintf(p, sizeof(p), "%s/%s", dir, file);
    cr_assert_not_null(f = fopen(p, "r+b"));
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    sz = ftell(f);
    cr_assert_eq(fseek(f, sz / 2, SEEK_SET), 0);
    c = fgetc(f);
    cr_assert_eq(fseek(f, sz / 2, SEEK_SET), 0);
    cr_assert_neq(fputc(c ^ 0x20, f), EOF);
    cr_assert_eq(fclose(f), 0);
}

Test(backtest_open, missing_corrupt_and_other_version_artifacts_are_refused)
{
    char dir[128], err[256], p[256];
    kt_backtest *bt = NULL;
    FILE *f;

    (void)snprintf(dir, sizeof(dir), "%s/nothing", tmp);
    cr_assert_eq(kt_backtest_open(dir, strat, bars, NULL, &bt, err, 256),
                 KT_ENOENT);
    save_model("corrupt", feat.names, feat.n_cols, dir, sizeof(dir));
    flip_byte(dir, "model.pb");
    cr_assert_eq(kt_backtest_open(dir, strat, bars, NULL, &bt, err, 256),
                 KT_ECORRUPT, "%s", err);
    save_model("v2", feat.names, feat.n_cols, dir, sizeof(dir));
    (void)snprintf(p, sizeof(p), "%s/MANIFEST", dir);
    cr_assert_not_null(f = fopen(p, "r+b"));
    cr_assert_eq(fseek(f, (long)strlen("kt-model "), SEEK_SET), 0);
    cr_assert_neq(fputc('9', f), EOF);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(kt_backtest_open(dir, strat, bars, NULL, &bt, err, 256),
                 KT_EVERSION, "%s", err);
    cr_assert_eq(kt_backtest_open(NULL, strat, bars, NULL, &bt, err, 256),
                 KT_EINVAL);
    cr_assert_null(bt);
}
