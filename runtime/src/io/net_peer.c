// Peer sockets (net.h): pair1 over inproc://, the wire (wire.h) over
// ipc:// and tcp://.
#include <pthread.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "base/alloc.h"
#include "io/sock.h"

static void
net_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    kt__sock *s = arg;

    if (ev == NNG_PIPE_EV_ADD_POST) {
        atomic_fetch_add(&s->connects, 1);
    } else if (s->gone != NULL) {
        s->gone(s->gone_arg, (uint32_t)nng_pipe_id(p));
    }
}

// Listen at url (inproc://: other transports go through wire.h).
static int
net_listen(kt__sock *s, const char *url)
{
    int rv;

    if ((rv = nng_pipe_notify(s->rx, NNG_PIPE_EV_ADD_POST, net_pipe_cb, s)) !=
            0 ||
        (rv = nng_pipe_notify(s->rx, NNG_PIPE_EV_REM_POST, net_pipe_cb, s)) !=
            0) {
        return rv;
    }
    return nng_listen(s->rx, url, NULL, 0);
}

static kt_err
net_peer_open(kt__sock **sp, const char *url, bool listen,
              kt__pipe_gone_cb gone, void *arg)
{
    kt__sock *s;
    kt_err err;
    int rv;

    if ((err = kt__net_sock_alloc(&s, true)) != KT_OK) {
        return err;
    }
    if (strncmp(url, "inproc://", 9) != 0) { // another process: wire.h
        err = kt__wire_open(&s->wire, url, listen, gone, arg);
        if (err != KT_OK) {
            kt__net_sock_free(s);
            return err;
        }
        s->fd = kt__wire_fd(s->wire);
        s->send_fd = kt__wire_send_fd(s->wire);
        *sp = s;
        return KT_OK;
    }
    s->gone = gone;
    s->gone_arg = arg;
    rv = listen ? nng_pair1_open_poly(&s->rx) : nng_pair1_open(&s->rx);
    if (rv != 0) {
        goto free_sock;
    }
    s->tx = s->rx;
    (void)nng_socket_set_int(s->rx, NNG_OPT_RECVBUF, 1024);
    (void)nng_socket_set_int(s->rx, NNG_OPT_SENDBUF, 1024);
    (void)nng_socket_set_ms(s->rx, NNG_OPT_RECONNMINT, 10);
    (void)nng_socket_set_ms(s->rx, NNG_OPT_RECONNMAXT, 1000);
    if (listen) {
        if ((rv = net_listen(s, url)) != 0) {
            goto close_sock;
        }
    } else if ((s->url = kt__strdup(url)) == NULL ||
               (rv = nng_pipe_notify(s->rx, NNG_PIPE_EV_ADD_POST, net_pipe_cb,
                                     s)) != 0 ||
               (rv = nng_dial(s->rx, url, &s->dialer, NNG_FLAG_NONBLOCK)) !=
                   0) {
        rv = s->url == NULL ? NNG_ENOMEM : rv;
        goto close_sock;
    }
    if ((rv = nng_socket_get_int(s->rx, NNG_OPT_RECVFD, &s->fd)) != 0 ||
        (rv = nng_socket_get_int(s->rx, NNG_OPT_SENDFD, &s->send_fd)) != 0) {
        goto close_sock;
    }
    *sp = s;
    return KT_OK;
close_sock:
    nng_close(s->rx);
free_sock:
    kt__net_sock_free(s);
    return kt__net_err(rv, listen ? "listen" : "dial", url);
}

kt_err
kt__net_peer_listen(kt__sock **sp, const char *url, kt__pipe_gone_cb gone,
                    void *arg)
{
    return net_peer_open(sp, url, true, gone, arg);
}

kt_err
kt__net_peer_dial(kt__sock **sp, const char *url)
{
    return net_peer_open(sp, url, false, NULL, NULL);
}

static void *
net_dialer_close_main(void *arg)
{
    nng_dialer d = {.id = (uint32_t)(uintptr_t)arg};

    nng_dialer_close(d); // and its connection; may wait on NNG's reaper
    return NULL;
}

kt_err
kt__net_redial(kt__sock *s)
{
    nng_dialer old = s->dialer;
    void *arg = (void *)(uintptr_t)nng_dialer_id(old);
    pthread_t t;
    int rv;

    if (s->wire != NULL) {
        return kt__wire_redial(s->wire);
    }
    if (s->url == NULL) {
        return KT_EINVAL;
    }
    // The old dialer closes on a thread of its own: closing its connection
    // must never hold up the caller's loop. Until it is gone the new one's
    // connection is refused (pair1 takes one) and NNG retries it.
    if (pthread_create(&t, NULL, net_dialer_close_main, arg) == 0) {
        (void)pthread_detach(t);
    } else {
        nng_dialer_close(old);
    }
    if ((rv = nng_dial(s->rx, s->url, &s->dialer, NNG_FLAG_NONBLOCK)) != 0) {
        return kt__net_err(rv, "redial", s->url);
    }
    return KT_OK;
}

uint64_t
kt__net_connects(kt__sock *s)
{
    if (s->wire != NULL) {
        return kt__wire_connects(s->wire);
    }
    return atomic_load(&s->connects);
}

int
kt__net_send_fd(const kt__sock *s)
{
    return s->send_fd;
}
