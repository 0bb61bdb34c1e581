// trainer_impl.h: the trainer's state, shared by trainer.c (the loop) and
// trainer_state.c (export/import). Not part of the public API.
#ifndef KT_DOMAIN_TRAINER_IMPL_H
#define KT_DOMAIN_TRAINER_IMPL_H

#include "domain/trainer.h"

struct kt_trainer {
    kt_mlp_cfg mcfg;
    kt_train_cfg tcfg;
    size_t n_rows, n_cols, n_train, n_val, n_test;
    float *x;   // n_rows * n_cols, a copy
    uint8_t *y; // n_rows
    double cw[KT_NCLASSES];
    kt_mlp *net;  // live weights
    kt_mlp *best; // weights of the best validation loss so far
    kt_mlp_work *work;
    size_t work_rows;
    float *grad, *m, *v; // gradient and Adam moments, flat
    uint64_t step;       // Adam step count
    kt_rng rng;
    int epoch;     // completed epochs
    size_t nb;     // batches per epoch
    size_t cursor; // batches run in the current epoch
    uint32_t *perm;
    float *xb;
    uint8_t *yb;
    float *logits, *dlogits;
    double loss_sum; // current epoch accumulators
    size_t correct, seen;
    kt_epoch_stats *hist;
    size_t hist_cap;
    double best_val_loss;
    int best_epoch; // 0: none yet
};

// kt__trainer_build validates and allocates a trainer without initialising
// the network or the RNG (kt_trainer_new seeds, kt_trainer_import loads).
kt_err kt__trainer_build(const kt_mlp_cfg *mcfg, const kt_train_cfg *tcfg,
                         const kt_features *f, const uint8_t *labels,
                         kt_trainer **out, char *err, size_t errlen);
kt_err kt__trainer_alloc_buffers(kt_trainer *t, const kt_features *f,
                                 const uint8_t *labels);
// kt__trainer_eval: loss and accuracy of net over rows [from, from + n),
// in chunks of the trainer's work buffers (w: class weights, or NULL).
void kt__trainer_eval(const kt_trainer *t, const kt_mlp *net, size_t from,
                      size_t n, const double *w, double *loss, double *acc);
void kt__trainer_criterion(const kt_trainer *t, const double *w, const float *z,
                           const uint8_t *y, size_t n, double den_total,
                           float *dz, double *num, double *den,
                           size_t *correct);

#endif // KT_DOMAIN_TRAINER_IMPL_H
