// Event loops and events: the runtime's only view of libevent.
#ifndef KT_IO_LOOP_H
#define KT_IO_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <kt/err.h>

typedef struct kt__loop kt__loop;
typedef struct kt__ev kt__ev;
typedef void (*kt__ev_cb)(void *arg);

// kt__loop_global_init runs once per process, before any loop exists:
// evthread_use_pthreads(), libevent logs routed to kt_log, and debug mode
// when $KTRDR_EVENT_DEBUG is set (it costs, so only on request).
void kt__loop_global_init(void);

kt_err kt__loop_alloc(kt__loop **lp);
void kt__loop_free(kt__loop *l); // every event must be freed first
// kt__loop_run dispatches on the calling thread until kt__loop_break.
void kt__loop_run(kt__loop *l);
void kt__loop_break(kt__loop *l); // any thread

// kt__ev_alloc makes an event on l: with fd >= 0 it watches fd for input,
// otherwise it is a timer or a manual event. cb runs on l's thread.
kt_err kt__ev_alloc(kt__loop *l, int fd, bool persist, kt__ev_cb cb, void *arg,
                    kt__ev **evp);
// kt__ev_start arms ev: an fd watch until stopped, a timer after ms (and
// every ms when persistent). Any thread.
kt_err kt__ev_start(kt__ev *ev, uint32_t ms);
void kt__ev_stop(kt__ev *ev);
// kt__ev_activate makes cb run soon on the loop's thread. Any thread.
void kt__ev_activate(kt__ev *ev);
// kt__ev_free stops and frees ev (NULL is a no-op). When called from
// another thread while cb runs, it waits for cb to finish.
void kt__ev_free(kt__ev *ev);

#endif // KT_IO_LOOP_H
