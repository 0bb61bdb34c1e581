// backend.h: the embedding API: a runtime with the persistence and
// operations actors over one data directory, for tests, benchmarks and
// `ktrdr serve`. Requests go to kt_backend_ops(b) (kt_runtime_ask from a
// plain thread, kt_ask from an actor) as ops.proto messages.
#ifndef KT_OPERATIONS_BACKEND_H
#define KT_OPERATIONS_BACKEND_H

#include <stdint.h>

#include <kt/actor.h>

#include "operations/operations.h"
#include "persistence/persistence.h"

typedef struct kt_backend kt_backend;

typedef struct kt_backend_cfg {
    const char *data_dir;   // required; created if missing
    int threads;            // shared scheduler threads; 0 = 2
    kt_ops_cfg ops;         // data_dir / persistence filled in
    kt_persist_cfg persist; // data_dir filled in
} kt_backend_cfg;

// kt_backend_open starts a runtime, then the persistence actor (dedicated,
// KT_PERSIST_NAME) and the operations actor (KT_OPS_NAME). On KT_OK *bp
// owns them. Errors: KT_EINVAL (no data_dir), KT_ESYSERR|errno (cannot
// create it), those of kt_runtime_start / kt_spawn (the actors' init).
KT_NODISCARD kt_err kt_backend_open(const kt_backend_cfg *cfg, kt_backend **bp);
// kt_backend_close stops the runtime (running operations stop where they
// are, without a checkpoint: send KT_OPS_SHUTDOWN first for a graceful
// stop) and frees b. NULL is a no-op. From a plain thread only.
void kt_backend_close(kt_backend *b);

kt_runtime *kt_backend_runtime(const kt_backend *b);
kt_aid kt_backend_ops(const kt_backend *b);
kt_aid kt_backend_persistence(const kt_backend *b);

#endif // KT_OPERATIONS_BACKEND_H
