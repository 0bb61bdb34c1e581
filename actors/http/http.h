// http.h: the HTTP bridge actor ("http"). It owns N evhttp loops, each on
// a thread of its own, and turns each /api/v1 request into the same
// protobuf request the CLI sends (to the operations or persistence actor),
// asked with kt_ask; the HTTP reply is written when the actor's reply (or
// KT_MSG_TIMEOUT) arrives, so no loop ever waits on the backend. The loops
// answer GET /operations/{id} from their operations view while it is
// provably current (read-your-writes for mutations through the bridge).
// docs/http.md lists the routes, JSON shapes and status codes.
#ifndef KT_HTTP_HTTP_H
#define KT_HTTP_HTTP_H

#include <ktpb/v1/ops.pb-c.h>
#include <ktpb/v1/persist.pb-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <kt/actor.h>

// Message types 700-719 belong to the HTTP bridge (internal: its server
// thread hands it a request to ask; body = a call header + the request).
enum {
    KT_HTTP_CALL = 700,
};

#define KT_HTTP_NAME         "http"
#define KT_HTTP_DEFAULT_ADDR "127.0.0.1:8000"

typedef struct kt_http_cfg {
    const char *addr;           // "HOST:PORT"; NULL = KT_HTTP_DEFAULT_ADDR;
                                // port 0 = any free port (tests)
    const char *token;          // bearer token; NULL or "" = no auth, which
                                // is refused on a non-loopback address
    const char *strategies_dir; // strategy_path must resolve inside it;
                                // NULL = "strategies"
    const char *data_dir;       // model_path must resolve inside it
    kt_aid ops;                 // 0 = look up "operations"
    kt_aid persist;             // 0 = look up "persistence"
    uint32_t timeout_ms;        // backend asks; 0 = 30000
    size_t max_body;            // request body limit; 0 = 64 KiB
    uint32_t loops;             // evhttp loop threads; 0 = KTRDR_HTTP_THREADS
                                // or 2 (at most 8)
    uint32_t view_ttl_ms;       // how long the view may answer for an
                                // operation that is not completed; 0 =
                                // KTRDR_HTTP_VIEW_TTL_MS or 100 (env 0:
                                // completed operations only)
    bool no_view;               // answer every GET from the backend (also
                                // KTRDR_HTTP_VIEW=0)
    uint16_t *port_out;         // if set, receives the bound port (init)
} kt_http_cfg;

// http_ops: spawn with a kt_http_cfg (copied) and
// kt_spawn_opts{.name = KT_HTTP_NAME}. init binds the address (errors:
// KT_EINVAL for a bad address or a missing token on a non-loopback
// address, KT_ESYSERR|errno when the bind fails, KT_ENOENT when an actor
// it talks to is not running).
extern const kt_actor_ops http_ops;

// kt_http_op_json: an operation as the HTTP API and `ktrdr --json` show it
// (a new object; the caller releases it with json_decref).
json_t *kt_http_op_json(const Ktpb__V1__OperationRecord *op);
// kt_http_results_json: the "results" object of GET /operations/{id}/results
// and `ktrdr operations results --json` (new object; json_decref it).
json_t *kt_http_results_json(const Ktpb__V1__OpsResultsReply *r);
// Names used in JSON: "running", "cancellation" ...
const char *kt_http_status_name(Ktpb__V1__OpStatus s);
const char *kt_http_ckpt_type_name(Ktpb__V1__CheckpointType t);

#endif // KT_HTTP_HTTP_H
