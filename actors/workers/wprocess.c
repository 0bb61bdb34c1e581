// wprocess.c: kt_worker_main, the body of `ktrdr worker`: a runtime with
// proxies to the backend's registry, operations and persistence actors,
// the agent, and signal handling (SIGTERM / SIGINT: graceful shutdown; a
// second one: exit at once).
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <kt/kt.h>

#include "persistence/persistence.h"
#include "workers/agent.h"
#include "workers/workers.h"

static void
wp_on_exit(void *arg, int code)
{
    int *fd = arg;
    unsigned char c = (unsigned char)code;

    if (write(*fd, &c, 1) != 1) {
        kt_log(KT_LOG_ERR, "worker", "event=exit_pipe errno=%d", errno);
    }
}

static kt_err
wp_start(kt_runtime *rt, const kt_worker_main_cfg *c, int *exit_fd,
         kt_aid *agentp)
{
    kt_wk_agent_cfg a = {0};
    kt_spawn_opts so = {.name = KT_WK_AGENT_NAME};
    char id[KT_WK_ID_MAX + 1], host[32] = "";
    kt_err err;

    if (c->worker_id == NULL) {
        (void)gethostname(host, sizeof(host) - 1);
        snprintf(id, sizeof(id), "worker-%s-%d", host, (int)getpid());
    } else {
        snprintf(id, sizeof(id), "%s", c->worker_id);
    }
    if ((err = kt_remote_connect(rt, c->url, KT_WORKERS_NAME, &a.registry)) !=
            KT_OK ||
        (err = kt_remote_connect(rt, c->url, KT_OPS_NAME, &a.ops)) != KT_OK ||
        (err = kt_remote_connect(rt, c->url, KT_PERSIST_NAME,
                                 &a.persistence)) != KT_OK) {
        return err;
    }
    a.worker_id = id;
    a.capabilities = c->capabilities;
    a.slots = c->slots;
    a.data_dir = c->data_dir;
    a.heartbeat_ms = c->heartbeat_ms;
    a.heartbeat_misses = c->heartbeat_misses;
    a.shutdown_ms = c->shutdown_ms;
    a.parent_pid = c->parent_pid;
    a.on_exit = wp_on_exit;
    a.exit_arg = exit_fd;
    a.hook = c->hook;
    a.hook_arg = c->hook_arg;
    if ((err = kt_spawn(rt, &wk_agent_ops, &a, &so, agentp)) == KT_OK) {
        kt_log(KT_LOG_NOTICE, "worker",
               "event=start worker=%s backend=%s pid=%d", id, c->url,
               (int)getpid());
    }
    return err;
}

static void
wp_signal(kt_runtime *rt, kt_aid agent)
{
    kt_msg *m;

    if (kt_msg_alloc(&m, KT_WK_AGENT_SHUTDOWN, 0) != KT_OK) {
        return;
    }
    if (kt_runtime_send(rt, agent, m) != KT_OK) {
        kt_msg_free(m);
    }
}

// Waits for the agent's exit code; signals start the graceful shutdown.
static int
wp_loop(kt_runtime *rt, kt_aid agent, int sfd, int exit_rd)
{
    struct pollfd p[2] = {{.fd = sfd, .events = POLLIN},
                          {.fd = exit_rd, .events = POLLIN}};
    int signals = 0;

    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return 1;
        }
        if (p[1].revents != 0) {
            unsigned char c = 1;
            return read(exit_rd, &c, 1) == 1 ? c : 1;
        }
        if (p[0].revents != 0) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si)) {
                continue;
            }
            if (++signals > 1) {
                kt_log(KT_LOG_WARN, "worker", "event=second_signal exit=1");
                return 1;
            }
            kt_log(KT_LOG_NOTICE, "worker", "event=signal sig=%u",
                   si.ssi_signo);
            wp_signal(rt, agent);
        }
    }
}

int
kt_worker_main(const kt_worker_main_cfg *c)
{
    kt_runtime_cfg rc = {.threads = c->threads > 0 ? c->threads : 2};
    kt_runtime *rt = NULL;
    sigset_t set;
    int pfd[2], sfd, code = 1;
    kt_aid agent = 0;

    if (c == NULL || c->url == NULL) {
        return 64;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    // Blocked before any thread exists, so only signalfd sees them.
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
        (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
        return 1;
    }
    (void)signal(SIGPIPE, SIG_IGN);
    if (pipe(pfd) != 0) {
        close(sfd);
        return 1;
    }
    if (kt_runtime_start(&rt, &rc) != KT_OK) {
        goto close_fds;
    }
    if (wp_start(rt, c, &pfd[1], &agent) != KT_OK) {
        fprintf(stderr, "Error: cannot start the worker (backend %s)\n",
                c->url);
        goto stop;
    }
    code = wp_loop(rt, agent, sfd, pfd[0]);
stop:
    kt_runtime_stop(rt);
close_fds:
    close(pfd[0]);
    close(pfd[1]);
    close(sfd);
    return code;
}
