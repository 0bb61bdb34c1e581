// training.h: the training actor: trains one operation's model on its own
// thread, a few batches per message (a cancel or shutdown is seen between
// slices), snapshots the trainer at every epoch end, checkpoints every
// checkpoint_frequency epochs (and after checkpoint_interval_s) and always
// on cancellation, failure and shutdown, and saves the model artifact at
// the end. Spawn it `dedicated` with a kt_worker_cfg (operations/worker.h);
// the operations actor does. docs/actors/training.md has the details.
#ifndef KT_TRAINING_TRAINING_H
#define KT_TRAINING_TRAINING_H

#include <kt/actor.h>

#include "operations/worker.h"

// Artifact that holds kt_trainer_export's bytes in a checkpoint.
#define KT_TRAINING_ARTIFACT "trainer.pb"

extern const kt_actor_ops training_ops;

#endif // KT_TRAINING_TRAINING_H
