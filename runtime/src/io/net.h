// Sockets: the runtime's only view of NNG. Mailbox sockets carry frames
// between threads of one process; peer sockets carry ktpb.v1.Batch between
// runtimes: over inproc:// as pair1 SP messages, over ipc:// and tcp:// as
// frames on NNG byte streams (io/wire.h).
#ifndef KT_IO_NET_H
#define KT_IO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include <kt/err.h>
#include <kt/msg.h>

#include "core/msg.h"

typedef struct kt__sock kt__sock;

// Where a received message goes: an actor id, or (receiver 0) a name.
// pipe is the connection it came in on (peer listeners only).
typedef struct kt__addr {
    kt_aid receiver;
    uint32_t pipe;
    bool mapped; // for the receiver's use; kt__net_recv clears it
    char name[KT__NAME_MAX + 1];
} kt__addr;

typedef void (*kt__pipe_gone_cb)(void *arg, uint32_t pipe);

// kt__net_mbox_open: a pull socket listening at url (inproc://) plus a push
// socket dialed to it, so any thread can send and one loop receives.
kt_err kt__net_mbox_open(kt__sock **sp, const char *url);
// kt__net_peer_listen: a peer listener at url; gone(arg, pipe) is called
// when a connection closes (inproc: on an NNG thread; otherwise on the
// thread calling kt__net_recv or kt__net_close).
kt_err kt__net_peer_listen(kt__sock **sp, const char *url,
                           kt__pipe_gone_cb gone, void *arg);
// kt__net_peer_dial: a peer socket dialing url, and dialing again whenever
// its connection is lost.
kt_err kt__net_peer_dial(kt__sock **sp, const char *url);
// kt__net_redial drops a dialing socket's connection and dials again (a
// connection that stays silent: kt_runtime_cfg.keepalive_ms).
kt_err kt__net_redial(kt__sock *s);
// kt__net_connects: connections a dialing socket has made so far.
uint64_t kt__net_connects(kt__sock *s);
// kt__net_fd: a descriptor that polls readable while a message waits.
int kt__net_fd(const kt__sock *s);
// kt__net_send_fd: a descriptor that polls readable while a send would not
// fail with KT_EAGAIN (peer sockets; -1 for mailboxes and for ipc:// and
// tcp:// listeners).
int kt__net_send_fd(const kt__sock *s);
// kt__net_close closes and frees s. false: NNG did not finish closing in
// time and s was abandoned (still allocated; its callbacks may run).
bool kt__net_close(kt__sock *s);

// kt__net_send copies msg into a frame for receiver (or rname when receiver
// is 0) and queues it without blocking; pipe picks the connection of a
// listener. msg stays the caller's. Errors: KT_EAGAIN (buffers full or no
// peer), KT_ENOMEM, KT_ECLOSED, KT_ENET.
kt_err kt__net_send(kt__sock *s, const kt_msg *msg, kt_aid receiver,
                    const char *rname, uint32_t pipe);
// A batch: frames for one mailbox socket gathered into one NNG message, so
// a burst between two threads costs one socket operation. kt__net_batch_add
// copies msg into *bp (allocated on first use; msg stays the caller's).
typedef struct kt__batch kt__batch;
kt_err kt__net_batch_add(kt__batch **bp, const kt_msg *msg, kt_aid receiver);
// kt__net_env_add is the same for a peer socket: b is a ktpb.v1.Batch
// (io/envelope.c).
kt_err kt__net_env_add(kt__batch **bp, const kt_msg *msg, kt_aid receiver,
                       const char *rname);
size_t kt__net_batch_len(const kt__batch *b);
// kt__net_batch_send queues b without blocking; on KT_OK it is consumed,
// on KT_EAGAIN (socket full) it stays the caller's.
kt_err kt__net_batch_send(kt__sock *s, kt__batch *b);
void kt__net_batch_free(kt__batch *b);

// kt__net_pending: frames of a batch already taken from NNG wait in s (the
// descriptor does not show them: call kt__net_recv again).
bool kt__net_pending(const kt__sock *s);
// kt__net_rx_msgs: how many NNG messages (frames or batches) a mailbox
// socket has taken so far (the receiving thread only).
uint64_t kt__net_rx_msgs(const kt__sock *s);
// kt__net_recv takes one waiting frame without blocking. Errors: KT_EAGAIN
// (none waits), KT_EPROTO (malformed: logged and dropped), KT_ENOMEM.
kt_err kt__net_recv(kt__sock *s, kt_msg **msgp, kt__addr *to);

#endif // KT_IO_NET_H
