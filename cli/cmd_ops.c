// cmd_ops.c: `ktrdr operations list|status|cancel|resume` (results:
// cmd_results.c).
#include <inttypes.h>
#include <ktpb/v1/ops.pb-c.h>
#include <string.h>

#include "cli.h"

#define ASK_MS    5000
#define CANCEL_MS 60000 // the reply waits for the cancellation checkpoint

static const char list_help[] =
    "usage: ktrdr operations list [--status S] [--type T] [--resumable]\n"
    "                             [--limit N] [--json]\n"
    "\n"
    "List operations, newest first.\n"
    "  --status S    pending|running|completed|failed|cancelled|resuming\n"
    "  --type T      training|backtesting\n"
    "  --resumable   only cancelled or failed operations with a checkpoint\n"
    "  --limit N     at most N rows (default 100)\n";

static const char ops_help[] =
    "usage: ktrdr operations COMMAND [ARGS] [--json]\n"
    "\n"
    "commands:\n"
    "  list [--status S] [--type T] [--resumable] [--limit N]\n"
    "  status ID            show one operation\n"
    "  cancel ID [--reason TEXT]\n"
    "                       cancel it (a cancellation checkpoint is saved)\n"
    "  resume ID [--follow] continue a cancelled or failed operation from\n"
    "                       its checkpoint\n"
    "  results ID [--trades] [--equity]\n"
    "                       what a completed operation produced\n";

static void
print_table(const Ktpb__V1__OpsListReply *r)
{
    size_t w = 42, resumable = 0;
    int64_t now = cli_now_ms();

    for (size_t i = 0; i < r->n_ops; i++) {
        size_t n = strlen(r->ops[i]->id) + 2;
        w = n > w ? n : w;
        resumable += cli_op_resumable(r->ops[i]);
    }
    if (r->n_ops == 0) {
        printf("No operations found\n");
    } else {
        printf("%-*s%-11s%-11s%-13s%s\n", (int)w, "OPERATION_ID", "STATUS",
               "PROGRESS", "CHECKPOINT", "AGE");
    }
    for (size_t i = 0; i < r->n_ops; i++) {
        const Ktpb__V1__OperationRecord *op = r->ops[i];
        char pct[16], ck[64], age[32];

        snprintf(pct, sizeof(pct), "%d%%", (int)op->progress_percent);
        cli_ckpt_summary(op, ck, sizeof(ck));
        cli_age_short(now - op->created_at_ms, age, sizeof(age));
        printf("%-*s%-11s%-11s%-13s%s\n", (int)w, op->id,
               cli_status_upper(op->status), pct, ck, age);
    }
    printf("\nTotal: %zu operation%s (%zu resumable)\n", r->n_ops,
           r->n_ops == 1 ? "" : "s", resumable);
}

static int
ops_list(cli_ctx *c, int argc, char **argv)
{
    const char *status = NULL, *type = NULL, *limit = NULL, *pos[1];
    bool resumable = false;
    const cli_opt opts[] = {{"--status", &status, NULL},
                            {"--type", &type, NULL},
                            {"--limit", &limit, NULL},
                            {"--resumable", NULL, &resumable},
                            {NULL, NULL, NULL}};
    Ktpb__V1__OpsListRequest q;
    Ktpb__V1__OpStatus st;
    Ktpb__V1__OpsListReply *r;
    int npos, rv;
    ktpb__v1__ops_list_request__init(&q);

    if ((rv = cli_parse(argc, argv, opts, pos, 0, &npos, "operations list")) !=
            CLI_OK ||
        (rv = cli_u32("--limit", limit, &q.limit)) != CLI_OK) {
        return rv;
    }
    if (status != NULL) {
        if (cli_status_parse(status, &st) != CLI_OK) {
            return cli_usage("operations list", "unknown status '%s'", status);
        }
        q.n_statuses = 1;
        q.statuses = &st;
    }
    if (type != NULL && strcmp(type, "training") != 0 &&
        strcmp(type, "backtesting") != 0) {
        return cli_usage("operations list",
                         "unknown type '%s' (training|backtesting)", type);
    }
    q.type = CLI_STR(type != NULL ? type : "");
    q.resumable = resumable;
    if ((rv = cli_connect(c)) != CLI_OK ||
        (rv = cli_call(c, c->ops, KT_OPS_LIST, &q.base,
                       &ktpb__v1__ops_list_reply__descriptor, ASK_MS,
                       (ProtobufCMessage **)&r)) != CLI_OK) {
        return rv;
    }
    if (r->status != 0) {
        rv = cli_fail(c, r->status, r->message);
    } else if (c->json) {
        json_t *a = json_array();
        size_t nres = 0;
        for (size_t i = 0; i < r->n_ops; i++) {
            json_array_append_new(a, cli_op_json(r->ops[i]));
            nres += cli_op_resumable(r->ops[i]);
        }
        rv = cli_json_print(json_pack("{s:o,s:i,s:i}", "operations", a, "total",
                                      (int)r->n_ops, "resumable", (int)nres));
    } else {
        print_table(r);
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return rv;
}

static void
print_op(const Ktpb__V1__OperationRecord *op)
{
    char ck[64], t[32];

    cli_ckpt_summary(op, ck, sizeof(ck));
    printf("Operation:  %s\n", op->id);
    printf("Type:       %s\n", op->type);
    printf("Status:     %s\n", cli_status_upper(op->status));
    printf("Progress:   %d%%", (int)op->progress_percent);
    if (op->current_step != NULL && op->current_step[0] != '\0') {
        printf(" (%s)", op->current_step);
    }
    printf("\nCheckpoint: %s", ck);
    if (op->checkpoint_seq > 0) {
        printf(" (%s)", cli_ckpt_type_name(op->checkpoint_type));
    }
    cli_iso_utc(op->created_at_ms, t, sizeof(t));
    printf("\nCreated:    %s\n", t);
    if (op->attempt > 1) {
        printf("Attempt:    %u\n", op->attempt);
    }
    if (op->error != NULL && op->error[0] != '\0') {
        printf("Error:      %s\n", op->error);
    }
    if (cli_op_resumable(op)) {
        printf("\nTo resume: ktrdr operations resume %s\n", op->id);
    }
}

// print_children lists the operations whose parent is id (the training and
// backtest children of an agent research), as a tree under it.
static void
print_children(cli_ctx *c, const char *id)
{
    Ktpb__V1__OpsListRequest q;
    Ktpb__V1__OpsListReply *r = NULL;

    ktpb__v1__ops_list_request__init(&q);
    q.parent_id = CLI_STR(id);
    if (cli_call(c, c->ops, KT_OPS_LIST, &q.base,
                 &ktpb__v1__ops_list_reply__descriptor, ASK_MS,
                 (ProtobufCMessage **)&r) != CLI_OK) {
        return;
    }
    if (r->status == 0 && r->n_ops > 0) {
        printf("Children:\n");
        for (size_t i = r->n_ops; i-- > 0;) { // oldest first
            printf("  %s %-40s %-12s %-10s %d%%\n", i == 0 ? "└─" : "├─",
                   r->ops[i]->id, r->ops[i]->type,
                   cli_status_upper(r->ops[i]->status),
                   (int)r->ops[i]->progress_percent);
        }
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

// ops_one runs get, cancel or resume on one id and prints the operation.
static int
ops_one(cli_ctx *c, int argc, char **argv, const char *verb)
{
    const char *pos[1], *reason = NULL;
    bool follow = false;
    const cli_opt opts[] = {{"--reason", &reason, NULL},
                            {"--follow", NULL, &follow},
                            {NULL, NULL, NULL}};
    char cmd[64];
    Ktpb__V1__OpsGetRequest g;
    Ktpb__V1__OpsCancelRequest k;
    Ktpb__V1__OpsResumeRequest s;
    const ProtobufCMessage *q = &g.base;
    uint32_t type = KT_OPS_GET, ms = ASK_MS;
    Ktpb__V1__OpsReply *r;
    int npos, rv;
    ktpb__v1__ops_get_request__init(&g);
    ktpb__v1__ops_cancel_request__init(&k);
    ktpb__v1__ops_resume_request__init(&s);

    snprintf(cmd, sizeof(cmd), "operations %s", verb);
    if ((rv = cli_parse(argc, argv, opts, pos, 1, &npos, cmd)) != CLI_OK) {
        return rv;
    }
    if (npos != 1) {
        return cli_usage(cmd, "needs an operation ID");
    }
    cli_json_lines(follow && strcmp(verb, "cancel") != 0); // JSON lines
    if (strcmp(verb, "cancel") == 0) {
        k.id = CLI_STR(pos[0]);
        k.reason = CLI_STR(reason != NULL ? reason : "");
        q = &k.base, type = KT_OPS_CANCEL, ms = CANCEL_MS;
    } else if (strcmp(verb, "resume") == 0) {
        s.id = CLI_STR(pos[0]);
        q = &s.base, type = KT_OPS_RESUME, ms = CANCEL_MS;
    } else {
        g.id = CLI_STR(pos[0]);
    }
    if ((rv = cli_connect(c)) != CLI_OK ||
        (rv = cli_call(c, c->ops, type, q, &ktpb__v1__ops_reply__descriptor, ms,
                       (ProtobufCMessage **)&r)) != CLI_OK) {
        return rv;
    }
    if (r->status != 0) {
        rv = cli_fail(c, r->status, r->message);
    } else if (r->op == NULL) {
        rv = cli_error(c, "malformed reply from the backend");
    } else if (follow && type != KT_OPS_CANCEL) {
        if (!c->json) {
            printf("%s operation: %s\n",
                   type == KT_OPS_RESUME ? "Resumed" : "Following", r->op->id);
            fflush(stdout);
        }
        rv = cli_follow(c, r->op->id);
    } else if (c->json) {
        rv = cli_json_print(cli_op_json(r->op));
    } else if (type == KT_OPS_CANCEL) {
        char ck[64];
        cli_ckpt_summary(r->op, ck, sizeof(ck));
        printf("Cancelled operation: %s\n  Status: %s\n  Checkpoint: %s\n",
               r->op->id, cli_status_upper(r->op->status), ck);
        if (cli_op_resumable(r->op)) {
            printf("\nTo resume: ktrdr operations resume %s\n", r->op->id);
        }
    } else if (type == KT_OPS_RESUME) {
        char ck[64];
        cli_ckpt_summary(r->op, ck, sizeof(ck));
        printf("Resumed operation: %s\n  Status: %s\n  Resumed from: %s\n",
               r->op->id, cli_status_upper(r->op->status), ck);
        printf("Use 'ktrdr operations status %s' to check progress\n",
               r->op->id);
    } else {
        print_op(r->op);
        print_children(c, r->op->id);
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return rv;
}

int
cmd_operations(cli_ctx *c, int argc, char **argv)
{
    if (argc > 0 && strcmp(argv[0], "results") == 0) {
        return cmd_results(c, argc - 1, argv + 1);
    }
    if (c->help || argc < 1) {
        bool list = argc > 0 && strcmp(argv[0], "list") == 0;
        fputs(list ? list_help : ops_help, c->help ? stdout : stderr);
        return c->help ? CLI_OK : CLI_USAGE;
    }
    if (strcmp(argv[0], "list") == 0) {
        return ops_list(c, argc - 1, argv + 1);
    }
    if (strcmp(argv[0], "status") == 0 || strcmp(argv[0], "cancel") == 0 ||
        strcmp(argv[0], "resume") == 0) {
        return ops_one(c, argc - 1, argv + 1, argv[0]);
    }
    return cli_usage("operations", "unknown command '%s'", argv[0]);
}
