// mg_env.c: embedding helpers of the research manager: start it in a
// runtime, and take its configuration from the environment.
#include <stdlib.h>

#include "research/research.h"

kt_err
kt_research_start(kt_runtime *rt, const kt_research_cfg *cfg, kt_aid *aidp)
{
    kt_spawn_opts so = {.name = KT_RESEARCH_NAME, .dedicated = false};

    return kt_spawn(rt, &research_manager_ops, cfg, &so, aidp);
}

static void
mg_env_double(const char *name, double *out)
{
    const char *v = getenv(name);
    char *end;
    double d;

    if (v != NULL && *v != '\0') {
        d = strtod(v, &end);
        if (*end == '\0') {
            *out = d;
        }
    }
}

void
kt_research_cfg_env(kt_research_cfg *cfg)
{
    static kt_rs_cmd dcmd, acmd; // the environment outlives every runtime
    const char *d = getenv("KTRDR_DESIGNER_CMD");
    const char *a = getenv("KTRDR_ASSESSOR_CMD");
    double timeout = 0;

    mg_env_double("KTRDR_AGENT_CMD_TIMEOUT_MS", &timeout);
    if (d != NULL && *d != '\0') {
        dcmd.cmd = d;
        dcmd.timeout_ms = (uint32_t)timeout;
        kt_rs_cmd_designer(&dcmd, &cfg->designer);
    }
    if (a != NULL && *a != '\0') {
        acmd.cmd = a;
        acmd.timeout_ms = (uint32_t)timeout;
        kt_rs_cmd_assessor(&acmd, &cfg->assessor);
    }
    mg_env_double("KTRDR_AGENT_BUDGET", &cfg->budget_limit);
    if (!cfg->gates_set) {
        kt_rs_gates_default(&cfg->gates);
        cfg->gates_set = true;
    }
    mg_env_double("KTRDR_GATE_MIN_ACCURACY", &cfg->gates.min_accuracy);
    mg_env_double("KTRDR_GATE_MAX_LOSS", &cfg->gates.max_loss);
    mg_env_double("KTRDR_GATE_MIN_LOSS_DECREASE",
                  &cfg->gates.min_loss_decrease);
    mg_env_double("KTRDR_GATE_MIN_WIN_RATE", &cfg->gates.min_win_rate);
    mg_env_double("KTRDR_GATE_MAX_DRAWDOWN", &cfg->gates.max_drawdown_pct);
    mg_env_double("KTRDR_GATE_MIN_SHARPE", &cfg->gates.min_sharpe);
}
