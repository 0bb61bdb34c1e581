// rs_actor.h: the research actor's state and the functions its files
// share (research.c: skeleton, asks, checkpoints, ends; rs_phase.c: the
// phases, design and assessment; rs_child.c: training and backtest
// children).
#ifndef KT_RESEARCH_RS_ACTOR_H
#define KT_RESEARCH_RS_ACTOR_H

#include <ktpb/v1/ops.pb-c.h>
#include <ktpb/v1/persist.pb-c.h>
#include <ktpb/v1/research.pb-c.h>

#include <kt/actor.h>

#include "research/rs_int.h"

#define RS_WAITERS 8

typedef enum rs_pk {
    RP_IGNORE,
    RP_RUNNING,      // OpTransition -> running
    RP_CKPT,         // CheckpointEvent -> ack
    RP_DONE,         // terminal transition
    RP_CHILD_START,  // StartTraining/Backtest -> OpsReply
    RP_SUB,          // OpsSubscribe -> OpsReply
    RP_CHILD_GET,    // OpsGet -> OpsReply
    RP_WATCH_GET,    // OpsGet after the watchdog fired
    RP_CHILD_FAIL,   // persistence: orphaned child -> failed
    RP_CHILD_RESUME, // OpsResume -> OpsReply
    RP_CHILD_CANCEL, // OpsCancel -> OpsReply (our cancel)
    RP_RESULTS,      // OpsResults -> OpsResultsReply
} rs_pk;

typedef enum rs_after {
    RA_NONE,
    RA_RUN_PHASE, // the phase's checkpoint is durable: act
    RA_FINISH,    // the terminal checkpoint is durable: transition
} rs_after;

typedef struct rs_pend {
    uint64_t corr;
    rs_pk kind;
    rs_after after;
    struct rs_pend *next;
} rs_pend;

typedef struct rs_waiter {
    kt_aid aid;
    uint64_t corr;
    uint32_t type;
} rs_waiter;

typedef struct rs {
    kt_actor *self;
    kt_research_cfg cfg; // data_dir points at data_dir below
    char data_dir[RS_PATH_MAX];
    char id[RS_ID_MAX];
    uint32_t attempt;
    uint64_t seq;
    bool resume;
    kt_aid manager, persist, ops;
    int cancel_wr; // the runner's cancel pipe (-1 = none)
    bool runner_busy;
    // The research state (checkpointed).
    uint8_t *req;
    size_t req_len;
    Ktpb__V1__ResearchTriggerRequest *rq;
    char phase[16];
    char strategy_name[64];
    char strategy_path[RS_PATH_MAX];
    char *yaml;
    char training_id[RS_ID_MAX], backtest_id[RS_ID_MAX];
    char model_path[RS_PATH_MAX];
    Ktpb__V1__ResearchBudget budget;
    char gate_reason[512];
    uint8_t *training;
    size_t training_len;
    uint8_t *backtest;
    size_t backtest_len;
    char verdict[16];
    uint32_t resumes;
    char symbol[32], timeframe[16];
    char experiment_path[RS_PATH_MAX];
    // Live only.
    char child[RS_ID_MAX]; // the child this phase waits for
    bool child_done, child_starting, reattach, heard;
    double child_pct;
    char child_step[96];
    uint64_t watch_timer;
    int64_t last_write_ms;
    char feedback[2048];
    bool stopping, finishing;
    Ktpb__V1__OpStatus final;
    char error[1024];
    rs_waiter starter;
    rs_waiter waiters[RS_WAITERS];
    int nwaiters;
    rs_pend *pends;
} rs;

// research.c
KT_NODISCARD kt_err kt__rs_ask(rs *r, kt_aid to, uint32_t type,
                               const ProtobufCMessage *m, rs_pk kind,
                               rs_after after);
void kt__rs_save(rs *r, Ktpb__V1__CheckpointType type, rs_after after);
void kt__rs_fail(rs *r, const char *fmt, ...) KT_PRINTF(2, 3);
void kt__rs_cancelled(rs *r, const char *why);
void kt__rs_publish(rs *r, bool final);
void kt__rs_progress(rs *r, bool force);
double kt__rs_percent(const rs *r);
// kt__rs_state fills st (pointers into r; valid until r changes).
void kt__rs_state(rs *r, Ktpb__V1__ResearchState *st,
                  Ktpb__V1__TrainingResult **tr,
                  Ktpb__V1__BacktestSummary **bt);
void kt__rs_state_free(Ktpb__V1__TrainingResult *tr,
                       Ktpb__V1__BacktestSummary *bt);
void kt__rs_complete(rs *r);
void kt__rs_finish(rs *r);

// rs_phase.c
void kt__rs_enter(rs *r, const char *phase);
void kt__rs_run_phase(rs *r);
void kt__rs_design_done(rs *r, const kt_msg *msg);
void kt__rs_assess_done(rs *r, const kt_msg *msg);
KT_NODISCARD kt_err kt__rs_use_strategy(rs *r, const char *path, char *err,
                                        size_t n);

// rs_child.c
void kt__rs_child_run(rs *r, bool training);
void kt__rs_child_reply(rs *r, const rs_pend *p, const kt_msg *msg);
void kt__rs_child_progress(rs *r, const kt_msg *msg);
void kt__rs_child_watchdog(rs *r);
void kt__rs_child_cancel(rs *r);

#endif // KT_RESEARCH_RS_ACTOR_H
