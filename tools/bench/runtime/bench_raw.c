// Raw NNG baselines: push/pull (inproc) or pair1 (ipc, tcp) one-way with
// the runtime's buffer sizes, req/rep round trips, and (the floor under
// any protocol) round trips on bare NNG byte streams.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "bench.h"

#define CHECK(x)                                                \
    do {                                                        \
        int rv_ = (x);                                          \
        if (rv_ != 0) {                                         \
            fprintf(stderr, "%s: %s\n", #x, nng_strerror(rv_)); \
            exit(1);                                            \
        }                                                       \
    } while (0)

typedef struct rx_arg {
    nng_socket s;
    int n;
    int echo;
} rx_arg;

static void *
rx_main(void *p)
{
    rx_arg *a = p;

    for (int i = 0; i < a->n; i++) {
        nng_msg *m;
        CHECK(nng_recvmsg(a->s, &m, 0));
        if (a->echo) {
            CHECK(nng_sendmsg(a->s, m, 0));
        } else {
            nng_msg_free(m);
        }
    }
    return NULL;
}

static int
is_inproc(const char *url)
{
    return strncmp(url, "inproc://", 9) == 0;
}

double
raw_oneway(const char *url, size_t len, int n)
{
    nng_socket tx, rx;
    rx_arg a = {.n = n};
    pthread_t th;
    double t0, t1;
    char *body = calloc(1, len);
    int buf = is_inproc(url) ? 8192 : 1024;

    if (is_inproc(url)) {
        CHECK(nng_pull0_open(&rx));
        CHECK(nng_push0_open(&tx));
    } else {
        CHECK(nng_pair1_open(&rx));
        CHECK(nng_pair1_open(&tx));
    }
    CHECK(nng_socket_set_int(rx, NNG_OPT_RECVBUF, buf));
    CHECK(nng_socket_set_int(tx, NNG_OPT_SENDBUF, buf));
    CHECK(nng_listen(rx, url, NULL, 0));
    CHECK(nng_dial(tx, url, NULL, 0));
    a.s = rx;
    pthread_create(&th, NULL, rx_main, &a);
    t0 = bench_now_us();
    for (int i = 0; i < n; i++) {
        nng_msg *m;
        CHECK(nng_msg_alloc(&m, len));
        memcpy(nng_msg_body(m), body, len);
        CHECK(nng_sendmsg(tx, m, 0));
    }
    pthread_join(th, NULL);
    t1 = bench_now_us();
    nng_close(tx);
    nng_close(rx);
    free(body);
    return n / ((t1 - t0) / 1e6);
}

void
raw_rtt(const char *url, size_t len, int n, double *lat)
{
    nng_socket req, rep;
    rx_arg a = {.n = n, .echo = 1};
    pthread_t th;
    char *body = calloc(1, len);

    if (getenv("KT_BENCH_PAIR") != NULL) { // the runtime's own protocol
        CHECK(nng_pair1_open_poly(&rep));
        CHECK(nng_pair1_open(&req));
    } else {
        CHECK(nng_rep0_open(&rep));
        CHECK(nng_req0_open(&req));
    }
    CHECK(nng_listen(rep, url, NULL, 0));
    CHECK(nng_dial(req, url, NULL, 0));
    a.s = rep;
    pthread_create(&th, NULL, rx_main, &a);
    for (int i = 0; i < n; i++) {
        nng_msg *m;
        double t0 = bench_now_us();
        CHECK(nng_msg_alloc(&m, len));
        memcpy(nng_msg_body(m), body, len);
        CHECK(nng_sendmsg(req, m, 0));
        CHECK(nng_recvmsg(req, &m, 0));
        nng_msg_free(m);
        lat[i] = bench_now_us() - t0;
    }
    pthread_join(th, NULL);
    nng_close(req);
    nng_close(rep);
    free(body);
}

// Moves len bytes through stream s (send or receive), blocking.
static void
stream_xfer(nng_stream *s, nng_aio *aio, char *buf, size_t len, int send)
{
    for (size_t off = 0; off < len; off += nng_aio_count(aio)) {
        nng_iov iov = {.iov_buf = buf + off, .iov_len = len - off};
        CHECK(nng_aio_set_iov(aio, 1, &iov));
        if (send) {
            nng_stream_send(s, aio);
        } else {
            nng_stream_recv(s, aio);
        }
        nng_aio_wait(aio);
        CHECK(nng_aio_result(aio));
    }
}

typedef struct stream_echo {
    nng_stream *s;
    size_t len;
    int n;
} stream_echo;

static void *
stream_echo_main(void *p)
{
    stream_echo *e = p;
    char *buf = malloc(e->len);
    nng_aio *aio;

    CHECK(nng_aio_alloc(&aio, NULL, NULL));
    for (int i = 0; i < e->n; i++) {
        stream_xfer(e->s, aio, buf, e->len, 0);
        stream_xfer(e->s, aio, buf, e->len, 1);
    }
    nng_aio_free(aio);
    free(buf);
    return NULL;
}

void
raw_stream_rtt(const char *url, size_t len, int n, double *lat)
{
    nng_stream_listener *l;
    nng_stream_dialer *d;
    nng_aio *acc, *dial, *aio;
    nng_stream *cli;
    stream_echo e = {.len = len, .n = n};
    char *buf = calloc(1, len);
    pthread_t th;

    CHECK(nng_stream_listener_alloc(&l, url));
    CHECK(nng_stream_listener_listen(l));
    CHECK(nng_stream_dialer_alloc(&d, url));
    CHECK(nng_aio_alloc(&acc, NULL, NULL));
    CHECK(nng_aio_alloc(&dial, NULL, NULL));
    CHECK(nng_aio_alloc(&aio, NULL, NULL));
    nng_stream_listener_accept(l, acc);
    nng_stream_dialer_dial(d, dial);
    nng_aio_wait(dial);
    nng_aio_wait(acc);
    CHECK(nng_aio_result(dial));
    CHECK(nng_aio_result(acc));
    cli = nng_aio_get_output(dial, 0);
    e.s = nng_aio_get_output(acc, 0);
    pthread_create(&th, NULL, stream_echo_main, &e);
    for (int i = 0; i < n; i++) {
        double t0 = bench_now_us();
        stream_xfer(cli, aio, buf, len, 1);
        stream_xfer(cli, aio, buf, len, 0);
        lat[i] = bench_now_us() - t0;
    }
    pthread_join(th, NULL);
    nng_stream_free(cli);
    nng_stream_free(e.s);
    nng_stream_listener_free(l);
    nng_stream_dialer_free(d);
    nng_aio_free(acc);
    nng_aio_free(dial);
    nng_aio_free(aio);
    free(buf);
}
