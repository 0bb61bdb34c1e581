// The inside of a socket (net.h), shared by net.c (sockets, mailboxes),
// net_peer.c (peer sockets) and envelope.c (their batches).
#ifndef KT_IO_SOCK_H
#define KT_IO_SOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>

#include "io/net.h"
#include "io/wire.h"
#include "ktpb/v1/envelope.pb-c.h"

struct kt__sock {
    kt__wire *wire; // a peer over ipc:// or tcp:// (then no NNG socket)
    nng_socket rx;  // receives (the pull or pair socket)
    nng_socket tx;  // sends (the push socket, or rx for peers)
    bool peer;      // Envelope framing
    int fd;
    int send_fd;
    kt__pipe_gone_cb gone;
    void *gone_arg;
    nng_msg *cur;         // mailbox: the batch being taken apart
    size_t off;           // next frame in cur
    uint64_t rx_msgs;     // mailbox: NNG messages taken (receiver only)
    Ktpb__V1__Batch *env; // peer: the batch being taken apart
    size_t env_next;
    uint32_t env_pipe;
    nng_dialer dialer;             // peer dial sockets: the current dialer
    atomic_uint_fast64_t connects; // peer dial sockets: connections made
    char *url;                     // peer dial sockets: what it dials
    // Kept aios: nng_sendmsg and nng_recvmsg allocate one per call (with a
    // getrandom(2) each in NNG 1.5.2), several per message on a hot path.
    nng_aio *raio;        // the receiving thread's
    nng_aio *saio;        // any sender's, while it holds smtx
    pthread_mutex_t smtx; // a leaf; contended senders allocate their own
};

// kt__net_err maps an NNG error (logging the unexpected ones with what
// and url).
kt_err kt__net_err(int rv, const char *what, const char *url);
kt_err kt__net_sock_alloc(kt__sock **sp, bool peer);
void kt__net_sock_free(kt__sock *s);
// kt__net_sendmsg and kt__net_recvmsg: nng_sendmsg / nng_recvmsg without
// blocking, on the socket's kept aios (NNG error codes).
int kt__net_sendmsg(kt__sock *s, nng_msg *nm);
int kt__net_recvmsg(kt__sock *s, nng_msg **nmp);
// kt__net_drop logs a malformed input dropped; KT_EPROTO.
kt_err kt__net_drop(const char *why, size_t len);

// envelope.c: msg for receiver (or rname) as a Batch of one for pipe;
// the next envelope of the batch being taken apart (receiving a new one).
kt_err kt__net_env_pack(nng_msg **nmp, const kt_msg *msg, kt_aid receiver,
                        const char *rname, uint32_t pipe);
kt_err kt__net_env_next(kt__sock *s, kt_msg **msgp, kt__addr *to);

#endif // KT_IO_SOCK_H
