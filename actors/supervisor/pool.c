// pool.c: local worker processes: posix_spawn, pidfd watches on a reaper
// thread, pidfd_send_signal (never a recycled pid).
#define _GNU_SOURCE // posix_spawn_file_actions_addclosefrom_np (glibc 2.34)
#include "supervisor/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kt/log.h>

extern char **environ;

typedef struct wchild {
    pid_t pid;
    int pidfd;
    char *tag;
} wchild;

struct kt_wpool {
    pthread_t thr;
    pthread_mutex_t mtx;
    pthread_cond_t cv; // a child left
    int wake[2];       // tells the reaper the set changed
    bool closing;
    bool joined; // the reaper thread is gone (kt_wpool_quiesce)
    wchild *kids;
    uint32_t nkids, cap;
    uint32_t reaping; // children removed whose exit callback still runs
    kt_wpool_exit_fn fn;
    void *arg;
};

int64_t
kt_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
pool_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void
pool_wake(kt_wpool *p)
{
    char b = 1;

    if (write(p->wake[1], &b, 1) < 0 && errno != EAGAIN) {
        kt_log(KT_LOG_WARN, "pool", "event=wake_failed errno=%d", errno);
    }
}

// Reaps the child at index i (mutex held on entry and exit).
static void
pool_reap(kt_wpool *p, uint32_t i)
{
    wchild c = p->kids[i];
    kt_wpool_exit e = {.pid = c.pid, .tag = c.tag};
    int status = 0;

    p->kids[i] = p->kids[--p->nkids];
    p->reaping++; // wait_empty waits for the exit callback too
    pthread_mutex_unlock(&p->mtx);
    e.at_ns = kt_mono_ns();
    while (waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
    }
    close(c.pidfd);
    e.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    e.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    kt_log(KT_LOG_INFO, "pool", "event=exit pid=%d tag=%s code=%d signal=%d",
           (int)c.pid, c.tag, e.exit_code, e.signal);
    if (p->fn != NULL) {
        p->fn(p->arg, &e);
    }
    free(c.tag);
    pthread_mutex_lock(&p->mtx);
    p->reaping--;
    pthread_cond_broadcast(&p->cv);
}

static void
pool_poll_once(kt_wpool *p, struct pollfd *fds, pid_t *pids, uint32_t n)
{
    char buf[64];

    while (poll(fds, n + 1, -1) < 0 && errno == EINTR) {
    }
    if (fds[0].revents != 0) {
        while (read(p->wake[0], buf, sizeof(buf)) > 0) {
        }
    }
    pthread_mutex_lock(&p->mtx);
    for (uint32_t j = 0; j < n; j++) {
        if (fds[j + 1].revents == 0) {
            continue;
        }
        for (uint32_t i = 0; i < p->nkids; i++) {
            if (p->kids[i].pid == pids[j]) {
                pool_reap(p, i);
                break;
            }
        }
    }
    pthread_mutex_unlock(&p->mtx);
}

static void *
pool_main(void *arg)
{
    kt_wpool *p = arg;
    struct pollfd *fds = NULL;
    pid_t *pids = NULL;
    uint32_t cap = 0;

    for (;;) {
        uint32_t n;
        pthread_mutex_lock(&p->mtx);
        if (p->closing) {
            pthread_mutex_unlock(&p->mtx);
            break;
        }
        n = p->nkids;
        if (n + 1 > cap) {
            struct pollfd *nf = realloc(fds, (n + 1) * sizeof(*fds));
            pid_t *np =
                nf != NULL ? realloc(pids, (n + 1) * sizeof(*pids)) : NULL;
            fds = nf != NULL ? nf : fds;
            pids = np != NULL ? np : pids;
            if (nf == NULL || np == NULL) {
                kt_log(KT_LOG_ERR, "pool", "event=oom");
                n = cap > 0 ? cap - 1 : 0; // watch what fits
            } else {
                cap = n + 1;
            }
        }
        fds[0] = (struct pollfd){.fd = p->wake[0], .events = POLLIN};
        for (uint32_t i = 0; i < n; i++) {
            fds[i + 1] =
                (struct pollfd){.fd = p->kids[i].pidfd, .events = POLLIN};
            pids[i] = p->kids[i].pid;
        }
        pthread_mutex_unlock(&p->mtx);
        pool_poll_once(p, fds, pids, n);
    }
    free(fds);
    free(pids);
    return NULL;
}

kt_err
kt_wpool_open(kt_wpool **pp, kt_wpool_exit_fn fn, void *arg)
{
    kt_wpool *p;
    kt_err err;
    int rc;

    if (pp == NULL) {
        return KT_EINVAL;
    }
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        return KT_ENOMEM;
    }
    p->fn = fn;
    p->arg = arg;
    if (pipe(p->wake) != 0) {
        err = KT_ESYSERR | errno;
        goto free_p;
    }
    for (int i = 0; i < 2; i++) {
        (void)fcntl(p->wake[i], F_SETFD, FD_CLOEXEC);
        (void)fcntl(p->wake[i], F_SETFL, O_NONBLOCK);
    }
    pthread_mutex_init(&p->mtx, NULL);
    pthread_cond_init(&p->cv, NULL);
    if ((rc = pthread_create(&p->thr, NULL, pool_main, p)) != 0) {
        err = KT_ESYSERR | rc;
        goto close_pipe;
    }
    *pp = p;
    return KT_OK;
close_pipe:
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mtx);
    close(p->wake[0]);
    close(p->wake[1]);
free_p:
    free(p);
    return err;
}

static kt_err
pool_add(kt_wpool *p, pid_t pid, int pidfd, const char *tag)
{
    char *t = strdup(tag != NULL ? tag : "");

    if (t == NULL) {
        return KT_ENOMEM;
    }
    pthread_mutex_lock(&p->mtx);
    if (p->nkids == p->cap) {
        uint32_t cap = p->cap != 0 ? p->cap * 2 : 8;
        wchild *k = realloc(p->kids, cap * sizeof(*k));
        if (k == NULL) {
            pthread_mutex_unlock(&p->mtx);
            free(t);
            return KT_ENOMEM;
        }
        p->kids = k;
        p->cap = cap;
    }
    p->kids[p->nkids++] = (wchild){.pid = pid, .pidfd = pidfd, .tag = t};
    pthread_mutex_unlock(&p->mtx);
    pool_wake(p);
    return KT_OK;
}

static kt_err
pool_spawn_attr(posix_spawnattr_t *a)
{
    sigset_t none, all;
    int rc;

    sigemptyset(&none);
    sigfillset(&all);
    if ((rc = posix_spawnattr_init(a)) != 0) {
        return KT_ESYSERR | rc;
    }
    // Own process group: a Ctrl+C on `ktrdr serve` reaches the backend
    // only, which decides what the workers do.
    if ((rc = posix_spawnattr_setflags(a, POSIX_SPAWN_SETPGROUP |
                                              POSIX_SPAWN_SETSIGMASK |
                                              POSIX_SPAWN_SETSIGDEF)) != 0 ||
        (rc = posix_spawnattr_setpgroup(a, 0)) != 0 ||
        (rc = posix_spawnattr_setsigmask(a, &none)) != 0 ||
        (rc = posix_spawnattr_setsigdefault(a, &all)) != 0) {
        posix_spawnattr_destroy(a);
        return KT_ESYSERR | rc;
    }
    return KT_OK;
}

kt_err
kt_wpool_spawn(kt_wpool *p, char *const argv[], const char *tag, pid_t *pidp)
{
    posix_spawnattr_t a;
    posix_spawn_file_actions_t fa;
    pid_t pid;
    kt_err err;
    int rc, fd;

    if (p == NULL || argv == NULL || argv[0] == NULL || pidp == NULL) {
        return KT_EINVAL;
    }
    if ((err = pool_spawn_attr(&a)) != KT_OK) {
        return err;
    }
    // Children get stdin/stdout/stderr only: an inherited listening
    // socket or lock would outlive a killed backend and stop the next one
    // from binding its address.
    if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
        posix_spawnattr_destroy(&a);
        return KT_ESYSERR | rc;
    }
    rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (rc == 0) {
        rc = posix_spawn(&pid, argv[0], &fa, &a, argv, environ);
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&a);
    if (rc != 0) {
        return KT_ESYSERR | rc;
    }
    if ((fd = pool_pidfd_open(pid)) < 0) {
        err = KT_ESYSERR | errno;
        goto kill_child;
    }
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    if ((err = pool_add(p, pid, fd, tag)) != KT_OK) {
        close(fd);
        goto kill_child;
    }
    kt_log(KT_LOG_INFO, "pool", "event=spawn pid=%d tag=%s exe=%s", (int)pid,
           tag != NULL ? tag : "", argv[0]);
    *pidp = pid;
    return KT_OK;
kill_child:
    (void)kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return err;
}

kt_err
kt_wpool_kill(kt_wpool *p, pid_t pid, int sig)
{
    kt_err err = KT_ENOENT;

    if (p == NULL) {
        return KT_EINVAL;
    }
    pthread_mutex_lock(&p->mtx);
    for (uint32_t i = 0; i < p->nkids; i++) {
        if (p->kids[i].pid == pid) {
            err = syscall(SYS_pidfd_send_signal, p->kids[i].pidfd, sig, NULL,
                          0) == 0
                      ? KT_OK
                      : (kt_err)(KT_ESYSERR | errno);
            break;
        }
    }
    pthread_mutex_unlock(&p->mtx);
    return err;
}

uint32_t
kt_wpool_count(kt_wpool *p)
{
    uint32_t n;

    if (p == NULL) {
        return 0;
    }
    pthread_mutex_lock(&p->mtx);
    n = p->nkids;
    pthread_mutex_unlock(&p->mtx);
    return n;
}

kt_err
kt_wpool_wait_empty(kt_wpool *p, uint32_t timeout_ms)
{
    struct timespec dl;
    kt_err err = KT_OK;

    if (p == NULL) {
        return KT_EINVAL;
    }
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mtx);
    while ((p->nkids > 0 || p->reaping > 0) && err == KT_OK) {
        if (pthread_cond_timedwait(&p->cv, &p->mtx, &dl) == ETIMEDOUT) {
            err = p->nkids > 0 || p->reaping > 0 ? KT_ETIMEDOUT : KT_OK;
        }
    }
    pthread_mutex_unlock(&p->mtx);
    return err;
}

static void
pool_quiesce(kt_wpool *p)
{
    if (p->joined) {
        return;
    }
    pthread_mutex_lock(&p->mtx);
    p->closing = true;
    p->fn = NULL; // exits from here on are not reported
    pthread_mutex_unlock(&p->mtx);
    pool_wake(p);
    pthread_join(p->thr, NULL);
    p->joined = true;
}

void
kt_wpool_quiesce(kt_wpool *p)
{
    if (p != NULL) {
        pool_quiesce(p);
    }
}

static void
pool_stop(kt_wpool *p, bool kill_kids)
{
    pool_quiesce(p);
    for (uint32_t i = 0; i < p->nkids; i++) {
        if (kill_kids) {
            (void)syscall(SYS_pidfd_send_signal, p->kids[i].pidfd, SIGKILL,
                          NULL, 0);
            while (waitpid(p->kids[i].pid, NULL, 0) < 0 && errno == EINTR) {
            }
        }
        close(p->kids[i].pidfd);
        free(p->kids[i].tag);
    }
    free(p->kids);
    close(p->wake[0]);
    close(p->wake[1]);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mtx);
    free(p);
}

void
kt_wpool_close(kt_wpool *p)
{
    if (p != NULL) {
        pool_stop(p, true);
    }
}

void
kt_wpool_detach(kt_wpool *p)
{
    if (p != NULL) {
        pool_stop(p, false);
    }
}
