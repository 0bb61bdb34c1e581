// agent_int.h: state of the worker agent, shared by agent.c (lifecycle,
// registration, heartbeats, running operations) and agent_relay.c (the
// relay between the operation actors and the backend).
#ifndef KT_WORKERS_AGENT_INT_H
#define KT_WORKERS_AGENT_INT_H

#include <ktpb/v1/workers.pb-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/agent.h"
#include "workers/workers.h"

typedef struct ag_op {
    char op_id[96];
    uint32_t attempt;
    char type[24];
    kt_aid aid;         // the operation actor; 0 once it stopped
    bool ended;         // its WorkerDone is in done[]
    int64_t down_at_ns; // stopped without an end: failed after a grace
    uint8_t *done;      // packed WorkerDone, kept until acknowledged
    size_t done_len;
    uint64_t end_corr; // WorkerOpEnded ask in flight
    kt_msg *progress;  // the newest progress while the backend is away
    struct ag_op *next;
} ag_op;

// A request of an operation actor relayed to the backend, kept (and
// retried) until answered.
typedef struct ag_relay {
    uint64_t out_corr;
    kt_aid from, to;
    uint64_t from_corr;
    uint32_t type;
    uint8_t *body;
    size_t len;
    uint64_t n; // creation order: checkpoint saves of one actor go in order
    struct ag_relay *next;
} ag_relay;

typedef struct agent {
    kt_actor *self;
    kt_wk_agent_cfg cfg;
    char id[KT_WK_ID_MAX + 1];
    char caps[64];
    char data_dir[1024];
    uint64_t instance, boot;
    bool registered;
    uint64_t reg_corr, hb_corr, tick;
    uint32_t misses, hb_ms, registrations;
    int64_t last_hb_ns, last_reg_ns, lost_at_ns;
    bool draining, shutting, exited;
    int64_t deadline_ns;
    ag_op *ops;
    ag_relay *relays;
    uint64_t nrelays; // relays created so far
} agent;

ag_op *kt__ag_op_find(agent *a, const char *op_id);
ag_op *kt__ag_op_by_aid(agent *a, kt_aid aid);
void kt__ag_op_remove(agent *a, ag_op *op);

// agent.c: shared helpers.
uint32_t kt__ag_nops(const agent *a);
size_t kt__ag_claims(agent *a, Ktpb__V1__OpClaim *pbs, Ktpb__V1__OpClaim **pp);
void kt__ag_kill(agent *a, kt_aid aid);

// agent_run.c: running operations, control, shutdown, status.
void kt__ag_run(agent *a, kt_msg *m);
void kt__ag_control(agent *a, kt_msg *m);
void kt__ag_shutdown(agent *a, const kt_msg *m);
void kt__ag_status(agent *a, const kt_msg *m);
void kt__ag_down(agent *a, kt_msg *m);

// agent_relay.c
// kt__ag_from_op handles a message from an operation actor (true if it
// was one; msg is consumed then).
bool kt__ag_from_op(agent *a, kt_msg *msg);
// kt__ag_reply handles a reply or timeout of one of the agent's asks to
// the backend relays (true if it was one; msg is consumed then).
bool kt__ag_relay_reply(agent *a, kt_msg *msg);
// kt__ag_send_end sends op's end to the registry (once registered).
void kt__ag_send_end(agent *a, ag_op *op);
// kt__ag_flush sends what waited for the backend (after a registration).
void kt__ag_flush(agent *a);
// kt__ag_drop_relays forgets requests of the actor aid (aborted).
void kt__ag_drop_relays(agent *a, kt_aid aid);
void kt__ag_free_relays(agent *a);

#endif // KT_WORKERS_AGENT_INT_H
