// Peer connections over NNG byte streams (see wire.h).
//
// One mutex per wire guards everything in it. NNG calls back (accept,
// dial, receive, a send that had to wait) on its task threads; those
// callbacks take the mutex, never block, and never call the owner: a
// closed connection is cleaned up, and reported gone, by the next
// kt__wire_recv on the owner's thread. Writes happen on the sender's
// thread when the socket has room (an aio without a callback, so no task
// thread is woken); only a write that would block is handed to NNG with
// a callback.
#include "io/wire.h"

#include <inttypes.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <kt/log.h>

#include "io/wire_conn.h"

// Frees the closed connections taken off w->dead; a listener's owner hears
// of each one that had said hello. No lock held: waits for callbacks.
static void
wire_reap(kt__wire *w, conn *dead)
{
    while (dead != NULL) {
        conn *c = dead;
        dead = c->next;
        nng_aio_stop(c->rx);
        nng_aio_stop(c->txs);
        if (w->listener && c->hello_in && w->gone != NULL) {
            w->gone(w->gone_arg, c->id);
        }
        kt__wire_conn_free(c);
    }
}

static void
wire_next(kt__wire *w)
{
    if (w->listener) {
        nng_stream_listener_accept(w->lst, w->conn_aio);
    } else {
        nng_stream_dialer_dial(w->dlr, w->conn_aio);
    }
}

// Under w->mtx: accept or dial again after ms.
void
kt__wire_retry(kt__wire *w, unsigned ms)
{
    if (!w->closing) {
        nng_sleep_aio((nng_duration)ms, w->sleep);
    }
}

static void
wire_sleep_cb(void *arg)
{
    kt__wire *w = arg;

    pthread_mutex_lock(&w->mtx);
    if (!w->closing && nng_aio_result(w->sleep) == 0) {
        wire_next(w);
    }
    pthread_mutex_unlock(&w->mtx);
}

static void
wire_conn_cb(void *arg)
{
    kt__wire *w = arg;
    int rv = nng_aio_result(w->conn_aio);
    nng_stream *st = rv == 0 ? nng_aio_get_output(w->conn_aio, 0) : NULL;

    pthread_mutex_lock(&w->mtx);
    if (w->closing) {
        if (st != NULL) {
            nng_stream_free(st);
        }
    } else if (w->listener) {
        if (st != NULL) {
            (void)kt__wire_conn_new(w, st); // false: st closed
            wire_next(w);
        } else if (rv != NNG_ECLOSED) {
            kt_log(KT_LOG_NOTICE, "net", "event=accept url=%s err=\"%s\"",
                   w->url, nng_strerror(rv));
            kt__wire_retry(w, WIRE_ACCEPT_MS);
        }
    } else if (st != NULL && kt__wire_conn_new(w, st)) {
        w->backoff_ms = WIRE_RETRY_MS;
    } else {
        kt__wire_retry(w, w->backoff_ms);
        w->backoff_ms = w->backoff_ms * 2 > WIRE_BACKOFF_MS ? WIRE_BACKOFF_MS
                                                            : w->backoff_ms * 2;
    }
    pthread_mutex_unlock(&w->mtx);
}

static kt_err
wire_err(int rv, const char *what, const char *url)
{
    kt_log(KT_LOG_WARN, "net", "op=%s url=%s err=\"%s\"", what, url,
           nng_strerror(rv));
    switch (rv) {
    case NNG_ENOMEM:
        return KT_ENOMEM;
    case NNG_EADDRINVAL:
    case NNG_EINVAL:
    case NNG_ENOTSUP:
        return KT_EINVAL;
    default:
        return KT_ENET;
    }
}

static void
wire_free(kt__wire *w)
{
    wire_ring_fini(&w->rxq);
    wire_ring_fini(&w->dq);
    nng_aio_free(w->conn_aio);
    nng_aio_free(w->sleep);
    if (w->lst != NULL) {
        nng_stream_listener_free(w->lst);
    }
    if (w->dlr != NULL) {
        nng_stream_dialer_free(w->dlr);
    }
    if (w->rx_fd >= 0) {
        close(w->rx_fd);
    }
    if (w->tx_fd >= 0) {
        close(w->tx_fd);
    }
    kt__strfree(w->url);
    pthread_mutex_destroy(&w->mtx);
    kt__free(w, sizeof(*w));
}

static kt_err
wire_alloc(kt__wire **wp, const char *url, bool listener)
{
    kt__wire *w = kt__zalloc(sizeof(*w));

    if (w == NULL) {
        return KT_ENOMEM;
    }
    pthread_mutex_init(&w->mtx, NULL);
    w->listener = listener;
    w->backoff_ms = WIRE_RETRY_MS;
    w->rx_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->tx_fd = listener ? -1 : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if ((w->url = kt__strdup(url)) == NULL || w->rx_fd < 0 ||
        (!listener && w->tx_fd < 0) || !wire_ring_init(&w->rxq, WIRE_RXQ_MAX) ||
        (!listener && !wire_ring_init(&w->dq, WIRE_TXQ_MAX)) ||
        nng_aio_alloc(&w->conn_aio, wire_conn_cb, w) != 0 ||
        nng_aio_alloc(&w->sleep, wire_sleep_cb, w) != 0) {
        wire_free(w);
        return KT_ENOMEM;
    }
    kt__wire_tx_room(w);
    *wp = w;
    return KT_OK;
}

kt_err
kt__wire_open(kt__wire **wp, const char *url, bool listener,
              kt__pipe_gone_cb gone, void *arg)
{
    kt__wire *w;
    kt_err err;
    int rv;

    if ((err = wire_alloc(&w, url, listener)) != KT_OK) {
        return err;
    }
    w->gone = gone;
    w->gone_arg = arg;
    rv = listener ? nng_stream_listener_alloc(&w->lst, url)
                  : nng_stream_dialer_alloc(&w->dlr, url);
    if (rv == 0 && listener) {
        rv = nng_stream_listener_listen(w->lst);
    }
    if (rv != 0) {
        wire_free(w);
        return wire_err(rv, listener ? "listen" : "dial", url);
    }
    pthread_mutex_lock(&w->mtx);
    wire_next(w);
    pthread_mutex_unlock(&w->mtx);
    *wp = w;
    return KT_OK;
}

void
kt__wire_close(kt__wire *w)
{
    conn *dead;

    if (w == NULL) {
        return;
    }
    pthread_mutex_lock(&w->mtx);
    w->closing = true;
    pthread_mutex_unlock(&w->mtx);
    if (w->lst != NULL) {
        nng_stream_listener_close(w->lst);
    } else {
        nng_stream_dialer_close(w->dlr);
    }
    nng_aio_stop(w->conn_aio);
    nng_aio_stop(w->sleep);
    pthread_mutex_lock(&w->mtx);
    while (w->conns != NULL) {
        kt__wire_conn_fail(w->conns);
    }
    dead = w->dead;
    w->dead = NULL;
    pthread_mutex_unlock(&w->mtx);
    wire_reap(w, dead);
    wire_free(w);
}

int
kt__wire_fd(const kt__wire *w)
{
    return w->rx_fd;
}

int
kt__wire_send_fd(const kt__wire *w)
{
    return w->tx_fd;
}

kt_err
kt__wire_send(kt__wire *w, nng_msg *nm, uint32_t pipe)
{
    size_t len = nng_msg_len(nm);
    unsigned char hdr[4] = {(unsigned char)len, (unsigned char)(len >> 8),
                            (unsigned char)(len >> 16),
                            (unsigned char)(len >> 24)};
    kt_err err = KT_OK;
    wire_ring *q = &w->dq;
    conn *c;

    if (len > KT__WIRE_FRAME_MAX) {
        return KT_EINVAL;
    }
    pthread_mutex_lock(&w->mtx);
    c = w->cur;
    if (w->listener) {
        for (c = w->conns; c != NULL && c->id != pipe; c = c->next) {
        }
        q = c != NULL ? &c->own : NULL;
    }
    if (w->closing || q == NULL) {
        err = KT_ECLOSED;
    } else if (q->n == q->cap) {
        err = KT_EAGAIN;
    } else if (nng_msg_insert(nm, hdr, sizeof(hdr)) != 0) {
        err = KT_ENOMEM;
    } else {
        wire_ring_push(q, nm);
        kt__wire_tx_room(w);
        if (c != NULL) {
            kt__wire_conn_write(c);
        }
    }
    pthread_mutex_unlock(&w->mtx);
    return err;
}

kt_err
kt__wire_recv(kt__wire *w, nng_msg **nmp)
{
    kt_err err = KT_EAGAIN;
    conn *dead;

    pthread_mutex_lock(&w->mtx);
    dead = w->dead;
    w->dead = NULL;
    if (w->rxq.n > 0) {
        *nmp = wire_ring_pop(&w->rxq);
        w->rx_bytes -= nng_msg_len(*nmp);
        err = KT_OK;
        // Room again: paused connections read on (one that fails leaves
        // w->conns, hence `next` first).
        for (conn *c = w->conns, *next;
             c != NULL && w->npaused > 0 && w->rxq.n <= w->rxq.cap / 2 &&
             w->rx_bytes <= WIRE_RXQ_BYTES / 2;
             c = next) {
            next = c->next;
            if (c->rx_paused) {
                c->rx_paused = false;
                w->npaused--;
                kt__wire_conn_read_on(c);
            }
        }
    } else {
        kt__wire_signal(w->rx_fd, &w->rx_sig, false);
    }
    pthread_mutex_unlock(&w->mtx);
    wire_reap(w, dead);
    return err;
}

kt_err
kt__wire_redial(kt__wire *w)
{
    if (w->listener) {
        return KT_EINVAL;
    }
    pthread_mutex_lock(&w->mtx);
    if (w->cur != NULL) {
        kt__wire_conn_fail(w->cur); // dials again after WIRE_RETRY_MS
    }
    pthread_mutex_unlock(&w->mtx);
    return KT_OK;
}

uint64_t
kt__wire_connects(kt__wire *w)
{
    return atomic_load(&w->connects);
}
