// http_int.h: what the HTTP bridge's files share: the server (evhttp on
// its own thread), request slots, the route table and the JSON replies.
#ifndef KT_HTTP_HTTP_INT_H
#define KT_HTTP_HTTP_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include <kt/actor.h>

#include "http/http.h"

#define HTTP_SLOTS   1024 // requests waiting for the backend at once
#define HTTP_ID_MAX  128
#define HTTP_URI_MAX 2048

enum { HTTP_TO_OPS = 0, HTTP_TO_PERSIST = 1, HTTP_TO_RESEARCH = 2 };

// The header of a KT_HTTP_CALL body (followed by the packed request).
typedef struct http_call_hdr {
    uint64_t slot;
    uint32_t target; // HTTP_TO_*
    uint32_t type;   // the request's message type
} http_call_hdr;

typedef struct http_srv http_srv;
typedef struct http_route http_route;

// One request being served: what the route needs when the reply comes.
typedef struct http_slot {
    struct evhttp_request *req; // NULL once the client went away
    struct evhttp_connection *evcon;
    const http_route *route;
    uint32_t gen;
    bool busy;
    char id[HTTP_ID_MAX]; // the {id} of the path, for messages
} http_slot;

// A route handler's view of one request.
typedef struct http_ctx {
    http_srv *srv;
    struct evhttp_request *req;
    const char *id; // path parameter ("" when none)
    struct evkeyvalq query;
    kt_msg *call; // set by kt__http_ask: the KT_HTTP_CALL to send
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
};

struct http_srv {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    struct event *wake;
    pthread_t thr;
    bool running;
    kt_runtime *rt;
    kt_aid actor;
    char token[256];
    char strategies[PATH_MAX]; // realpath of the strategies directory
    char data[PATH_MAX];       // realpath of the data directory ("" = none)
    uint16_t port;
    // completions from the actor, under mtx
    pthread_mutex_t mtx;
    struct http_done *done;
    struct http_done *done_tail;
    // request slots (server thread only)
    http_slot slots[HTTP_SLOTS];
    uint32_t free_idx[HTTP_SLOTS];
    uint32_t nfree;
};

// http_srv.c
kt_err kt__http_srv_open(http_srv *s, const kt_http_cfg *cfg, kt_runtime *rt);
kt_err kt__http_srv_start(http_srv *s, kt_aid actor);
void kt__http_srv_close(http_srv *s);
// kt__http_srv_complete hands a reply (or a KT_MSG_TIMEOUT) for slot to
// the server thread; takes ownership of rep. Any thread.
void kt__http_srv_complete(http_srv *s, uint64_t slot, kt_msg *rep);

// Responses (http_srv.c): JSON bodies, errors as
// {"success":false,"error":{"code","message"},"detail":message}.
void kt__http_send_json(struct evhttp_request *req, int code, json_t *j);
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

void kt__http_park(http_srv *s, http_ctx *c, const http_route *r);
void kt__http_dispatch_cb(struct evhttp_request *req, void *arg);

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
