// http_int.h: what the HTTP bridge's files share: the server (evhttp on
// its own thread), request slots, the route table and the JSON replies.
#ifndef KT_HTTP_HTTP_INT_H
#define KT_HTTP_HTTP_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include <kt/actor.h>

#include "http/http.h"

#define HTTP_SLOTS     1024 // requests waiting for the backend, per loop
#define HTTP_LOOPS_MAX 8    // evhttp loop threads
#define HTTP_STRIPES   64   // version stripes of the operations view
#define HTTP_ID_MAX    128
#define HTTP_URI_MAX   2048
#define HTTP_HDR_MAX   (16 * 1024)   // request headers we accept
#define HTTP_BODY_HARD (1024 * 1024) // evhttp's own body cap (HTML 413)

enum { HTTP_TO_OPS = 0, HTTP_TO_PERSIST = 1, HTTP_TO_RESEARCH = 2 };

// What a route changes, for the operations view's read-your-writes
// (http_view.c): nothing, the operation of its {id}, or any operation.
enum { HTTP_MUT_NONE = 0, HTTP_MUT_ID = 1, HTTP_MUT_ALL = 2 };

// The header of a KT_HTTP_CALL body (followed by the packed request).
// slot = gen << 24 | loop << 16 | index.
typedef struct http_call_hdr {
    uint64_t slot;
    uint32_t target; // HTTP_TO_*
    uint32_t type;   // the request's message type
} http_call_hdr;

typedef struct http_srv http_srv;
typedef struct http_loop http_loop;
typedef struct http_route http_route;
typedef struct http_view http_view;

// One request being served: what the route needs when the reply comes.
typedef struct http_slot {
    struct evhttp_request *req; // NULL once the client went away
    struct evhttp_connection *evcon;
    const http_route *route;
    http_loop *loop;
    uint64_t ticket; // view fill ticket (0 = do not fill the view)
    uint32_t gen;
    uint8_t mut; // HTTP_MUT_* begun for this request, ended on its reply
    bool busy;
    char id[HTTP_ID_MAX]; // the {id} of the path, for messages
} http_slot;

// A route handler's view of one request.
typedef struct http_ctx {
    http_srv *srv;
    http_loop *loop;
    struct evhttp_request *req;
    const char *id; // path parameter ("" when none)
    struct evkeyvalq query;
    kt_msg *call;    // set by kt__http_ask: the KT_HTTP_CALL to send
    uint64_t ticket; // set by a view miss: fill the view with the reply
} http_ctx;

// build: check the request and call kt__http_ask (return true), or answer
// it directly (an error, or a reply that needs no backend; return false).
// reply: turn the backend's reply into the response.
struct http_route {
    enum evhttp_cmd_type method;
    const char *prefix; // path up to the {id} or the whole path
    const char *suffix; // after {id}; NULL = no {id}
    bool (*build)(http_ctx *c);
    void (*reply)(struct evhttp_request *req, const http_slot *s,
                  const kt_msg *rep);
    uint8_t mut; // HTTP_MUT_*
};

// One evhttp loop on a thread of its own; it owns its connections, its
// request slots and its copy of the operations view.
struct http_loop {
    http_srv *srv;
    uint32_t index;
    struct event_base *base;
    struct evhttp *http;
    struct event *wake;
    struct event *stop; // activated to end the loop, from any thread
    pthread_t thr;
    bool running;
    http_view *view;
    // completions from the actor, under mtx
    pthread_mutex_t mtx;
    struct http_done *done;
    struct http_done *done_tail;
    // request slots (loop thread only)
    http_slot slots[HTTP_SLOTS];
    uint32_t free_idx[HTTP_SLOTS];
    uint32_t nfree;
};

struct http_srv {
    kt_runtime *rt;
    kt_aid actor;
    char token[256];
    char strategies[PATH_MAX]; // realpath of the strategies directory
    char data[PATH_MAX];       // realpath of the data directory ("" = none)
    uint16_t port;
    size_t max_body;      // larger bodies: JSON 413
    uint32_t view_ttl_ms; // 0 = only completed operations are viewed
    bool view_on;
    uint32_t nloops;
    http_loop *loops[HTTP_LOOPS_MAX];
    // Version stripes of the operations view (any thread, atomics only):
    // epoch moves on every mutation start and end and on every change
    // event; inflight counts the mutations under way.
    _Atomic uint64_t epoch[HTTP_STRIPES];
    _Atomic uint32_t inflight[HTTP_STRIPES];
};

// http_srv.c
kt_err kt__http_srv_open(http_srv *s, const kt_http_cfg *cfg, kt_runtime *rt);
kt_err kt__http_srv_start(http_srv *s, kt_aid actor);
void kt__http_srv_close(http_srv *s);
// kt__http_srv_complete hands a reply (or a KT_MSG_TIMEOUT) for slot to
// the loop that asked; takes ownership of rep. Any thread.
void kt__http_srv_complete(http_srv *s, uint64_t slot, kt_msg *rep);

// http_loop.c: the loop's wake event callback (completions from the
// actor) and the release of completions left when it stopped.
void kt__http_loop_wake_cb(evutil_socket_t fd, short what, void *arg);
void kt__http_loop_drain(http_loop *l);

// http_listen.c: the listening sockets of n loops (SO_REUSEPORT when n > 1
// after a plain probe bind, so a taken port still fails). fds[i] are
// non-blocking and listening; *port receives the bound port.
kt_err kt__http_listen(const char *host, uint16_t port, uint32_t n, int *fds,
                       uint16_t *bound);

// Responses (http_send.c): JSON bodies, errors as
// {"success":false,"error":{"code","message"},"detail":message}.
void kt__http_send_json(struct evhttp_request *req, int code, json_t *j);
// kt__http_send_text sends an already rendered JSON body.
void kt__http_send_text(struct evhttp_request *req, int code, const char *txt,
                        size_t len);
void kt__http_send_error(struct evhttp_request *req, int code, const char *fmt,
                         ...) KT_PRINTF(3, 4);
// kt__http_send_status maps a reply's kt_err status to an HTTP error.
void kt__http_send_status(struct evhttp_request *req, int32_t status,
                          const char *message);
void kt__http_send_timeout(struct evhttp_request *req);

// kt__http_has_dotdot: whether a client path has a ".." component. Such a
// path is refused before it is resolved, so the answer never depends on
// where the server runs or on which files exist above it.
bool kt__http_has_dotdot(const char *path);

// kt__http_ask packs m as the request of this HTTP request (to target,
// as message type `type`). Answers 500/503 itself and returns false on
// failure.
bool kt__http_ask(http_ctx *c, uint32_t target, uint32_t type,
                  const ProtobufCMessage *m);

void kt__http_park(http_loop *l, http_ctx *c, const http_route *r);
void kt__http_dispatch_cb(struct evhttp_request *req, void *arg);

// http_view.c: the operations view, a per-loop copy of rendered
// GET /operations/{id} bodies. Entries come from the backend's replies;
// one is served only while its stripe's epoch is the one it was asked
// under and no mutation of it is under way (read-your-writes), and, for
// an operation that is not completed, for view_ttl_ms at most.
kt_err kt__http_view_new(http_view **vp);
void kt__http_view_free(http_view *v);
// kt__http_view_get: the current body of id (true), or a ticket to fill
// it with (0 = none: a mutation of it is in flight). Loop thread only.
bool kt__http_view_get(http_srv *s, http_view *v, const char *id,
                       const char **txt, size_t *len, uint64_t *ticket);
// kt__http_view_put stores a body asked with ticket, unless the stripe
// moved since (or the state is not completed and view_ttl_ms is 0).
void kt__http_view_put(http_srv *s, http_view *v, const char *id,
                       uint64_t ticket, bool completed, const char *txt,
                       size_t len);
// kt__http_view_serve answers GET /operations/{id} from the view (true),
// or sets c->ticket so the reply fills it (false: ask the backend).
bool kt__http_view_serve(http_ctx *c);
// kt__http_view_fill stores the body of a 200 reply asked with ticket.
void kt__http_view_fill(http_loop *l, const http_slot *s,
                        const Ktpb__V1__OperationRecord *op, const char *txt,
                        size_t len);
// Mutations routed through the bridge (mut = HTTP_MUT_*): begin before the
// request leaves, end when its reply (or timeout) is back, before the
// client sees it. kt__http_view_changed: a change event (any thread).
void kt__http_view_mut_begin(http_srv *s, uint8_t mut, const char *id);
void kt__http_view_mut_end(http_srv *s, uint8_t mut, const char *id);
void kt__http_view_changed(http_srv *s, const char *id);

// http_routes.c
extern const http_route kt__http_routes[];
extern const size_t kt__http_nroutes;
bool kt__http_valid_id(const char *id);

// http_body.c: request bodies (POST /training/train, /backtests/start).
bool kt__http_build_train(http_ctx *c);
bool kt__http_build_backtest(http_ctx *c);

// http_agent.c: POST /agent/trigger and GET /agent/status (research).
bool kt__http_build_agent_trigger(http_ctx *c);
bool kt__http_build_agent_status(http_ctx *c);
void kt__http_r_agent_trigger(struct evhttp_request *req, const http_slot *s,
                              const kt_msg *rep);
void kt__http_r_agent_status(struct evhttp_request *req, const http_slot *s,
                             const kt_msg *rep);

// http_json.c: any protobuf-c message as a JSON object (new reference).
json_t *kt__http_pb_json(const ProtobufCMessage *m);

// http_reply.c: the JSON of each reply kind.
typedef void (*http_reply_fn)(struct evhttp_request *req, const http_slot *s,
                              const kt_msg *rep);
void kt__http_r_stats(struct evhttp_request *req, const http_slot *s,
                      const kt_msg *rep);
void kt__http_r_cleanup(struct evhttp_request *req, const http_slot *s,
                        const kt_msg *rep);
void kt__http_r_ckpt_list(struct evhttp_request *req, const http_slot *s,
                          const kt_msg *rep);
void kt__http_r_ckpt_get(struct evhttp_request *req, const http_slot *s,
                         const kt_msg *rep);
void kt__http_r_ckpt_delete(struct evhttp_request *req, const http_slot *s,
                            const kt_msg *rep);
void kt__http_r_start(struct evhttp_request *req, const http_slot *s,
                      const kt_msg *rep);
void kt__http_r_ops_list(struct evhttp_request *req, const http_slot *s,
                         const kt_msg *rep);
void kt__http_r_op(struct evhttp_request *req, const http_slot *s,
                   const kt_msg *rep);
void kt__http_r_resume(struct evhttp_request *req, const http_slot *s,
                       const kt_msg *rep);
void kt__http_r_results(struct evhttp_request *req, const http_slot *s,
                        const kt_msg *rep);
void kt__http_r_workers(struct evhttp_request *req, const http_slot *s,
                        const kt_msg *rep);

#endif // KT_HTTP_HTTP_INT_H
