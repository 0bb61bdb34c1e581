// test_trainer.c: configuration checks, splits and class weights, the
// criterion's gradients, learning, determinism and bit-identical resume
// from every kind of epoch boundary (the checkpoint decoder's error paths:
// test_trainer_import.c).
#include "trainer_fx.h"

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
    cr_expect_eq(tm.first_train_loss, first.train_loss);
    cr_expect_eq(tm.final_train_loss, s.train_loss);
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

static void
run_to_end(kt_trainer *t)
{
    while (!kt_trainer_done(t)) {
        cr_assert_eq(kt_trainer_run_epoch(t, NULL), KT_OK);
    }
}

static int
same_params(const kt_mlp *a, const kt_mlp *b)
{
    return kt_mlp_n_params(a) == kt_mlp_n_params(b) &&
           memcmp(kt_mlp_params_const(a), kt_mlp_params_const(b),
                  kt_mlp_n_params(a) * sizeof(float)) == 0;
}

Test(trainer, same_seed_same_weights_other_seed_other_weights)
{
    data d = make_data(300, 5, 2);
    kt_mlp_cfg m = mcfg(5);
    kt_train_cfg c = tcfg(3);
    kt_trainer *a = new_ok(&m, &c, &d), *b = new_ok(&m, &c, &d);
    c.seed = 8;
    kt_trainer *e = new_ok(&m, &c, &d);
    run_to_end(a), run_to_end(b), run_to_end(e);
    cr_expect(same_params(kt_trainer_live_model(a), kt_trainer_live_model(b)));
    cr_expect(!same_params(kt_trainer_live_model(a), kt_trainer_live_model(e)));
    kt_trainer_free(a), kt_trainer_free(b), kt_trainer_free(e);
    free_data(&d);
}

static kt_trainer *
reimport(kt_trainer *t, const data *d)
{
    uint8_t *buf;
    size_t len;
    char err[200] = "";
    cr_assert_eq(kt_trainer_export(t, &buf, &len), KT_OK);
    kt_trainer_free(t);
    kt_trainer *r = NULL;
    cr_assert_eq(kt_trainer_import(&d->f, d->y, buf, len, &r, err, 200), KT_OK,
                 "%s", err);
    free(buf);
    return r;
}

Test(trainer, resume_after_any_epoch_is_bit_identical)
{
    data d = make_data(500, 6, 4);
    kt_mlp_cfg m = mcfg(6);
    kt_train_cfg c = tcfg(6);
    kt_trainer *ref = new_ok(&m, &c, &d);
    run_to_end(ref);
    uint8_t *rb;
    size_t rl;
    cr_assert_eq(kt_trainer_export(ref, &rb, &rl), KT_OK);
    const int ks[] = {0, 1, 3, 5};
    for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
        kt_trainer *t = new_ok(&m, &c, &d);
        for (int e = 0; e < ks[i]; e++) {
            cr_assert_eq(kt_trainer_run_epoch(t, NULL), KT_OK);
        }
        t = reimport(t, &d);
        cr_expect_eq(kt_trainer_epoch(t), ks[i]);
        run_to_end(t);
        cr_expect(
            same_params(kt_trainer_live_model(t), kt_trainer_live_model(ref)),
            "live weights differ after resume at epoch %d", ks[i]);
        cr_expect(same_params(kt_trainer_model(t), kt_trainer_model(ref)));
        uint8_t *b;
        size_t l;
        cr_assert_eq(kt_trainer_export(t, &b, &l), KT_OK);
        cr_expect(l == rl && memcmp(b, rb, l) == 0,
                  "whole state identical after resume at epoch %d", ks[i]);
        free(b);
        kt_trainer_free(t);
    }
    free(rb);
    kt_trainer_free(ref);
    free_data(&d);
}

Test(trainer, slices_equal_whole_epochs_and_mid_epoch_is_not_exportable)
{
    data d = make_data(400, 4, 6);
    kt_mlp_cfg m = mcfg(4);
    kt_train_cfg c = tcfg(2);
    kt_trainer *a = new_ok(&m, &c, &d), *b = new_ok(&m, &c, &d);
    run_to_end(a);
    int done = 0, epochs = 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    cr_expect_eq(kt_trainer_run_batches(b, 0, &done, NULL), KT_EINVAL);
    while (!kt_trainer_done(b)) {
        cr_assert_eq(kt_trainer_run_batches(b, 3, &done, NULL), KT_OK);
        if (!done) {
            cr_expect(kt_trainer_batch_cursor(b) > 0);
            cr_expect_eq(kt_trainer_export(b, &buf, &len), KT_ESTATE);
            cr_expect_null(buf);
        }
        epochs += done;
    }
    cr_expect_eq(epochs, 2);
    cr_expect(same_params(kt_trainer_live_model(a), kt_trainer_live_model(b)));
    size_t n;
    const kt_epoch_stats *h = kt_trainer_history(b, &n);
    cr_expect(n == 2 && h[1].epoch == 2);
    cr_expect_eq(kt_trainer_run_batches(b, 1, &done, NULL), KT_ESTATE);
    kt_trainer_free(a), kt_trainer_free(b);
    free_data(&d);
}

Test(trainer, final_model_is_a_copy_of_the_best_validation_epoch)
{
    data d = make_data(300, 4, 8);
    kt_mlp_cfg m = mcfg(4);
    kt_train_cfg c = tcfg(12);
    c.learning_rate = 0.05; // noisy enough for the best to move around
    kt_trainer *t = new_ok(&m, &c, &d);
    kt_mlp *snap[12];
    for (int e = 0; e < 12; e++) {
        cr_assert_eq(kt_trainer_run_epoch(t, NULL), KT_OK);
        cr_assert_eq(kt_mlp_clone(kt_trainer_live_model(t), &snap[e]), KT_OK);
    }
    size_t n;
    const kt_epoch_stats *h = kt_trainer_history(t, &n);
    int best = 0;
    for (int e = 1; e < 12; e++) {
        best = h[e].val_loss < h[best].val_loss ? e : best;
    }
    kt_train_metrics tm;
    kt_trainer_metrics(t, &tm, NULL);
    cr_expect_eq(tm.best_epoch, best + 1);
    cr_expect_eq(tm.best_val_loss, h[best].val_loss);
    cr_expect_eq(tm.final_val_loss, h[11].val_loss);
    cr_expect(same_params(kt_trainer_model(t), snap[best]));
    if (best != 11) {
        cr_expect(!same_params(kt_trainer_model(t), kt_trainer_live_model(t)));
    }
    for (int e = 0; e < 12; e++) {
        kt_mlp_free(snap[e]);
    }
    kt_trainer_free(t);
    free_data(&d);
}
