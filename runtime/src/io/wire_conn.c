// One connection of a wire (wire_conn.h): frames read into the owner's
// queue, frames written from the connection's queue.
#include "io/wire_conn.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include <kt/log.h>

static const unsigned char wire_hello[WIRE_HELLO_LEN] = {'K', 'T', 'W', 1,
                                                         0,   0,   0,   0};

// An eventfd that polls readable while *on: a syscall only on change.
void
kt__wire_signal(int fd, bool *on, bool want)
{
    uint64_t v = 1;

    if (*on == want) {
        return;
    }
    *on = want;
    if (want) {
        (void)!write(fd, &v, sizeof(v));
    } else {
        (void)!read(fd, &v, sizeof(v));
    }
}

static void
wire_drop(const kt__wire *w, const conn *c, const char *why)
{
    kt_log(KT_LOG_NOTICE, "net",
           "event=disconnect url=%s pipe=%" PRIu32 " reason=\"%s\"",
           w->url != NULL ? w->url : "-", c->id, why);
}

// Under w->mtx. The dialer's queue has room again: say so.
void
kt__wire_tx_room(kt__wire *w)
{
    if (!w->listener) {
        kt__wire_signal(w->tx_fd, &w->tx_sig, w->dq.n < w->dq.cap);
    }
}

// Under w->mtx: c is done for. Its stream closes now (pending operations
// end with an error, their callbacks see `dead`); the owner's next
// kt__wire_recv frees it.
void
kt__wire_conn_fail(conn *c)
{
    kt__wire *w = c->w;
    conn **pp = &w->conns;

    if (c->dead) {
        return;
    }
    c->dead = true;
    while (*pp != c) {
        pp = &(*pp)->next;
    }
    *pp = c->next;
    c->next = w->dead;
    w->dead = c;
    nng_stream_close(c->st);
    if (c->rx_paused) {
        c->rx_paused = false;
        w->npaused--;
    }
    kt__wire_signal(w->rx_fd, &w->rx_sig, true); // to be cleaned up
    if (w->cur == c) {
        w->cur = NULL;
        // A frame partly written (or perhaps written) is not sent again.
        if (c->hello_out == WIRE_HELLO_LEN && (c->tx_off > 0 || c->tx_slow) &&
            w->dq.n > 0) {
            nng_msg_free(wire_ring_pop(&w->dq));
            kt__wire_tx_room(w);
        }
        kt__wire_retry(w, WIRE_RETRY_MS);
    }
}

static void
conn_rx_start(conn *c)
{
    nng_iov iov;

    if (c->part != NULL) {
        iov.iov_buf = (unsigned char *)nng_msg_body(c->part) + c->part_have;
        iov.iov_len = nng_msg_len(c->part) - c->part_have;
    } else {
        iov.iov_buf = c->rbuf + c->rlen;
        iov.iov_len = WIRE_RBUF - c->rlen;
    }
    nng_aio_set_iov(c->rx, 1, &iov);
    nng_stream_recv(c->st, c->rx);
}

// Under w->mtx: hand m to the owner; false (m kept) when the queue is full.
static bool
wire_rx_push(kt__wire *w, nng_msg *m)
{
    if (w->rxq.n == w->rxq.cap || w->rx_bytes >= WIRE_RXQ_BYTES) {
        return false;
    }
    wire_ring_push(&w->rxq, m);
    w->rx_bytes += nng_msg_len(m);
    kt__wire_signal(w->rx_fd, &w->rx_sig, true);
    return true;
}

static void
conn_pause(conn *c)
{
    c->rx_paused = true;
    c->w->npaused++;
}

// Under w->mtx: the hello, if not seen yet. false: c failed.
static bool
conn_hello(conn *c, size_t *off)
{
    size_t n = c->rlen < WIRE_HELLO_LEN ? c->rlen : WIRE_HELLO_LEN;

    if (memcmp(c->rbuf, wire_hello, n) != 0) {
        wire_drop(c->w, c, "bad hello");
        kt__wire_conn_fail(c);
        return false;
    }
    if (n == WIRE_HELLO_LEN) {
        c->hello_in = true;
        *off = n;
        nng_aio_set_timeout(c->rx, NNG_DURATION_INFINITE);
        if (!c->w->listener) {
            atomic_fetch_add(&c->w->connects, 1);
        }
    }
    return true;
}

// Under w->mtx: take the frames c has read, then read on (or pause while
// the owner's queue is full).
void
kt__wire_conn_read_on(conn *c)
{
    kt__wire *w = c->w;
    size_t off = 0;

    if (c->part != NULL) {
        if (c->part_have < nng_msg_len(c->part)) {
            conn_rx_start(c);
            return;
        }
        if (!wire_rx_push(w, c->part)) {
            conn_pause(c);
            return;
        }
        c->part = NULL;
    }
    if (!c->hello_in && (!conn_hello(c, &off) || !c->hello_in)) {
        if (!c->dead) {
            conn_rx_start(c);
        }
        return;
    }
    while (c->rlen - off >= 4) {
        const unsigned char *p = c->rbuf + off;
        uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        size_t have = c->rlen - off - 4;
        nng_msg *m;

        if (len > KT__WIRE_FRAME_MAX) {
            wire_drop(w, c, "frame too large");
            kt__wire_conn_fail(c);
            return;
        }
        if (w->rxq.n == w->rxq.cap || w->rx_bytes >= WIRE_RXQ_BYTES) {
            conn_pause(c);
            break;
        }
        if (nng_msg_alloc(&m, len) != 0) {
            wire_drop(w, c, "out of memory");
            kt__wire_conn_fail(c);
            return;
        }
        have = have < len ? have : len;
        memcpy(nng_msg_body(m), p + 4, have);
        nng_msg_set_pipe(m, (nng_pipe){.id = c->id});
        off += 4 + have;
        if (have < len) { // the rest is read straight into m
            c->part = m;
            c->part_have = have;
            break;
        }
        (void)wire_rx_push(w, m); // room was checked above
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
    if (!c->rx_paused) {
        conn_rx_start(c);
    }
}

static void
conn_rx_cb(void *arg)
{
    conn *c = arg;
    kt__wire *w = c->w;
    int rv = nng_aio_result(c->rx);

    pthread_mutex_lock(&w->mtx);
    if (!c->dead) {
        if (rv != 0) {
            if (rv == NNG_ETIMEDOUT) {
                wire_drop(w, c, "no hello");
            }
            kt__wire_conn_fail(c);
        } else {
            if (c->part != NULL) {
                c->part_have += nng_aio_count(c->rx);
            } else {
                c->rlen += nng_aio_count(c->rx);
            }
            kt__wire_conn_read_on(c);
        }
    }
    pthread_mutex_unlock(&w->mtx);
}

// Under w->mtx: n more bytes of the hello, or of the first frame, written.
static void
conn_tx_done(conn *c, size_t n)
{
    if (c->hello_out < WIRE_HELLO_LEN) {
        c->hello_out += (unsigned)n;
        return;
    }
    if ((c->tx_off += n) == nng_msg_len(c->txq->m[c->txq->first])) {
        nng_msg_free(wire_ring_pop(c->txq));
        c->tx_off = 0;
        kt__wire_tx_room(c->w);
    }
}

// Under w->mtx: write what c has queued. A write the socket cannot take
// at once is cancelled (nothing of it was written: each sendmsg(2) that
// writes anything finishes the aio) and handed to NNG with a callback.
void
kt__wire_conn_write(conn *c)
{
    while (!c->dead && !c->tx_slow) {
        nng_iov iov;
        int rv;

        if (c->hello_out < WIRE_HELLO_LEN) {
            iov.iov_buf = (void *)(uintptr_t)(wire_hello + c->hello_out);
            iov.iov_len = WIRE_HELLO_LEN - c->hello_out;
        } else if (c->txq->n > 0) {
            nng_msg *m = c->txq->m[c->txq->first];
            iov.iov_buf = (unsigned char *)nng_msg_body(m) + c->tx_off;
            iov.iov_len = nng_msg_len(m) - c->tx_off;
        } else {
            return;
        }
        nng_aio_set_iov(c->txf, 1, &iov);
        nng_stream_send(c->st, c->txf);
        // Nothing counted and no error: (most likely) still waiting for
        // room. Cancelling a finished aio does nothing, and the wait
        // covers a completion under way on NNG's thread.
        if (nng_aio_count(c->txf) == 0 && nng_aio_result(c->txf) == 0) {
            nng_aio_cancel(c->txf);
        }
        nng_aio_wait(c->txf);
        if ((rv = nng_aio_result(c->txf)) == NNG_ECANCELED) {
            c->tx_slow = true;
            nng_aio_set_iov(c->txs, 1, &iov);
            nng_stream_send(c->st, c->txs);
            return;
        }
        if (rv != 0) {
            kt__wire_conn_fail(c);
            return;
        }
        conn_tx_done(c, nng_aio_count(c->txf));
    }
}

static void
conn_txs_cb(void *arg)
{
    conn *c = arg;
    kt__wire *w = c->w;

    pthread_mutex_lock(&w->mtx);
    if (!c->dead) {
        c->tx_slow = false;
        if (nng_aio_result(c->txs) != 0) {
            kt__wire_conn_fail(c);
        } else {
            conn_tx_done(c, nng_aio_count(c->txs));
            kt__wire_conn_write(c);
        }
    }
    pthread_mutex_unlock(&w->mtx);
}

void
kt__wire_conn_free(conn *c)
{
    nng_aio_free(c->rx); // NULL is a no-op
    nng_aio_free(c->txs);
    nng_aio_free(c->txf);
    if (c->st != NULL) {
        nng_stream_free(c->st);
    }
    if (c->part != NULL) {
        nng_msg_free(c->part);
    }
    wire_ring_fini(&c->own);
    kt__free(c->rbuf, WIRE_RBUF);
    kt__free(c, sizeof(*c));
}

bool
kt__wire_conn_new(kt__wire *w, nng_stream *st)
{
    conn *c = kt__zalloc(sizeof(*c));

    if (c == NULL) {
        nng_stream_free(st);
        return false;
    }
    c->w = w;
    c->st = st;
    if ((c->rbuf = kt__alloc(WIRE_RBUF)) == NULL ||
        (w->listener && !wire_ring_init(&c->own, WIRE_TXQ_MAX)) ||
        nng_aio_alloc(&c->rx, conn_rx_cb, c) != 0 ||
        nng_aio_alloc(&c->txs, conn_txs_cb, c) != 0 ||
        nng_aio_alloc(&c->txf, NULL, NULL) != 0) {
        kt__wire_conn_free(c);
        return false;
    }
    c->txq = w->listener ? &c->own : &w->dq;
    if (++w->next_id == 0) {
        w->next_id = 1;
    }
    c->id = w->next_id;
    c->next = w->conns;
    w->conns = c;
    if (!w->listener) {
        w->cur = c; // before any I/O: a failure at once must clear it
    }
    nng_aio_set_timeout(c->rx, KT__WIRE_HELLO_MS);
    conn_rx_start(c);
    kt__wire_conn_write(c); // the hello, and what a dialer queued meanwhile
    return true;
}
