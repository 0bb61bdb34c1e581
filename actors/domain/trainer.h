// trainer.h: trains a strategy MLP (reference §1.8) with exact, resumable
// state: Adam (PyTorch semantics, L2 weight decay), inverse-frequency class
// weights, cross-entropy or focal loss, global grad-norm clip, temporal
// train/val/test split, seeded shuffles and dropout. Everything random comes
// from the trainer's own kt_rng, so the same inputs give the same weights
// bit for bit on one machine and kernel level, and a trainer exported after
// epoch k and imported again ends with the weights of an uninterrupted run.
//
// Thread context: a kt_trainer is used by one thread at a time (the training
// actor's compute thread); calls are synchronous and never block on I/O.
#ifndef KT_DOMAIN_TRAINER_H
#define KT_DOMAIN_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include <kt/err.h>

#include "domain/mlp.h"
#include "domain/model.h"
#include "domain/types.h"

#ifdef __cplusplus
extern "C" {
#endif

// Format of kt_trainer_export's bytes; kt_trainer_import refuses others.
#define KT_TRAINER_FORMAT_VERSION 1

typedef struct kt_epoch_stats {
    int epoch;             // 1-based
    double train_loss;     // mean of the epoch's batch losses
    double train_accuracy; // argmax accuracy of the training forwards
    double val_loss;       // same (class-weighted) criterion as training
    double val_accuracy;
} kt_epoch_stats;

typedef struct kt_trainer kt_trainer;

// kt_trainer_new validates the configuration against the data, splits the
// rows in time order (first floor(n * train_frac) rows train, the next
// floor(n * val_frac) validate, the rest test), computes class weights on
// the training labels, seeds the RNG with tcfg->seed and initialises the
// network from it. x and labels are copied (f->names and f->time are not
// used); labels[i] in {KT_BUY, KT_HOLD, KT_SELL} for every f->n_rows row.
// Errors: KT_EINVAL (message in err: bad config, n_inputs != f->n_cols, a
// label > 2, an empty train or validation split), KT_ENOMEM.
KT_NODISCARD KT_API kt_err kt_trainer_new(
    const kt_mlp_cfg *mcfg, const kt_train_cfg *tcfg, const kt_features *f,
    const uint8_t *labels, kt_trainer **out, char *err, size_t errlen);

// kt_trainer_run_batches runs at most max_batches (>= 1) mini-batches of the
// current epoch (the first one shuffles the epoch's order). When the epoch's
// last batch has run it validates, records the epoch in the history, sets
// *epoch_done = 1 and fills *stats (may be NULL); otherwise *epoch_done = 0.
// An actor calls it in slices to check for cancellation in between.
// Stopping mid-epoch is not a resumable point: export is refused until the
// epoch completes. Errors: KT_ESTATE (all epochs done), KT_EINVAL.
KT_NODISCARD KT_API kt_err kt_trainer_run_batches(kt_trainer *t,
                                                  size_t max_batches,
                                                  int *epoch_done,
                                                  kt_epoch_stats *stats);

// kt_trainer_run_epoch runs the rest of the current epoch (a whole one when
// called between epochs). Errors: KT_ESTATE (all epochs done).
KT_NODISCARD KT_API kt_err kt_trainer_run_epoch(kt_trainer *t,
                                                kt_epoch_stats *stats);

// Epochs completed (0 .. tcfg->epochs).
KT_API int kt_trainer_epoch(const kt_trainer *t);
// 1 when every configured epoch has run.
KT_API int kt_trainer_done(const kt_trainer *t);
// Batches per epoch and batches already run in the current epoch (0 when
// between epochs, the only state kt_trainer_export accepts).
KT_API size_t kt_trainer_batches_per_epoch(const kt_trainer *t);
KT_API size_t kt_trainer_batch_cursor(const kt_trainer *t);

// kt_trainer_history returns the per-epoch stats (owned by t, valid until
// the next run call) and their count in *n.
KT_API const kt_epoch_stats *kt_trainer_history(const kt_trainer *t, size_t *n);

// Rows in each split, and the class weights (KT_NCLASSES doubles, owned).
KT_API void kt_trainer_split(const kt_trainer *t, size_t *n_train,
                             size_t *n_val, size_t *n_test);
KT_API const double *kt_trainer_class_weights(const kt_trainer *t);

// kt_trainer_model returns the final model: the weights of the epoch with
// the lowest validation loss (a real copy, unlike KTRDR's aliased one; the
// live weights before any epoch has run). Owned by t.
KT_API const kt_mlp *kt_trainer_model(const kt_trainer *t);
// kt_trainer_live_model returns the weights training continues from.
KT_API const kt_mlp *kt_trainer_live_model(const kt_trainer *t);

// kt_trainer_metrics fills the training summary (may be NULL) and evaluates
// kt_trainer_model on the test split (may be NULL): accuracy, unweighted
// mean cross-entropy, support-weighted precision/recall/F1. Callable at any
// time; with an empty test split the test metrics are zeros.
KT_API void kt_trainer_metrics(const kt_trainer *t, kt_train_metrics *train,
                               kt_test_metrics *test);

// kt_trainer_export serialises the complete state (weights, Adam moments
// and step, RNG, epoch, history, best loss and weights, class weights,
// config echo, format version) as a ktpb.v1.TrainerCheckpoint. On KT_OK
// *buf (release with free()) and *len are set. Errors: KT_ESTATE
// (mid-epoch), KT_ENOMEM.
KT_NODISCARD KT_API kt_err kt_trainer_export(const kt_trainer *t, uint8_t **buf,
                                             size_t *len);

// kt_trainer_import rebuilds a trainer from exported bytes and the same
// features and labels (copied, as in kt_trainer_new). Errors (message in
// err): KT_EPROTO (not a decodable checkpoint), KT_EVERSION (another
// format version), KT_ECORRUPT (checksum mismatch, missing or inconsistent
// fields), KT_EINVAL (the stored architecture does not fit f: column count,
// row count), KT_ENOMEM. Never crashes on any input bytes.
KT_NODISCARD KT_API kt_err kt_trainer_import(const kt_features *f,
                                             const uint8_t *labels,
                                             const uint8_t *buf, size_t len,
                                             kt_trainer **out, char *err,
                                             size_t errlen);

// kt_trainer_free releases t; NULL is a no-op.
KT_API void kt_trainer_free(kt_trainer *t);

#ifdef __cplusplus
}
#endif

#endif // KT_DOMAIN_TRAINER_H
