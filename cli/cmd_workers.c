// cmd_workers.c: `ktrdr workers`: the workers the backend knows.
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: ktrdr workers [--json]\n"
    "\n"
    "List the registered workers. Training and backtests run inside the\n"
    "backend process for now, so the list is empty until worker processes\n"
    "register.\n";

int
cmd_workers(cli_ctx *c, int argc, char **argv)
{
    Ktpb__V1__WorkerListRequest q;
    Ktpb__V1__WorkerReply *r;
    const char *pos[1];
    const cli_opt opts[] = {{NULL, NULL, NULL}};
    int npos, rv;
    ktpb__v1__worker_list_request__init(&q);

    if (c->help) {
        fputs(help, stdout);
        return CLI_OK;
    }
    if ((rv = cli_parse(argc, argv, opts, pos, 0, &npos, "workers")) != 0 ||
        (rv = cli_connect(c)) != CLI_OK ||
        (rv = cli_call(c, cli_persist(c), KT_PERSIST_WORKER_LIST, &q.base,
                       &ktpb__v1__worker_reply__descriptor, 5000,
                       (ProtobufCMessage **)&r)) != CLI_OK) {
        return rv;
    }
    if (r->status != 0) {
        rv = cli_fail(c, r->status, r->message);
    } else if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_workers; i++) {
            const Ktpb__V1__WorkerRecord *w = r->workers[i];
            json_array_append_new(
                a, json_pack("{s:s,s:s,s:s,s:I,s:s}", "worker_id", w->id,
                             "endpoint_url", w->url, "capabilities",
                             w->capabilities, "last_seen_ms",
                             (json_int_t)w->last_seen_ms,
                             "current_operation_id", w->current_op));
        }
        rv = cli_json_print(json_pack("{s:o}", "workers", a));
    } else if (r->n_workers == 0) {
        printf("No workers registered (operations run inside the backend)\n");
    } else {
        printf("%-32s%-40s%s\n", "WORKER_ID", "URL", "CURRENT_OPERATION");
        for (size_t i = 0; i < r->n_workers; i++) {
            const Ktpb__V1__WorkerRecord *w = r->workers[i];
            printf("%-32s%-40s%s\n", w->id, w->url,
                   w->current_op[0] != '\0' ? w->current_op : "-");
        }
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return rv;
}
