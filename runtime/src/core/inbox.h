// Input from a peer socket with back-pressure: when a receiver's mailbox is
// full the message is held, reading pauses (so the connection's own flow
// control pushes back on the sender) and delivery is retried shortly.
#ifndef KT_CORE_INBOX_H
#define KT_CORE_INBOX_H

#include "io/loop.h"
#include "io/net.h"

// deliver takes m (KT_OK, or any error but KT_EAGAIN: it logged and freed
// m) or returns KT_EAGAIN and leaves m to be retried.
typedef kt_err (*kt__inbox_fn)(void *arg, kt_msg *m, kt__addr *to);

typedef struct kt__inbox {
    kt__sock *sock;
    kt__ev *rx;
    kt__ev *retry;
    kt_msg *held;
    kt__addr held_to;
    kt__inbox_fn deliver;
    void *arg;
} kt__inbox;

// kt__inbox_start watches sock on loop (any thread). On failure nothing is
// left to undo.
kt_err kt__inbox_start(kt__inbox *ib, kt__loop *loop, kt__sock *sock,
                       kt__inbox_fn deliver, void *arg);
// kt__inbox_stop stops watching and frees a held message.
void kt__inbox_stop(kt__inbox *ib);

#endif // KT_CORE_INBOX_H
