// The listener watchdog (see guard.h). Every GUARD_EVERY_MS it dials the
// listener; the listener is alive when a connection was added to the
// socket (NNG's pipe callback) since the probe dialed. NNG's statistics
// are no help: a stopped listener counts no error for it, and 1.5.2's
// snapshot of a listener's "accept" counter was seen not to move.
#include "io/guard.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include <nng/protocol/pair1/pair.h>

#include <kt/log.h>

#include "base/alloc.h"

#define GUARD_TICK_MS  50  // the thread's period
#define GUARD_EVERY_MS 250 // between probes
// A probe not accepted by then: relisten. Short, because while the
// listener is stopped a dialing peer's messages are lost (guard.h). Under
// load a probe can time out on a healthy listener; the needless relisten
// is harmless, and the half-open probe it leaves behind can no longer
// hang shutdown (kt__guard_close_bounded).
#define GUARD_WAIT_MS 200

struct kt__guard {
    nng_socket sock;
    nng_listener lst; // the guard thread only, after start
    char *url;
    atomic_uint_fast64_t added; // pipe callbacks: connections accepted
    _Atomic uint64_t relistens; // read by tests and logs
    pthread_t thread;
    pthread_mutex_t mtx;
    pthread_cond_t cv;
    bool stop; // under mtx
    // The guard thread only.
    bool listening; // false: listening again failed, retried every tick
    nng_socket probe;
    bool probing;
    uint64_t added_at; // `added` when the probe dialed
    int waited_ms, idle_ms;
};

static void
guard_probe_start(kt__guard *g)
{
    g->idle_ms = 0;
    if (nng_pair1_open(&g->probe) != 0) {
        return;
    }
    g->added_at = atomic_load(&g->added);
    if (nng_dial(g->probe, g->url, NULL, NNG_FLAG_NONBLOCK) != 0) {
        nng_close(g->probe);
        return;
    }
    g->probing = true;
    g->waited_ms = 0;
}

static void
guard_probe_end(kt__guard *g)
{
    nng_close(g->probe);
    g->probing = false;
    g->idle_ms = 0;
}

// Close the stopped listener and listen again at the same url.
static void
guard_relisten(kt__guard *g)
{
    nng_listener nl;
    uint64_t n;
    int rv;

    if (g->listening) {
        nng_listener_close(g->lst); // unlinks an ipc path; pipes stay
        g->listening = false;
    }
    if ((rv = nng_listen(g->sock, g->url, &nl, 0)) != 0) {
        kt_log(KT_LOG_ERR, "net",
               "event=relisten_failed url=%s err=\"%s\" retry_ms=%d", g->url,
               nng_strerror(rv), GUARD_TICK_MS);
        return;
    }
    g->lst = nl;
    g->listening = true;
    n = atomic_fetch_add(&g->relistens, 1) + 1;
    kt_log(KT_LOG_WARN, "net",
           "event=relisten url=%s reason=\"listener stopped accepting\" "
           "count=%llu",
           g->url, (unsigned long long)n);
}

static void
guard_tick(kt__guard *g)
{
    if (!g->listening) {
        guard_relisten(g); // the last attempt failed
    } else if (g->probing) {
        if (atomic_load(&g->added) != g->added_at) {
            guard_probe_end(g); // accepted: the listener is alive
        } else if ((g->waited_ms += GUARD_TICK_MS) >= GUARD_WAIT_MS) {
            guard_probe_end(g);
            guard_relisten(g);
        }
    } else if ((g->idle_ms += GUARD_TICK_MS) >= GUARD_EVERY_MS) {
        guard_probe_start(g);
    }
}

// Wait one tick; false once stop was asked.
static bool
guard_sleep(kt__guard *g)
{
    struct timespec dl;
    bool stop;

    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_nsec += GUARD_TICK_MS * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g->mtx);
    while (!g->stop &&
           pthread_cond_timedwait(&g->cv, &g->mtx, &dl) != ETIMEDOUT) {
    }
    stop = g->stop;
    pthread_mutex_unlock(&g->mtx);
    return !stop;
}

static void *
guard_main(void *arg)
{
    kt__guard *g = arg;

    while (guard_sleep(g)) {
        guard_tick(g);
    }
    if (g->probing) {
        guard_probe_end(g);
    }
    return NULL;
}

kt_err
kt__guard_start(kt__guard **gp, nng_socket sock, nng_listener lst,
                const char *url)
{
    pthread_condattr_t ca;
    kt__guard *g;

    if ((g = kt__zalloc(sizeof(*g))) == NULL) {
        return KT_ENOMEM;
    }
    if ((g->url = kt__strdup(url)) == NULL) {
        kt__free(g, sizeof(*g));
        return KT_ENOMEM;
    }
    g->sock = sock;
    g->lst = lst;
    g->listening = true;
    atomic_init(&g->added, 0);
    atomic_init(&g->relistens, 0);
    pthread_mutex_init(&g->mtx, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->thread, NULL, guard_main, g) != 0) {
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mtx);
        kt__strfree(g->url);
        kt__free(g, sizeof(*g));
        return KT_ENOMEM;
    }
    *gp = g;
    return KT_OK;
}

void
kt__guard_stop(kt__guard *g)
{
    if (g == NULL) {
        return;
    }
    pthread_mutex_lock(&g->mtx);
    g->stop = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mtx);
    pthread_join(g->thread, NULL);
}

void
kt__guard_free(kt__guard *g)
{
    if (g == NULL) {
        return;
    }
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mtx);
    kt__strfree(g->url);
    kt__free(g, sizeof(*g));
}

void
kt__guard_pipe_added(kt__guard *g)
{
    atomic_fetch_add(&g->added, 1);
}

uint64_t
kt__guard_relistens(kt__guard *g)
{
    return g != NULL ? atomic_load(&g->relistens) : 0;
}

// ---- bounded close ----

// Closes still running after their caller gave up on them. NNG 1.5.2 has
// one reaper thread; a close stuck on a half-open connection stalls it,
// and every nng_close after it then waits forever too (seen: `ktrdr serve`
// hung on SIGTERM in a scheduler's plain close). While one is stuck, later
// closes are not attempted: the sockets are left to the process's exit.
static atomic_int g_stuck;

typedef struct close_job {
    nng_socket sock;
    pthread_mutex_t mtx;
    pthread_cond_t cv;
    bool done;
    bool abandoned; // the waiter timed out; counted in g_stuck
    int refs;       // the closer thread and the waiter
} close_job;

static void
close_job_unref(close_job *j)
{
    bool last;

    pthread_mutex_lock(&j->mtx);
    last = --j->refs == 0;
    pthread_mutex_unlock(&j->mtx);
    if (last) {
        pthread_cond_destroy(&j->cv);
        pthread_mutex_destroy(&j->mtx);
        free(j);
    }
}

static void *
close_main(void *arg)
{
    close_job *j = arg;

    nng_close(j->sock);
    pthread_mutex_lock(&j->mtx);
    j->done = true;
    if (j->abandoned) {
        atomic_fetch_sub(&g_stuck, 1);
    }
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mtx);
    close_job_unref(j);
    return NULL;
}

bool
kt__guard_close_bounded(nng_socket sock, int ms)
{
    close_job *j;
    struct timespec dl;
    pthread_t t;
    bool done;

    if (atomic_load(&g_stuck) > 0) {
        kt_log(KT_LOG_WARN, "net",
               "event=close_skipped reason=\"an earlier close is stuck in "
               "NNG; the socket is left to the process's exit\"");
        return false;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        nng_close(sock);
        return true;
    }
    j->sock = sock;
    j->refs = 2;
    pthread_mutex_init(&j->mtx, NULL);
    pthread_cond_init(&j->cv, NULL);
    if (pthread_create(&t, NULL, close_main, j) != 0) {
        j->refs = 1;
        close_job_unref(j);
        nng_close(sock);
        return true;
    }
    (void)pthread_detach(t);
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&j->mtx);
    while (!j->done &&
           pthread_cond_timedwait(&j->cv, &j->mtx, &dl) != ETIMEDOUT) {
    }
    done = j->done;
    if (!done) {
        j->abandoned = true;
        atomic_fetch_add(&g_stuck, 1);
    }
    pthread_mutex_unlock(&j->mtx);
    close_job_unref(j);
    if (!done) {
        kt_log(KT_LOG_WARN, "net",
               "event=close_stuck wait_ms=%d reason=\"NNG 1.5.2 kept a "
               "half-open connection; the socket is abandoned\"",
               ms);
    }
    return done;
}
