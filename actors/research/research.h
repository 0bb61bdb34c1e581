// research.h: agent research. The research manager actor ("research")
// starts one research actor per agent_research operation; each runs the
// phases idle -> designing -> training -> backtesting -> assessing ->
// completed, reacting to its children's events (no polling), and saves a
// checkpoint at every phase transition, on cancellation and on failure.
// Design and assessment are plug-ins (op tables below): the defaults are
// offline (a seeded template designer, the rubric as rules); an adapter
// runs an external command. docs/actors/research.md describes it all.
#ifndef KT_RESEARCH_RESEARCH_H
#define KT_RESEARCH_RESEARCH_H

#include <ktpb/v1/research.pb-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kt/actor.h>

// Message types 600-699 belong to the research actors (research.proto).
enum {
    KT_RS_TRIGGER = 600,      // ResearchTriggerRequest -> ResearchReply
    KT_RS_REPLY = 601,        // ResearchReply (OpsReply wire layout)
    KT_RS_STATUS = 602,       // ResearchStatusRequest -> ..Reply
    KT_RS_STATUS_REPLY = 603, // ResearchStatusReply
    KT_RS_SUBSCRIBE = 604,    // ResearchSubscribeRequest -> ResearchReply
    KT_RS_UNSUBSCRIBE = 605,  // ResearchSubscribeRequest -> ResearchReply
    KT_RS_EVENT = 606,        // ResearchEvent (research -> subscribers)
    KT_RS_DESIGN = 610,       // DesignRequest (research -> runner)
    KT_RS_DESIGN_DONE = 611,  // DesignResult (runner -> research)
    KT_RS_ASSESS = 612,       // AssessRequest
    KT_RS_ASSESS_DONE = 613,  // AssessResult
    KT_RS_CANCEL = 620,       // OpsCancelRequest -> OpsReply (manager ->
                              // research actor; KT_OPS_CANCEL to the
                              // manager is routed here)
    KT_RS_STARTED = 621,      // research -> manager: running (no reply)
    KT_RS_ENDED = 622,        // research -> manager: ResearchEvent final
};

#define KT_RESEARCH_NAME   "research"
#define KT_RS_OP_TYPE      "agent_research"
#define KT_RS_ID_PREFIX    "op_agent_research_"
#define KT_RS_CKPT_FORMAT  1
#define KT_RS_TEXT_MAX     4096
#define KT_RS_MAX_DESIGN   3      // designer tries (validator feedback)
#define KT_RS_BUDGET_LIMIT 20.0   // USD per UTC day (KTRDR's default)
#define KT_RS_CMD_TIMEOUT  120000 // ms, external designer/assessor

// Gate thresholds (KTRDR's defaults, reference §5.4).
typedef struct kt_rs_gates {
    double min_accuracy; // training: test accuracy >= (0.10)
    double max_loss;     // training: test loss <= (0.8)
    // training: (first - final train loss) / first >= (-0.5): the loss may
    // not grow by more than half over the run
    double min_loss_decrease;
    double min_win_rate;     // backtest: win rate >= (0.10)
    double max_drawdown_pct; // backtest: max drawdown (fraction) <= (0.40)
    double min_sharpe;       // backtest: Sharpe >= (-0.5)
} kt_rs_gates;

void kt_rs_gates_default(kt_rs_gates *g);

// kt_rs_info_from_event copies a ResearchEvent's progress (phase, percent,
// step and the child's) into i, borrowing e's strings; op_id and status
// are left to the caller.
void kt_rs_info_from_event(Ktpb__V1__ResearchInfo *i,
                           const Ktpb__V1__ResearchEvent *e);
// kt_rs_gate_training / kt_rs_gate_backtest: true when the metrics pass;
// otherwise why (one line, "Training gate failed: ...") is filled.
bool kt_rs_gate_training(const kt_rs_gates *g,
                         const Ktpb__V1__TrainingResult *r, char *why,
                         size_t n);
bool kt_rs_gate_backtest(const kt_rs_gates *g,
                         const Ktpb__V1__BacktestSummary *s, char *why,
                         size_t n);

// A designer: composes a strategy YAML for a brief. Runs on a thread of
// its own (it may block); cancel_fd becomes readable (hang-up) when the
// research is cancelled. Fill out (status 0 + yaml, or status != 0 +
// message). out's strings are malloc'ed (released by the caller).
typedef struct kt_rs_designer {
    const char *name;
    void (*design)(void *arg, const Ktpb__V1__DesignRequest *in, int cancel_fd,
                   Ktpb__V1__DesignResult *out);
    void *arg;
} kt_rs_designer;

typedef struct kt_rs_assessor {
    const char *name;
    void (*assess)(void *arg, const Ktpb__V1__AssessRequest *in, int cancel_fd,
                   Ktpb__V1__AssessResult *out);
    void *arg;
} kt_rs_assessor;

// The built-ins: the offline seeded template designer, the rubric
// assessor, and the external-command adapters (arg = kt_rs_cmd).
extern const kt_rs_designer kt_rs_offline_designer;
extern const kt_rs_assessor kt_rs_rules_assessor;

typedef struct kt_rs_cmd {
    const char *cmd;     // run with /bin/sh -c; prompt on stdin
    uint32_t timeout_ms; // 0 = KT_RS_CMD_TIMEOUT
} kt_rs_cmd;
void kt_rs_cmd_designer(const kt_rs_cmd *c, kt_rs_designer *d);
void kt_rs_cmd_assessor(const kt_rs_cmd *c, kt_rs_assessor *a);

typedef struct kt_research_cfg {
    const char *data_dir;    // required
    kt_rs_designer designer; // name NULL = offline (or $KTRDR_DESIGNER_CMD)
    kt_rs_assessor assessor; // name NULL = rules (or $KTRDR_ASSESSOR_CMD)
    kt_rs_gates gates;       // all zero = kt_rs_gates_default
    bool gates_set;
    double budget_limit;       // USD/day; < 0 = none; 0 = KT_RS_BUDGET_LIMIT
    uint32_t max_design_tries; // 0 = KT_RS_MAX_DESIGN
    uint32_t max_concurrent;   // live researches; 0 = 4
    uint32_t ask_timeout_ms;   // 0 = 30000
    uint32_t child_grace_ms;   // a "running" child silent this long after
                               // a resume is treated as orphaned; 0 = 10000
    bool no_reconcile;         // skip start-up reconciliation
    bool no_auto_resume;       // reconcile: mark failed, do not resume
} kt_research_cfg;

// kt_research_cfg_env fills designer / assessor / budget / gates from the
// environment (KTRDR_DESIGNER_CMD, KTRDR_ASSESSOR_CMD, KTRDR_AGENT_BUDGET,
// KTRDR_AGENT_CMD_TIMEOUT_MS, KTRDR_GATE_MIN_ACCURACY, _MAX_LOSS,
// _MIN_WIN_RATE, _MAX_DRAWDOWN, _MIN_SHARPE) where set. The command
// strings are borrowed from the environment.
void kt_research_cfg_env(kt_research_cfg *cfg);

// research_manager_ops: spawn with a kt_research_cfg (copied) and
// kt_spawn_opts{.name = KT_RESEARCH_NAME} next to the operations and
// persistence actors. kt_research_start does exactly that.
extern const kt_actor_ops research_manager_ops;
KT_NODISCARD kt_err kt_research_start(kt_runtime *rt,
                                      const kt_research_cfg *cfg, kt_aid *aidp);

// kt_rs_phase_name / kt_rs_phase_percent: the phase's progress base.
const char *kt_rs_phase_step(const char *phase);
double kt_rs_phase_percent(const char *phase);

#endif // KT_RESEARCH_RESEARCH_H
