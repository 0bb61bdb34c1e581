// The peer wire between processes (io/wire.h) spoken by hand: malformed
// input, split and large frames, a queue kept while the listener is away,
// and connections that answer the hello and then go silent.
#include <ktpb/v1/envelope.pb-c.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <kt/kt.h>

#include "support/kt_test.h"

TestSuite(runtime_wire, .timeout = 30.0);

// The peer wire (io/wire.h): an 8-byte hello, then frames of a 4-byte
// little-endian length and a ktpb.v1.Batch.
static const unsigned char wire_hello[8] = {'K', 'T', 'W', 1, 0, 0, 0, 0};

// A raw connection to the ipc:// url (a peer speaking the wire by hand).
static int
wire_connect(const char *url)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    cr_assert_geq(fd, 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", url + strlen("ipc://"));
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void
wire_frame(int fd, const void *body, uint32_t len)
{
    unsigned char hdr[4] = {(unsigned char)len, (unsigned char)(len >> 8),
                            (unsigned char)(len >> 16),
                            (unsigned char)(len >> 24)};

    cr_assert_eq(write(fd, hdr, 4), 4);
    cr_assert_eq(write(fd, body, len), (ssize_t)len);
}

// The connection fd was dropped by the far side: reading ends (the
// listener's own hello may come first).
static bool
wire_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    unsigned char b[64];

    while (poll(&p, 1, 5000) == 1) {
        ssize_t n = read(fd, b, sizeof(b));
        if (n <= 0) {
            return true;
        }
    }
    return false;
}

static void
expect_echo(kt_runtime *rt, const char *url)
{
    kt_msg *rep = NULL;
    kt_aid proxy;

    cr_assert_eq(kt_remote_connect(rt, url, "echo", &proxy), KT_OK);
    cr_assert_eq(
        kt_runtime_ask(rt, proxy, msg_new(T_PING, "z", 1), 10000, &rep), KT_OK);
    kt_msg_free(rep);
}

Test(runtime_wire, malformed_envelopes_are_dropped_with_log)
{
    kt_runtime *rt = start_rt(1, 0);
    char url[64];
    int fd;
    // A Batch of one Envelope naming an actor that does not exist
    // (type 100, receiver_name "x"), and a Batch of one empty Envelope.
    const unsigned char noname[] = {0x0a, 0x05, 0x20, 0x64, 0x32, 0x01, 0x78};
    const unsigned char empty_env[] = {0x0a, 0x00};

    (void)spawn_ok(rt, &echo_ops, NULL, "echo");
    snprintf(url, sizeof(url), "ipc:///tmp/kt-test-bad-%d.ipc", (int)getpid());
    log_capture_start();
    cr_assert_eq(kt_runtime_listen(rt, url), KT_OK);
    fd = wire_connect(url);
    cr_assert_eq(write(fd, wire_hello, sizeof(wire_hello)), 8);
    wire_frame(fd, "\xff\xff\xff\xff\xff", 5);
    cr_assert(log_wait("reason=\"malformed envelope\"", 5000));
    wire_frame(fd, "", 0); // a batch of nothing
    cr_assert(log_wait("reason=\"empty batch\"", 5000));
    // One envelope that decodes but has type 0 and no receiver.
    wire_frame(fd, empty_env, sizeof(empty_env));
    cr_assert(log_wait("reason=\"bad envelope fields\"", 5000));
    wire_frame(fd, noname, sizeof(noname));
    cr_assert(log_wait("event=drop actor=x#0 type=100", 5000));
    // A frame announcing more than the limit ends the connection.
    cr_assert_eq(write(fd, "\xff\xff\xff\xff", 4), 4);
    cr_assert(log_wait("reason=\"frame too large\"", 5000));
    cr_assert(wire_closed(fd), "the listener kept the connection");
    close(fd);
    // So does a wrong hello (an SP peer's, here).
    fd = wire_connect(url);
    cr_assert_eq(write(fd, "\0SP\0\0\x11\0\0", 8), 8);
    cr_assert(log_wait("reason=\"bad hello\"", 5000));
    cr_assert(wire_closed(fd), "the listener kept the connection");
    close(fd);
    // A good peer still gets answers on the same listener.
    expect_echo(rt, url);
    stop_checked(rt);
    log_capture_stop();
    unlink(url + strlen("ipc://"));
}

// A frame may arrive a byte at a time, and frames larger than the
// listener's read buffer (64 KiB) are read whole.
Test(runtime_wire, frames_split_or_larger_than_the_read_buffer_arrive)
{
    kt_runtime *rt = start_rt(1, 0);
    atomic_long n = 0;
    char url[64];
    size_t big = 300000;
    unsigned char *env = malloc(big + 64), hdr[4];
    char name[] = "count";
    Ktpb__V1__Envelope e;
    Ktpb__V1__Batch b;
    Ktpb__V1__Envelope *one[1] = {&e};
    size_t len;
    int fd;

    (void)spawn_ok(rt, &counter_ops, &n, "count");
    snprintf(url, sizeof(url), "ipc:///tmp/kt-test-split-%d.ipc",
             (int)getpid());
    cr_assert_eq(kt_runtime_listen(rt, url), KT_OK);
    ktpb__v1__envelope__init(&e);
    ktpb__v1__batch__init(&b);
    e.type = T_PING;
    e.receiver_name = name;
    e.payload.len = big;
    e.payload.data = calloc(1, big);
    b.n_envelopes = 1;
    b.envelopes = one;
    len = ktpb__v1__batch__pack(&b, env);
    fd = wire_connect(url);
    cr_assert_eq(write(fd, wire_hello, sizeof(wire_hello)), 8);
    wire_frame(fd, env, (uint32_t)len); // larger than the read buffer
    e.payload.len = 3;
    len = ktpb__v1__batch__pack(&b, env);
    hdr[0] = (unsigned char)len;
    hdr[1] = hdr[2] = hdr[3] = 0;
    for (size_t i = 0; i < 4; i++) { // then one split byte by byte
        cr_assert_eq(write(fd, hdr + i, 1), 1);
        usleep(2000);
    }
    for (size_t i = 0; i < len; i++) {
        cr_assert_eq(write(fd, env + i, 1), 1);
    }
    cr_assert(wait_atomic(&n, 2, 10000), "got %ld of 2", atomic_load(&n));
    close(fd);
    free(e.payload.data);
    free(env);
    stop_checked(rt);
    unlink(url + strlen("ipc://"));
}

// Sent while nothing listens: more 64 KiB messages than the proxy's queue
// holds (1,024 frames), so the proxy pauses on a full queue, and resumes
// when the listener appears and the queue drains. All arrive, in order.
Test(runtime_wire, sent_while_the_listener_is_away_arrive_once_it_listens)
{
    kt_runtime *a = start_rt(1, 0), *b = NULL;
    kt_runtime_cfg one = {.threads = 1};
    atomic_long n = 0;
    enum { N = 1100, LEN = 65536 };
    char url[64];
    kt_aid proxy;
    kt_msg *m;

    snprintf(url, sizeof(url), "ipc:///tmp/kt-test-away-%d.ipc", (int)getpid());
    (void)unlink(url + strlen("ipc://"));
    cr_assert_eq(kt_remote_connect(a, url, "sink", &proxy), KT_OK);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(kt_msg_alloc(&m, T_PING, LEN), KT_OK);
        memset(kt_msg_body(m), i & 0xff, LEN);
        cr_assert_eq(kt_runtime_send(a, proxy, m), KT_OK);
    }
    cr_assert_eq(kt_runtime_start(&b, &one), KT_OK);
    spawn_ok(b, &counter_ops, &n, "sink");
    cr_assert_eq(kt_runtime_listen(b, url), KT_OK);
    cr_assert(wait_atomic(&n, N, 20000), "got %ld of %d", atomic_load(&n), N);
    kt_runtime_stop(a);
    stop_checked(b);
    unlink(url + strlen("ipc://"));
}

// blackhole_accept: takes one connection on listening socket fd, answers
// the wire's hello and then never reads or writes again.
static int
blackhole_accept(int fd)
{
    const unsigned char *hello = wire_hello;
    unsigned char got[8];
    size_t n = 0;
    int c = accept(fd, NULL, NULL);

    cr_assert_geq(c, 0);
    while (n < sizeof(got)) {
        ssize_t r = read(c, got + n, sizeof(got) - n);
        cr_assert_gt(r, 0, "no handshake from the proxy");
        n += (size_t)r;
    }
    cr_assert_eq(write(c, hello, 8), 8);
    return c;
}

// A silent connection: runtime a's proxy to "echo" is connected to a
// socket that answered the wire's hello and went silent; then runtime b's
// live echo listener takes the same address (the silent one stays).
typedef struct hole {
    kt_runtime *a, *b;
    kt_aid proxy;
    struct sockaddr_un sa;
    int fd, c; // the silent listener and its one connection
} hole;

static void
hole_open(hole *h, const char *tag, uint32_t keepalive_ms)
{
    kt_runtime_cfg one = {.threads = 1},
                   ca = {.threads = 1, .keepalive_ms = keepalive_ms};
    char url[sizeof(h->sa.sun_path) + 8];

    memset(h, 0, sizeof(*h));
    h->sa.sun_family = AF_UNIX;
    snprintf(h->sa.sun_path, sizeof(h->sa.sun_path), "/tmp/kt-test-%s-%d.ipc",
             tag, (int)getpid());
    snprintf(url, sizeof(url), "ipc://%s", h->sa.sun_path);
    (void)unlink(h->sa.sun_path);
    h->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_geq(h->fd, 0);
    cr_assert_eq(bind(h->fd, (struct sockaddr *)&h->sa, sizeof(h->sa)), 0);
    cr_assert_eq(listen(h->fd, 8), 0);
    cr_assert_eq(kt_runtime_start(&h->a, &ca), KT_OK);
    cr_assert_eq(kt_remote_connect(h->a, url, "echo", &h->proxy), KT_OK);
    h->c = blackhole_accept(h->fd);
    cr_assert_eq(unlink(h->sa.sun_path), 0);
    cr_assert_eq(kt_runtime_start(&h->b, &one), KT_OK);
    spawn_ok(h->b, &echo_ops, NULL, "echo");
    cr_assert_eq(kt_runtime_listen(h->b, url), KT_OK);
}

// hole_ask asks through the proxy until answered (asks into the silent
// connection are lost: asking again is what every caller of a remote actor
// must do when its peer can vanish); the last result.
static kt_err
hole_ask(hole *h)
{
    kt_err err = KT_ETIMEDOUT;
    kt_msg *r = NULL;

    for (int i = 0; i < 20 && err != KT_OK; i++) {
        err = kt_runtime_ask(h->a, h->proxy, msg_new(T_PING, "hi", 2), 500, &r);
        cr_assert(err == KT_OK || err == KT_ETIMEDOUT, "%s", kt_strerror(err));
    }
    if (err == KT_OK) {
        cr_expect_eq(kt_msg_len(r), 2);
        kt_msg_free(r);
    }
    return err;
}

static void
hole_close(hole *h)
{
    close(h->c);
    close(h->fd);
    kt_runtime_stop(h->a);
    stop_checked(h->b);
    unlink(h->sa.sun_path);
}

// A proxy whose connection is up but leads nowhere (the far end took it
// and went silent: a frozen or wedged peer) finds out from its unanswered
// keepalive and dials again, so asks get through once a live listener
// holds the address.
Test(runtime_wire, a_silent_connection_is_dialed_again)
{
    hole h;

    hole_open(&h, "hole", 100);
    cr_assert_eq(hole_ask(&h), KT_OK,
                 "no answer: the proxy kept its silent connection");
    hole_close(&h);
}

// The same silent connection, with a keepalive too slow to matter: the
// proxy's owner, knowing better (its heartbeats went unanswered), sends it
// KT_MSG_REDIAL and the next ask gets through.
Test(runtime_wire, a_proxy_dials_again_when_asked)
{
    kt_msg *r = NULL, *redial;
    hole h;

    hole_open(&h, "ask", 600000);
    cr_assert_eq(
        kt_runtime_ask(h.a, h.proxy, msg_new(T_PING, "hi", 2), 300, &r),
        KT_ETIMEDOUT, "the silent connection answered");
    cr_assert_eq(kt_msg_alloc(&redial, KT_MSG_REDIAL, 0), KT_OK);
    cr_assert_eq(kt_runtime_send(h.a, h.proxy, redial), KT_OK);
    cr_assert_eq(hole_ask(&h), KT_OK, "no answer after the redial");
    hole_close(&h);
}
