// Peer connections over NNG's byte streams (ipc://, tcp://) with ktrdr's
// own framing in place of an SP protocol. Part of net.c's NNG layer,
// included by net.c only.
//
// Why not pair1: NNG 1.5.2's SP layer hands every message through several
// task-queue threads (pair1's polyamorous mode, which a listener needs, most
// of all). On the project machine a bare stream round trip took 66-77 us
// where req/rep took 150 us and the runtime over pair1 165-200 us
// (docs/adr/0004-peer-wire.md).
//
// The wire: each side first writes an 8-byte hello ("KTW", version 1, four
// zero bytes); then frames, each a 4-byte little-endian length and that
// many bytes (a ktpb.v1.Batch). A peer whose hello is wrong, who announces
// a frame over KT__WIRE_FRAME_MAX, or who has not said hello within
// KT__WIRE_HELLO_MS is disconnected (and logged).
#ifndef KT_IO_WIRE_H
#define KT_IO_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>

#include <kt/err.h>

#include "io/net.h"

#define KT__WIRE_FRAME_MAX (64u << 20)
#define KT__WIRE_HELLO_MS  10000

typedef struct kt__wire kt__wire;

// kt__wire_open: with `listener`, accepts connections at url, and gone(arg,
// pipe) is called once for each connection that said hello, after it
// closed (on the thread calling kt__wire_recv, or kt__wire_close's).
// Without, connects to url in the background, and again whenever the
// connection is lost (10 ms, then doubling up to 1 s between attempts);
// what is sent meanwhile waits, up to the queue's limit (gone unused).
// Errors: KT_EINVAL (bad url), KT_ENET (address in use, no permission
// ...), KT_ENOMEM.
kt_err kt__wire_open(kt__wire **wp, const char *url, bool listener,
                     kt__pipe_gone_cb gone, void *arg);
// kt__wire_close closes every connection and frees w; gone runs for each
// connection still open. Waits for NNG's callbacks, which never block.
void kt__wire_close(kt__wire *w);

// kt__wire_fd polls readable while a frame (or a closed connection to
// clean up) waits for kt__wire_recv; kt__wire_send_fd (a dialer's) while
// a send would not fail with KT_EAGAIN.
int kt__wire_fd(const kt__wire *w);
int kt__wire_send_fd(const kt__wire *w);

// kt__wire_send queues frame payload nm for connection pipe (a listener's)
// or for the connection (a dialer's; pipe is ignored), writing at once
// when it can. KT_OK: nm is consumed. Otherwise nm stays the caller's:
// KT_EAGAIN (the queue is full), KT_ECLOSED (no such connection, or w is
// closing), KT_EINVAL (over KT__WIRE_FRAME_MAX), KT_ENOMEM.
kt_err kt__wire_send(kt__wire *w, nng_msg *nm, uint32_t pipe);
// kt__wire_recv takes the next frame received (its payload; the pipe is
// nng_msg_get_pipe's), or KT_EAGAIN. One thread at a time.
kt_err kt__wire_recv(kt__wire *w, nng_msg **nmp);

// kt__wire_redial drops a dialer's connection and connects again.
kt_err kt__wire_redial(kt__wire *w);
// kt__wire_connects: connections a dialer has made so far (counted when
// the peer's hello arrives).
uint64_t kt__wire_connects(kt__wire *w);

#endif // KT_IO_WIRE_H
