// backtest_open.c: wires a backtest to a real trained model: load and
// verify the artifact, build the strategy's features, refuse a feature
// order that differs from the model's, and run the MLP behind the seam.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/backtest_int.h"
#include "domain/features.h"
#include "domain/mlp.h"
#include "domain/model.h"

// What an engine made by kt_backtest_open owns.
typedef struct bt_owned {
    kt_model *model;
    kt_mlp_work *work;
    kt_features feat;
} bt_owned;

static void
bt_owned_free(void *p)
{
    bt_owned *o = p;

    if (o == NULL) {
        return;
    }
    kt_features_free(&o->feat);
    kt_mlp_work_free(o->work);
    kt_model_free(o->model);
    free(o);
}

static void
bt_mlp_one(void *ctx, const float *x, float out[KT_NCLASSES])
{
    const bt_owned *o = ctx;

    kt_mlp_logits(kt_model_mlp(o->model), x, out);
}

// The inference forward over a block (no rng: no dropout). Writes logits.
static void
bt_mlp_batch(void *ctx, const float *x, size_t n, float *out)
{
    bt_owned *o = ctx;

    kt_mlp_forward(kt_model_mlp(o->model), o->work, x, n, NULL, out);
}

// bt_open_parts loads the model, builds the features and checks that they
// fit together.
static kt_err
bt_open_parts(bt_owned *o, const char *model_dir, const kt_strategy *s,
              const kt_ohlcv *bars, char *err, size_t errlen)
{
    kt_err rv;

    if ((rv = kt_model_load(model_dir, &o->model, err, errlen)) != KT_OK) {
        return rv;
    }
    if ((rv = kt_features_build(s, bars, &o->feat, err, errlen)) != KT_OK) {
        return rv;
    }
    rv = kt_model_check_features(o->model, o->feat.names, o->feat.n_cols, err,
                                 errlen);
    if (rv != KT_OK) {
        return rv;
    }
    if ((rv = kt_mlp_work_alloc(kt_model_mlp(o->model), KT__BT_BLOCK,
                                &o->work)) != KT_OK) {
        kt__bt_errf(err, errlen, "backtest: out of memory");
    }
    return rv;
}

kt_err
kt_backtest_open(const char *model_dir, const kt_strategy *s,
                 const kt_ohlcv *bars, const kt_bt_config *cfg,
                 kt_backtest **out, char *err, size_t errlen)
{
    bt_owned *o;
    kt_bt_config c;
    kt_bt_data d;
    kt_bt_model m = {bt_mlp_one, bt_mlp_batch, NULL, true};
    kt_backtest *bt;
    kt_err rv;

    if (model_dir == NULL || s == NULL || bars == NULL) {
        kt__bt_errf(err, errlen,
                    "backtest: model dir, strategy and bars "
                    "are required");
        return KT_EINVAL;
    }
    if ((o = calloc(1, sizeof(*o))) == NULL) {
        kt__bt_errf(err, errlen, "backtest: out of memory");
        return KT_ENOMEM;
    }
    if ((rv = bt_open_parts(o, model_dir, s, bars, err, errlen)) != KT_OK) {
        goto fail;
    }
    if (cfg != NULL) {
        c = *cfg;
    } else {
        kt_bt_config_default(&c);
        kt_bt_config_from_strategy(&c, s);
        if (bars->timeframe[0] != '\0') {
            (void)snprintf(c.timeframe, sizeof(c.timeframe), "%s",
                           bars->timeframe);
        }
        if (bars->symbol[0] != '\0') {
            (void)snprintf(c.symbol, sizeof(c.symbol), "%s", bars->symbol);
        }
    }
    (void)snprintf(c.model_path, sizeof(c.model_path), "%s", model_dir);
    d = (kt_bt_data){bars->n,     bars->time, bars->open,
                     bars->close, o->feat.x,  o->feat.n_cols};
    m.ctx = o;
    if ((rv = kt_backtest_new(&c, &d, &m, &bt, err, errlen)) != KT_OK) {
        goto fail;
    }
    bt->owned = o;
    bt->owned_free = bt_owned_free;
    *out = bt;
    return KT_OK;
fail:
    bt_owned_free(o);
    return rv;
}
