// cmd_ckpt.c: `ktrdr checkpoints show|delete|list`.
#include <inttypes.h>
#include <ktpb/v1/ops.pb-c.h>
#include <string.h>
#include <unistd.h>

#include <kt/kt.h>

#include "cli.h"

#define ASK_MS 10000

static const char help[] =
    "usage: ktrdr checkpoints COMMAND [ARGS] [--json]\n"
    "\n"
    "commands:\n"
    "  show ID             what the newest checkpoint of an operation holds\n"
    "  delete ID [--force] delete its checkpoints (asks first; --force\n"
    "                      skips the question; needed without a terminal)\n"
    "  list                every saved checkpoint, newest first\n"
    "\n"
    "Deleting a checkpoint means the operation cannot be resumed. This\n"
    "cannot be undone.\n";

static void
print_loss(const char *label, bool has, double v)
{
    if (has) {
        printf("  %-15s%.4g\n", label, v);
    } else {
        printf("  %-15sn/a\n", label);
    }
}

static void
print_show(const Ktpb__V1__CheckpointShowReply *r)
{
    char age[64];

    cli_age_long(cli_now_ms() - r->created_at_ms, age, sizeof(age));
    printf("Checkpoint Details\n==================\n");
    printf("Operation ID:    %s\n", r->op_id);
    printf("Checkpoint Type: %s\n", cli_ckpt_type_name(r->type));
    printf("Created At:      %s\n", r->created_at);
    printf("Age:             %s\n\nState:\n", age);
    if (strcmp(r->unit, "bar") == 0) {
        printf("  %-15s%" PRId64 " / %" PRId64 "\n", "Bar:", r->unit_value,
               r->unit_total);
        printf("  %-15s%.2f\n", "Equity:", r->equity);
        printf("  %-15s%" PRIu64 "\n", "Trades:", r->trades);
    } else {
        printf("  %-15s%" PRId64 " / %" PRId64 "\n", "Epoch:", r->unit_value,
               r->unit_total);
        print_loss("Train Loss:", true, r->train_loss);
        print_loss("Val Loss:", r->has_val, r->val_loss);
        print_loss("Best Val Loss:", r->has_val, r->best_val_loss);
        printf("  %-15s%g\n", "Learning Rate:", r->learning_rate);
    }
    // Small periodic checkpoints keep their artifacts in the database row.
    printf("\nArtifacts: %s\n", r->artifacts_path[0] != '\0'
                                    ? r->artifacts_path
                                    : "(stored in the database)");
    printf("\nTo resume: ktrdr operations resume %s\n", r->op_id);
}

static json_t *
show_json(const Ktpb__V1__CheckpointShowReply *r)
{
    json_t *st = json_pack("{s:s,s:I,s:I}", "unit", r->unit, "value",
                           (json_int_t)r->unit_value, "total",
                           (json_int_t)r->unit_total);
    if (strcmp(r->unit, "bar") == 0) {
        json_object_set_new(st, "equity", json_real(r->equity));
        json_object_set_new(st, "trades", json_integer((json_int_t)r->trades));
    } else {
        json_object_set_new(st, "train_loss", json_real(r->train_loss));
        json_object_set_new(st, "val_loss",
                            r->has_val ? json_real(r->val_loss) : json_null());
        json_object_set_new(st, "best_val_loss",
                            r->has_val ? json_real(r->best_val_loss)
                                       : json_null());
        json_object_set_new(st, "learning_rate", json_real(r->learning_rate));
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:I}", "operation_id",
                     r->op_id, "operation_type", r->op_type, "checkpoint_type",
                     cli_ckpt_type_name(r->type), "created_at", r->created_at,
                     "state", st, "artifacts_path", r->artifacts_path, "seq",
                     (json_int_t)r->seq, "size_bytes",
                     (json_int_t)r->size_bytes);
}

// fetch_show asks the operations actor what the checkpoint holds.
static int
fetch_show(cli_ctx *c, const char *id, Ktpb__V1__CheckpointShowReply **rp)
{
    Ktpb__V1__CheckpointShowRequest q;
    Ktpb__V1__CheckpointShowReply *r;
    int rv;
    ktpb__v1__checkpoint_show_request__init(&q);

    q.op_id = CLI_STR(id);
    if ((rv = cli_call(c, c->ops, KT_OPS_CKPT_SHOW, &q.base,
                       &ktpb__v1__checkpoint_show_reply__descriptor, ASK_MS,
                       (ProtobufCMessage **)&r)) != CLI_OK) {
        return rv;
    }
    if (r->status != 0) {
        rv = r->status == KT_ENOENT
                 ? cli_error(c, "No checkpoint found for operation %s", id)
                 : cli_fail(c, r->status, r->message);
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return rv;
    }
    *rp = r;
    return CLI_OK;
}

static int
ckpt_show(cli_ctx *c, const char *id)
{
    Ktpb__V1__CheckpointShowReply *r;
    int rv;

    if ((rv = cli_connect(c)) != CLI_OK || (rv = fetch_show(c, id, &r)) != 0) {
        return rv;
    }
    if (c->json) {
        cli_json_print(show_json(r));
    } else {
        print_show(r);
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return CLI_OK;
}

// confirm asks on the terminal; without one the answer is no.
static bool
confirm(const Ktpb__V1__CheckpointShowReply *r)
{
    char line[64];

    printf("Warning: deleting the checkpoint of %s (%s, %s %" PRId64
           ") means the operation cannot be resumed.\n"
           "This action cannot be undone.\n"
           "Delete it? [y/N] ",
           r->op_id, cli_ckpt_type_name(r->type), r->unit, r->unit_value);
    fflush(stdout);
    if (fgets(line, sizeof(line), stdin) == NULL) {
        return false;
    }
    return line[0] == 'y' || line[0] == 'Y';
}

static int
ckpt_delete(cli_ctx *c, const char *id, bool force)
{
    Ktpb__V1__CheckpointDeleteRequest q;
    Ktpb__V1__CheckpointShowReply *s;
    Ktpb__V1__CheckpointDeleteReply *r;
    int rv;
    ktpb__v1__checkpoint_delete_request__init(&q);

    if (!force && !isatty(STDIN_FILENO)) {
        return cli_error(c,
                         "refusing to delete the checkpoint of %s without "
                         "confirmation: no terminal (use --force)",
                         id);
    }
    if ((rv = cli_connect(c)) != CLI_OK || (rv = fetch_show(c, id, &s)) != 0) {
        return rv;
    }
    if (!force && !confirm(s)) {
        printf("Deletion aborted.\n");
        protobuf_c_message_free_unpacked(&s->base, NULL);
        return CLI_OK;
    }
    protobuf_c_message_free_unpacked(&s->base, NULL);
    q.op_id = CLI_STR(id);
    if ((rv = cli_call(c, cli_persist(c), KT_PERSIST_CKPT_DELETE, &q.base,
                       &ktpb__v1__checkpoint_delete_reply__descriptor, ASK_MS,
                       (ProtobufCMessage **)&r)) != CLI_OK) {
        return rv;
    }
    if (r->status == KT_ENOENT || (r->status == 0 && r->deleted == 0)) {
        rv = cli_error(c, "No checkpoint found for operation %s", id);
    } else if (r->status != 0) {
        rv = cli_fail(c, r->status, r->message);
    } else if (c->json) {
        rv = cli_json_print(json_pack("{s:b,s:s,s:I}", "success", 1,
                                      "operation_id", id, "deleted",
                                      (json_int_t)r->deleted));
    } else {
        printf("Checkpoint deleted for %s\n", id);
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return rv;
}

static int
ckpt_list(cli_ctx *c)
{
    Ktpb__V1__CheckpointListRequest q;
    Ktpb__V1__CheckpointListReply *r;
    json_t *a;
    int rv;
    ktpb__v1__checkpoint_list_request__init(&q);

    if ((rv = cli_connect(c)) != CLI_OK ||
        (rv = cli_call(c, cli_persist(c), KT_PERSIST_CKPT_LIST, &q.base,
                       &ktpb__v1__checkpoint_list_reply__descriptor, ASK_MS,
                       (ProtobufCMessage **)&r)) != CLI_OK) {
        return rv;
    }
    if (r->status != 0) {
        rv = cli_fail(c, r->status, r->message);
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return rv;
    }
    a = json_array();
    if (!c->json) {
        printf("%-42s%-14s%-22s%-14s%s\n", "OPERATION_ID", "TYPE", "CREATED",
               "CHECKPOINT", "SIZE");
    }
    for (size_t i = 0; i < r->n_checkpoints; i++) {
        const Ktpb__V1__CheckpointRecord *k = r->checkpoints[i];
        char sum[64];
        snprintf(sum, sizeof(sum), "%s %" PRId64, k->unit, k->unit_value);
        if (c->json) {
            json_array_append_new(
                a, json_pack("{s:s,s:s,s:s,s:s,s:I}", "operation_id", k->op_id,
                             "checkpoint_type", cli_ckpt_type_name(k->type),
                             "created_at", k->created_at, "summary", sum,
                             "size_bytes", (json_int_t)k->artifacts_size));
        } else {
            printf("%-42s%-14s%-22s%-14s%" PRIu64 "\n", k->op_id,
                   cli_ckpt_type_name(k->type), k->created_at, sum,
                   k->artifacts_size);
        }
    }
    if (c->json) {
        cli_json_print(json_pack("{s:o}", "checkpoints", a));
    } else {
        json_decref(a);
        printf("\nTotal: %zu checkpoint%s\n", r->n_checkpoints,
               r->n_checkpoints == 1 ? "" : "s");
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return CLI_OK;
}

int
cmd_checkpoints(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    bool force = false;
    const cli_opt opts[] = {{"--force", NULL, &force}, {NULL, NULL, NULL}};
    int npos, rv;

    if (c->help || argc < 1) {
        fputs(help, c->help ? stdout : stderr);
        return c->help ? CLI_OK : CLI_USAGE;
    }
    if (strcmp(argv[0], "list") == 0) {
        if ((rv = cli_parse(argc - 1, argv + 1, opts, pos, 0, &npos,
                            "checkpoints list")) != CLI_OK) {
            return rv;
        }
        return ckpt_list(c);
    }
    if (strcmp(argv[0], "show") != 0 && strcmp(argv[0], "delete") != 0) {
        return cli_usage("checkpoints", "unknown command '%s'", argv[0]);
    }
    if ((rv = cli_parse(argc - 1, argv + 1, opts, pos, 1, &npos,
                        "checkpoints")) != CLI_OK) {
        return rv;
    }
    if (npos != 1) {
        return cli_usage("checkpoints", "%s needs an operation ID", argv[0]);
    }
    if (argv[0][0] == 's') {
        return force ? cli_usage("checkpoints", "show takes no --force")
                     : ckpt_show(c, pos[0]);
    }
    return ckpt_delete(c, pos[0], force);
}
