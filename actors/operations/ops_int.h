// ops_int.h: the operations actor's state and the functions its files
// share: the table of live operations (jobs), the outstanding asks to
// persistence with what to do when each is answered (pends), subscribers.
#ifndef KT_OPERATIONS_OPS_INT_H
#define KT_OPERATIONS_OPS_INT_H

#include <ktpb/v1/persist.pb-c.h>
#include <stdbool.h>
#include <stdint.h>

#include <kt/actor.h>

#include "operations/operations.h"
#include "operations/worker.h"

#define OPS_WAITERS 8

typedef enum ops_phase {
    J_STARTING,  // create / resume claim in flight, no worker yet
    J_RUNNING,   // a worker computes
    J_FINISHING, // the terminal transition is in flight
} ops_phase;

typedef struct ops_waiter {
    kt_aid aid;
    uint64_t corr;
    uint32_t type; // reply type
} ops_waiter;

typedef struct ops_group { // a shutdown of every operation
    kt_aid aid;
    uint64_t corr;
    int remaining;
    struct ops_group *next;
} ops_group;

typedef struct ops_job {
    char id[KT_OPS_ID_MAX];
    char type[16]; // training | backtesting
    kt_aid worker;
    uint32_t attempt;
    ops_phase phase;
    bool resuming;
    int stop; // 0, KT_TRAIN_CANCEL or KT_TRAIN_SHUTDOWN pending
    char reason[256];
    ops_waiter waiters[OPS_WAITERS]; // replied when the op ends
    int nwaiters;
    ops_waiter starter; // the start / resume request, replied when running
    ops_group *group;
    uint8_t *request;
    size_t request_len;
    int64_t requested_at_ms;
    double percent;
    char step[96];
    int64_t units_done, units_total;
    bool by_epoch;               // units are epochs (else bars)
    double train_loss, val_loss; // last reported, for the final event
    double equity;
    int64_t last_write_ms;
    bool dirty;
    Ktpb__V1__OpStatus final; // how it ended (J_FINISHING)
    char error[512];
    bool remote; // runs in a worker process (worker = the registry)
    struct ops_job *next;
} ops_job;

typedef enum ops_kind {
    PK_IGNORE,
    PK_RELAY, // forward the reply's body under another type
    PK_CREATE,
    PK_RUNNING,
    PK_CLAIM, // resume: cancelled|failed -> resuming
    PK_CHECK, // resume: the checkpoint loads and has our format
    PK_DONE,  // the terminal transition
    PK_SHOW,
    PK_RESULTS,
    PK_DISPATCH, // the registry placed (or could not place) a job
} ops_kind;

typedef struct ops_pend {
    uint64_t corr;
    ops_kind kind;
    char op_id[KT_OPS_ID_MAX];
    kt_aid from;
    uint64_t from_corr;
    uint32_t reply_type;
    uint32_t flags; // results: 1 = trades, 2 = equity
    struct ops_pend *next;
} ops_pend;

typedef struct ops_sub {
    kt_aid aid;
    char op_id[KT_OPS_ID_MAX]; // "" = all
    struct ops_sub *next;
} ops_sub;

typedef struct ops {
    kt_actor *self;
    kt_ops_cfg cfg;
    char data_dir[KT_OPS_PATH_MAX];
    kt_aid persist;
    ops_job *jobs;
    ops_pend *pends;
    ops_sub *subs;
    ops_group *groups;
    uint64_t rng;
} ops;

// operations.c: tables and replies.
ops_job *kt__ops_job_find(ops *o, const char *id);
ops_job *kt__ops_job_new(ops *o, const char *id, const char *type);
void kt__ops_job_remove(ops *o, ops_job *j);
void kt__ops_job_wait(ops_job *j, const kt_msg *req, uint32_t type);
// kt__ops_ask sends a persistence request and records what its reply means.
KT_NODISCARD kt_err kt__ops_ask(ops *o, uint32_t type,
                                const ProtobufCMessage *m, ops_kind kind,
                                const char *op_id, const kt_msg *req,
                                uint32_t reply_type);
void kt__ops_reply(ops *o, kt_aid to, uint64_t corr, uint32_t type,
                   int32_t status, const char *message,
                   const Ktpb__V1__OperationRecord *op);
void kt__ops_reply_req(ops *o, const kt_msg *req, uint32_t type, int32_t status,
                       const char *message);
void kt__ops_transition(ops *o, ops_job *j, Ktpb__V1__OpStatus to,
                        const char *error, const uint8_t *result, size_t len,
                        ops_kind kind);

// ops_start.c
kt_err kt__ops_start(ops *o, kt_msg *msg);
void kt__ops_spawn(ops *o, ops_job *j, bool resume);
void kt__ops_on_create(ops *o, ops_job *j, const Ktpb__V1__OpReply *r);
void kt__ops_on_running(ops *o, ops_job *j, const Ktpb__V1__OpReply *r);
void kt__ops_stop_early(ops *o, ops_job *j);
void kt__ops_reply_starter(ops *o, ops_job *j, int32_t status,
                           const char *message,
                           const Ktpb__V1__OperationRecord *op);

// ops_ctl.c
kt_err kt__ops_cancel(ops *o, kt_msg *msg);
kt_err kt__ops_shutdown(ops *o, kt_msg *msg);
kt_err kt__ops_resume(ops *o, kt_msg *msg);
void kt__ops_on_claim(ops *o, ops_job *j, const Ktpb__V1__OpReply *r);
void kt__ops_on_check(ops *o, ops_job *j, const kt_msg *reply);
kt_err kt__ops_worker_done(ops *o, kt_msg *msg);
void kt__ops_on_done(ops *o, ops_job *j, const Ktpb__V1__OpReply *r);
kt_err kt__ops_down(ops *o, kt_msg *msg);

// ops_query.c
kt_err kt__ops_get(ops *o, kt_msg *msg);
kt_err kt__ops_list(ops *o, kt_msg *msg);
kt_err kt__ops_show(ops *o, kt_msg *msg);
kt_err kt__ops_results(ops *o, kt_msg *msg);
kt_err kt__ops_subscribe(ops *o, kt_msg *msg);
kt_err kt__ops_progress(ops *o, kt_msg *msg);
void kt__ops_on_show(ops *o, const ops_pend *p, const kt_msg *reply);
void kt__ops_on_results(ops *o, const ops_pend *p, const kt_msg *reply);
void kt__ops_publish_final(ops *o, ops_job *j, Ktpb__V1__OpStatus st,
                           const char *error);
void kt__ops_flush_progress(ops *o, ops_job *j);

// ops_remote.c: operations run by worker processes (the registry).
void kt__ops_dispatch(ops *o, ops_job *j, bool resume);
void kt__ops_on_dispatch(ops *o, const ops_pend *p, const kt_msg *reply);
void kt__ops_remote_stop(ops *o, ops_job *j, int kind);
kt_err kt__ops_adopt(ops *o, kt_msg *msg);

#endif // KT_OPERATIONS_OPS_INT_H
