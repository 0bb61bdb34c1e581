// trainer.c: the training loop of trainer.h: splits, class weights, the
// weighted cross-entropy / focal criterion, Adam with grad-norm clip,
// per-epoch validation and best-weights keeping. The checkpoint codec lives
// in trainer_state.c, the final metrics in trainer_metrics.c.
#include "domain/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kt/vec.h>

#include "domain/trainer_impl.h"

#define TRAINER_EVAL_ROWS 512

static kt_err
trainer_fail(char *err, size_t errlen, const char *msg)
{
    if (errlen > 0) {
        snprintf(err, errlen, "trainer: %s", msg);
    }
    return KT_EINVAL;
}

static kt_err
trainer_check_cfg(const kt_train_cfg *c, char *err, size_t errlen)
{
    if (c->epochs < 0) {
        return trainer_fail(err, errlen, "epochs must be >= 0");
    }
    if (!(c->learning_rate > 0.0 && isfinite(c->learning_rate))) {
        return trainer_fail(err, errlen, "learning_rate must be > 0");
    }
    if (c->batch_size < 1 || c->batch_size > 1 << 20) {
        return trainer_fail(err, errlen, "batch_size must be in [1, 2^20]");
    }
    if (c->loss != KT_LOSS_CROSS_ENTROPY && c->loss != KT_LOSS_FOCAL) {
        return trainer_fail(err, errlen, "loss must be cross_entropy|focal");
    }
    if (!(c->focal_gamma >= 0.0 && c->focal_gamma <= 100.0) ||
        !(c->weight_decay >= 0.0 && isfinite(c->weight_decay)) ||
        !(c->grad_clip >= 0.0 && isfinite(c->grad_clip))) {
        return trainer_fail(err, errlen,
                            "focal_gamma, weight_decay and grad_clip must be "
                            "finite and >= 0");
    }
    if (!(c->train_frac > 0.0 && c->val_frac > 0.0 &&
          c->train_frac + c->val_frac <= 1.0)) {
        return trainer_fail(err, errlen,
                            "train_frac, val_frac must be > 0 with a sum <= 1");
    }
    return KT_OK;
}

// Inverse class frequency on the training labels, normalised to sum to the
// class count. A class absent from the training split gets the weight of
// the rarest present class (it has no training sample; the weight only
// matters for validation rows of that class).
static void
trainer_class_weights(const uint8_t *y, size_t n, double w[KT_NCLASSES])
{
    size_t cnt[KT_NCLASSES] = {0};
    for (size_t i = 0; i < n; i++) {
        cnt[y[i]]++;
    }
    double mx = 0.0, sum = 0.0;
    for (int c = 0; c < KT_NCLASSES; c++) {
        w[c] = cnt[c] > 0 ? 1.0 / (double)cnt[c] : 0.0;
        mx = w[c] > mx ? w[c] : mx;
    }
    for (int c = 0; c < KT_NCLASSES; c++) {
        w[c] = cnt[c] > 0 ? w[c] : mx;
        sum += w[c];
    }
    for (int c = 0; c < KT_NCLASSES; c++) {
        w[c] = w[c] * KT_NCLASSES / sum;
    }
}

kt_err
kt__trainer_build(const kt_mlp_cfg *mcfg, const kt_train_cfg *tcfg,
                  const kt_features *f, const uint8_t *labels, kt_trainer **out,
                  char *err, size_t errlen)
{
    kt_err rv;
    if ((rv = kt_mlp_cfg_check(mcfg, err, errlen)) != KT_OK ||
        (rv = trainer_check_cfg(tcfg, err, errlen)) != KT_OK) {
        return rv;
    }
    if (f == NULL || labels == NULL || (f->x == NULL && f->n_rows > 0)) {
        return trainer_fail(err, errlen, "no features or labels");
    }
    if ((size_t)mcfg->n_inputs != f->n_cols) {
        if (errlen > 0) {
            snprintf(err, errlen,
                     "trainer: the network has %d inputs but the features "
                     "have %zu columns",
                     mcfg->n_inputs, f->n_cols);
        }
        return KT_EINVAL;
    }
    if (f->n_rows > UINT32_MAX) {
        return trainer_fail(err, errlen, "more than 2^32 rows");
    }
    size_t n_train = (size_t)floor((double)f->n_rows * tcfg->train_frac);
    size_t n_val = (size_t)floor((double)f->n_rows * tcfg->val_frac);
    if (n_train == 0 || n_val == 0 || n_train + n_val > f->n_rows) {
        return trainer_fail(err, errlen,
                            "too few rows for a train and validation split");
    }
    for (size_t i = 0; i < f->n_rows; i++) {
        if (labels[i] >= KT_NCLASSES) {
            if (errlen > 0) {
                snprintf(err, errlen, "trainer: label %u at row %zu", labels[i],
                         i);
            }
            return KT_EINVAL;
        }
    }
    kt_trainer *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return KT_ENOMEM;
    }
    t->mcfg = *mcfg;
    t->tcfg = *tcfg;
    t->n_rows = f->n_rows;
    t->n_cols = f->n_cols;
    t->n_train = n_train;
    t->n_val = n_val;
    t->n_test = f->n_rows - n_train - n_val;
    t->nb = (n_train + (size_t)tcfg->batch_size - 1) / (size_t)tcfg->batch_size;
    t->best_val_loss = INFINITY;
    trainer_class_weights(labels, n_train, t->cw);
    if ((rv = kt__trainer_alloc_buffers(t, f, labels)) != KT_OK) {
        kt_trainer_free(t);
        return rv;
    }
    *out = t;
    return KT_OK;
}

kt_err
kt__trainer_alloc_buffers(kt_trainer *t, const kt_features *f,
                          const uint8_t *labels)
{
    size_t bs = (size_t)t->tcfg.batch_size;
    size_t rows = bs > TRAINER_EVAL_ROWS ? bs : TRAINER_EVAL_ROWS;
    kt_err rv;
    if ((rv = kt_mlp_alloc(&t->mcfg, &t->net)) != KT_OK ||
        (rv = kt_mlp_alloc(&t->mcfg, &t->best)) != KT_OK ||
        (rv = kt_mlp_work_alloc(t->net, rows, &t->work)) != KT_OK) {
        return rv;
    }
    size_t np = kt_mlp_n_params(t->net);
    t->work_rows = rows;
    t->x = malloc(t->n_rows * t->n_cols * sizeof(float) + 1);
    t->y = malloc(t->n_rows + 1);
    t->grad = calloc(np, sizeof(float));
    t->m = calloc(np, sizeof(float));
    t->v = calloc(np, sizeof(float));
    t->perm = malloc(t->n_train * sizeof(uint32_t));
    t->xb = malloc(bs * t->n_cols * sizeof(float));
    t->yb = malloc(bs);
    t->logits = malloc(rows * KT_NCLASSES * sizeof(float));
    t->dlogits = malloc(rows * KT_NCLASSES * sizeof(float));
    t->hist_cap = (size_t)t->tcfg.epochs + 1;
    t->hist = calloc(t->hist_cap, sizeof(kt_epoch_stats));
    if (!t->x || !t->y || !t->grad || !t->m || !t->v || !t->perm || !t->xb ||
        !t->yb || !t->logits || !t->dlogits || !t->hist) {
        return KT_ENOMEM;
    }
    if (t->n_rows > 0) {
        memcpy(t->x, f->x, t->n_rows * t->n_cols * sizeof(float));
        memcpy(t->y, labels, t->n_rows);
    }
    return KT_OK;
}

kt_err
kt_trainer_new(const kt_mlp_cfg *mcfg, const kt_train_cfg *tcfg,
               const kt_features *f, const uint8_t *labels, kt_trainer **out,
               char *err, size_t errlen)
{
    kt_trainer *t;
    kt_err rv = kt__trainer_build(mcfg, tcfg, f, labels, &t, err, errlen);
    if (rv != KT_OK) {
        return rv;
    }
    kt_rng_seed(&t->rng, tcfg->seed);
    kt_mlp_init(t->net, &t->rng);
    *out = t;
    return KT_OK;
}

void
kt_trainer_free(kt_trainer *t)
{
    if (t == NULL) {
        return;
    }
    kt_mlp_free(t->net);
    kt_mlp_free(t->best);
    kt_mlp_work_free(t->work);
    free(t->x), free(t->y), free(t->grad), free(t->m), free(t->v);
    free(t->perm), free(t->xb), free(t->yb), free(t->logits), free(t->dlogits);
    free(t->hist);
    free(t);
}

// Loss sums over n rows: num / den is the criterion. Weighted CE: num =
// sum w_y * ce, den = sum w_y; focal: num = sum w_y (1 - p_y)^g ce, den = n;
// w == NULL: plain CE. With dz != NULL also writes d(num/den)/dz given
// den_total. Adds argmax hits to *correct.
void
kt__trainer_criterion(const kt_trainer *t, const double *w, const float *z,
                      const uint8_t *y, size_t n, double den_total, float *dz,
                      double *num, double *den, size_t *correct)
{
    int focal = w != NULL && t->tcfg.loss == KT_LOSS_FOCAL;
    double gamma = t->tcfg.focal_gamma;
    for (size_t i = 0; i < n; i++) {
        const float *zi = z + i * KT_NCLASSES;
        int yi = y[i];
        double mx = fmax(zi[0], fmax(zi[1], zi[2])), s = 0.0, p[3];
        for (int c = 0; c < KT_NCLASSES; c++) {
            p[c] = exp(zi[c] - mx);
            s += p[c];
        }
        double ce = -((zi[yi] - mx) - log(s)), q = 0.0;
        for (int c = 0; c < KT_NCLASSES; c++) {
            p[c] /= s;
            q += c == yi ? 0.0 : p[c]; // 1 - p_y without cancellation
        }
        double wy = w != NULL ? w[yi] : 1.0, coef = wy;
        if (focal) {
            double fw = pow(q, gamma);
            double dfw =
                q > 0.0 && gamma > 0.0 ? gamma * pow(q, gamma - 1.0) : 0.0;
            *num += wy * fw * ce;
            *den += 1.0;
            coef = wy * (dfw * p[yi] * ce + fw);
        } else {
            *num += wy * ce;
            *den += wy;
        }
        *correct += kt_mlp_argmax(zi) == yi;
        if (dz != NULL) {
            for (int c = 0; c < KT_NCLASSES; c++) {
                double g = coef * (p[c] - (c == yi)) / den_total;
                dz[i * KT_NCLASSES + c] = (float)g;
            }
        }
    }
}

// One mini-batch: forward with dropout, criterion, backward, clip, Adam.
static void
trainer_batch(kt_trainer *t)
{
    size_t bs = (size_t)t->tcfg.batch_size, start = t->cursor * bs;
    size_t n = t->n_train - start < bs ? t->n_train - start : bs;
    uint8_t *ybp = t->yb;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = t->perm[start + i];
        memcpy(t->xb + i * t->n_cols, t->x + (size_t)r * t->n_cols,
               t->n_cols * sizeof(float));
        ybp[i] = t->y[r];
    }
    kt_mlp_forward(t->net, t->work, t->xb, n, &t->rng, t->logits);
    double den = 0.0, num = 0.0, d2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        den += t->tcfg.loss == KT_LOSS_FOCAL ? 1.0 : t->cw[ybp[i]];
    }
    kt__trainer_criterion(t, t->cw, t->logits, ybp, n, den, t->dlogits, &num,
                          &d2, &t->correct);
    t->loss_sum += num / den;
    t->seen += n;
    size_t np = kt_mlp_n_params(t->net);
    kt_mlp_backward(t->net, t->work, t->dlogits, t->grad);
    if (t->tcfg.grad_clip > 0.0) { // torch.nn.utils.clip_grad_norm_
        double norm = sqrt(kt_vec_sumsq(t->grad, np));
        double coef = t->tcfg.grad_clip / (norm + 1e-6);
        if (coef < 1.0) {
            kt_vec_scale(t->grad, np, (float)coef);
        }
    }
    t->step++;
    double b1 = 0.9, b2 = 0.999;
    kt_vec_adam ad = {
        .beta1 = (float)b1,
        .beta2 = (float)b2,
        .eps = 1e-8f,
        .weight_decay = (float)t->tcfg.weight_decay,
        .step_size =
            (float)(t->tcfg.learning_rate / (1.0 - pow(b1, (double)t->step))),
        .bc2_sqrt = (float)sqrt(1.0 - pow(b2, (double)t->step)),
    };
    kt_vec_adam_step(&ad, np, kt_mlp_params(t->net), t->grad, t->m, t->v);
    t->cursor++;
}

// Loss and accuracy of net over rows [from, from + n), in chunks.
void
kt__trainer_eval(const kt_trainer *t, const kt_mlp *net, size_t from, size_t n,
                 const double *w, double *loss, double *acc)
{
    double num = 0.0, den = 0.0;
    size_t correct = 0;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < t->work_rows ? n - done : t->work_rows;
        size_t r = from + done;
        kt_mlp_forward(net, t->work, t->x + r * t->n_cols, k, NULL, t->logits);
        kt__trainer_criterion(t, w, t->logits, t->y + r, k, 1.0, NULL, &num,
                              &den, &correct);
        done += k;
    }
    *loss = den > 0.0 ? num / den : 0.0;
    *acc = n > 0 ? (double)correct / (double)n : 0.0;
}

static void
trainer_end_epoch(kt_trainer *t, kt_epoch_stats *stats)
{
    kt_epoch_stats s = {.epoch = t->epoch + 1};
    s.train_loss = t->loss_sum / (double)t->nb;
    s.train_accuracy = (double)t->correct / (double)t->seen;
    kt__trainer_eval(t, t->net, t->n_train, t->n_val, t->cw, &s.val_loss,
                     &s.val_accuracy);
    if (s.val_loss < t->best_val_loss) { // a real copy, not an alias
        t->best_val_loss = s.val_loss;
        t->best_epoch = s.epoch;
        memcpy(kt_mlp_params(t->best), kt_mlp_params_const(t->net),
               kt_mlp_n_params(t->net) * sizeof(float));
    }
    t->hist[t->epoch] = s;
    t->epoch++;
    t->cursor = 0;
    if (stats != NULL) {
        *stats = s;
    }
}

kt_err
kt_trainer_run_batches(kt_trainer *t, size_t max_batches, int *epoch_done,
                       kt_epoch_stats *stats)
{
    if (max_batches == 0) {
        return KT_EINVAL;
    }
    if (kt_trainer_done(t)) {
        return KT_ESTATE;
    }
    if (t->cursor == 0) { // a new epoch: fresh order, fresh accumulators
        for (size_t i = 0; i < t->n_train; i++) {
            t->perm[i] = (uint32_t)i;
        }
        kt_rng_shuffle(&t->rng, t->perm, t->n_train);
        t->loss_sum = 0.0;
        t->correct = 0;
        t->seen = 0;
    }
    for (size_t b = 0; b < max_batches && t->cursor < t->nb; b++) {
        trainer_batch(t);
    }
    *epoch_done = t->cursor == t->nb;
    if (*epoch_done) {
        trainer_end_epoch(t, stats);
    }
    return KT_OK;
}

kt_err
kt_trainer_run_epoch(kt_trainer *t, kt_epoch_stats *stats)
{
    int done = 0;
    return kt_trainer_run_batches(t, t->nb, &done, stats);
}

int
kt_trainer_epoch(const kt_trainer *t)
{
    return t->epoch;
}

int
kt_trainer_done(const kt_trainer *t)
{
    return t->epoch >= t->tcfg.epochs;
}

size_t
kt_trainer_batches_per_epoch(const kt_trainer *t)
{
    return t->nb;
}

size_t
kt_trainer_batch_cursor(const kt_trainer *t)
{
    return t->cursor;
}

const kt_epoch_stats *
kt_trainer_history(const kt_trainer *t, size_t *n)
{
    *n = (size_t)t->epoch;
    return t->hist;
}

void
kt_trainer_split(const kt_trainer *t, size_t *n_train, size_t *n_val,
                 size_t *n_test)
{
    *n_train = t->n_train;
    *n_val = t->n_val;
    *n_test = t->n_test;
}

const double *
kt_trainer_class_weights(const kt_trainer *t)
{
    return t->cw;
}

const kt_mlp *
kt_trainer_model(const kt_trainer *t)
{
    return t->best_epoch > 0 ? t->best : t->net;
}

const kt_mlp *
kt_trainer_live_model(const kt_trainer *t)
{
    return t->net;
}
