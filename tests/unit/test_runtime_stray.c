// Stray connections to a listener (a port scanner, a process that connects
// to the ipc path and closes, one that writes garbage or says nothing):
// the listener goes on accepting, and a proper peer connecting afterwards
// (or meanwhile) is answered.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <kt/kt.h>

#include "support/kt_test.h"

TestSuite(runtime_stray, .timeout = 30.0);

typedef enum stray { CLOSE_AT_ONCE, GARBAGE, HEADER_THEN_CLOSE } stray;

static int
port_for_test(void)
{
    return 23000 + (int)(getpid() % 20000);
}

// A raw connection to url (ipc:// or tcp://127.0.0.1:port); -1 if refused.
static int
raw_connect(const char *url)
{
    int fd = -1;

    if (strncmp(url, "ipc://", 6) == 0) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", url + 6);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        cr_assert_geq(fd, 0);
        if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
            close(fd);
            return -1;
        }
    } else {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        const char *colon = strrchr(url, ':');
        cr_assert_not_null(colon);
        sin.sin_port = htons((uint16_t)atoi(colon + 1));
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert_geq(fd, 0);
        if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void
stray_once(const char *url, stray how)
{
    // An SP header with a protocol nobody speaks, then gone.
    static const unsigned char hdr[8] = {0, 'S', 'P', 0, 0x7f, 0x7f, 0, 0};
    static const char junk[] = "GET / HTTP/1.0\r\n\r\n\xff\xfe garbage";
    int fd = raw_connect(url);

    cr_assert_geq(fd, 0, "the listener refused a raw connection");
    if (how == GARBAGE) {
        cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    } else if (how == HEADER_THEN_CLOSE) {
        cr_assert_eq(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
    }
    close(fd);
}

// A peer asks again after a short timeout, as a client of an unreliable
// link would (with NNG's SP listener, a peer that connected while a stray
// had stopped it lost what it sent; the wire's own accept loop does not
// stop, but the test keeps the client honest).
static void
expect_answered(kt_runtime *rt, kt_aid proxy)
{
    kt_msg *rep = NULL;
    kt_err err = KT_ETIMEDOUT;

    for (int i = 0; i < 8 && err != KT_OK; i++) {
        err = kt_runtime_ask(rt, proxy, msg_new(T_PING, "hi", 2), 1000, &rep);
    }
    cr_assert_eq(err, KT_OK, "a proper peer is no longer answered");
    cr_assert_eq(kt_msg_len(rep), 2);
    cr_assert_eq(memcmp(kt_msg_cbody(rep), "hi", 2), 0);
    kt_msg_free(rep);
}

// A listening runtime b with an echo; strays hit it, then a runtime a
// connects through a proxy and asks; repeat, so each stray comes after a
// peer was already served too.
static void
run_strays(const char *url, stray how)
{
    kt_runtime_cfg one = {.threads = 1};
    kt_runtime *a = start_rt(1, 0), *b = NULL;
    kt_aid proxy;

    cr_assert_eq(kt_runtime_start(&b, &one), KT_OK);
    spawn_ok(b, &echo_ops, NULL, "echo");
    cr_assert_eq(kt_runtime_listen(b, url), KT_OK);
    for (int i = 0; i < 3; i++) {
        stray_once(url, how);
    }
    cr_assert_eq(kt_remote_connect(a, url, "echo", &proxy), KT_OK);
    expect_answered(a, proxy);
    for (int i = 0; i < 3; i++) {
        stray_once(url, how);
    }
    // A second peer, connecting after the strays, is answered too.
    cr_assert_eq(kt_remote_connect(a, url, "echo", &proxy), KT_OK);
    expect_answered(a, proxy);
    kt_runtime_stop(a);
    stop_checked(b);
}

static void
ipc_url(char *url, size_t n, const char *tag)
{
    snprintf(url, n, "ipc:///tmp/kt-test-stray-%s-%d.ipc", tag, (int)getpid());
}

Test(runtime_stray, ipc_connect_and_close_leaves_listener_accepting)
{
    char url[96];

    ipc_url(url, sizeof(url), "close");
    run_strays(url, CLOSE_AT_ONCE);
    unlink(url + strlen("ipc://"));
}

Test(runtime_stray, ipc_garbage_leaves_listener_accepting)
{
    char url[96];

    ipc_url(url, sizeof(url), "junk");
    run_strays(url, GARBAGE);
    unlink(url + strlen("ipc://"));
}

Test(runtime_stray, ipc_wrong_protocol_header_leaves_listener_accepting)
{
    char url[96];

    ipc_url(url, sizeof(url), "hdr");
    run_strays(url, HEADER_THEN_CLOSE);
    unlink(url + strlen("ipc://"));
}

Test(runtime_stray, tcp_connect_and_close_leaves_listener_accepting)
{
    char url[64];

    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port_for_test());
    run_strays(url, CLOSE_AT_ONCE);
}

Test(runtime_stray, tcp_garbage_leaves_listener_accepting)
{
    char url[64];

    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port_for_test() + 1);
    run_strays(url, GARBAGE);
}

// A connection that says nothing and stays open does not hold the
// listener up for the handshake timeout either.
Test(runtime_stray, silent_connection_does_not_block_a_peer)
{
    kt_runtime_cfg one = {.threads = 1};
    kt_runtime *a = start_rt(1, 0), *b = NULL;
    char url[96];
    kt_aid proxy;
    int fd;

    ipc_url(url, sizeof(url), "silent");
    cr_assert_eq(kt_runtime_start(&b, &one), KT_OK);
    spawn_ok(b, &echo_ops, NULL, "echo");
    cr_assert_eq(kt_runtime_listen(b, url), KT_OK);
    fd = raw_connect(url);
    cr_assert_geq(fd, 0);
    cr_assert_eq(kt_remote_connect(a, url, "echo", &proxy), KT_OK);
    expect_answered(a, proxy);
    close(fd);
    kt_runtime_stop(a);
    stop_checked(b);
    unlink(url + strlen("ipc://"));
}

// A connection that never says hello is closed after the hello timeout
// (10 s, io/wire.h), with a notice line; it costs the listener nothing
// meanwhile (above).
Test(runtime_stray, silent_connection_is_closed_after_the_hello_timeout)
{
    kt_runtime_cfg one = {.threads = 1};
    kt_runtime *b = NULL;
    unsigned char buf[64];
    char url[96];
    ssize_t n;
    int fd;

    ipc_url(url, sizeof(url), "mute");
    log_capture_start();
    cr_assert_eq(kt_runtime_start(&b, &one), KT_OK);
    cr_assert_eq(kt_runtime_listen(b, url), KT_OK);
    fd = raw_connect(url);
    cr_assert_geq(fd, 0);
    cr_assert(log_wait("reason=\"no hello\"", 20000),
              "the silent connection was kept");
    // The listener's own hello, then the end of the stream.
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
    }
    cr_assert_eq(n, 0, "read: %s", strerror(errno));
    close(fd);
    stop_checked(b);
    log_capture_stop();
    unlink(url + strlen("ipc://"));
}
