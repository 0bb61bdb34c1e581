// cmd_agent.c: `ktrdr agent research [BRIEF] [--strategy PATH] [--follow]`
// and `ktrdr agent status [ID]`: agent research through the research
// manager actor ("research") of the backend, with nested progress (the
// research phase, and the training / backtest child it waits for).
#include <ktpb/v1/ops.pb-c.h>
#include <ktpb/v1/research.pb-c.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "research/research.h"

#define ASK_MS         10000
#define CANCEL_MS      60000
#define FOLLOW_POLL_MS 2000 // --follow: no event for this long: read status
#define DRAW_MS        250  // --follow redraws at most 4 times a second

static const char agent_help[] =
    "usage: ktrdr agent COMMAND [ARGS] [--json]\n"
    "\n"
    "commands:\n"
    "  research [BRIEF] [--strategy PATH] [--follow]\n"
    "                       start an agent research (design, train,\n"
    "                       backtest, assess)\n"
    "  status [ID]          live researches and today's budget, or one\n"
    "                       research with its children\n"
    "\n"
    "Cancel and resume a research like any operation:\n"
    "  ktrdr operations cancel ID / ktrdr operations resume ID\n";

static const char research_help[] =
    "usage: ktrdr agent research [BRIEF] [--strategy PATH] [--model M]\n"
    "                            [--symbol S] [--timeframe TF]\n"
    "                            [--start-date D] [--end-date D]\n"
    "                            [--bt-start-date D] [--bt-end-date D]\n"
    "                            [--epochs N] [--seed N] [--bypass-gates]\n"
    "                            [--follow] [--json]\n"
    "\n"
    "Start a research: design a strategy for BRIEF (or use --strategy),\n"
    "train it, backtest it, assess it. A phase checkpoint is saved at every\n"
    "transition; Ctrl+C with --follow cancels (resumable).\n"
    "  --strategy PATH     skip design, research this strategy\n"
    "  --bypass-gates      go on after a failed training/backtest gate\n"
    "  --bt-start-date D   backtest range (default: the training range)\n"
    "  --follow            show nested progress until it ends\n";

typedef struct res_args {
    const char *brief, *strategy, *model, *symbol, *tf, *start, *end;
    const char *bt_start, *bt_end, *epochs, *seed;
    bool bypass, follow;
    char path[PATH_MAX];
} res_args;

static volatile sig_atomic_t agent_interrupted;

static void
agent_on_sigint(int sig)
{
    (void)sig;
    agent_interrupted = 1;
}

static int
agent_connect(cli_ctx *c, kt_aid *research)
{
    kt_err err;
    int rv;

    if ((rv = cli_connect(c)) != CLI_OK) {
        return rv;
    }
    if ((err = kt_remote_connect(c->rt, c->url, KT_RESEARCH_NAME, research)) !=
        KT_OK) {
        return cli_error(c, "cannot connect to %s: %s", c->url,
                         kt_strerror(err));
    }
    return CLI_OK;
}

static int
parse_research(int argc, char **argv, res_args *a,
               Ktpb__V1__ResearchTriggerRequest *t)
{
    const cli_opt opts[] = {
        {"--strategy", &a->strategy, NULL},
        {"--model", &a->model, NULL},
        {"--symbol", &a->symbol, NULL},
        {"--timeframe", &a->tf, NULL},
        {"--start-date", &a->start, NULL},
        {"--end-date", &a->end, NULL},
        {"--bt-start-date", &a->bt_start, NULL},
        {"--bt-end-date", &a->bt_end, NULL},
        {"--epochs", &a->epochs, NULL},
        {"--seed", &a->seed, NULL},
        {"--bypass-gates", NULL, &a->bypass},
        {"--follow", NULL, &a->follow},
        {NULL, NULL, NULL},
    };
    const char *pos[1] = {NULL};
    uint32_t seed = 0;
    int npos = 0, rv;

    if ((rv = cli_parse(argc, argv, opts, pos, 1, &npos, "agent research")) !=
        CLI_OK) {
        return rv;
    }
    a->brief = pos[0];
    if ((a->brief == NULL) == (a->strategy == NULL)) {
        return cli_usage("agent research",
                         "give either a BRIEF or --strategy PATH");
    }
    if (a->strategy != NULL && realpath(a->strategy, a->path) == NULL) {
        (void)fprintf(stderr, "Error: strategy file not found: %s\n",
                      a->strategy);
        return CLI_ERR;
    }
    t->brief = CLI_STR(a->brief != NULL ? a->brief : "");
    t->strategy_path = a->strategy != NULL ? a->path : CLI_STR("");
    t->model = CLI_STR(a->model != NULL ? a->model : "");
    t->symbol = CLI_STR(a->symbol != NULL ? a->symbol : "");
    t->timeframe = CLI_STR(a->tf != NULL ? a->tf : "");
    t->start_date = CLI_STR(a->start != NULL ? a->start : "");
    t->end_date = CLI_STR(a->end != NULL ? a->end : "");
    t->bt_start_date = CLI_STR(a->bt_start != NULL ? a->bt_start : "");
    t->bt_end_date = CLI_STR(a->bt_end != NULL ? a->bt_end : "");
    t->bypass_gates = a->bypass;
    if (a->epochs != NULL &&
        (rv = cli_u32("--epochs", a->epochs, &t->epochs)) != CLI_OK) {
        return rv;
    }
    if (a->seed != NULL) {
        if ((rv = cli_u32("--seed", a->seed, &seed)) != CLI_OK) {
            return rv;
        }
        t->opt_seed_case = KTPB__V1__RESEARCH_TRIGGER_REQUEST__OPT_SEED_SEED;
        t->seed = seed;
    }
    return CLI_OK;
}

static Ktpb__V1__ResearchStatusReply *
agent_status_of(cli_ctx *c, kt_aid research, const char *id)
{
    Ktpb__V1__ResearchStatusRequest q;
    ProtobufCMessage *rep = NULL;

    ktpb__v1__research_status_request__init(&q);
    q.op_id = CLI_STR(id);
    if (cli_call(c, research, KT_RS_STATUS, &q.base,
                 &ktpb__v1__research_status_reply__descriptor, ASK_MS,
                 &rep) != CLI_OK) {
        return NULL;
    }
    return (Ktpb__V1__ResearchStatusReply *)rep;
}

static bool
agent_final(Ktpb__V1__OpStatus s)
{
    return s == KTPB__V1__OP_STATUS__OP_COMPLETED ||
           s == KTPB__V1__OP_STATUS__OP_FAILED ||
           s == KTPB__V1__OP_STATUS__OP_CANCELLED;
}

// agent_line prints the nested progress of one research when it changed.
static void
agent_line(const Ktpb__V1__ResearchInfo *i, char *last, size_t n)
{
    char line[512];

    if (i->child_id[0] != '\0' && !agent_final(i->status)) {
        (void)snprintf(line, sizeof(line),
                       "[%-11s] %3d%%  %s\n  └─ %s  %3d%%  %s", i->phase,
                       (int)i->percent, i->step, i->child_id,
                       (int)i->child_percent, i->child_step);
    } else {
        (void)snprintf(line, sizeof(line), "[%-11s] %3d%%  %s", i->phase,
                       (int)i->percent, i->step);
    }
    if (strcmp(line, last) != 0) {
        printf("%s\n", line);
        (void)fflush(stdout);
        (void)snprintf(last, n, "%s", line);
    }
}

// agent_json_line: one progress object of a --follow --json stream.
static void
agent_json_line(const Ktpb__V1__ResearchInfo *i, const char *id)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:f,s:s}", "event", "progress",
                          "operation_id", id, "phase", i->phase, "percent",
                          i->percent, "current_step", i->step);

    if (j == NULL) {
        return;
    }
    if (i->child_id[0] != '\0') {
        json_object_set_new(j, "child_id", json_string(i->child_id));
        json_object_set_new(j, "child_percent", json_real(i->child_percent));
        json_object_set_new(j, "child_step", json_string(i->child_step));
    }
    (void)cli_json_print(j);
}

static void
agent_cancel(cli_ctx *c, const char *id)
{
    Ktpb__V1__OpsCancelRequest q;
    ProtobufCMessage *rep = NULL;
    FILE *out = c->json ? stderr : stdout; // JSON lines keep stdout JSON

    ktpb__v1__ops_cancel_request__init(&q);
    q.id = CLI_STR(id);
    q.reason = CLI_STR("Cancelled by user (Ctrl+C)");
    fprintf(out, "\nCancelling %s (saving a checkpoint)...\n", id);
    if (cli_call(c, c->ops, KT_OPS_CANCEL, &q.base,
                 &ktpb__v1__ops_reply__descriptor, CANCEL_MS, &rep) == CLI_OK) {
        protobuf_c_message_free_unpacked(rep, NULL);
    }
    fprintf(out, "Resume with: ktrdr operations resume %s\n", id);
}

// agent_poll reads the research's status once: its line (text mode) and,
// when it has ended, the final block (*done). Returns the exit code.
static int
agent_poll(cli_ctx *c, kt_aid research, const char *id, char *last, size_t n,
           bool *done)
{
    Ktpb__V1__ResearchStatusReply *r = agent_status_of(c, research, id);
    int rv;

    *done = true;
    if (r == NULL) {
        return cli_error(c, "the backend stopped answering");
    }
    if (r->status != 0 || r->n_researches != 1) {
        rv = cli_fail(c, r->status, r->message);
        ktpb__v1__research_status_reply__free_unpacked(r, NULL);
        return rv;
    }
    if (!c->json) {
        agent_line(r->researches[0], last, n);
    }
    if (agent_final(r->researches[0]->status)) {
        return cli_agent_print_one(c, r); // frees r
    }
    ktpb__v1__research_status_reply__free_unpacked(r, NULL);
    *done = false;
    return CLI_OK;
}

// agent_follow draws the research's events (agent_watch.c) as they come.
// The status is read when the subscription took (the research may have
// ended before it), after the final event (for the final block), and after
// FOLLOW_POLL_MS without an event (events are best effort).
static int
agent_follow(cli_ctx *c, kt_aid research, const char *id)
{
    char last[512] = "", error[256];
    cli_rs_watch *w;
    int64_t next_poll = cli_now_ms() + DRAW_MS, next_draw = 0;
    bool done = false, ended = false, heard = false;
    int rv;

    (void)signal(SIGINT, agent_on_sigint);
    cli_json_lines(c->json); // --json: one document per line
    if ((rv = cli_rs_watch_start(c, research, id, &w)) != CLI_OK) {
        return rv;
    }
    while (!done) {
        Ktpb__V1__ResearchEvent *e = NULL;
        cli_rs_watch_got got;
        if (agent_interrupted) {
            agent_cancel(c, id);
            return CLI_ERR;
        }
        got = cli_rs_watch_next(w, 200, &e, error, sizeof(error));
        if (got == CLI_RS_FAILED) {
            return cli_error(c, "cannot follow %s: %s", id, error);
        }
        if (got == CLI_RS_EVENT) {
            heard = true;
            ended = ended || e->final;
            if (!e->final && cli_now_ms() >= next_draw) {
                Ktpb__V1__ResearchInfo i;
                cli_rs_event_info(e, &i);
                if (c->json) {
                    agent_json_line(&i, id);
                } else {
                    agent_line(&i, last, sizeof(last));
                }
                next_draw = cli_now_ms() + DRAW_MS;
            }
            next_poll = ended ? 0 : cli_now_ms() + FOLLOW_POLL_MS;
            ktpb__v1__research_event__free_unpacked(e, NULL);
        } else if (got == CLI_RS_SUBSCRIBED) {
            next_poll = 0;
        }
        if (cli_now_ms() < next_poll) {
            continue;
        }
        rv = agent_poll(c, research, id, last, sizeof(last), &done);
        // After the final event the record may lag behind it: soon again.
        // Until a first event came, poll as often as a redraw: a manager
        // that drops remote subscribers (docs/cli.md) sends none.
        next_poll = cli_now_ms() + (ended   ? 50
                                    : heard ? FOLLOW_POLL_MS
                                            : DRAW_MS);
    }
    return rv;
}

static int
agent_research(cli_ctx *c, int argc, char **argv)
{
    Ktpb__V1__ResearchTriggerRequest t;
    Ktpb__V1__ResearchReply *r = NULL;
    res_args a = {0};
    kt_aid research = 0;
    int rv;

    if (c->help) {
        (void)fputs(research_help, stdout);
        return CLI_OK;
    }
    ktpb__v1__research_trigger_request__init(&t);
    if ((rv = parse_research(argc, argv, &a, &t)) != CLI_OK ||
        (rv = agent_connect(c, &research)) != CLI_OK) {
        return rv;
    }
    if ((rv = cli_call(c, research, KT_RS_TRIGGER, &t.base,
                       &ktpb__v1__research_reply__descriptor, ASK_MS,
                       (ProtobufCMessage **)&r)) != CLI_OK) {
        return rv;
    }
    if (r->status != 0 || r->op == NULL) {
        rv = cli_fail(c, r->status, r->message);
    } else if (a.follow) {
        if (!c->json) {
            printf("Started research %s\n", r->op->id);
        }
        rv = agent_follow(c, research, r->op->id);
    } else if (c->json) {
        rv = cli_json_print(json_pack("{s:s,s:s,s:o}", "status", "started",
                                      "operation_id", r->op->id, "operation",
                                      cli_op_json(r->op)));
    } else {
        printf("Started research %s\n"
               "Follow it with: ktrdr agent status %s\n",
               r->op->id, r->op->id);
    }
    ktpb__v1__research_reply__free_unpacked(r, NULL);
    return rv;
}

static int
agent_status(cli_ctx *c, int argc, char **argv)
{
    const cli_opt opts[] = {{NULL, NULL, NULL}};
    Ktpb__V1__ResearchStatusReply *r;
    const char *pos[1] = {NULL};
    kt_aid research = 0;
    int npos = 0, rv;

    if (c->help) {
        (void)fputs(agent_help, stdout);
        return CLI_OK;
    }
    if ((rv = cli_parse(argc, argv, opts, pos, 1, &npos, "agent status")) !=
            CLI_OK ||
        (rv = agent_connect(c, &research)) != CLI_OK) {
        return rv;
    }
    if ((r = agent_status_of(c, research, pos[0] != NULL ? pos[0] : "")) ==
        NULL) {
        return CLI_ERR;
    }
    if (r->status != 0) {
        rv = cli_fail(c, r->status, r->message);
    } else if (pos[0] != NULL && r->n_researches == 1) {
        return cli_agent_print_one(c, r);
    } else {
        rv = cli_agent_print_live(c, r);
    }
    ktpb__v1__research_status_reply__free_unpacked(r, NULL);
    return rv;
}

int
cmd_agent(cli_ctx *c, int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "research") == 0) {
        return agent_research(c, argc - 1, argv + 1);
    }
    if (argc >= 1 && strcmp(argv[0], "status") == 0) {
        return agent_status(c, argc - 1, argv + 1);
    }
    if (c->help) {
        (void)fputs(agent_help, stdout);
        return CLI_OK;
    }
    (void)fputs(agent_help, stderr);
    return CLI_USAGE;
}
