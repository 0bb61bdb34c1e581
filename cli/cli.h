// cli.h: what the `ktrdr` commands share: global options, the connection to
// the backend (a runtime with remote proxies to its named actors), output
// helpers (tables, ages, JSON) and the exit codes. Public API only.
#ifndef KT_CLI_CLI_H
#define KT_CLI_CLI_H

#include <ktpb/v1/persist.pb-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include <kt/kt.h>

#include "operations/operations.h"
#include "persistence/persistence.h"

enum { CLI_OK = 0, CLI_ERR = 1, CLI_USAGE = 2 };

// CLI_STR: a borrowed string in a protobuf-c request that is only packed.
#define CLI_STR(s) ((char *)(uintptr_t)(s))

typedef struct cli_ctx {
    bool json;            // --json: one JSON document on stdout
    bool help;            // --help / -h anywhere: print the command's help
    const char *data_dir; // --data-dir, $KTRDR_DATA_DIR, ./data
    const char *url;      // --url, $KTRDR_BACKEND_URL, ipc://DATA/ktrdr.sock
    char url_buf[4200];
    kt_runtime *rt; // started by cli_connect
    kt_aid ops;     // proxy to the operations actor
    kt_aid persist; // proxy to the persistence actor
} cli_ctx;

// One option of a command: "--name" with a value (str != NULL) or a flag.
typedef struct cli_opt {
    const char *name;
    const char **str; // value options
    bool *flag;       // flags
} cli_opt;

// cli_parse splits argv into options and at most max_pos positional
// arguments. Prints the usage error and returns CLI_USAGE on a bad option.
int cli_parse(int argc, char **argv, const cli_opt *opts, const char **pos,
              int max_pos, int *npos, const char *cmd);
// Strict number parsing of option values; CLI_USAGE with a message.
int cli_u32(const char *opt, const char *s, uint32_t *out);
int cli_double(const char *opt, const char *s, double *out);

// Errors: "Error: MSG" on stderr (JSON mode: {"status":"error","message":..}
// on stdout); returns CLI_ERR. cli_usage prints to stderr, returns CLI_USAGE.
int cli_error(const cli_ctx *c, const char *fmt, ...) KT_PRINTF(2, 3);
int cli_usage(const char *cmd, const char *fmt, ...) KT_PRINTF(2, 3);
// cli_fail maps a reply status (kt_err) and message to an error line.
int cli_fail(const cli_ctx *c, int32_t status, const char *message);

// cli_connect starts a one-thread runtime and proxies to the backend at
// c->url. CLI_ERR (one line saying how to start it) if nothing listens.
int cli_connect(cli_ctx *c);
void cli_disconnect(cli_ctx *c);
// cli_persist: the proxy to the persistence actor (dialed on first use).
kt_aid cli_persist(cli_ctx *c);
// cli_call packs req, asks `to` and returns the unpacked reply (free it
// with protobuf_c_message_free_unpacked). CLI_ERR on timeout / bad reply.
int cli_call(cli_ctx *c, kt_aid to, uint32_t type, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *rep_desc, uint32_t timeout_ms,
             ProtobufCMessage **repp);

// Output helpers (cli_fmt.c).
const char *cli_status_name(Ktpb__V1__OpStatus s);          // "running"
const char *cli_status_upper(Ktpb__V1__OpStatus s);         // "RUNNING"
const char *cli_ckpt_type_name(Ktpb__V1__CheckpointType t); // "periodic"
int cli_status_parse(const char *s, Ktpb__V1__OpStatus *out);
bool cli_op_resumable(const Ktpb__V1__OperationRecord *op);
int64_t cli_now_ms(void);
// "12s" "3m" "5h" "2d" and "12 seconds" "1 day".
void cli_age_short(int64_t ms, char *buf, size_t len);
void cli_age_long(int64_t ms, char *buf, size_t len);
void cli_iso_utc(int64_t ms, char *buf, size_t len); // 2024-12-13T14:35:00Z
void cli_ckpt_summary(const Ktpb__V1__OperationRecord *op, char *buf,
                      size_t len); // "epoch 29" / "bar 1000" / "-"
// JSON of an operation (shared with --json of every operations command).
json_t *cli_op_json(const Ktpb__V1__OperationRecord *op);
// cli_json_print prints and releases j; returns CLI_OK. Indented, or on
// one line once cli_json_lines(true) was called (--follow --json streams).
int cli_json_print(json_t *j);
void cli_json_lines(bool on);

// Commands (cmd_*.c): argv[0] is the sub-command's first argument.
int cmd_operations(cli_ctx *c, int argc, char **argv);
int cmd_results(cli_ctx *c, int argc, char **argv);
int cmd_checkpoints(cli_ctx *c, int argc, char **argv);
int cmd_models(cli_ctx *c, int argc, char **argv);
int cmd_backtest(cli_ctx *c, int argc, char **argv);
int cmd_data(cli_ctx *c, int argc, char **argv);
int cmd_serve(cli_ctx *c, int argc, char **argv);
int cmd_workers(cli_ctx *c, int argc, char **argv);
int cmd_agent(cli_ctx *c, int argc, char **argv);
int cmd_worker(cli_ctx *c, int argc, char **argv); // cmd_worker.c (issue 7)
// serve_workers.c (issue 7): worker processes of `ktrdr serve`.
typedef struct kt_supervision kt_supervision;
uint32_t serve_workers_count(void); // $KTRDR_WORKERS, default: cores
int serve_workers_start(cli_ctx *c, kt_runtime *rt, const char *url,
                        const char *dir, kt_supervision **sp);
void serve_workers_stop(kt_supervision *s);
void serve_workers_close(kt_supervision *s);

// Following an operation (cli_follow.c): progress bar on a terminal, plain
// lines otherwise, JSON lines with --json (progress objects, then the
// operation's final record as `operations status ID --json` shows it);
// Ctrl+C cancels the operation (checkpoint saved) and prints the resume
// hint. Returns the exit code.
int cli_follow(cli_ctx *c, const char *op_id);

// Following an agent research (agent_watch.c): a local actor subscribed to
// the research manager's ResearchEvents for op_id (one per process).
// cli_rs_watch_next waits up to ms for what came first: the subscription
// took (CLI_RS_SUBSCRIBED), it failed (CLI_RS_FAILED, error filled), or an
// event (CLI_RS_EVENT: *ep, free it with
// ktpb__v1__research_event__free_unpacked); CLI_RS_NONE on timeout.
typedef struct cli_rs_watch cli_rs_watch;
typedef struct Ktpb__V1__ResearchEvent Ktpb__V1__ResearchEvent;
typedef enum cli_rs_watch_got {
    CLI_RS_NONE,
    CLI_RS_SUBSCRIBED,
    CLI_RS_FAILED,
    CLI_RS_EVENT,
} cli_rs_watch_got;
int cli_rs_watch_start(cli_ctx *c, kt_aid research, const char *op_id,
                       cli_rs_watch **wp);
cli_rs_watch_got cli_rs_watch_next(cli_rs_watch *w, int ms,
                                   Ktpb__V1__ResearchEvent **ep, char *error,
                                   size_t len);
// cli_rs_event_info: an event as the research's status shows it (i's
// strings are borrowed from e).
typedef struct Ktpb__V1__ResearchInfo Ktpb__V1__ResearchInfo;
void cli_rs_event_info(const Ktpb__V1__ResearchEvent *e,
                       Ktpb__V1__ResearchInfo *i);

// Showing researches (agent_print.c), both freeing r and returning the
// exit code: cli_agent_print_one the first of r with its children,
// cli_agent_print_live every one of r as a table (or JSON).
typedef struct Ktpb__V1__ResearchStatusReply Ktpb__V1__ResearchStatusReply;
int cli_agent_print_one(cli_ctx *c, Ktpb__V1__ResearchStatusReply *r);
int cli_agent_print_live(cli_ctx *c, Ktpb__V1__ResearchStatusReply *r);

#endif // KT_CLI_CLI_H
