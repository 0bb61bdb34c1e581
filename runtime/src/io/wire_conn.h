// The inside of a wire (wire.h): its connections and their queues, shared
// by wire.c (the wire: accepting, dialing, the owner's calls) and
// wire_conn.c (one connection: reading frames, writing them).
#ifndef KT_IO_WIRE_CONN_H
#define KT_IO_WIRE_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>

#include "base/alloc.h"
#include "io/wire.h"

#define WIRE_HELLO_LEN  8
#define WIRE_RBUF       65536 // read buffer; a frame's rest is read in place
#define WIRE_TXQ_MAX    1024  // frames waiting to be written, per queue
#define WIRE_RXQ_MAX    1024  // frames received and not yet taken ...
#define WIRE_RXQ_BYTES  (64u << 20) // ... or bytes: then reading pauses
#define WIRE_RETRY_MS   10          // first pause before dialing again
#define WIRE_BACKOFF_MS 1000        // longest
#define WIRE_ACCEPT_MS  10          // pause after a failed accept (EMFILE ...)

// A fixed-size queue of messages, oldest first.
typedef struct wire_ring {
    nng_msg **m;
    unsigned first, n, cap;
} wire_ring;

typedef struct conn conn;

struct conn {
    kt__wire *w;
    conn *next; // in w->conns, then w->dead
    nng_stream *st;
    nng_aio *rx;  // callback: conn_rx_cb
    nng_aio *txf; // no callback: a write that finishes at once
    nng_aio *txs; // callback: a write that had to wait (conn_txs_cb)
    uint32_t id;
    bool hello_in, dead, rx_paused, tx_slow;
    unsigned hello_out; // hello bytes written
    size_t tx_off;      // bytes of the queue's first frame written
    wire_ring own;      // a listener's connection: its queue
    wire_ring *txq;     // own, or the dialer's (kept across connections)
    unsigned char *rbuf;
    size_t rlen;
    nng_msg *part; // a frame longer than what had arrived: read in place
    size_t part_have;
};

struct kt__wire {
    pthread_mutex_t mtx;
    bool listener, closing;
    nng_stream_listener *lst;
    nng_stream_dialer *dlr;
    nng_aio *conn_aio; // accept or dial
    nng_aio *sleep;    // the pause before accepting or dialing again
    kt__pipe_gone_cb gone;
    void *gone_arg;
    conn *conns, *dead;
    uint32_t next_id;
    unsigned npaused; // connections whose reading paused
    wire_ring rxq;
    size_t rx_bytes;
    int rx_fd, tx_fd; // eventfds
    bool rx_sig, tx_sig;
    // A dialer's.
    wire_ring dq;
    conn *cur; // NULL while dialing or pausing
    unsigned backoff_ms;
    atomic_uint_fast64_t connects;
    char *url;
};

static inline bool
wire_ring_init(wire_ring *r, unsigned cap)
{
    r->first = r->n = 0;
    r->cap = cap;
    return (r->m = kt__alloc(cap * sizeof(*r->m))) != NULL;
}

static inline void
wire_ring_fini(wire_ring *r)
{
    if (r->m == NULL) {
        return;
    }
    for (unsigned i = 0; i < r->n; i++) {
        nng_msg_free(r->m[(r->first + i) % r->cap]);
    }
    kt__free(r->m, r->cap * sizeof(*r->m));
    r->m = NULL;
}

static inline void
wire_ring_push(wire_ring *r, nng_msg *m)
{
    r->m[(r->first + r->n++) % r->cap] = m;
}

static inline nng_msg *
wire_ring_pop(wire_ring *r)
{
    nng_msg *m = r->m[r->first];

    r->first = (r->first + 1) % r->cap;
    r->n--;
    return m;
}

// kt__wire_signal makes eventfd fd poll readable while *on (a syscall
// only on change).
void kt__wire_signal(int fd, bool *on, bool want);
// Under w->mtx: a dialer's queue may have room again (its send fd).
void kt__wire_tx_room(kt__wire *w);
// Under w->mtx: accept or dial again after ms (wire.c).
void kt__wire_retry(kt__wire *w, unsigned ms);

// Under w->mtx: a connection on stream st, which starts reading and writes
// its hello (a dialer's becomes w->cur). false: out of memory, st freed.
// A connection that fails at once is already in w->dead when this returns.
bool kt__wire_conn_new(kt__wire *w, nng_stream *st);
// Under w->mtx: c is done for. Its stream closes now (pending operations
// end with an error, their callbacks see `dead`); the owner's next
// kt__wire_recv frees it (kt__wire_conn_free, no lock held).
void kt__wire_conn_fail(conn *c);
// Under w->mtx: take the frames c has read, then read on (or pause while
// the owner's queue is full).
void kt__wire_conn_read_on(conn *c);
// Under w->mtx: write what c has queued, on this thread while the socket
// takes it.
void kt__wire_conn_write(conn *c);
void kt__wire_conn_free(conn *c);

#endif // KT_IO_WIRE_CONN_H
