// Bounded closes of NNG sockets (see guard.h).
#include "io/guard.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include <kt/log.h>

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
