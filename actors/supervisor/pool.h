// pool.h: local worker processes. kt_wpool spawns children with
// posix_spawn (own process group, default signals, empty mask) and watches
// each through a pidfd on a reaper thread, so an exit -- SIGKILL included
// -- is reported within milliseconds, without SIGCHLD handlers. Knows
// nothing about actors: the exit callback decides what to do.
#ifndef KT_SUPERVISOR_POOL_H
#define KT_SUPERVISOR_POOL_H

#include <stdint.h>
#include <sys/types.h>

#include <kt/err.h>

typedef struct kt_wpool kt_wpool;

typedef struct kt_wpool_exit {
    pid_t pid;
    const char *tag; // the tag given at spawn (borrowed for the call)
    int exit_code;   // -1 when killed by a signal
    int signal;      // 0 when it exited
    int64_t at_ns;   // CLOCK_MONOTONIC when the reaper saw it
} kt_wpool_exit;

// Called on the reaper thread, once per child, after it was reaped.
typedef void (*kt_wpool_exit_fn)(void *arg, const kt_wpool_exit *e);

// kt_wpool_open starts the reaper thread. Errors: KT_ENOMEM, KT_ESYSERR.
KT_NODISCARD kt_err kt_wpool_open(kt_wpool **pp, kt_wpool_exit_fn fn,
                                  void *arg);
// kt_wpool_spawn starts argv[0] (a path) with argv and the current
// environment; tag (copied) names the child in exit reports. Errors:
// KT_EINVAL, KT_ENOMEM, KT_ESYSERR|errno (spawn or pidfd_open failed).
KT_NODISCARD kt_err kt_wpool_spawn(kt_wpool *p, char *const argv[],
                                   const char *tag, pid_t *pidp);
// kt_wpool_kill sends sig to a live child of the pool. KT_ENOENT if the
// pool has no such child (already reaped).
KT_NODISCARD kt_err kt_wpool_kill(kt_wpool *p, pid_t pid, int sig);
// kt_wpool_count: live children.
uint32_t kt_wpool_count(kt_wpool *p);
// kt_wpool_wait_empty waits until no child is left or timeout_ms passes;
// KT_ETIMEDOUT then.
KT_NODISCARD kt_err kt_wpool_wait_empty(kt_wpool *p, uint32_t timeout_ms);
// kt_wpool_detach stops watching: children keep running (they notice the
// backend is gone and drain, see docs/actors/workers.md); frees p.
void kt_wpool_detach(kt_wpool *p);
// kt_wpool_quiesce stops the reaper thread (no exit callback runs after it
// returns) but keeps p valid for kill/count until detach or close.
void kt_wpool_quiesce(kt_wpool *p);
// kt_wpool_close SIGKILLs and reaps children still alive (their exits are
// not reported), stops the thread and frees p. NULL is a no-op.
void kt_wpool_close(kt_wpool *p);

// kt_mono_ns: CLOCK_MONOTONIC in ns (shared by detection timestamps).
int64_t kt_mono_ns(void);

#endif // KT_SUPERVISOR_POOL_H
