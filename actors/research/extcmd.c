// extcmd.c: run an external command without a shell loop of our own:
// posix_spawn of /bin/sh -c CMD in a process group of its own, the input
// on its stdin, stdout (and a tail of stderr) collected with poll() under
// a deadline; the group is SIGKILLed on timeout or cancellation.
#define _GNU_SOURCE // NOLINT: pipe2, close-on-exec pipes without a race
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "research/rs_int.h"

#define RS_OUT_MAX (1u << 20) // stdout cap

extern char **environ;

typedef struct rs_proc {
    pid_t pid;
    int in, out, err; // our ends (-1 = closed)
    const char *input;
    size_t input_len, input_off;
    char *buf;
    size_t len, cap;
    char errtail[256];
    size_t errlen;
} rs_proc;

static int64_t
rs_mono_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
rs_close(int *fd)
{
    if (*fd >= 0) {
        (void)close(*fd);
        *fd = -1;
    }
}

static kt_err
rs_spawn(rs_proc *p, const char *cmd)
{
    int pin[2], pout[2], perr[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dfl;
    char sh[] = "/bin/sh", dash_c[] = "-c";
    char *argv[] = {sh, dash_c, (char *)(uintptr_t)cmd, NULL};
    int rc;

    if (pipe2(pin, O_CLOEXEC) != 0) {
        return (kt_err)(KT_ESYSERR | errno);
    }
    if (pipe2(pout, O_CLOEXEC) != 0 || pipe2(perr, O_CLOEXEC) != 0) {
        rc = errno;
        (void)close(pin[0]);
        (void)close(pin[1]);
        if (perr[0] < 0 && pout[0] >= 0) {
            (void)close(pout[0]);
            (void)close(pout[1]);
        }
        return (kt_err)(KT_ESYSERR | rc);
    }
    (void)posix_spawn_file_actions_init(&fa);
    (void)posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
    (void)posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
    (void)posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
    (void)posix_spawnattr_init(&at);
    (void)sigemptyset(&none);
    (void)sigemptyset(&dfl);
    (void)sigaddset(&dfl, SIGPIPE);
    (void)posix_spawnattr_setsigmask(&at, &none);
    (void)posix_spawnattr_setsigdefault(&at, &dfl);
    (void)posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
                                            POSIX_SPAWN_SETSIGMASK |
                                            POSIX_SPAWN_SETSIGDEF);
    (void)posix_spawnattr_setpgroup(&at, 0);
    rc = posix_spawn(&p->pid, "/bin/sh", &fa, &at, argv, environ);
    (void)posix_spawn_file_actions_destroy(&fa);
    (void)posix_spawnattr_destroy(&at);
    (void)close(pin[0]);
    (void)close(pout[1]);
    (void)close(perr[1]);
    p->in = pin[1];
    p->out = pout[0];
    p->err = perr[0];
    if (rc != 0) {
        rs_close(&p->in);
        rs_close(&p->out);
        rs_close(&p->err);
        return (kt_err)(KT_ESYSERR | rc);
    }
    (void)fcntl(p->in, F_SETFL, O_NONBLOCK);
    return KT_OK;
}

// rs_read drains fd into the output buffer (or the stderr tail).
static void
rs_read(rs_proc *p, int *fd, bool is_err)
{
    char tmp[4096];
    ssize_t r = read(*fd, tmp, sizeof(tmp));

    if (r <= 0) {
        if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
            rs_close(fd);
        }
        return;
    }
    if (is_err) {
        for (ssize_t i = 0; i < r; i++) {
            if (p->errlen + 1 >= sizeof(p->errtail)) {
                memmove(p->errtail, p->errtail + 64, p->errlen - 64);
                p->errlen -= 64;
            }
            p->errtail[p->errlen++] = tmp[i];
        }
        p->errtail[p->errlen] = '\0';
        return;
    }
    if (p->len + (size_t)r + 1 > p->cap && p->len + (size_t)r < RS_OUT_MAX) {
        size_t nc = (p->len + (size_t)r + 1) * 2;
        char *nb = realloc(p->buf, nc);
        if (nb != NULL) {
            p->buf = nb;
            p->cap = nc;
        }
    }
    if (p->len + (size_t)r + 1 <= p->cap) {
        memcpy(p->buf + p->len, tmp, (size_t)r);
        p->len += (size_t)r;
        p->buf[p->len] = '\0';
    }
}

static void
rs_write(rs_proc *p)
{
    ssize_t w =
        write(p->in, p->input + p->input_off, p->input_len - p->input_off);

    // Done, or the command does not read its input (EPIPE): fine.
    if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
        (w > 0 && (p->input_off += (size_t)w) == p->input_len)) {
        rs_close(&p->in);
    }
}

// rs_pump runs the poll loop until both outputs close; returns KT_OK,
// KT_ETIMEDOUT or KT_ECANCELED.
static kt_err
rs_pump(rs_proc *p, int64_t deadline, int cancel_fd)
{
    while (p->out >= 0 || p->err >= 0) {
        struct pollfd f[4] = {{.fd = p->out, .events = POLLIN},
                              {.fd = p->err, .events = POLLIN},
                              {.fd = p->in, .events = POLLOUT},
                              {.fd = cancel_fd, .events = POLLIN}};
        int64_t left = deadline - rs_mono_ms();
        if (left <= 0) {
            return KT_ETIMEDOUT;
        }
        if (poll(f, 4, (int)(left > 1000 ? 1000 : left)) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return (kt_err)(KT_ESYSERR | errno);
        }
        if (f[3].revents != 0) {
            return KT_ECANCELED;
        }
        if (f[2].revents != 0) {
            rs_write(p);
        }
        if (f[0].revents != 0) {
            rs_read(p, &p->out, false);
        }
        if (f[1].revents != 0) {
            rs_read(p, &p->err, true);
        }
    }
    return KT_OK;
}

// rs_pump_quiet runs rs_pump with SIGPIPE blocked on this thread (a
// command that exits without reading its input makes our write fail with
// EPIPE instead of killing the process), then drops a pending SIGPIPE.
static kt_err
rs_pump_quiet(rs_proc *p, int64_t deadline, int cancel_fd)
{
    sigset_t pipe_set, old;
    struct timespec zero = {0, 0};
    kt_err rv;

    (void)sigemptyset(&pipe_set);
    (void)sigaddset(&pipe_set, SIGPIPE);
    (void)pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    rv = rs_pump(p, deadline, cancel_fd);
    while (sigtimedwait(&pipe_set, NULL, &zero) > 0) {
    }
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rv;
}

kt_err
kt__rs_run_cmd(const char *cmd, const char *input, uint32_t timeout_ms,
               int cancel_fd, char **out, char *why, size_t n)
{
    rs_proc p = {.in = -1, .out = -1, .err = -1, .input = input};
    int64_t deadline = rs_mono_ms() + (timeout_ms ? timeout_ms : 120000);
    int status = 0;
    kt_err rv;

    p.input_len = strlen(input);
    if ((rv = rs_spawn(&p, cmd)) != KT_OK) {
        (void)snprintf(why, n, "cannot run '%s': %s", cmd, kt_strerror(rv));
        return rv;
    }
    rv = rs_pump_quiet(&p, deadline, cancel_fd);
    if (rv != KT_OK) {
        (void)kill(-p.pid, SIGKILL);
    }
    rs_close(&p.in);
    rs_close(&p.out);
    rs_close(&p.err);
    while (waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (rv == KT_ETIMEDOUT) {
        (void)snprintf(why, n, "'%s' timed out after %u ms (killed)", cmd,
                       timeout_ms);
    } else if (rv == KT_ECANCELED) {
        (void)snprintf(why, n, "'%s' cancelled (killed)", cmd);
    } else if (rv != KT_OK) {
        (void)snprintf(why, n, "'%s': %s", cmd, kt_strerror(rv));
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        while (p.errlen > 0 && (p.errtail[p.errlen - 1] == '\n' ||
                                p.errtail[p.errlen - 1] == '\r')) {
            p.errtail[--p.errlen] = '\0';
        }
        (void)snprintf(why, n, "'%s' exited with status %d%s%s", cmd,
                       WIFEXITED(status) ? WEXITSTATUS(status)
                                         : 128 + WTERMSIG(status),
                       p.errlen ? ": " : "", p.errtail);
        rv = KT_EINVAL;
    }
    if (rv != KT_OK) {
        free(p.buf);
        return rv;
    }
    *out = p.buf != NULL ? p.buf : strdup("");
    return *out != NULL ? KT_OK : KT_ENOMEM;
}
