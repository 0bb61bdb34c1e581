// Frames for other scheduler threads (see outbox.h): batches per
// destination thread and turn, and the rx_waiting count that lets a busy
// run loop look at its socket only when something was sent to it.
#include "core/outbox.h"

#include <kt/log.h>

#include "base/alloc.h"
#include "io/loop.h"
#include "io/net.h"

#define OUT_MAX   65536 // bytes gathered for a thread before sending early
#define OUT_RETRY 1     // ms before retrying a full socket

// The runtime counts what it sends to a mailbox socket (rx_waiting) and
// the receiver subtracts what it took; never below 0, since frames from
// outside the runtime (tests write raw frames) are not counted.
void
kt__outbox_settle(kt__sched *s, long n)
{
    long v = atomic_load(&s->rx_waiting);

    while (
        !atomic_compare_exchange_weak(&s->rx_waiting, &v, v > n ? v - n : 0)) {
    }
}

// Counted before the send, so a receiver that can take the frame already
// sees the count.
static kt_err
outbox_batch_send(kt__sched *dst, kt__batch *b)
{
    kt_err err;

    atomic_fetch_add(&dst->rx_waiting, 1);
    if ((err = kt__net_batch_send(dst->mbox, b)) != KT_OK) {
        kt__outbox_settle(dst, 1);
    }
    return err;
}

void
kt__outbox_flush_cb(void *arg)
{
    kt__sched *s = arg;
    kt__outbox **pp = &s->out;

    while (*pp != NULL) {
        kt__outbox *o = *pp;
        kt_err err = o->b != NULL ? outbox_batch_send(o->dst, o->b) : KT_OK;
        // A full socket is retried, unless nobody will ever read it.
        if (err == KT_EAGAIN && !atomic_load(&o->dst->done)) {
            pp = &o->next;
            continue;
        }
        if (err != KT_OK) {
            kt_log(KT_LOG_NOTICE, "sched", "event=drop reason=\"%s\" bytes=%zu",
                   kt_strerror(err == KT_EAGAIN ? KT_ECLOSED : err),
                   kt__net_batch_len(o->b));
            kt__net_batch_free(o->b);
        }
        *pp = o->next;
        kt__free(o, sizeof(*o));
    }
    if (s->out != NULL) {
        if (kt__ev_start(s->flush_ev, OUT_RETRY) != KT_OK) {
            kt__ev_activate(s->flush_ev);
        }
    } else if (s->ending) {
        kt__loop_break(s->loop); // the last sends of a dedicated actor left
    }
}

kt_err
kt__outbox_add(kt__sched *s, kt__sched *dst, const kt_msg *m, kt_aid receiver)
{
    kt__outbox *o;
    bool fresh = false;
    kt_err err;

    for (o = s->out; o != NULL && o->dst != dst; o = o->next) {
    }
    if (o == NULL) {
        if ((o = kt__zalloc(sizeof(*o))) == NULL) {
            return KT_ENOMEM;
        }
        o->dst = dst;
        fresh = true;
    }
    if ((err = kt__net_batch_add(&o->b, m, receiver)) != KT_OK) {
        if (fresh) {
            kt__free(o, sizeof(*o));
        }
        return err;
    }
    if (fresh) {
        o->next = s->out;
        s->out = o;
        kt__ev_activate(s->flush_ev); // runs after this turn's callbacks
    }
    if (kt__net_batch_len(o->b) >= OUT_MAX &&
        outbox_batch_send(dst, o->b) == KT_OK) {
        o->b = NULL; // the outbox stays listed; the flush drops it empty
    }
    return KT_OK;
}

void
kt__outbox_free_all(kt__sched *s)
{
    while (s->out != NULL) {
        kt__outbox *o = s->out;
        s->out = o->next;
        kt__net_batch_free(o->b);
        kt__free(o, sizeof(*o));
    }
}
