// trainer_fx.h: what the trainer tests share (header-only): a noisy linear
// data set and small network / training configurations.
#ifndef KT_TESTS_TRAINER_FX_H
#define KT_TESTS_TRAINER_FX_H

#include <ktpb/v1/train.pb-c.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "domain/model.h"
#include "domain/trainer.h"
#include "domain/trainer_impl.h"

typedef struct data {
    kt_features f;
    uint8_t *y;
} data;

// Labels from a noisy linear rule on deterministic pseudo-random features.
static inline data
make_data(size_t rows, size_t cols, unsigned seed)
{
    data d = {.f = {.n_rows = rows, .n_cols = cols}};
    d.f.x = malloc(rows * cols * sizeof(float) + 1);
    d.y = malloc(rows + 1);
    cr_assert(d.f.x && d.y);
    unsigned s = seed;
    for (size_t i = 0; i < rows; i++) {
        double score = 0;
        for (size_t j = 0; j < cols; j++) {
            s = s * 1664525u + 1013904223u;
            float v = (float)(s >> 8) / 16777216.0f;
            d.f.x[i * cols + j] = v;
            score += (j % 2 ? -1.0 : 1.0) * v;
        }
        s = s * 1664525u + 1013904223u;
        score += ((s >> 8) / 16777216.0 - 0.5) * 0.2;
        d.y[i] = score > 0.25 ? KT_BUY : score < -0.25 ? KT_SELL : KT_HOLD;
    }
    return d;
}

static inline void
free_data(data *d)
{
    free(d->f.x);
    free(d->y);
}

static inline kt_mlp_cfg
mcfg(int in)
{
    kt_mlp_cfg c = {.n_inputs = in,
                    .n_hidden = 2,
                    .hidden = {16, 8},
                    .activation = KT_ACT_RELU,
                    .dropout = 0.2};
    return c;
}

static inline kt_train_cfg
tcfg(int epochs)
{
    kt_train_cfg c = {.epochs = epochs,
                      .learning_rate = 0.01,
                      .batch_size = 32,
                      .loss = KT_LOSS_CROSS_ENTROPY,
                      .focal_gamma = 2.0,
                      .weight_decay = 1e-4,
                      .grad_clip = 1.0,
                      .train_frac = 0.7,
                      .val_frac = 0.15,
                      .seed = 7};
    return c;
}

static inline kt_trainer *
new_ok(const kt_mlp_cfg *m, const kt_train_cfg *t, const data *d)
{
    kt_trainer *tr = NULL;
    char err[200] = "";
    kt_err rv = kt_trainer_new(m, t, &d->f, d->y, &tr, err, sizeof(err));
    cr_assert_eq(rv, KT_OK, "%s", err);
    return tr;
}

#endif // KT_TESTS_TRAINER_FX_H
