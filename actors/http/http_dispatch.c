// http_dispatch.c: one incoming request: limits, bearer token, route and
// path id, then the route's build (which asks the backend through the
// bridge actor, or answers at once).
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http/http_int.h"

#define API "/api/v1"

// Constant-time comparison, so the token cannot be guessed byte by byte.
static bool
token_ok(const http_srv *s, struct evhttp_request *req)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
                                       "Authorization");
    size_t n = strlen(s->token), m;
    unsigned char diff = 0;

    if (h == NULL || strncmp(h, "Bearer ", 7) != 0) {
        return false;
    }
    h += 7;
    m = strlen(h);
    for (size_t i = 0; i < n; i++) {
        diff |= (unsigned char)(s->token[i] ^ (i < m ? h[i] : 0));
    }
    return diff == 0 && m == n;
}

// match: does path fit route r? On a match with an {id}, copies it to id.
static bool
match(const http_route *r, const char *path, char *id, size_t idlen)
{
    size_t pl = strlen(r->prefix);
    const char *rest, *slash;
    size_t n;

    if (strncmp(path, r->prefix, pl) != 0) {
        return false;
    }
    if (r->suffix == NULL) {
        id[0] = '\0';
        return path[pl] == '\0';
    }
    rest = path + pl;
    slash = strchr(rest, '/');
    n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
    if (n == 0 || strcmp(rest + n, r->suffix) != 0) {
        return false;
    }
    if (n >= idlen) {
        n = idlen - 1; // too long: kt__http_valid_id refuses it
        memcpy(id, rest, n);
        id[n] = '\0';
        id[0] = '\x01';
        return true;
    }
    memcpy(id, rest, n);
    id[n] = '\0';
    return true;
}

static const http_route *
find_route(struct evhttp_request *req, const char *path, char *id, size_t idlen,
           bool *other_method)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(req);

    *other_method = false;
    for (size_t i = 0; i < kt__http_nroutes; i++) {
        const http_route *r = &kt__http_routes[i];
        if (match(r, path, id, idlen)) {
            if (r->method == m) {
                return r;
            }
            *other_method = true;
        }
    }
    return NULL;
}

static void park_or_done(http_loop *l, http_ctx *c, const http_route *r);

// too_large answers 431 / 413 in JSON for what fits evhttp's own (higher)
// limits but not ours, and closes the connection after it.
static bool
too_large(const http_srv *s, struct evhttp_request *req)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    size_t body = evbuffer_get_length(evhttp_request_get_input_buffer(req));
    size_t hdrs = 0;
    struct evkeyval *kv;

    TAILQ_FOREACH(kv, in, next)
    {
        hdrs += strlen(kv->key) + strlen(kv->value) + 4;
    }
    if (hdrs <= HTTP_HDR_MAX && body <= s->max_body) {
        return false;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection",
                      "close");
    if (hdrs > HTTP_HDR_MAX) {
        kt__http_send_error(req, 431, "request headers over %d bytes",
                            HTTP_HDR_MAX);
    } else {
        kt__http_send_error(req, 413, "request body over %zu bytes",
                            s->max_body);
    }
    return true;
}

void
kt__http_dispatch_cb(struct evhttp_request *req, void *arg)
{
    http_loop *l = arg;
    http_srv *s = l->srv;
    const char *uri = evhttp_request_get_uri(req);
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u != NULL ? evhttp_uri_get_path(u) : NULL;
    const char *q = u != NULL ? evhttp_uri_get_query(u) : NULL;
    char id[HTTP_ID_MAX];
    const http_route *r;
    http_ctx c = {.srv = s, .loop = l, .req = req, .id = id};
    bool other;

    if (too_large(s, req)) {
        return;
    }
    if (uri == NULL || strlen(uri) > HTTP_URI_MAX || path == NULL) {
        kt__http_send_error(req, 400, "request URI missing or too long");
        return;
    }
    if (strstr(path, "%") != NULL || strstr(path, "..") != NULL) {
        kt__http_send_error(req, 400, "bad characters in the path");
        return;
    }
    if (s->token[0] != '\0' && strcmp(path, API "/health") != 0 &&
        !token_ok(s, req)) {
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "WWW-Authenticate", "Bearer");
        kt__http_send_error(req, 401, "missing or wrong bearer token");
        return;
    }
    if ((r = find_route(req, path, id, sizeof(id), &other)) == NULL) {
        if (other) {
            kt__http_send_error(req, 405, "method not allowed on %s", path);
        } else {
            kt__http_send_error(req, 404, "no such endpoint: %s", path);
        }
        return;
    }
    if (r->suffix != NULL && !kt__http_valid_id(id)) {
        kt__http_send_error(req, 400,
                            "invalid id (1-%d characters of A-Z a-z 0-9 _ "
                            ". -)",
                            HTTP_ID_MAX - 1);
        return;
    }
    TAILQ_INIT(&c.query);
    if (q != NULL && evhttp_parse_query_str(q, &c.query) != 0) {
        kt__http_send_error(req, 400, "malformed query string");
        return;
    }
    park_or_done(l, &c, r);
    evhttp_clear_headers(&c.query);
}

static void
park_or_done(http_loop *l, http_ctx *c, const http_route *r)
{
    if (r->build(c)) {
        kt__http_park(l, c, r);
    }
}
