// mg_int.h: the research manager's state and the functions its files
// share (manager.c: trigger and spawn; mg_main.c: init, dispatch,
// events, subscribers; mg_status.c: status; mg_ctl.c: cancel, resume and
// the start-up reconciliation).
#ifndef KT_RESEARCH_MG_INT_H
#define KT_RESEARCH_MG_INT_H

#include <ktpb/v1/persist.pb-c.h>
#include <stdbool.h>
#include <stdint.h>

#include <kt/actor.h>

#include "research/rs_int.h"

typedef struct mg_live {
    char id[RS_ID_MAX];
    kt_aid aid;
    Ktpb__V1__ResearchEvent *last; // the newest event (NULL = none yet)
    struct mg_live *next;
} mg_live;

typedef struct mg_sub {
    kt_aid aid;
    char op_id[RS_ID_MAX]; // "" = all
    struct mg_sub *next;
} mg_sub;

typedef enum mg_kind {
    MK_IGNORE,
    MK_RELAY,       // forward the reply body under reply_type
    MK_CREATE,      // trigger: the operation exists
    MK_CLAIM,       // resume: cancelled|failed -> resuming
    MK_LOAD,        // resume: the newest checkpoint
    MK_RECON_LIST,  // start-up: researches left running
    MK_RECON_FAIL,  // start-up: one marked failed
    MK_STATUS_GET,  // status of one research: its record
    MK_STATUS_CKPT, // ... its newest checkpoint (state)
    MK_STATUS_KIDS, // ... and its children
} mg_kind;

typedef struct mg_pend {
    uint64_t corr;
    mg_kind kind;
    char op_id[RS_ID_MAX];
    kt_aid from;
    uint64_t from_corr;
    uint32_t reply_type;
    uint32_t attempt;
    uint8_t *data; // the trigger request / the op record (status)
    size_t len;
    uint8_t *state; // status: the ResearchState (result or checkpoint)
    size_t state_len;
    struct mg_pend *next;
} mg_pend;

typedef struct mg {
    kt_actor *self;
    kt_research_cfg cfg;
    char data_dir[RS_PATH_MAX];
    kt_aid persist, ops;
    mg_live *live;
    mg_sub *subs;
    mg_pend *pends;
    uint64_t rng;
} mg;

// manager.c
KT_NODISCARD kt_err kt__mg_ask(mg *m, kt_aid to, uint32_t type,
                               const ProtobufCMessage *pb, mg_kind kind,
                               const char *op_id, const kt_msg *req,
                               uint32_t reply_type, mg_pend **pp);
void kt__mg_reply(mg *m, kt_aid to, uint64_t corr, uint32_t type,
                  int32_t status, const char *message,
                  const Ktpb__V1__OperationRecord *op);
mg_live *kt__mg_live_find(mg *m, const char *id);
void kt__mg_live_remove(mg *m, mg_live *l);
kt_err kt__mg_trigger(mg *m, kt_msg *msg);
void kt__mg_on_create(mg *m, const mg_pend *p, const kt_msg *msg);
// kt__mg_spawn starts a research actor for op (state != NULL: resume).
void kt__mg_spawn(mg *m, const char *op_id, uint32_t attempt,
                  const uint8_t *request, size_t request_len,
                  const uint8_t *state, size_t state_len, uint64_t seq,
                  kt_aid from, uint64_t corr, uint32_t reply_type);
void kt__mg_relay(mg *m, const mg_pend *p, const kt_msg *msg);

// mg_status.c
kt_err kt__mg_status(mg *m, kt_msg *msg);
void kt__mg_on_status_get(mg *m, mg_pend *p, const kt_msg *msg);
void kt__mg_on_status_ckpt(mg *m, mg_pend *p, const kt_msg *msg);
void kt__mg_on_status_kids(mg *m, const mg_pend *p, const kt_msg *msg);

// mg_status.c
kt_err kt__mg_status(mg *m, kt_msg *msg);
void kt__mg_on_status_get(mg *m, mg_pend *p, const kt_msg *msg);
void kt__mg_on_status_ckpt(mg *m, mg_pend *p, const kt_msg *msg);
void kt__mg_on_status_kids(mg *m, const mg_pend *p, const kt_msg *msg);

// mg_ctl.c
kt_err kt__mg_cancel(mg *m, kt_msg *msg);
kt_err kt__mg_resume(mg *m, kt_msg *msg);
void kt__mg_on_claim(mg *m, const mg_pend *p, const kt_msg *msg);
void kt__mg_on_load(mg *m, const mg_pend *p, const kt_msg *msg);
void kt__mg_reconcile(mg *m);
void kt__mg_on_recon_list(mg *m, const kt_msg *msg);
void kt__mg_on_recon_fail(mg *m, const mg_pend *p, const kt_msg *msg);
void kt__mg_resume_id(mg *m, const char *id, kt_aid from, uint64_t corr,
                      bool count_restart);

#endif // KT_RESEARCH_MG_INT_H
