// The only libevent user: one event_base per scheduler thread, events with
// runtime-owned storage (counted by the allocator).
#include "io/loop.h"

#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>

#include <event2/event.h>
#include <event2/thread.h>

#include <kt/log.h>

#include "base/alloc.h"

struct kt__loop {
    struct event_base *base;
};

#define EV(e) ((struct event *)(void *)(e)->storage)

struct kt__ev {
    kt__ev_cb cb;
    void *arg;
    size_t size;
    bool timer;
    // Storage for a struct event (incomplete type; its size is runtime).
    alignas(max_align_t) unsigned char storage[];
};

static pthread_once_t loop_once = PTHREAD_ONCE_INIT;
static int loop_init_rv;

static void
loop_log_cb(int severity, const char *msg)
{
    kt_log_level lvl = KT_LOG_DEBUG;

    if (severity == EVENT_LOG_ERR) {
        lvl = KT_LOG_ERR;
    } else if (severity == EVENT_LOG_WARN) {
        lvl = KT_LOG_WARN;
    } else if (severity == EVENT_LOG_MSG) {
        lvl = KT_LOG_INFO;
    }
    kt_log(lvl, "libevent", "msg=\"%s\"", msg);
}

static void
loop_init_once(void)
{
    const char *dbg = getenv("KTRDR_EVENT_DEBUG");

    if (dbg != NULL && dbg[0] != '\0' && dbg[0] != '0') {
        event_enable_debug_mode();
    }
    event_set_log_callback(loop_log_cb);
    loop_init_rv = evthread_use_pthreads();
}

void
kt__loop_global_init(void)
{
    pthread_once(&loop_once, loop_init_once);
}

kt_err
kt__loop_alloc(kt__loop **lp)
{
    kt__loop *l;

    kt__loop_global_init();
    if (loop_init_rv != 0) {
        return KT_ESTATE;
    }
    if ((l = kt__alloc(sizeof(*l))) == NULL) {
        return KT_ENOMEM;
    }
    if ((l->base = event_base_new()) == NULL) {
        kt__free(l, sizeof(*l));
        return KT_ENOMEM;
    }
    *lp = l;
    return KT_OK;
}

void
kt__loop_free(kt__loop *l)
{
    event_base_free(l->base);
    kt__free(l, sizeof(*l));
}

void
kt__loop_run(kt__loop *l)
{
    event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
}

void
kt__loop_break(kt__loop *l)
{
    event_base_loopbreak(l->base);
}

static void
loop_ev_cb(evutil_socket_t fd, short what, void *arg)
{
    kt__ev *ev = arg;

    (void)fd;
    (void)what;
    ev->cb(ev->arg);
}

kt_err
kt__ev_alloc(kt__loop *l, int fd, bool persist, kt__ev_cb cb, void *arg,
             kt__ev **evp)
{
    size_t size = sizeof(kt__ev) + event_get_struct_event_size();
    short what = persist ? EV_PERSIST : 0;
    kt__ev *ev;

    if ((ev = kt__alloc(size)) == NULL) {
        return KT_ENOMEM;
    }
    ev->cb = cb;
    ev->arg = arg;
    ev->size = size;
    ev->timer = fd < 0;
    if (fd >= 0) {
        what |= EV_READ;
    }
    if (event_assign(EV(ev), l->base, fd, what, loop_ev_cb, ev) != 0) {
        kt__free(ev, size);
        return KT_EINVAL;
    }
    *evp = ev;
    return KT_OK;
}

kt_err
kt__ev_start(kt__ev *ev, uint32_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000,
                         .tv_usec = (suseconds_t)(ms % 1000) * 1000};

    return event_add(EV(ev), ev->timer ? &tv : NULL) == 0 ? KT_OK : KT_EINVAL;
}

void
kt__ev_stop(kt__ev *ev)
{
    event_del(EV(ev));
}

void
kt__ev_activate(kt__ev *ev)
{
    event_active(EV(ev), 0, 0);
}

void
kt__ev_free(kt__ev *ev)
{
    if (ev != NULL) {
        event_del(EV(ev));
        event_debug_unassign(EV(ev));
        kt__free(ev, ev->size);
    }
}
