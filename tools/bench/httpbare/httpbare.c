// httpbare.c: the baseline of the HTTP benchmark: one evhttp loop that
// answers every request with a fixed JSON body of about the size of
// GET /api/v1/operations/{id}. Usage: kt-httpbare PORT
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

static char body[640];

static void
reply_cb(struct evhttp_request *req, void *arg)
{
    struct evbuffer *b = arg;

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    evbuffer_add_reference(b, body, strlen(body), NULL, NULL);
    evhttp_send_reply(req, 200, "OK", b);
}

int
main(int argc, char **argv)
{
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    struct evbuffer *b = evbuffer_new();
    int port = argc > 1 ? atoi(argv[1]) : 8001;

    memset(body, 'x', sizeof(body) - 1);
    memcpy(body, "{\"success\":true,\"data\":\"", 24);
    memcpy(body + sizeof(body) - 3, "\"}", 3);
    signal(SIGPIPE, SIG_IGN);
    evhttp_set_gencb(http, reply_cb, b);
    if (evhttp_bind_socket(http, "127.0.0.1", (unsigned short)port) != 0) {
        fprintf(stderr, "kt-httpbare: cannot bind port %d\n", port);
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    event_base_dispatch(base);
    evbuffer_free(b);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
