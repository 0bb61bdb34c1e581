// cmd_train.c: `ktrdr models train` and `ktrdr backtest run`: start the
// operation, then follow it (always with --follow; by default when stdout
// is a terminal).
#include <ktpb/v1/ops.pb-c.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char train_help[] =
    "usage: ktrdr models train STRATEGY SYMBOL TIMEFRAME --start-date D\n"
    "                          --end-date D [--epochs N]\n"
    "                          [--checkpoint-frequency N] [--no-checkpoint]\n"
    "                          [--seed N] [--follow] [--json]\n"
    "\n"
    "Train the strategy's model on DATA_DIR/SYMBOL_TIMEFRAME.csv.\n"
    "  --epochs N                 default: the strategy's training.epochs\n"
    "  --checkpoint-frequency N   checkpoint every N epochs (default 5)\n"
    "  --no-checkpoint            no periodic checkpoints (a cancellation or\n"
    "                             failure still saves one)\n"
    "  --follow                   show progress until it ends (default on a\n"
    "                             terminal); Ctrl+C cancels with a "
    "checkpoint\n";

static const char bt_help[] =
    "usage: ktrdr backtest run STRATEGY SYMBOL TIMEFRAME --model DIR\n"
    "                          --start-date D --end-date D [--capital X]\n"
    "                          [--commission X] [--slippage X]\n"
    "                          [--checkpoint-frequency N] [--no-checkpoint]\n"
    "                          [--follow] [--json]\n"
    "\n"
    "Backtest a trained model (DIR: the model_path a training printed).\n"
    "  --capital X                initial capital (default 100000)\n"
    "  --commission X             per trade, fraction (default 0.001)\n"
    "  --slippage X               fraction (default 0.0005)\n"
    "  --checkpoint-frequency N   checkpoint every N bars (default 1000)\n";

typedef struct run_args {
    const char *pos[3], *start, *end, *epochs, *freq, *seed, *model;
    const char *capital, *commission, *slippage;
    bool no_ckpt, follow;
    char strategy[PATH_MAX];
} run_args;

// check_inputs resolves the strategy path (the backend may run elsewhere)
// and, when the backend shares our data directory, checks the data file.
static int
check_inputs(cli_ctx *c, run_args *a, const char *cmd)
{
    char path[PATH_MAX + 64];
    struct stat st;

    if (realpath(a->pos[0], a->strategy) == NULL) {
        return cli_error(c, "strategy file not found: %s", a->pos[0]);
    }
    if (strchr(a->pos[1], '/') != NULL || strchr(a->pos[2], '/') != NULL) {
        return cli_usage(cmd, "bad SYMBOL or TIMEFRAME");
    }
    snprintf(path, sizeof(path), "%s/%s_%s.csv", c->data_dir, a->pos[1],
             a->pos[2]);
    if (c->url == c->url_buf && stat(path, &st) != 0) {
        return cli_error(c,
                         "market data file %s is missing; create it with: "
                         "ktrdr data generate %s %s --start-date %s "
                         "--end-date %s (or ktrdr data fetch)",
                         path, a->pos[1], a->pos[2], a->start, a->end);
    }
    return CLI_OK;
}

static int
parse_run(int argc, char **argv, run_args *a, const char *cmd, bool bt)
{
    const cli_opt opts[] = {
        {"--start-date", &a->start, NULL},
        {"--end-date", &a->end, NULL},
        {"--checkpoint-frequency", &a->freq, NULL},
        {"--no-checkpoint", NULL, &a->no_ckpt},
        {"--follow", NULL, &a->follow},
        {bt ? "--model" : "--epochs", bt ? &a->model : &a->epochs, NULL},
        {bt ? "--capital" : "--seed", bt ? &a->capital : &a->seed, NULL},
        {bt ? "--commission" : "-", &a->commission, NULL},
        {bt ? "--slippage" : "-", &a->slippage, NULL},
        {NULL, NULL, NULL}};
    int npos, rv;

    if ((rv = cli_parse(argc, argv, opts, a->pos, 3, &npos, cmd)) != 0) {
        return rv;
    }
    cli_json_lines(a->follow); // --follow --json: every document one line
    if (npos != 3) {
        return cli_usage(cmd, "needs STRATEGY SYMBOL TIMEFRAME");
    }
    if (a->start == NULL || a->end == NULL) {
        return cli_usage(cmd, "needs --start-date and --end-date");
    }
    if (bt && a->model == NULL) {
        return cli_usage(cmd, "needs --model DIR (a trained model)");
    }
    return CLI_OK;
}

// started prints the new operation, then follows it or says how to.
static int
started(cli_ctx *c, Ktpb__V1__OpsReply *r, bool follow)
{
    char id[128];
    int rv = CLI_OK;

    if (r->status != 0 || r->op == NULL) {
        rv = cli_fail(c, r->status, r->message);
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return rv;
    }
    snprintf(id, sizeof(id), "%s", r->op->id);
    if (c->json && !follow) {
        rv = cli_json_print(cli_op_json(r->op));
    } else if (!c->json) {
        printf("Started %s operation: %s\n", r->op->type, id);
        if (!follow) {
            printf("Follow it with: ktrdr operations status %s\n", id);
        }
        fflush(stdout);
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return follow ? cli_follow(c, id) : rv;
}

static int
models_train(cli_ctx *c, int argc, char **argv)
{
    run_args a = {0};
    Ktpb__V1__StartTrainingRequest q;
    Ktpb__V1__OpsReply *r;
    uint64_t seed = 0;
    int rv;
    ktpb__v1__start_training_request__init(&q);

    if ((rv = parse_run(argc, argv, &a, "models train", false)) != 0 ||
        (rv = cli_u32("--epochs", a.epochs, &q.epochs)) != 0 ||
        (rv = cli_u32("--checkpoint-frequency", a.freq,
                      &q.checkpoint_frequency)) != 0) {
        return rv;
    }
    if (a.seed != NULL) {
        uint32_t s32 = 0;
        if ((rv = cli_u32("--seed", a.seed, &s32)) != 0) {
            return rv;
        }
        seed = s32;
        q.opt_seed_case = KTPB__V1__START_TRAINING_REQUEST__OPT_SEED_SEED;
        q.seed = seed;
    }
    if ((rv = check_inputs(c, &a, "models train")) != CLI_OK) {
        return rv;
    }
    q.strategy_path = a.strategy;
    q.symbol = CLI_STR(a.pos[1]);
    q.timeframe = CLI_STR(a.pos[2]);
    q.start_date = CLI_STR(a.start);
    q.end_date = CLI_STR(a.end);
    if (a.no_ckpt) {
        q.opt_checkpoint_enabled_case =
            KTPB__V1__START_TRAINING_REQUEST__OPT_CHECKPOINT_ENABLED_CHECKPOINT_ENABLED;
        q.checkpoint_enabled = false;
    }
    if ((rv = cli_connect(c)) != CLI_OK ||
        (rv = cli_call(c, c->ops, KT_OPS_START_TRAINING, &q.base,
                       &ktpb__v1__ops_reply__descriptor, 30000,
                       (ProtobufCMessage **)&r)) != CLI_OK) {
        return rv;
    }
    return started(c, r, a.follow || (isatty(STDOUT_FILENO) && !c->json));
}

static int
backtest_run(cli_ctx *c, int argc, char **argv)
{
    run_args a = {0};
    Ktpb__V1__StartBacktestRequest q;
    Ktpb__V1__OpsReply *r;
    char model[PATH_MAX];
    int rv;
    ktpb__v1__start_backtest_request__init(&q);

    if ((rv = parse_run(argc, argv, &a, "backtest run", true)) != 0 ||
        (rv = cli_u32("--checkpoint-frequency", a.freq,
                      &q.checkpoint_frequency)) != 0 ||
        (rv = cli_double("--capital", a.capital, &q.initial_capital)) != 0 ||
        (rv = cli_double("--commission", a.commission, &q.commission)) != 0 ||
        (rv = cli_double("--slippage", a.slippage, &q.slippage)) != 0) {
        return rv;
    }
    if (a.capital != NULL) {
        q.opt_initial_capital_case =
            KTPB__V1__START_BACKTEST_REQUEST__OPT_INITIAL_CAPITAL_INITIAL_CAPITAL;
    }
    if (a.commission != NULL) {
        q.opt_commission_case =
            KTPB__V1__START_BACKTEST_REQUEST__OPT_COMMISSION_COMMISSION;
    }
    if (a.slippage != NULL) {
        q.opt_slippage_case =
            KTPB__V1__START_BACKTEST_REQUEST__OPT_SLIPPAGE_SLIPPAGE;
    }
    if ((rv = check_inputs(c, &a, "backtest run")) != CLI_OK) {
        return rv;
    }
    q.strategy_path = a.strategy;
    q.model_path = CLI_STR(realpath(a.model, model) != NULL ? model : a.model);
    q.symbol = CLI_STR(a.pos[1]);
    q.timeframe = CLI_STR(a.pos[2]);
    q.start_date = CLI_STR(a.start);
    q.end_date = CLI_STR(a.end);
    if (a.no_ckpt) {
        q.opt_checkpoint_enabled_case =
            KTPB__V1__START_BACKTEST_REQUEST__OPT_CHECKPOINT_ENABLED_CHECKPOINT_ENABLED;
        q.checkpoint_enabled = false;
    }
    if ((rv = cli_connect(c)) != CLI_OK ||
        (rv = cli_call(c, c->ops, KT_OPS_START_BACKTEST, &q.base,
                       &ktpb__v1__ops_reply__descriptor, 30000,
                       (ProtobufCMessage **)&r)) != CLI_OK) {
        return rv;
    }
    return started(c, r, a.follow || (isatty(STDOUT_FILENO) && !c->json));
}

int
cmd_models(cli_ctx *c, int argc, char **argv)
{
    if (c->help || argc < 1 || strcmp(argv[0], "train") != 0) {
        if (!c->help && argc > 0) {
            return cli_usage("models", "unknown command '%s'", argv[0]);
        }
        fputs(train_help, c->help ? stdout : stderr);
        return c->help ? CLI_OK : CLI_USAGE;
    }
    return models_train(c, argc - 1, argv + 1);
}

int
cmd_backtest(cli_ctx *c, int argc, char **argv)
{
    if (c->help || argc < 1 || strcmp(argv[0], "run") != 0) {
        if (!c->help && argc > 0) {
            return cli_usage("backtest", "unknown command '%s'", argv[0]);
        }
        fputs(bt_help, c->help ? stdout : stderr);
        return c->help ? CLI_OK : CLI_USAGE;
    }
    return backtest_run(c, argc - 1, argv + 1);
}
