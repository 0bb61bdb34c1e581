// Cross-process messages over ipc:// and tcp:// (a forked child runs a
// second runtime), and malformed frames dropped with a log line.
#include <ktpb/v1/envelope.pb-c.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>

#include <kt/kt.h>

#include "core/actor.h"
#include "core/sched.h"
#include "support/kt_test.h"

TestSuite(runtime_remote, .timeout = 30.0);

typedef struct child {
    pid_t pid;
    int ctl; // closing it tells the child to stop
} child;

// The child: tests/stress/kt_test_peer, a runtime with an "echo" actor
// listening at url. It writes one byte when ready and stops when its stdin
// closes. (fork alone is not enough: NNG refuses to run in a forked child
// of a process that initialised it.)
static child
child_start(const char *url)
{
    int up[2], down[2];
    child c;
    char b;

    cr_assert_eq(pipe(up), 0);
    cr_assert_eq(pipe(down), 0);
    c.pid = fork();
    cr_assert_neq(c.pid, -1);
    if (c.pid == 0) {
        dup2(down[0], STDIN_FILENO);
        dup2(up[1], STDOUT_FILENO);
        close(up[0]);
        close(up[1]);
        close(down[0]);
        close(down[1]);
        execl(KT_BINARY_DIR "/tests/stress/kt_test_peer", "kt_test_peer", url,
              (char *)NULL);
        _exit(127);
    }
    close(up[1]);
    close(down[0]);
    struct pollfd p = {.fd = up[0], .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 10000), 1, "child did not start");
    cr_assert_eq(read(up[0], &b, 1), 1, "child failed to start");
    close(up[0]);
    c.ctl = down[1];
    return c;
}

static void
child_stop(child c)
{
    int status = 0;

    close(c.ctl);
    cr_assert_eq(waitpid(c.pid, &status, 0), c.pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d",
              status);
}

static void
ask_over(const char *url, size_t len)
{
    child c = child_start(url);
    kt_runtime *rt = start_rt(2, 0);
    char *body = malloc(len);
    kt_msg *rep = NULL;
    kt_aid proxy = 0;

    for (size_t i = 0; i < len; i++) {
        body[i] = (char)('a' + i % 26);
    }
    cr_assert_eq(kt_remote_connect(rt, url, "echo", &proxy), KT_OK);
    // The first ask may wait for the connection; the redial is fast.
    cr_assert_eq(
        kt_runtime_ask(rt, proxy, msg_new(T_PING, body, len), 10000, &rep),
        KT_OK);
    cr_assert_eq(kt_msg_len(rep), len);
    cr_assert_eq(memcmp(kt_msg_cbody(rep), body, len), 0);
    cr_assert_eq(kt_msg_sender(rep), proxy);
    kt_msg_free(rep);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(
            kt_runtime_ask(rt, proxy, msg_new(T_PING, body, 8), 5000, &rep),
            KT_OK);
        kt_msg_free(rep);
    }
    stop_checked(rt);
    child_stop(c);
    free(body);
}

Test(runtime_remote, ask_crosses_processes_over_ipc)
{
    char url[64];

    snprintf(url, sizeof(url), "ipc:///tmp/kt-test-%d.ipc", (int)getpid());
    ask_over(url, 64);
    unlink(url + strlen("ipc://"));
}

Test(runtime_remote, ask_crosses_processes_over_tcp_with_4k_body)
{
    char url[64];

    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d",
             20000 + (int)(getpid() % 20000));
    ask_over(url, 4096);
}

// asker actor through a proxy: its ask is answered across the process.
typedef struct via {
    kt_aid proxy;
    uint64_t corr;
    atomic_long replies;
} via;

static kt_err
via_init(void *state, kt_actor *self, const void *cfg)
{
    via *v = (via *)(uintptr_t)cfg;
    kt_msg *m = NULL;
    kt_err rv;

    memcpy(state, &v, sizeof(v));
    if ((rv = kt_msg_alloc(&m, T_PING, 0)) != KT_OK) {
        return rv;
    }
    if ((rv = kt_ask(self, v->proxy, m, 10000, &v->corr)) != KT_OK) {
        kt_msg_free(m);
    }
    return rv;
}

static kt_err
via_handle(void *state, kt_actor *self, kt_msg *msg)
{
    via *v;

    (void)self;
    memcpy(&v, state, sizeof(v));
    if (kt_msg_type(msg) == T_PING && kt_msg_corr(msg) == v->corr) {
        atomic_fetch_add(&v->replies, 1);
    }
    kt_msg_free(msg);
    return KT_OK;
}

static const kt_actor_ops via_ops = {.name = "via",
                                     .state_size = sizeof(void *),
                                     .init = via_init,
                                     .handle = via_handle};

Test(runtime_remote, actor_ask_through_proxy_is_answered)
{
    char url[64];
    child c;
    kt_runtime *rt;
    via v = {0};

    snprintf(url, sizeof(url), "ipc:///tmp/kt-test-via-%d.ipc", (int)getpid());
    c = child_start(url);
    rt = start_rt(2, 0);
    cr_assert_eq(kt_remote_connect(rt, url, "echo", &v.proxy), KT_OK);
    spawn_ok(rt, &via_ops, &v, NULL);
    cr_assert(wait_atomic(&v.replies, 1, 10000));
    stop_checked(rt);
    child_stop(c);
    unlink(url + strlen("ipc://"));
}

Test(runtime_remote, malformed_inproc_frames_are_dropped_with_log)
{
    kt_runtime *rt = start_rt(1, 0);
    atomic_long n = 0;
    kt_aid c = spawn_ok(rt, &counter_ops, &n, NULL);
    nng_socket s;

    log_capture_start();
    cr_assert_eq(nng_push0_open(&s), 0);
    cr_assert_eq(nng_dial(s, rt->scheds[0]->url, NULL, 0), 0);
    cr_assert_eq(nng_send(s, (char[]){"tiny"}, 4, 0), 0);
    char junk[64];
    memset(junk, 0xab, sizeof(junk));
    cr_assert_eq(nng_send(s, junk, sizeof(junk), 0), 0);
    cr_assert(log_wait("reason=\"short frame\"", 5000));
    cr_assert(log_wait("reason=\"bad frame header\"", 5000));
    nng_close(s);
    // The thread goes on delivering.
    cr_assert_eq(kt_send(NULL, c, msg_new(T_PING, NULL, 0)), KT_OK);
    cr_assert(wait_atomic(&n, 1, 5000));
    stop_checked(rt);
    log_capture_stop();
}

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

Test(runtime_remote, malformed_envelopes_are_dropped_with_log)
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
Test(runtime_remote, frames_split_or_larger_than_the_read_buffer_arrive)
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

// sender: on its first message sends cfg->n messages to cfg->to at once.
typedef struct many {
    kt_aid to;
    int n;
} many;

static kt_err
many_init(void *state, kt_actor *self, const void *cfg)
{
    (void)self;
    memcpy(state, cfg, sizeof(many));
    return KT_OK;
}

static kt_err
many_handle(void *state, kt_actor *self, kt_msg *msg)
{
    many *b = state;

    kt_msg_free(msg);
    for (int i = 0; i < b->n; i++) {
        kt_msg *m = msg_new(T_PING, &i, sizeof(i));
        cr_assert_eq(kt_send(self, b->to, m), KT_OK);
    }
    return KT_OK;
}

static const kt_actor_ops many_ops = {.name = "many",
                                      .state_size = sizeof(many),
                                      .init = many_init,
                                      .handle = many_handle};

Test(runtime_remote, burst_through_proxy_arrives_whole)
{
    kt_runtime *a = start_rt(1, 0), *b = NULL;
    kt_runtime_cfg one = {.threads = 1};
    atomic_long n = 0;
    many m = {.n = 5000};
    char url[64];
    kt_aid src;

    snprintf(url, sizeof(url), "ipc:///tmp/kt-test-burst-%d.ipc",
             (int)getpid());
    cr_assert_eq(kt_runtime_start(&b, &one), KT_OK);
    spawn_ok(b, &counter_ops, &n, "sink");
    cr_assert_eq(kt_runtime_listen(b, url), KT_OK);
    cr_assert_eq(kt_remote_connect(a, url, "sink", &m.to), KT_OK);
    src = spawn_ok(a, &many_ops, &m, NULL);
    cr_assert_eq(kt_send(NULL, src, msg_new(T_PING, NULL, 0)), KT_OK);
    cr_assert(wait_atomic(&n, 5000, 10000), "got %ld", atomic_load(&n));
    kt_runtime_stop(a);
    stop_checked(b);
    unlink(url + strlen("ipc://"));
}

// Sent while nothing listens: more 64 KiB messages than the proxy's queue
// holds (1,024 frames), so the proxy pauses on a full queue, and resumes
// when the listener appears and the queue drains. All arrive, in order.
Test(runtime_remote, sent_while_the_listener_is_away_arrive_once_it_listens)
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

// watcher: monitors the sender of the first message that reaches it, and
// records the down it gets (reason, or -1 while none).
typedef struct watch_seen {
    atomic_long armed; // 1 once the monitor is set
    atomic_long reason;
} watch_seen;

typedef struct watcher {
    watch_seen *seen;
    kt_aid target;
} watcher;

static kt_err
watcher_init(void *state, kt_actor *self, const void *cfg)
{
    watcher *w = state;

    (void)self;
    w->seen = (watch_seen *)(uintptr_t)cfg;
    return KT_OK;
}

static kt_err
watcher_handle(void *state, kt_actor *self, kt_msg *msg)
{
    watcher *w = state;

    if (kt_msg_type(msg) == KT_MSG_DOWN) {
        Ktpb__V1__Down *d =
            ktpb__v1__down__unpack(NULL, kt_msg_len(msg), kt_msg_cbody(msg));
        cr_assert_not_null(d);
        cr_expect_eq(d->aid, w->target);
        cr_expect_str_eq(d->detail, "connection lost");
        atomic_store(&w->seen->reason, d->reason);
        ktpb__v1__down__free_unpacked(d, NULL);
    } else if (w->target == 0) {
        w->target = kt_msg_sender(msg);
        cr_expect_neq(w->target, 0);
        cr_expect_eq(kt_monitor(self, w->target), KT_OK);
        atomic_store(&w->seen->armed, 1);
    }
    kt_msg_free(msg);
    return KT_OK;
}

static const kt_actor_ops watcher_ops = {.name = "watcher",
                                         .state_size = sizeof(watcher),
                                         .init = watcher_init,
                                         .handle = watcher_handle};

Test(runtime_remote,
     monitor_of_a_remote_sender_fires_when_its_connection_closes)
{
    kt_runtime *a = start_rt(1, 0), *b = NULL;
    kt_runtime_cfg one = {.threads = 1};
    watch_seen seen = {.armed = 0, .reason = -1};
    many m = {.n = 1};
    char url[64];
    kt_aid src;

    snprintf(url, sizeof(url), "ipc:///tmp/kt-test-watch-%d.ipc",
             (int)getpid());
    cr_assert_eq(kt_runtime_start(&b, &one), KT_OK);
    spawn_ok(b, &watcher_ops, &seen, "watch");
    cr_assert_eq(kt_runtime_listen(b, url), KT_OK);
    cr_assert_eq(kt_remote_connect(a, url, "watch", &m.to), KT_OK);
    src = spawn_ok(a, &many_ops, &m, NULL);
    cr_assert_eq(kt_send(NULL, src, msg_new(T_PING, NULL, 0)), KT_OK);
    cr_assert(wait_atomic(&seen.armed, 1, 10000));
    cr_expect_eq(atomic_load(&seen.reason), -1, "fired while connected");
    // The monitor fires once the other process's runtime is gone.
    kt_runtime_stop(a);
    cr_assert(wait_atomic(&seen.reason, KT_ECLOSED, 10000), "reason %ld",
              atomic_load(&seen.reason));
    cr_expect_eq(atomic_load(&seen.reason), KT_ECLOSED);
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
// socket that answered NNG's handshake and went silent; then runtime b's
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
Test(runtime_remote, a_silent_connection_is_dialed_again)
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
Test(runtime_remote, a_proxy_dials_again_when_asked)
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
