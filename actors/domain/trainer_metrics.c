// trainer_metrics.c: a trainer's final metrics (trainer.h): the training
// history summed up, and loss, accuracy and support-weighted precision,
// recall and F1 on the test split.
#include <math.h>
#include <string.h>

#include "domain/trainer.h"
#include "domain/trainer_impl.h"

// Support-weighted precision / recall / F1 from a confusion matrix
// (sklearn's average="weighted"; 0 where a class has no prediction).
static void
trainer_prf(size_t cm[KT_NCLASSES][KT_NCLASSES], kt_test_metrics *m)
{
    double total = 0.0;
    for (int c = 0; c < KT_NCLASSES; c++) {
        double tp = (double)cm[c][c], support = 0.0, predicted = 0.0;
        for (int k = 0; k < KT_NCLASSES; k++) {
            support += (double)cm[c][k];
            predicted += (double)cm[k][c];
        }
        if (support == 0.0) {
            continue;
        }
        double p = predicted > 0.0 ? tp / predicted : 0.0;
        double r = tp / support;
        double f = p + r > 0.0 ? 2.0 * p * r / (p + r) : 0.0;
        m->precision += support * p;
        m->recall += support * r;
        m->f1 += support * f;
        total += support;
    }
    if (total > 0.0) {
        m->precision /= total;
        m->recall /= total;
        m->f1 /= total;
    }
}

static void
trainer_test_metrics(const kt_trainer *t, kt_test_metrics *m)
{
    const kt_mlp *net = kt_trainer_model(t);
    size_t from = t->n_train + t->n_val, cm[3][3] = {{0}};
    memset(m, 0, sizeof(*m));
    m->n_samples = t->n_test;
    if (t->n_test == 0) {
        return;
    }
    kt__trainer_eval(t, net, from, t->n_test, NULL, &m->loss, &m->accuracy);
    for (size_t done = 0; done < t->n_test;) {
        size_t k =
            t->n_test - done < t->work_rows ? t->n_test - done : t->work_rows;
        kt_mlp_forward(net, t->work, t->x + (from + done) * t->n_cols, k, NULL,
                       t->logits);
        for (size_t i = 0; i < k; i++) {
            int pred = kt_mlp_argmax(t->logits + i * KT_NCLASSES);
            cm[t->y[from + done + i]][pred]++;
        }
        done += k;
    }
    trainer_prf(cm, m);
}

void
kt_trainer_metrics(const kt_trainer *t, kt_train_metrics *train,
                   kt_test_metrics *test)
{
    if (train != NULL) {
        memset(train, 0, sizeof(*train));
        train->epochs_trained = t->epoch;
        train->best_epoch = t->best_epoch;
        train->best_val_loss = t->best_epoch > 0 ? t->best_val_loss : 0.0;
        for (int e = 0; e < t->epoch; e++) {
            const kt_epoch_stats *s = &t->hist[e];
            train->best_val_accuracy =
                fmax(train->best_val_accuracy, s->val_accuracy);
            if (e == 0) {
                train->first_train_loss = s->train_loss;
            }
            if (e == t->epoch - 1) {
                train->final_train_loss = s->train_loss;
                train->final_train_accuracy = s->train_accuracy;
                train->final_val_loss = s->val_loss;
                train->final_val_accuracy = s->val_accuracy;
            }
        }
    }
    if (test != NULL) {
        trainer_test_metrics(t, test);
    }
}
