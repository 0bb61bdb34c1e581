// Internal layout of the runtime and its actors, shared by core/*.c.
#ifndef KT_CORE_ACTOR_H
#define KT_CORE_ACTOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <kt/actor.h>

#include "core/idmap.h"
#include "core/registry.h"

typedef struct kt__sched kt__sched;
typedef struct kt__remote kt__remote;

struct kt_runtime {
    kt__reg reg;
    size_t mailbox_limit;
    uint32_t keepalive_ms; // proxies (proxy.c)
    int nsched;
    kt__sched **scheds;   // shared scheduler threads
    atomic_uint rr;       // round-robin placement
    pthread_mutex_t mtx;  // the fields below
    pthread_cond_t cv;    // spawning reached 0
    bool stopping;        // no new actors, listeners, connections
    int spawning;         // kt_spawn calls between register and activate
    kt__sched *dedicated; // threads of dedicated actors
    kt__remote *remotes;  // listeners (remote.c)
    kt_runtime *next;     // the process's runtimes (runtime.c)
};

// A monitor (link = false) or link (link = true) on an actor.
typedef struct kt__watch {
    kt_aid aid;
    bool link;
    struct kt__watch *next;
} kt__watch;

struct kt_actor {
    kt__ep ep; // first: an endpoint is an actor when ep.ops is actor_ep_ops
    kt_runtime *rt;
    kt__sched *sched;
    const kt_actor_ops *ops;
    void *state;
    // Owned by whoever runs the callbacks: the spawning thread during init,
    // then the scheduler thread.
    kt_msg *mb_head, *mb_tail; // mailbox
    kt_actor *runnext;         // run queue link
    kt_actor *prev, *next;     // the scheduler's actor list
    kt__idmap timers;          // timers and pending asks (timer.c)
    bool in_runq, ready, exiting, kill_pending;
    bool forwards_replies; // a remote proxy: replies pass through it
    bool paused;           // mail waits (kt__sched_resume restarts it)
    kt_err exit_reason;
    atomic_size_t queued; // messages sent and not yet handled or dropped
    // Under mtx: monitors and links; dying once they were notified.
    pthread_mutex_t mtx;
    kt__watch *watchers;
    bool dying;
    // Under the scheduler's ctl_mtx (sched.c).
    unsigned ctl;
    kt_err kill_reason;
    kt_aid kill_from;
    kt_actor *ctlnext;
    bool in_ctl;
};

// kt__next_id returns a process-wide unique id (actors, asks, timers), so
// ids never repeat, even across runtimes of one process.
uint64_t kt__next_id(void);
// Endpoint ops of every actor.
extern const kt__ep_ops kt__actor_ep_ops;
// kt__actor_of returns the actor behind ep, or NULL for other endpoints.
kt_actor *kt__actor_of(kt__ep *ep);
// kt__actor_dispatch runs handle for m (scheduler thread); true when the
// actor stopped and was freed.
bool kt__actor_dispatch(kt_actor *a, kt_msg *m);
// kt__actor_stop stops a: unregisters it, runs stop, drops its timers and
// mailbox, runs fini, notifies monitors and links, frees it.
void kt__actor_stop(kt_actor *a, kt_err reason, const char *detail);
// kt__actor_reap frees an actor whose init failed (no stop, no fini).
void kt__actor_reap(kt_actor *a, kt_err reason);
// kt__send delivers msg from `from` to `to`; ownership as kt_send.
kt_err kt__send(kt_runtime *rt, kt_aid from, kt_aid to, kt_msg *msg);
// Timers (timer.c), on the actor's callback thread.
void kt__timers_fire(kt_actor *a, kt_msg *m, bool *dropp);
void kt__timers_clear(kt_actor *a);
kt_err kt__ask_arm(kt_actor *a, uint64_t corr, uint32_t ms);
void kt__ask_disarm(kt_actor *a, uint64_t corr);
// kt__runtime_find returns the runtime where `to` lives (runtime.c), for
// sends without an actor: ids are unique across a process's runtimes.
kt_err kt__runtime_find(kt_aid to, kt_runtime **rtp);

#endif // KT_CORE_ACTOR_H
