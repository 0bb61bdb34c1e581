// training_int.h: the training actor's state, shared by its two files.
#ifndef KT_TRAINING_TRAINING_INT_H
#define KT_TRAINING_TRAINING_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/features.h"
#include "domain/strategy.h"
#include "domain/trainer.h"
#include "operations/worker.h"

typedef struct training {
    kt__worker w;
    Ktpb__V1__StartTrainingRequest *rq;
    kt_strategy *s;
    kt_features f;
    uint8_t *labels;
    kt_train_cfg tc;
    kt_trainer *t;
    uint32_t every;      // epochs between periodic checkpoints
    bool periodic;       // checkpoint_enabled
    int64_t interval_ms; // 0 = no time trigger
    int last_ckpt_epoch;
    // The snapshot at the last completed epoch: what every checkpoint holds.
    uint8_t *snap;
    size_t snap_len;
    Ktpb__V1__CheckpointSummary sum;
    bool first_epoch_seen;
} training;

// kt__training_setup loads strategy, bars, features and labels, and makes
// the trainer (fresh) unless restoring. Errors: message in err.
KT_NODISCARD kt_err kt__training_setup(training *tr, char *err, size_t n);
// kt__training_restore imports the trainer from a checkpoint load reply.
KT_NODISCARD kt_err kt__training_restore(training *tr, const kt_msg *reply,
                                         char *err, size_t n);
// kt__training_snapshot exports the trainer (between epochs) into tr->snap
// and fills tr->sum.
KT_NODISCARD kt_err kt__training_snapshot(training *tr);
// kt__training_finish saves the model and packs the TrainingResult.
KT_NODISCARD kt_err kt__training_finish(training *tr, uint8_t **res,
                                        size_t *len, char *err, size_t n);
void kt__training_release(training *tr);

#endif // KT_TRAINING_TRAINING_INT_H
