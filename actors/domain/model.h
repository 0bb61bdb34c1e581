// model.h: the trained-model artifact (reference §1.9, item 7 of issue 3): a
// versioned, checksummed directory holding the network, the ordered feature
// names it was trained on, its training and test metrics and the strategy
// name; written atomically and verified when loaded.
//
// Layout (as KTRDR): <models_dir>/<strategy>/<timeframe>_v<N>/ with
//   model.pb       ktpb.v1.ModelArtifact (proto/ktpb/v1/train.proto)
//   metadata.json  the same facts for humans (not read back)
//   MANIFEST       "kt-model <format>" then "<sha256 hex>  <file>" per file
// See docs/training.md.
#ifndef KT_DOMAIN_MODEL_H
#define KT_DOMAIN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <kt/err.h>

#include "domain/mlp.h"

#ifdef __cplusplus
extern "C" {
#endif

// On-disk format of model.pb / MANIFEST; a loader refuses any other.
#define KT_MODEL_FORMAT_VERSION 1

// Training summary (reference §1.8 result), stored with the model.
typedef struct kt_train_metrics {
    int epochs_trained;
    double final_train_loss;
    double final_train_accuracy;
    double final_val_loss;
    double final_val_accuracy;
    double best_val_loss;     // lowest validation loss seen
    double best_val_accuracy; // highest validation accuracy seen
    int best_epoch;           // 1-based epoch of best_val_loss (0: none)
    double first_train_loss;  // epoch 1's training loss (the research gate)
} kt_train_metrics;

// Held-out test metrics (reference §1.9), computed on the final model.
typedef struct kt_test_metrics {
    uint64_t n_samples;
    double accuracy;
    double loss;      // unweighted mean cross-entropy
    double precision; // support-weighted over the classes present
    double recall;
    double f1;
} kt_test_metrics;

typedef struct kt_model kt_model;

// kt_model_alloc builds an in-memory model from a network (deep-copied), its
// n_names ordered feature names (copied; n_names must equal the network's
// n_inputs), strategy and timeframe names (copied; non-empty, no '/' and
// not "." or "..") and optional metrics (NULL: zeros).
// Errors: KT_EINVAL (message in err), KT_ENOMEM; *out untouched on failure.
KT_NODISCARD KT_API kt_err kt_model_alloc(
    const kt_mlp *mlp, char *const *names, size_t n_names, const char *strategy,
    const char *timeframe, const kt_train_metrics *train,
    const kt_test_metrics *test, kt_model **out, char *err, size_t errlen);

// kt_model_free releases m; NULL is a no-op.
KT_API void kt_model_free(kt_model *m);

// kt_model_save writes m to <models_dir>/<strategy>/<timeframe>_v<N>/ with N
// one more than the highest existing version (1 for the first), creating
// the folders it needs. Atomic: files are written into a temporary
// directory beside it, fsynced, the directory renamed into place and the
// parent fsynced, so a crash leaves either no version N or a complete one.
// If another writer takes N first it moves on to N+1. On KT_OK the final
// path is copied to path_out (path_len bytes, may be NULL) and *version_out
// (may be NULL) gets N. Errors: KT_ESYSERR|errno (message names the path),
// KT_EINVAL (path too long), KT_ENOMEM.
KT_NODISCARD KT_API kt_err kt_model_save(const kt_model *m,
                                         const char *models_dir, char *path_out,
                                         size_t path_len, int *version_out,
                                         char *err, size_t errlen);

// kt_model_save_dir writes m atomically to exactly dir, which must not
// exist yet (KT_ESYSERR|EEXIST otherwise); dir's parent must exist.
KT_NODISCARD KT_API kt_err kt_model_save_dir(const kt_model *m, const char *dir,
                                             char *err, size_t errlen);

// kt_model_load reads and verifies a model directory.
// Errors (message in err): KT_ENOENT (dir or one of its files missing, the
// message names the path), KT_ECORRUPT (checksum mismatch, unreadable
// manifest or undecodable model.pb, or contents that do not fit together),
// KT_EVERSION (written by another format version), KT_ENOMEM,
// KT_ESYSERR|errno (other I/O failure). *out untouched on failure.
KT_NODISCARD KT_API kt_err kt_model_load(const char *dir, kt_model **out,
                                         char *err, size_t errlen);

// kt_model_check_features refuses to run the model on features in another
// order: KT_OK when names[0..n) equal the model's feature names one by one;
// KT_EINVAL otherwise, with the first differing position and both names
// (or the count mismatch) in err.
KT_NODISCARD KT_API kt_err kt_model_check_features(const kt_model *m,
                                                   char *const *names, size_t n,
                                                   char *err, size_t errlen);

// Getters: every pointer is owned by m and lives as long as m.
KT_API const kt_mlp *kt_model_mlp(const kt_model *m);
KT_API size_t kt_model_n_features(const kt_model *m);
KT_API char *const *kt_model_features(const kt_model *m);
KT_API const char *kt_model_strategy(const kt_model *m);
KT_API const char *kt_model_timeframe(const kt_model *m);
KT_API const kt_train_metrics *kt_model_train_metrics(const kt_model *m);
KT_API const kt_test_metrics *kt_model_test_metrics(const kt_model *m);
// Seconds since the Unix epoch when kt_model_alloc ran (or as loaded).
KT_API int64_t kt_model_created_at(const kt_model *m);

#ifdef __cplusplus
}
#endif

#endif // KT_DOMAIN_MODEL_H
