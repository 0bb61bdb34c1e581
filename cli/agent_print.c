// agent_print.c: how `ktrdr agent status` shows researches: one with its
// phase, strategy, gate, verdict, cost and children, or the live ones as a
// table; JSON with --json.
#include <ktpb/v1/ops.pb-c.h>
#include <ktpb/v1/research.pb-c.h>
#include <stdio.h>

#include "cli.h"

static json_t *
agent_state_json(const Ktpb__V1__ResearchState *st)
{
    const Ktpb__V1__ResearchBudget *b = st->budget;

    return json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:{s:I,s:I,s:f,s:i,s:i},"
        "s:i}",
        "phase", st->phase, "strategy_name", st->strategy_name, "strategy_path",
        st->strategy_path, "training_operation_id", st->training_op_id,
        "backtest_operation_id", st->backtest_op_id, "model_path",
        st->model_path, "gate_rejection_reason", st->gate_reason, "verdict",
        st->verdict, "symbol", st->symbol, "experiment_path",
        st->experiment_path, "budget", "tokens_in",
        (json_int_t)(b ? b->tokens_in : 0), "tokens_out",
        (json_int_t)(b ? b->tokens_out : 0), "cost_usd", b ? b->cost_usd : 0.0,
        "design_attempts", (int)(b ? b->design_attempts : 0), "assess_calls",
        (int)(b ? b->assess_calls : 0), "resumes", (int)st->resumes);
}

static json_t *
agent_info_json(const Ktpb__V1__ResearchInfo *i)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:f,s:s,s:s,s:f,s:s}", "operation_id",
                          i->op_id, "status", cli_status_name(i->status),
                          "phase", i->phase, "progress", i->percent, "step",
                          i->step, "child_id", i->child_id, "child_progress",
                          i->child_percent, "child_step", i->child_step);
    json_t *kids = json_array();

    for (size_t k = 0; k < i->n_children; k++) {
        json_array_append_new(kids, cli_op_json(i->children[k]));
    }
    json_object_set_new(j, "children", kids);
    if (i->state != NULL) {
        json_object_set_new(j, "state", agent_state_json(i->state));
    }
    return j;
}

int
cli_agent_print_one(cli_ctx *c, Ktpb__V1__ResearchStatusReply *r)
{
    const Ktpb__V1__ResearchInfo *i = r->researches[0];
    const Ktpb__V1__ResearchState *st = i->state;
    int rv = i->status == KTPB__V1__OP_STATUS__OP_FAILED ? CLI_ERR : CLI_OK;

    if (c->json) {
        cli_json_print(agent_info_json(i));
        ktpb__v1__research_status_reply__free_unpacked(r, NULL);
        return rv;
    }
    printf("%s  %s  %d%%  %s\n", i->op_id, cli_status_upper(i->status),
           (int)i->percent, i->step);
    if (st != NULL) {
        printf("  phase:    %s\n  strategy: %s%s%s%s\n", st->phase,
               st->strategy_name[0] ? st->strategy_name : "-",
               st->strategy_path[0] ? " (" : "", st->strategy_path,
               st->strategy_path[0] ? ")" : "");
        if (st->gate_reason[0] != '\0') {
            printf("  gate:     %s\n", st->gate_reason);
        }
        if (st->verdict[0] != '\0') {
            printf("  verdict:  %s\n", st->verdict);
        }
        if (st->budget != NULL) {
            printf("  cost:     $%.4f (%llu tokens in, %llu out)\n",
                   st->budget->cost_usd,
                   (unsigned long long)st->budget->tokens_in,
                   (unsigned long long)st->budget->tokens_out);
        }
    }
    for (size_t k = i->n_children; k-- > 0;) { // oldest first
        const Ktpb__V1__OperationRecord *ch = i->children[k];
        printf("  %s %-40s %-12s %-10s %3d%%\n", k == 0 ? "└─" : "├─", ch->id,
               ch->type, cli_status_upper(ch->status),
               (int)ch->progress_percent);
    }
    ktpb__v1__research_status_reply__free_unpacked(r, NULL);
    return rv;
}

int
cli_agent_print_live(cli_ctx *c, Ktpb__V1__ResearchStatusReply *r)
{
    json_t *a;

    if (c->json) {
        a = json_array();
        for (size_t k = 0; k < r->n_researches; k++) {
            json_array_append_new(a, agent_info_json(r->researches[k]));
        }
        return cli_json_print(json_pack("{s:o,s:{s:f,s:f}}", "researches", a,
                                        "budget", "limit", r->budget_limit,
                                        "spent_today", r->budget_spent));
    }
    if (r->n_researches == 0) {
        printf("No research running\n");
    } else {
        printf("%-42s%-13s%-10s%s\n", "OPERATION_ID", "PHASE", "PROGRESS",
               "CHILD");
    }
    for (size_t k = 0; k < r->n_researches; k++) {
        const Ktpb__V1__ResearchInfo *i = r->researches[k];
        char pct[16];
        (void)snprintf(pct, sizeof(pct), "%d%%", (int)i->percent);
        printf("%-42s%-13s%-10s%s%s%s%s\n", i->op_id, i->phase, pct,
               i->child_id[0] ? i->child_id : "-", i->child_step[0] ? " (" : "",
               i->child_step, i->child_step[0] ? ")" : "");
    }
    if (r->budget_limit > 0) {
        printf("\nBudget: $%.4f of $%.2f spent today\n", r->budget_spent,
               r->budget_limit);
    } else {
        printf("\nBudget: $%.4f spent today (no limit)\n", r->budget_spent);
    }
    return CLI_OK;
}
