// gates.c: the quality gates after training and after the backtest
// (reference §5.4, deterministic, no model call) and the phase table.
#include <stdio.h>
#include <string.h>

#include "research/research.h"

void
kt_rs_gates_default(kt_rs_gates *g)
{
    g->min_accuracy = 0.10;
    g->max_loss = 0.8;
    g->min_loss_decrease = -0.5;
    g->min_win_rate = 0.10;
    g->max_drawdown_pct = 0.40;
    g->min_sharpe = -0.5;
}

// The training loss from the first to the last epoch: a run whose loss
// grew (relative decrease below the gate) learned nothing usable. Older
// results without the first epoch's loss (0) are not judged on it.
static bool
gate_loss_decrease(const kt_rs_gates *g, const Ktpb__V1__TrainMetrics *m,
                   char *why, size_t n)
{
    double dec;

    if (m == NULL || m->first_train_loss == 0.0) {
        return true;
    }
    dec = (m->first_train_loss - m->final_train_loss) / m->first_train_loss;
    if (!(dec >= g->min_loss_decrease)) {
        (void)snprintf(why, n,
                       "Training gate failed: train loss decrease %.1f%% < "
                       "%.1f%% (%.3f -> %.3f)",
                       100.0 * dec, 100.0 * g->min_loss_decrease,
                       m->first_train_loss, m->final_train_loss);
        return false;
    }
    return true;
}

bool
kt_rs_gate_training(const kt_rs_gates *g, const Ktpb__V1__TrainingResult *r,
                    char *why, size_t n)
{
    const Ktpb__V1__TestMetrics *t = r != NULL ? r->test : NULL;

    if (t == NULL) {
        (void)snprintf(why, n, "Training gate failed: no test metrics");
        return false;
    }
    if (!(t->accuracy >= g->min_accuracy)) {
        (void)snprintf(why, n,
                       "Training gate failed: test accuracy %.3f < %.3f",
                       t->accuracy, g->min_accuracy);
        return false;
    }
    if (!(t->loss <= g->max_loss)) {
        (void)snprintf(why, n, "Training gate failed: test loss %.3f > %.3f",
                       t->loss, g->max_loss);
        return false;
    }
    return gate_loss_decrease(g, r->train, why, n);
}

bool
kt_rs_gate_backtest(const kt_rs_gates *g, const Ktpb__V1__BacktestSummary *s,
                    char *why, size_t n)
{
    const Ktpb__V1__BacktestMetrics *m = s != NULL ? s->metrics : NULL;

    if (m == NULL) {
        (void)snprintf(why, n, "Backtest gate failed: no metrics");
        return false;
    }
    if (!(m->win_rate >= g->min_win_rate)) {
        (void)snprintf(why, n, "Backtest gate failed: win rate %.3f < %.3f",
                       m->win_rate, g->min_win_rate);
        return false;
    }
    if (!(m->max_drawdown_pct <= g->max_drawdown_pct)) {
        (void)snprintf(why, n, "Backtest gate failed: max drawdown %.3f > %.3f",
                       m->max_drawdown_pct, g->max_drawdown_pct);
        return false;
    }
    if (!(m->sharpe_ratio >= g->min_sharpe)) {
        (void)snprintf(why, n, "Backtest gate failed: Sharpe %.3f < %.3f",
                       m->sharpe_ratio, g->min_sharpe);
        return false;
    }
    return true;
}

static const struct {
    const char *phase;
    const char *step;
    double percent;
} rs_phases[] = {
    {"idle", "Starting research...", 0.0},
    {"designing", "Designing strategy...", 5.0},
    {"training", "Training model...", 20.0},
    {"backtesting", "Running backtest...", 65.0},
    {"assessing", "Assessing results...", 90.0},
    {"completed", "Complete", 100.0},
};

const char *
kt_rs_phase_step(const char *phase)
{
    for (size_t i = 0; i < sizeof(rs_phases) / sizeof(rs_phases[0]); i++) {
        if (strcmp(rs_phases[i].phase, phase) == 0) {
            return rs_phases[i].step;
        }
    }
    return "";
}

double
kt_rs_phase_percent(const char *phase)
{
    for (size_t i = 0; i < sizeof(rs_phases) / sizeof(rs_phases[0]); i++) {
        if (strcmp(rs_phases[i].phase, phase) == 0) {
            return rs_phases[i].percent;
        }
    }
    return 0.0;
}
