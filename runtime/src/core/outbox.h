// Frames for other scheduler threads: the per-turn outboxes of a scheduler
// (one batch per destination thread, sent as one NNG message at the end of
// the turn), and the count of messages sent to a mailbox socket and not
// yet taken. Threads outside the runtime hand messages over without a
// socket (kt__sched_ext_push).
#ifndef KT_CORE_OUTBOX_H
#define KT_CORE_OUTBOX_H

#include "core/sched.h"

// kt__outbox_add copies m (for receiver on dst) into s's outbox for dst,
// sent at the end of s's current turn (on s's thread). m stays the
// caller's. Errors: KT_ENOMEM.
kt_err kt__outbox_add(kt__sched *s, kt__sched *dst, const kt_msg *m,
                      kt_aid receiver);
// kt__outbox_flush_cb (s's flush event) sends every outbox of s; batches a
// full socket refuses are retried 1 ms later. When s is ending (a dedicated
// thread whose actor stopped) and nothing is left to send, it ends the loop.
void kt__outbox_flush_cb(void *arg);
// kt__outbox_free_all frees what s's outboxes still hold (s stopped).
void kt__outbox_free_all(kt__sched *s);
// kt__outbox_settle subtracts n NNG messages taken from s's socket from
// s->rx_waiting (never below 0).
void kt__outbox_settle(kt__sched *s, long n);

#endif // KT_CORE_OUTBOX_H
