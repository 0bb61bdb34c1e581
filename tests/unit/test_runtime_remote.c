// Cross-process messages over ipc:// and tcp:// (a forked child runs a
// second runtime), bursts through a proxy, monitors of remote senders, and
// malformed inproc frames dropped with a log line (the wire itself:
// test_runtime_wire.c).
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
