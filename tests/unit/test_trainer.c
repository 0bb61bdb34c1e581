// test_trainer.c: configuration checks, splits and class weights, the
// criterion's gradients, learning, determinism, bit-identical resume from
// every kind of epoch boundary, and the checkpoint decoder's error paths.
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
static data
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

static void
free_data(data *d)
{
    free(d->f.x);
    free(d->y);
}

static kt_mlp_cfg
mcfg(int in)
{
    kt_mlp_cfg c = {.n_inputs = in,
                    .n_hidden = 2,
                    .hidden = {16, 8},
                    .activation = KT_ACT_RELU,
                    .dropout = 0.2};
    return c;
}

static kt_train_cfg
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

static kt_trainer *
new_ok(const kt_mlp_cfg *m, const kt_train_cfg *t, const data *d)
{
    kt_trainer *tr = NULL;
    char err[200] = "";
    kt_err rv = kt_trainer_new(m, t, &d->f, d->y, &tr, err, sizeof(err));
    cr_assert_eq(rv, KT_OK, "%s", err);
    return tr;
}

Test(trainer, new_rejects_bad_configs_and_data)
{
    data d = make_data(100, 4, 1);
    kt_mlp_cfg m = mcfg(4);
    kt_train_cfg good = tcfg(2), bad[10];
    for (int i = 0; i < 10; i++) {
        bad[i] = good;
    }
    bad[0].epochs = -1;
    bad[1].learning_rate = 0;
    bad[2].batch_size = 0;
    bad[3].loss = (kt_loss_kind)9;
    bad[4].focal_gamma = -1;
    bad[5].weight_decay = NAN;
    bad[6].grad_clip = -1;
    bad[7].train_frac = 0;
    bad[8].val_frac = 0.5;     // 0.7 + 0.5 > 1
    bad[9].train_frac = 0.001; // floor(100 * 0.001) = 0 rows
    char err[200];
    kt_trainer *t = NULL;
    for (int i = 0; i < 10; i++) {
        err[0] = 0;
        cr_expect_eq(kt_trainer_new(&m, &bad[i], &d.f, d.y, &t, err, 200),
                     KT_EINVAL, "case %d", i);
        cr_expect(strlen(err) > 0, "case %d has a message", i);
        cr_expect_null(t);
    }
    kt_mlp_cfg wrong = mcfg(5);
    cr_expect_eq(kt_trainer_new(&wrong, &good, &d.f, d.y, &t, err, 200),
                 KT_EINVAL);
    cr_expect(strstr(err, "5 inputs") && strstr(err, "4 columns"), "%s", err);
    wrong = m;
    wrong.dropout = 1.5;
    cr_expect_eq(kt_trainer_new(&wrong, &good, &d.f, d.y, &t, err, 200),
                 KT_EINVAL);
    d.y[42] = 3;
    cr_expect_eq(kt_trainer_new(&m, &good, &d.f, d.y, &t, err, 200), KT_EINVAL);
    cr_expect(strstr(err, "row 42") != NULL, "%s", err);
    cr_expect_eq(kt_trainer_new(&m, &good, NULL, d.y, &t, err, 200), KT_EINVAL);
    cr_expect_null(t);
    free_data(&d);
}

Test(trainer, splits_in_time_order_and_weights_inverse_frequency)
{
    data d = make_data(100, 4, 1);
    for (int i = 0; i < 100; i++) { // train: 10 BUY, 20 HOLD, 40 SELL
        d.y[i] = i < 10 ? KT_BUY : i < 30 ? KT_HOLD : i < 70 ? KT_SELL : 0;
    }
    kt_mlp_cfg m = mcfg(4);
    kt_train_cfg c = tcfg(1);
    kt_trainer *t = new_ok(&m, &c, &d);
    size_t a, b, e;
    kt_trainer_split(t, &a, &b, &e);
    cr_expect(a == 70 && b == 15 && e == 15);
    cr_expect_eq(kt_trainer_batches_per_epoch(t), 3); // 32 + 32 + 6
    const double *w = kt_trainer_class_weights(t);
    double inv = 1 / 10.0 + 1 / 20.0 + 1 / 40.0;
    cr_expect(fabs(w[0] - 3 * (1 / 10.0) / inv) < 1e-12);
    cr_expect(fabs(w[2] - 3 * (1 / 40.0) / inv) < 1e-12);
    cr_expect(fabs(w[0] + w[1] + w[2] - 3) < 1e-12);
    kt_trainer_free(t);
    for (int i = 0; i < 70; i++) { // SELL absent: gets BUY's (rarest) weight
        d.y[i] = i < 10 ? KT_BUY : KT_HOLD;
    }
    t = new_ok(&m, &c, &d);
    w = kt_trainer_class_weights(t);
    cr_expect(fabs(w[2] - w[0]) < 1e-12 && w[0] > w[1]);
    cr_expect(fabs(w[0] + w[1] + w[2] - 3) < 1e-12);
    kt_trainer_free(t);
    free_data(&d);
}

// d(num/den)/dz from kt__trainer_criterion against central differences.
static void
criterion_check(kt_loss_kind kind, double gamma, int weighted)
{
    data d = make_data(40, 4, 3);
    kt_mlp_cfg m = mcfg(4);
    kt_train_cfg c = tcfg(1);
    c.loss = kind;
    c.focal_gamma = gamma;
    kt_trainer *t = new_ok(&m, &c, &d);
    const double *w = weighted ? kt_trainer_class_weights(t) : NULL;
    float z[8 * 3], dz[8 * 3];
    for (int i = 0; i < 24; i++) {
        z[i] = (float)sin(i * 2.1) * 2;
    }
    double num = 0, den = 0;
    size_t ok = 0;
    kt__trainer_criterion(t, w, z, d.y, 8, 1.0, NULL, &num, &den, &ok);
    double den_total = den;
    num = den = 0;
    kt__trainer_criterion(t, w, z, d.y, 8, den_total, dz, &num, &den, &ok);
    for (int i = 0; i < 24; i++) {
        float z0 = z[i];
        double h = 1e-2, lp = 0, lm = 0, dd = 0;
        z[i] = z0 + (float)h;
        kt__trainer_criterion(t, w, z, d.y, 8, 1, NULL, &lp, &dd, &ok);
        z[i] = z0 - (float)h;
        dd = 0;
        kt__trainer_criterion(t, w, z, d.y, 8, 1, NULL, &lm, &dd, &ok);
        z[i] = z0;
        double fd = (lp - lm) / (2 * h) / den_total;
        cr_expect(fabs(dz[i] - fd) < 1e-4 + 1e-3 * fabs(fd),
                  "kind %d gamma %g z[%d]: %g vs %g", kind, gamma, i, dz[i],
                  fd);
    }
    kt_trainer_free(t);
    free_data(&d);
}

Test(trainer, criterion_gradients_match_finite_differences)
{
    criterion_check(KT_LOSS_CROSS_ENTROPY, 0, 1);
    criterion_check(KT_LOSS_CROSS_ENTROPY, 0, 0);
    criterion_check(KT_LOSS_FOCAL, 2.0, 1);
    criterion_check(KT_LOSS_FOCAL, 0.5, 1);
}

Test(trainer, learns_a_separable_rule)
{
    data d = make_data(1200, 6, 5);
    kt_mlp_cfg m = mcfg(6);
    kt_train_cfg c = tcfg(15);
    kt_trainer *t = new_ok(&m, &c, &d);
    kt_epoch_stats first, s;
    cr_assert_eq(kt_trainer_run_epoch(t, &first), KT_OK);
    while (!kt_trainer_done(t)) {
        cr_assert_eq(kt_trainer_run_epoch(t, &s), KT_OK);
    }
    cr_expect_eq(s.epoch, 15);
    cr_expect(s.train_loss < first.train_loss, "%g -> %g", first.train_loss,
              s.train_loss);
    cr_expect(s.val_accuracy > 0.7, "val accuracy %g", s.val_accuracy);
    kt_train_metrics tm;
    kt_test_metrics te;
    kt_trainer_metrics(t, &tm, &te);
    cr_expect_eq(tm.epochs_trained, 15);
    cr_expect_eq(te.n_samples, 180);
    cr_expect(te.accuracy > 0.7, "test accuracy %g", te.accuracy);
    cr_expect(te.precision > 0.6 && te.precision <= 1.0);
    cr_expect(te.recall > 0.6 && te.recall <= 1.0);
    cr_expect(te.f1 > 0.6 && te.f1 <= 1.0);
    // Weighted recall equals accuracy (sklearn identity).
    cr_expect(fabs(te.recall - te.accuracy) < 1e-12);
    cr_expect_eq(kt_trainer_run_epoch(t, &s), KT_ESTATE);
    kt_trainer_free(t);
    free_data(&d);
}

Test(trainer, test_metrics_match_a_recount_with_predict)
{
    data d = make_data(400, 4, 9);
    kt_mlp_cfg m = mcfg(4);
    kt_train_cfg c = tcfg(3);
    kt_trainer *t = new_ok(&m, &c, &d);
    while (!kt_trainer_done(t)) {
        cr_assert_eq(kt_trainer_run_epoch(t, NULL), KT_OK);
    }
    kt_test_metrics te;
    kt_trainer_metrics(t, NULL, &te);
    size_t from = 280 + 60, hit = 0;
    double loss = 0;
    for (size_t i = from; i < 400; i++) {
        float p[3];
        kt_mlp_predict(kt_trainer_model(t), d.f.x + i * 4, p);
        hit += kt_mlp_argmax(p) == d.y[i];
        loss += -log(p[d.y[i]]);
    }
    cr_expect_eq(te.n_samples, 60);
    cr_expect(fabs(te.accuracy - hit / 60.0) < 1e-12);
    cr_expect(fabs(te.loss - loss / 60) < 1e-5);
    kt_trainer_free(t);
    free_data(&d);
}
