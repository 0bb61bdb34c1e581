// backtest.h: the backtest actor: runs one operation's backtest on its own
// thread, at most 100 bars per message (a cancel or shutdown is seen
// between slices), checkpoints every checkpoint_frequency bars (and after
// checkpoint_interval_s) and always on cancellation, failure and shutdown;
// at the end its result holds the summary, the trades and the equity curve.
// Spawn it `dedicated` with a kt_worker_cfg (operations/worker.h); the
// operations actor does. docs/actors/backtest.md has the details.
#ifndef KT_BACKTEST_BACKTEST_H
#define KT_BACKTEST_BACKTEST_H

#include <kt/actor.h>

#include "operations/worker.h"

// Artifact that holds kt_backtest_export's bytes in a checkpoint.
#define KT_BACKTEST_ARTIFACT  "backtest.pb"
#define KT_BACKTEST_MAX_SLICE 100

extern const kt_actor_ops backtest_ops;

#endif // KT_BACKTEST_BACKTEST_H
