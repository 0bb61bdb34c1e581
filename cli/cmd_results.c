// cmd_results.c: `ktrdr operations results ID [--trades] [--equity]`, the
// outcome of a completed training or backtest (same request and JSON as
// GET /api/v1/operations/{id}/results).
#include <inttypes.h>
#include <ktpb/v1/ops.pb-c.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "http/http.h"

#define RESULTS_MS 10000

static const char results_help[] =
    "usage: ktrdr operations results ID [--trades] [--equity] [--json]\n"
    "\n"
    "Show what a completed operation produced: for a training, the model\n"
    "path and its training and test metrics; for a backtest, its metrics.\n"
    "  --trades   also list every trade (backtests)\n"
    "  --equity   include the equity curve (with --json)\n";

static void
fmt_day(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, len, "%Y-%m-%d", &tm) == 0) {
        snprintf(buf, len, "-");
    }
}

static void
print_training(const Ktpb__V1__TrainingResult *t)
{
    printf("  Model:     %s\n", t->model_path);
    printf("  Strategy:  %s on %s %s, %u epochs", t->strategy, t->symbol,
           t->timeframe, t->epochs);
    if (t->resumes > 0) {
        printf(" (resumed %u time%s)", t->resumes, t->resumes == 1 ? "" : "s");
    }
    printf("\n");
    if (t->train != NULL) {
        printf("  Training:  loss %.4f  accuracy %.1f%%  best val loss %.4f "
               "(epoch %d)\n",
               t->train->final_train_loss,
               100.0 * t->train->final_train_accuracy, t->train->best_val_loss,
               t->train->best_epoch);
    }
    if (t->test != NULL) {
        printf("  Test:      accuracy %.1f%%  loss %.4f  precision %.3f  "
               "recall %.3f  F1 %.3f (%" PRIu64 " samples)\n",
               100.0 * t->test->accuracy, t->test->loss, t->test->precision,
               t->test->recall, t->test->f1, t->test->n_samples);
    }
}

static void
print_backtest(const Ktpb__V1__BacktestSummary *b)
{
    const Ktpb__V1__BacktestMetrics *m = b->metrics;
    char from[16], to[16];

    fmt_day(b->start_time, from, sizeof(from));
    fmt_day(b->end_time, to, sizeof(to));
    printf("  Period:    %s .. %s (%" PRIu64 " bars simulated)\n", from, to,
           b->bars_simulated);
    if (m == NULL) {
        return;
    }
    printf("  Equity:    %.2f -> %.2f (%+.2f%%, annualised %+.2f%%)\n",
           m->initial_capital, m->final_equity, 100.0 * m->total_return_pct,
           100.0 * m->annualized_return);
    printf("  Risk:      Sharpe %.2f  Sortino %.2f  Calmar %.2f  max drawdown "
           "%.2f%%\n",
           m->sharpe_ratio, m->sortino_ratio, m->calmar_ratio,
           100.0 * m->max_drawdown_pct);
    printf("  Trades:    %" PRIu64 " (win rate %.1f%%, profit factor %.2f, "
           "costs %.2f)\n",
           m->total_trades, 100.0 * m->win_rate, m->profit_factor,
           m->total_commission + m->total_slippage);
}

static void
print_trades(const Ktpb__V1__BacktestTrades *t)
{
    char in[16], out[16];

    printf("\n%-5s %-6s %8s %-10s %12s %-10s %12s %12s\n", "ID", "SIDE", "QTY",
           "ENTRY", "PRICE", "EXIT", "PRICE", "NET P&L");
    for (size_t i = 0; i < t->n_trades; i++) {
        const Ktpb__V1__BacktestTrade *x = t->trades[i];
        fmt_day(x->entry_time, in, sizeof(in));
        fmt_day(x->exit_time, out, sizeof(out));
        printf("%-5u %-6s %8" PRId64 " %-10s %12.4f %-10s %12.4f %12.2f%s\n",
               x->id,
               x->side == KTPB__V1__POSITION_SIDE__POSITION_SIDE_SHORT ? "short"
                                                                       : "long",
               x->quantity, in, x->entry_price, out, x->exit_price, x->net_pnl,
               x->forced ? "  (closed at end)" : "");
    }
}

int
cmd_results(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    bool trades = false, equity = false;
    const cli_opt opts[] = {{"--trades", NULL, &trades},
                            {"--equity", NULL, &equity},
                            {NULL, NULL, NULL}};
    Ktpb__V1__OpsResultsRequest q;
    Ktpb__V1__OpsResultsReply *r;
    int npos, rv;

    if (c->help) {
        fputs(results_help, stdout);
        return CLI_OK;
    }
    if ((rv = cli_parse(argc, argv, opts, pos, 1, &npos,
                        "operations results")) != CLI_OK) {
        return rv;
    }
    if (npos != 1) {
        return cli_usage("operations results", "needs an operation ID");
    }
    ktpb__v1__ops_results_request__init(&q);
    q.id = CLI_STR(pos[0]);
    q.with_trades = trades;
    q.with_equity = equity;
    if ((rv = cli_connect(c)) != CLI_OK ||
        (rv = cli_call(c, c->ops, KT_OPS_RESULTS, &q.base,
                       &ktpb__v1__ops_results_reply__descriptor, RESULTS_MS,
                       (ProtobufCMessage **)&r)) != CLI_OK) {
        return rv;
    }
    if (r->status != 0) {
        rv = cli_fail(c, r->status, r->message);
    } else if (c->json) {
        rv = cli_json_print(json_pack(
            "{s:s,s:s?,s:s?,s:o}", "operation_id", pos[0], "operation_type",
            r->op != NULL ? r->op->type : NULL, "status",
            r->op != NULL ? kt_http_status_name(r->op->status) : NULL,
            "results", kt_http_results_json(r)));
    } else {
        printf("Results: %s\n", pos[0]);
        if (r->training != NULL) {
            print_training(r->training);
        }
        if (r->backtest != NULL) {
            print_backtest(r->backtest);
        }
        if (r->trades != NULL) {
            print_trades(r->trades);
        }
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return rv;
}
