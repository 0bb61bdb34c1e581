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

struct kt__sched {
    kt_runtime *rt;
    bool dedicated;
    pthread_t thread;
    kt__loop *loop;
    kt__sock *mbox; // frames from other threads
    char url[48];   // its inproc address (tests send raw frames there)
    kt__ev *rx_ev;  // mbox readable
    kt__ev *run_ev; // run queue not empty
    kt__ev *ctl_ev; // control queue not empty
    kt_actor *runq, *runq_tail; // scheduler thread only
    kt_actor *actors;           // live actors pinned here (thread only)
    pthread_mutex_t ctl_mtx;
    kt_actor *ctlq, *ctlq_tail;
    bool shutdown;    // under ctl_mtx
    atomic_bool done; // the thread left its loop
    kt__sched *next;  // runtime's dedicated list
};

// kt__sched_start creates a scheduler and starts its thread.
kt_err kt__sched_start(kt_runtime *rt, bool dedicated, kt__sched **sp);
// kt__sched_shutdown asks the thread to stop its actors and leave its loop.
void kt__sched_shutdown(kt__sched *s);
// kt__sched_free joins the thread and frees s.
void kt__sched_free(kt__sched *s);
// kt__sched_current is the scheduler running on this thread (or NULL).
kt__sched *kt__sched_current(void);
// kt__sched_push appends m to a's mailbox (on s's thread only).
void kt__sched_push(kt__sched *s, kt_actor *a, kt_msg *m);
// kt__sched_post queues control bits for a (any thread; a must be alive:
// registered under the read lock, or owned by the caller).
void kt__sched_post(kt_actor *a, unsigned ctl, kt_err reason, kt_aid from);
// kt__sched_forget unlinks a from every queue of s before it is freed.
void kt__sched_forget(kt__sched *s, kt_actor *a);

#endif // KT_CORE_SCHED_H
