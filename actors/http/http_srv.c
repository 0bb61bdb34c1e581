// http_srv.c: the HTTP bridge's server thread: the only evhttp owner. It
// checks each request (size, auth, route, id), hands its protobuf request
// to the bridge actor, and writes the response when the actor hands the
// reply back (kt__http_srv_complete wakes this loop).
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include <kt/log.h>

#include "http/http_int.h"

typedef struct http_done {
    uint64_t slot;
    kt_msg *rep;
    struct http_done *next;
} http_done;

void
kt__http_send_json(struct evhttp_request *req, int code, json_t *j)
{
    struct evbuffer *b = evbuffer_new();
    char *txt =
        j != NULL ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    const char *reason = code == 200 ? "OK" : "Error";

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    if (b != NULL && txt != NULL) {
        evbuffer_add(b, txt, strlen(txt));
    }
    evhttp_send_reply(req, code, reason, b);
    if (b != NULL) {
        evbuffer_free(b);
    }
    free(txt);
    json_decref(j);
}

static const char *
code_name(int code)
{
    switch (code) {
    case 400:
        return "BAD_REQUEST";
    case 401:
        return "UNAUTHORIZED";
    case 404:
        return "NOT_FOUND";
    case 405:
        return "METHOD_NOT_ALLOWED";
    case 409:
        return "CONFLICT";
    case 413:
        return "PAYLOAD_TOO_LARGE";
    case 422:
        return "VALIDATION_ERROR";
    case 503:
        return "SERVICE_UNAVAILABLE";
    default:
        return "INTERNAL_ERROR";
    }
}

void
kt__http_send_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kt__http_send_json(req, code,
                       json_pack("{s:b,s:{s:s,s:s},s:s}", "success", 0, "error",
                                 "code", code_name(code), "message", msg,
                                 "detail", msg));
}

void
kt__http_send_status(struct evhttp_request *req, int32_t status,
                     const char *message)
{
    int code;

    switch (status) {
    case KT_ENOENT:
        code = 404;
        break;
    case KT_ESTATE:
    case KT_EVERSION:
        code = 409;
        break;
    case KT_EINVAL:
    case KT_ECORRUPT:
        code = 422;
        break;
    case KT_ETIMEDOUT:
    case KT_ECLOSED:
    case KT_EAGAIN:
        code = 503;
        break;
    default:
        code = 500;
        break;
    }
    kt__http_send_error(req, code, "%s",
                        message != NULL && message[0] != '\0'
                            ? message
                            : kt_strerror((kt_err)status));
}

void
kt__http_send_timeout(struct evhttp_request *req)
{
    kt__http_send_error(req, 503, "the backend did not answer in time");
}

// ---- slots -------------------------------------------------------------

static int
slot_take(http_srv *s)
{
    if (s->nfree == 0) {
        return -1;
    }
    return (int)s->free_idx[--s->nfree];
}

static void
slot_put(http_srv *s, uint32_t i)
{
    s->slots[i].busy = false;
    s->slots[i].req = NULL;
    s->slots[i].evcon = NULL;
    s->slots[i].gen++;
    s->free_idx[s->nfree++] = i;
}

// A connection closes: its waiting requests are gone with it (evhttp
// frees them); their replies will be dropped.
static void
conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
    http_srv *s = arg;

    for (uint32_t i = 0; i < HTTP_SLOTS; i++) {
        if (s->slots[i].busy && s->slots[i].evcon == evcon) {
            s->slots[i].req = NULL;
            s->slots[i].evcon = NULL;
        }
    }
}

bool
kt__http_ask(http_ctx *c, uint32_t target, uint32_t type,
             const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    http_call_hdr h = {.target = target, .type = type};
    kt_msg *msg;

    if (kt_msg_alloc(&msg, KT_HTTP_CALL, sizeof(h) + n) != KT_OK) {
        kt__http_send_error(c->req, 503, "out of memory");
        return false;
    }
    memcpy(kt_msg_body(msg), &h, sizeof(h));
    protobuf_c_message_pack(m, (uint8_t *)kt_msg_body(msg) + sizeof(h));
    c->call = msg;
    return true;
}

// kt__http_park sends the call to the actor and keeps the request until
// the reply comes.
void
kt__http_park(http_srv *s, http_ctx *c, const http_route *r)
{
    int i = slot_take(s);
    http_slot *sl;
    http_call_hdr h;

    if (i < 0) {
        kt_msg_free(c->call);
        kt__http_send_error(c->req, 503, "too many requests in flight");
        return;
    }
    sl = &s->slots[i];
    memcpy(&h, kt_msg_body(c->call), sizeof(h));
    h.slot = ((uint64_t)sl->gen << 16) | (uint64_t)i;
    memcpy(kt_msg_body(c->call), &h, sizeof(h));
    if (kt_runtime_send(s->rt, s->actor, c->call) != KT_OK) {
        kt_msg_free(c->call);
        slot_put(s, (uint32_t)i);
        kt__http_send_error(c->req, 503,
                            "the backend is not accepting "
                            "requests");
        return;
    }
    sl->busy = true;
    sl->req = c->req;
    sl->evcon = evhttp_request_get_connection(c->req);
    sl->route = r;
    snprintf(sl->id, sizeof(sl->id), "%s", c->id);
    if (sl->evcon != NULL) {
        evhttp_connection_set_closecb(sl->evcon, conn_closed_cb, s);
    }
}

void
kt__http_srv_complete(http_srv *s, uint64_t slot, kt_msg *rep)
{
    http_done *d = malloc(sizeof(*d));
    bool first;

    if (d == NULL) {
        kt_msg_free(rep); // the request will time out on the client side
        return;
    }
    d->slot = slot;
    d->rep = rep;
    d->next = NULL;
    pthread_mutex_lock(&s->mtx);
    first = s->done == NULL;
    if (first) {
        s->done = d;
    } else {
        s->done_tail->next = d;
    }
    s->done_tail = d;
    pthread_mutex_unlock(&s->mtx);
    if (first) {
        event_active(s->wake, EV_READ, 0);
    }
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
    http_srv *s = arg;
    http_done *d;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&s->mtx);
    d = s->done;
    s->done = s->done_tail = NULL;
    pthread_mutex_unlock(&s->mtx);
    while (d != NULL) {
        http_done *next = d->next;
        uint32_t i = (uint32_t)(d->slot & 0xffff);
        http_slot *sl = i < HTTP_SLOTS ? &s->slots[i] : NULL;

        if (sl != NULL && sl->busy && sl->gen == (uint32_t)(d->slot >> 16)) {
            if (sl->req != NULL) {
                if (kt_msg_type(d->rep) == KT_MSG_TIMEOUT) {
                    kt__http_send_timeout(sl->req);
                } else {
                    sl->route->reply(sl->req, sl, d->rep);
                }
            }
            slot_put(s, i);
        }
        kt_msg_free(d->rep);
        free(d);
        d = next;
    }
}

// ---- lifecycle ---------------------------------------------------------

static bool
is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (strcmp(host, "localhost") == 0) {
        return true;
    }
    if (inet_pton(AF_INET, host, &a4) == 1) {
        return (ntohl(a4.s_addr) >> 24) == 127;
    }
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

// split_addr parses "HOST:PORT" or "[V6]:PORT".
static kt_err
split_addr(const char *addr, char *host, size_t hlen, uint16_t *port)
{
    const char *colon = strrchr(addr, ':');
    const char *h = addr;
    size_t n;
    char *end;
    long p;

    if (colon == NULL) {
        return KT_EINVAL;
    }
    n = (size_t)(colon - addr);
    if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
        h++, n -= 2;
    }
    if (n == 0 || n >= hlen) {
        return KT_EINVAL;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || p < 0 || p > 65535) {
        return KT_EINVAL;
    }
    *port = (uint16_t)p;
    return KT_OK;
}

static kt_err
srv_config(http_srv *s, const kt_http_cfg *cfg, char *host, size_t hlen,
           uint16_t *port)
{
    const char *addr = cfg->addr != NULL ? cfg->addr : KT_HTTP_DEFAULT_ADDR;
    const char *sd =
        cfg->strategies_dir != NULL ? cfg->strategies_dir : "strategies";

    if (split_addr(addr, host, hlen, port) != KT_OK) {
        kt_log(KT_LOG_ERR, "http",
               "event=config reason=\"bad address\" "
               "addr=%s",
               addr);
        return KT_EINVAL;
    }
    if (cfg->token != NULL && strlen(cfg->token) >= sizeof(s->token)) {
        return KT_EINVAL;
    }
    snprintf(s->token, sizeof(s->token), "%s",
             cfg->token != NULL ? cfg->token : "");
    if (s->token[0] == '\0' && !is_loopback(host)) {
        kt_log(KT_LOG_ERR, "http",
               "event=config reason=\"KTRDR_API_TOKEN is required on a "
               "non-loopback address\" addr=%s",
               addr);
        return KT_EINVAL;
    }
    if (realpath(sd, s->strategies) == NULL) {
        // No strategies directory: every strategy_path is refused.
        snprintf(s->strategies, sizeof(s->strategies), "%s", sd);
    }
    if (cfg->data_dir == NULL || realpath(cfg->data_dir, s->data) == NULL) {
        s->data[0] = '\0'; // every model_path is refused
    }
    return KT_OK;
}

kt_err
kt__http_srv_open(http_srv *s, const kt_http_cfg *cfg, kt_runtime *rt)
{
    char host[256];
    uint16_t port;
    kt_err err;

    if ((err = srv_config(s, cfg, host, sizeof(host), &port)) != KT_OK) {
        return err;
    }
    s->rt = rt;
    pthread_mutex_init(&s->mtx, NULL);
    for (uint32_t i = 0; i < HTTP_SLOTS; i++) {
        s->free_idx[i] = HTTP_SLOTS - 1 - i;
    }
    s->nfree = HTTP_SLOTS;
    err = KT_ENOMEM;
    if ((s->base = event_base_new()) == NULL ||
        (s->http = evhttp_new(s->base)) == NULL ||
        (s->wake = event_new(s->base, -1, 0, wake_cb, s)) == NULL) {
        goto fail;
    }
    evhttp_set_max_body_size(s->http,
                             cfg->max_body != 0 ? cfg->max_body : 64 * 1024);
    evhttp_set_max_headers_size(s->http, 16 * 1024);
    evhttp_set_timeout(s->http, 60);
    // Every method reaches the router, which answers 405 in JSON.
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(s->http, kt__http_dispatch_cb, s);
    if ((s->sock = evhttp_bind_socket_with_handle(s->http, host, port)) ==
        NULL) {
        err = KT_ESYSERR | (errno != 0 ? errno : EADDRINUSE);
        kt_log(KT_LOG_ERR, "http", "event=bind addr=%s:%u reason=\"%s\"", host,
               port, kt_strerror(err));
        goto fail;
    }
    {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        evutil_socket_t fd = evhttp_bound_socket_get_fd(s->sock);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
            s->port = ntohs(ss.ss_family == AF_INET6
                                ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                : ((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    return KT_OK;
fail:
    kt__http_srv_close(s);
    return err;
}

static void *
srv_main(void *arg)
{
    http_srv *s = arg;

    event_base_dispatch(s->base);
    return NULL;
}

kt_err
kt__http_srv_start(http_srv *s, kt_aid actor)
{
    int rv;

    s->actor = actor;
    if ((rv = pthread_create(&s->thr, NULL, srv_main, s)) != 0) {
        return KT_ESYSERR | rv;
    }
    s->running = true;
    return KT_OK;
}

void
kt__http_srv_close(http_srv *s)
{
    http_done *d;

    if (s->running) {
        event_base_loopbreak(s->base);
        pthread_join(s->thr, NULL);
        s->running = false;
    }
    if (s->http != NULL) {
        evhttp_free(s->http); // closes connections, frees their requests
        s->http = NULL;
    }
    if (s->wake != NULL) {
        event_free(s->wake);
        s->wake = NULL;
    }
    if (s->base != NULL) {
        event_base_free(s->base);
        s->base = NULL;
    }
    while ((d = s->done) != NULL) {
        s->done = d->next;
        kt_msg_free(d->rep);
        free(d);
    }
    if (s->rt != NULL) {
        pthread_mutex_destroy(&s->mtx);
        s->rt = NULL;
    }
}
