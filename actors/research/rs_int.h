// rs_int.h: what the research files share: the budget and memory files,
// atomic file writes, the plug-in runner actor and the research actor's
// configuration.
#ifndef KT_RESEARCH_RS_INT_H
#define KT_RESEARCH_RS_INT_H

#include <ktpb/v1/research.pb-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kt/actor.h>

#include "research/research.h"

#define RS_ID_MAX   64
#define RS_PATH_MAX 1024

// rs_files.c: write data to path through a temporary file, fsync, rename
// and fsync of the directory (created with its parents). Errors:
// KT_ESYSERR | errno.
KT_NODISCARD kt_err kt__rs_write_atomic(const char *path, const char *data,
                                        size_t len);
KT_NODISCARD kt_err kt__rs_mkdirs(const char *dir);
// kt__rs_read_file: the whole file, NUL-terminated (free()). KT_ENOENT.
KT_NODISCARD kt_err kt__rs_read_file(const char *path, char **out, size_t *len);

// budget.c: $DATA/budget/YYYY-MM-DD.json (UTC day) {limit, spend[{amount,
// operation_id, timestamp}], total_spend}. Serialised by a process-wide
// lock (every research actor of a backend shares it).
KT_NODISCARD kt_err kt__rs_budget_spent(const char *data_dir, double *spent);
// kt__rs_budget_check: KT_OK while spent < limit (limit <= 0: no limit);
// KT_ESTATE with "Daily budget exhausted: ..." in why.
KT_NODISCARD kt_err kt__rs_budget_check(const char *data_dir, double limit,
                                        char *why, size_t n);
KT_NODISCARD kt_err kt__rs_budget_add(const char *data_dir, double limit,
                                      double amount, const char *op_id);
// kt__rs_cost: USD of tokens for a model name (price table, per million).
double kt__rs_cost(const char *model, uint64_t tokens_in, uint64_t tokens_out);

// memory.c: KTRDR's memory files: $DATA/memory/experiments/<op>.yaml and
// $DATA/memory/hypotheses.yaml (appended, rewritten atomically).
KT_NODISCARD kt_err kt__rs_memory_record(const char *data_dir,
                                         const char *op_id,
                                         const Ktpb__V1__ResearchState *st,
                                         const Ktpb__V1__AssessResult *a,
                                         char *path, size_t pathlen);
// kt__rs_memory_summary: a short text of the latest experiments and open
// hypotheses for the designer's prompt (malloc'ed; "" when none).
char *kt__rs_memory_summary(const char *data_dir);
// kt__rs_yaml_quote appends s as a double-quoted YAML scalar to buf.
void kt__rs_yaml_quote(char *buf, size_t n, const char *s);

// runner.c: a dedicated actor that runs one designer or assessor call
// (it may block) and sends the result (KT_RS_DESIGN_DONE / ASSESS_DONE)
// to `reply_to`, then exits.
typedef struct kt__rs_runner_cfg {
    kt_rs_designer designer;
    kt_rs_assessor assessor;
    kt_aid reply_to;
    int cancel_fd; // read end; the runner owns it (closed at fini)
} kt__rs_runner_cfg;
extern const kt_actor_ops kt__rs_runner_ops;

// extcmd.c: run cmd with input on stdin; *out gets stdout (malloc'ed,
// NUL-terminated). Errors, with why filled: KT_ETIMEDOUT (killed),
// KT_ECANCELED (cancel_fd hung up; killed), KT_EINVAL (exit status != 0),
// KT_ESYSERR | errno.
KT_NODISCARD kt_err kt__rs_run_cmd(const char *cmd, const char *input,
                                   uint32_t timeout_ms, int cancel_fd,
                                   char **out, char *why, size_t n);

// The research actor (one per research operation), spawned by the
// manager. Borrowed pointers are copied during init.
typedef struct kt__rs_actor_cfg {
    const char *op_id;
    uint32_t attempt;
    bool resume;
    const uint8_t *request; // ResearchTriggerRequest (new research)
    size_t request_len;
    const uint8_t *state; // ResearchState (resume)
    size_t state_len;
    uint64_t seq; // last checkpoint seq (resume)
    kt_aid starter;
    uint64_t starter_corr;
    uint32_t starter_type; // KT_RS_REPLY or KT_OPS_REPLY
    kt_aid manager, persist, ops;
    const kt_research_cfg *cfg;
} kt__rs_actor_cfg;
extern const kt_actor_ops kt__rs_research_ops;

// The request of a research as the designer sees it (symbol/timeframe
// resolved): a template seeded from the operation id.
uint64_t kt__rs_seed(const char *op_id);

#endif // KT_RESEARCH_RS_INT_H
