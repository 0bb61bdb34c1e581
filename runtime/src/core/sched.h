// Scheduler threads: one libevent loop each, a mailbox socket other threads
// send to, a run queue of actors with mail, and a control queue (activate,
// kill, reap) that never fails and never allocates.
#ifndef KT_CORE_SCHED_H
#define KT_CORE_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/actor.h"
#include "io/loop.h"
#include "io/net.h"

enum {
    KT__CTL_ACTIVATE = 1u << 0, // init succeeded: start handling mail
    KT__CTL_REAP = 1u << 1,     // init failed: free the actor
    KT__CTL_KILL = 1u << 2,     // stop with kill_reason
};

// Frames gathered for another thread during one loop turn (outbox.c).
typedef struct kt__outbox {
    kt__sched *dst;
    kt__batch *b;
    struct kt__outbox *next;
} kt__outbox;

struct kt__sched {
    kt_runtime *rt;
    bool dedicated;
    pthread_t thread;
    kt__loop *loop;
    kt__sock *mbox;   // frames from other threads
    char url[48];     // its inproc address (tests send raw frames there)
    kt__ev *rx_ev;    // mbox readable
    kt__ev *run_ev;   // run queue not empty
    kt__ev *ctl_ev;   // control queue not empty
    kt__ev *flush_ev; // outboxes to send (end of turn, or retry timer)
    kt__ev *ext_ev;   // messages from threads outside the runtime
    pthread_mutex_t ext_mtx;
    kt_msg *ext_head, *ext_tail; // under ext_mtx
    kt__outbox *out;             // thread only
    kt_actor *runq, *runq_tail;  // scheduler thread only
    kt_actor *actors;            // live actors pinned here (thread only)
    pthread_mutex_t ctl_mtx;
    kt_actor *ctlq, *ctlq_tail;
    bool shutdown;    // under ctl_mtx
    bool ending;      // dedicated, its actor gone: leave once flushed
    int rx_skip;      // run loop: socket checks to skip (thread only)
    bool running;     // in sched_run_cb (thread only)
    atomic_bool done; // the thread left its loop
    kt__sched *next;  // runtime's dedicated list
    // NNG messages sent to mbox by the runtime and not yet taken (a hint:
    // the run loop reads the socket between messages while it is > 0).
    atomic_long rx_waiting;
};

// kt__sched_start creates a scheduler and starts its thread.
kt_err kt__sched_start(kt_runtime *rt, bool dedicated, kt__sched **sp);
// kt__sched_shutdown asks the thread to stop its actors and leave its loop.
void kt__sched_shutdown(kt__sched *s);
// kt__sched_join waits for the thread; kt__sched_free then frees s (free
// every scheduler of a runtime only after joining them all: a stopping
// thread may still flush to the others' sockets).
void kt__sched_join(kt__sched *s);
void kt__sched_free(kt__sched *s);
// kt__sched_current is the scheduler running on this thread (or NULL).
kt__sched *kt__sched_current(void);
// kt__sched_ext_push hands m (the caller's, now the runtime's) for
// receiver to s from a thread outside the runtime: no copy and no socket;
// the first message of an empty queue wakes s's loop.
void kt__sched_ext_push(kt__sched *s, kt_msg *m, kt_aid receiver);
// kt__sched_push appends m to a's mailbox (on s's thread only).
void kt__sched_push(kt__sched *s, kt_actor *a, kt_msg *m);
// kt__sched_resume restarts an actor that set a->paused from a callback:
// while paused its mail stays queued, so senders meet the mailbox limit
// (back-pressure). On a's thread.
void kt__sched_resume(kt__sched *s, kt_actor *a);
// kt__sched_post queues control bits for a (any thread; a must be alive:
// registered under the read lock, or owned by the caller).
void kt__sched_post(kt_actor *a, unsigned ctl, kt_err reason, kt_aid from);
// kt__sched_forget unlinks a from every queue of s before it is freed. A
// dedicated scheduler whose actor is gone ends once its outboxes are sent.
void kt__sched_forget(kt__sched *s, kt_actor *a);

#endif // KT_CORE_SCHED_H
