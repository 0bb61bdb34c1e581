// http_srv.c: the HTTP bridge's server: configuration, and the evhttp
// loops (each on a thread of its own, the only evhttp owners) that check
// each request (size, auth, route, id) and hand it to the bridge actor or
// answer it from the operations view.
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/thread.h>

#include <kt/log.h>

#include "http/http_int.h"

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

// env_u32 reads an unsigned environment knob; def when unset or bad.
static uint32_t
env_u32(const char *name, uint32_t def)
{
    const char *v = getenv(name);
    char *end;
    unsigned long x;

    if (v == NULL || v[0] < '0' || v[0] > '9') {
        return def;
    }
    x = strtoul(v, &end, 10);
    return *end == '\0' && x <= UINT32_MAX ? (uint32_t)x : def;
}

static void
srv_tuning(http_srv *s, const kt_http_cfg *cfg)
{
    uint32_t n =
        cfg->loops != 0 ? cfg->loops : env_u32("KTRDR_HTTP_THREADS", 2);

    s->nloops = n < 1 ? 1 : n > HTTP_LOOPS_MAX ? HTTP_LOOPS_MAX : n;
    s->max_body = cfg->max_body != 0 ? cfg->max_body : 64 * 1024;
    s->view_on = !cfg->no_view && env_u32("KTRDR_HTTP_VIEW", 1) != 0;
    s->view_ttl_ms = cfg->view_ttl_ms != 0
                         ? cfg->view_ttl_ms
                         : env_u32("KTRDR_HTTP_VIEW_TTL_MS", 100);
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
    srv_tuning(s, cfg);
    return KT_OK;
}

// Ends the loop from inside it. event_base_loopbreak from another thread
// is lost when it comes before the thread entered event_base_dispatch
// (which clears the break flag): a server closed right after it started
// then waited forever in pthread_join. An activated event is not lost: it
// runs as soon as the loop runs.
static void
loop_stop_cb(evutil_socket_t fd, short what, void *arg)
{
    http_loop *l = arg;

    (void)fd;
    (void)what;
    event_base_loopbreak(l->base);
}

static kt_err
loop_open(http_srv *s, uint32_t index, int fd, http_loop **out)
{
    http_loop *l = calloc(1, sizeof(*l));

    if (l == NULL) {
        close(fd);
        return KT_ENOMEM;
    }
    l->srv = s;
    l->index = index;
    pthread_mutex_init(&l->mtx, NULL);
    for (uint32_t i = 0; i < HTTP_SLOTS; i++) {
        l->free_idx[i] = HTTP_SLOTS - 1 - i;
    }
    l->nfree = HTTP_SLOTS;
    *out = l; // from here on kt__http_srv_close frees it
    if ((l->base = event_base_new()) == NULL ||
        (l->http = evhttp_new(l->base)) == NULL ||
        (l->wake = event_new(l->base, -1, 0, kt__http_loop_wake_cb, l)) ==
            NULL ||
        (l->stop = event_new(l->base, -1, 0, loop_stop_cb, l)) == NULL ||
        kt__http_view_new(&l->view) != KT_OK) {
        close(fd);
        return KT_ENOMEM;
    }
    // evhttp's own limits sit above ours: within them the dispatcher
    // answers in JSON (413 body, 431 headers); past them evhttp's HTML.
    evhttp_set_max_body_size(l->http, (ev_ssize_t)(s->max_body > HTTP_BODY_HARD
                                                       ? s->max_body
                                                       : HTTP_BODY_HARD));
    evhttp_set_max_headers_size(l->http, 4 * HTTP_HDR_MAX);
    evhttp_set_timeout(l->http, 60);
    // Every method reaches the router, which answers 405 in JSON.
    evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(l->http, kt__http_dispatch_cb, l);
    if (evhttp_accept_socket_with_handle(l->http, fd) == NULL) {
        close(fd);
        return KT_ENOMEM;
    }
    return KT_OK;
}

kt_err
kt__http_srv_open(http_srv *s, const kt_http_cfg *cfg, kt_runtime *rt)
{
    int fds[HTTP_LOOPS_MAX];
    char host[256];
    uint16_t port;
    kt_err err;

    if ((err = srv_config(s, cfg, host, sizeof(host), &port)) != KT_OK) {
        return err;
    }
    s->rt = rt;
    if ((err = kt__http_listen(host, port, s->nloops, fds, &s->port)) !=
        KT_OK) {
        kt_log(KT_LOG_ERR, "http", "event=bind addr=%s:%u reason=\"%s\"", host,
               port, kt_strerror(err));
        return err;
    }
    for (uint32_t i = 0; i < s->nloops; i++) {
        if (err == KT_OK) {
            err = loop_open(s, i, fds[i], &s->loops[i]);
        } else {
            close(fds[i]);
        }
    }
    if (err != KT_OK) {
        kt__http_srv_close(s);
    }
    return err;
}

static void *
loop_main(void *arg)
{
    http_loop *l = arg;

    event_base_dispatch(l->base);
    return NULL;
}

kt_err
kt__http_srv_start(http_srv *s, kt_aid actor)
{
    int rv;

    s->actor = actor;
    for (uint32_t i = 0; i < s->nloops; i++) {
        http_loop *l = s->loops[i];
        if ((rv = pthread_create(&l->thr, NULL, loop_main, l)) != 0) {
            return KT_ESYSERR | rv; // the caller closes the started ones
        }
        l->running = true;
    }
    return KT_OK;
}

void
kt__http_srv_close(http_srv *s)
{
    for (uint32_t i = 0; i < HTTP_LOOPS_MAX; i++) {
        http_loop *l = s->loops[i];
        if (l != NULL && l->running) {
            event_active(l->stop, EV_READ, 0);
            pthread_join(l->thr, NULL);
            l->running = false;
        }
    }
    for (uint32_t i = 0; i < HTTP_LOOPS_MAX; i++) {
        http_loop *l = s->loops[i];
        if (l == NULL) {
            continue;
        }
        if (l->http != NULL) {
            evhttp_free(l->http); // closes connections, frees their requests
        }
        if (l->wake != NULL) {
            event_free(l->wake);
        }
        if (l->stop != NULL) {
            event_free(l->stop);
        }
        if (l->base != NULL) {
            event_base_free(l->base);
        }
        kt__http_loop_drain(l);
        kt__http_view_free(l->view);
        pthread_mutex_destroy(&l->mtx);
        free(l);
        s->loops[i] = NULL;
    }
    s->rt = NULL;
}
