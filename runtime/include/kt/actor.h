// kt/actor.h: the runtime, actors, sends, asks, monitors, links and timers.
//
// An actor is a const ops table plus private state the runtime allocates.
// Its callbacks never run concurrently. Each actor is pinned to one
// scheduler thread (a libevent loop); `dedicated` actors get a thread of
// their own so they may compute or block (training, persistence) without
// stalling others. Messages are bytes, never pointers into someone's state,
// so a local send and a send to another process are the same thing.
#ifndef KT_ACTOR_H
#define KT_ACTOR_H

#include <stdbool.h>
#include <stdint.h>

#include <kt/err.h>
#include <kt/msg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kt_runtime kt_runtime;
typedef struct kt_actor kt_actor;

typedef struct kt_actor_ops {
    const char *name;  // short, used in logs
    size_t state_size; // private state, zeroed before init
    // init: runs once, before any other callback. cfg is borrowed for this
    // call only. On failure it undoes itself; fini is not called.
    kt_err (*init)(void *state, kt_actor *self, const void *cfg);
    // handle: owns msg (free it or send it on). Must not block unless the
    // actor is dedicated. A returned error stops the actor with that reason.
    kt_err (*handle)(void *state, kt_actor *self, kt_msg *msg);
    // stop: cancel outstanding work; must not block. May be NULL.
    void (*stop)(void *state, kt_actor *self);
    // fini: once, after stop, when no callback can run. May be NULL.
    void (*fini)(void *state);
} kt_actor_ops;

typedef struct kt_runtime_cfg {
    int threads;          // scheduler threads; 0 = number of cores
    size_t mailbox_limit; // messages queued per actor; 0 = 65536
    // Keepalive of proxies (kt_remote_connect), in ms: a proxy that sent
    // something and heard nothing back for one to two periods pings its
    // peer's listener; with no answer for 10 more periods it drops the
    // connection and dials again. 0 = 1000.
    uint32_t keepalive_ms;
} kt_runtime_cfg;

typedef struct kt_spawn_opts {
    const char *name; // registered name (unique, copied); NULL = anonymous
    bool dedicated;   // give the actor a thread and loop of its own
} kt_spawn_opts;

// kt_process_tune sets process-wide allocator options for a process whose
// actors pass large messages (checkpoints of MiBs): glibc's malloc would
// map every such buffer afresh and unmap it on free, so each copy of a
// message paid for its pages again (0.8 ms of a 1 MiB checkpoint save).
// Freed large buffers now stay in the heap for reuse (up to 256 MiB kept).
// Call once at start, before threads; a no-op on other C libraries.
KT_API void kt_process_tune(void);

// kt_runtime_start starts the scheduler threads. cfg may be NULL (defaults).
KT_API KT_NODISCARD kt_err kt_runtime_start(kt_runtime **rtp,
                                            const kt_runtime_cfg *cfg);
// kt_runtime_stop stops every actor (stop, then fini), frees messages still
// queued, closes sockets, joins threads and frees rt. Call it from outside
// the runtime's threads, once.
KT_API void kt_runtime_stop(kt_runtime *rt);

// kt_spawn creates an actor and runs its init before returning. From
// outside the runtime or from another actor. Errors: KT_ESTATE (name
// taken), KT_ECLOSED (runtime stopping), KT_ENOMEM, or init's error.
KT_API KT_NODISCARD kt_err kt_spawn(kt_runtime *rt, const kt_actor_ops *ops,
                                    const void *cfg, const kt_spawn_opts *opts,
                                    kt_aid *aidp);
// kt_lookup finds a registered name. Errors: KT_ENOENT.
KT_API KT_NODISCARD kt_err kt_lookup(kt_runtime *rt, const char *name,
                                     kt_aid *aidp);
// kt_kill asks an actor to stop with reason KT_OK (its monitors see a normal
// down). Asynchronous. Errors: KT_ENOENT.
KT_API KT_NODISCARD kt_err kt_kill(kt_runtime *rt, kt_aid aid);

// Inside callbacks.
KT_API kt_aid kt_self(const kt_actor *self);
KT_API kt_runtime *kt_actor_runtime(kt_actor *self);
KT_API const char *kt_actor_name(const kt_actor *self);

// kt_send delivers msg to `to` (fire and forget). self may be NULL from
// outside any actor (the sender id is then 0). On KT_OK the runtime owns
// msg; on error the caller still does. Errors: KT_ENOENT (no such actor),
// KT_EAGAIN (its mailbox is full), KT_ECLOSED.
KT_API KT_NODISCARD kt_err kt_send(kt_actor *self, kt_aid to, kt_msg *msg);
// kt_runtime_send is kt_send from outside any actor when the caller has the
// runtime at hand (kt_send(NULL, ...) must first find the runtime that owns
// `to`). Ownership and errors as kt_send.
KT_API KT_NODISCARD kt_err kt_runtime_send(kt_runtime *rt, kt_aid to,
                                           kt_msg *msg);
// kt_ask sends a request with a fresh correlation id (*corrp). The reply
// arrives later as an ordinary message with kt_msg_corr() == *corrp, or a
// KT_MSG_TIMEOUT message with that corr after timeout_ms (0 = no deadline);
// exactly one of the two. A reply after the timeout is dropped. Ownership
// as kt_send.
KT_API KT_NODISCARD kt_err kt_ask(kt_actor *self, kt_aid to, kt_msg *msg,
                                  uint32_t timeout_ms, uint64_t *corrp);
// kt_reply sends rep to the sender of req with req's correlation id. req is
// only read (it may even be rep itself, for an echo).
KT_API KT_NODISCARD kt_err kt_reply(kt_actor *self, const kt_msg *req,
                                    kt_msg *rep);
// kt_reply_to answers a request later: keep its sender and corr.
KT_API KT_NODISCARD kt_err kt_reply_to(kt_actor *self, kt_aid to, uint64_t corr,
                                       kt_msg *rep);
// kt_exit stops self after the current callback; monitors see `reason`.
KT_API void kt_exit(kt_actor *self, kt_err reason);
// kt_monitor: when target stops, self receives KT_MSG_DOWN (ktpb.v1.Down)
// with the reason. A target already gone gives a down with KT_ENOENT. A
// target that is a sender in another process (the sender of a message that
// came over kt_runtime_listen) is down, with KT_ECLOSED, when its
// connection closes: the process died or the network between them broke.
KT_API KT_NODISCARD kt_err kt_monitor(kt_actor *self, kt_aid target);
// kt_link: if either actor stops with an error, the other is stopped with
// the same reason (a normal stop does not propagate).
KT_API KT_NODISCARD kt_err kt_link(kt_actor *self, kt_aid other);
// kt_timer_start: after ms (and every ms if repeat) self receives
// KT_MSG_TIMER with kt_msg_corr() == tag. *idp names it for cancel.
KT_API KT_NODISCARD kt_err kt_timer_start(kt_actor *self, uint32_t ms,
                                          bool repeat, uint64_t tag,
                                          uint64_t *idp);
KT_API KT_NODISCARD kt_err kt_timer_cancel(kt_actor *self, uint64_t id);

// Outside actors (main, tests, embedding programs).
// kt_runtime_ask sends req and blocks the calling thread (which must not be
// a runtime thread) until the reply (*repp, caller owns it) or timeout
// (KT_ETIMEDOUT; timeout_ms 0 = no deadline). Ownership of req as kt_send.
// Errors also: KT_ESTATE when called on a runtime thread.
KT_API KT_NODISCARD kt_err kt_runtime_ask(kt_runtime *rt, kt_aid to,
                                          kt_msg *req, uint32_t timeout_ms,
                                          kt_msg **repp);

// Other processes. kt_runtime_listen makes this runtime's named actors
// reachable at url (ipc://path, tcp://host:port, inproc://name).
// kt_remote_connect spawns a local proxy actor (*aidp) that forwards every
// message it receives to the actor registered as `name` at url; replies come
// back through it, so kt_send/kt_ask to the proxy work exactly as local ones.
// The connection redials on its own, and is dialed again when it stays
// silent (kt_runtime_cfg.keepalive_ms): messages already sent into a
// connection that leads nowhere are lost, so a caller that must be answered
// asks again after a timeout. An owner that knows sooner can send the
// proxy a KT_MSG_REDIAL. While it is down
// (or slower than its senders) the proxy stops taking mail: messages wait in
// its mailbox, sends past the mailbox limit fail with KT_EAGAIN, and asks time
// out. Frames the peer cannot decode or route are dropped there with a log
// line.
KT_API KT_NODISCARD kt_err kt_runtime_listen(kt_runtime *rt, const char *url);
KT_API KT_NODISCARD kt_err kt_remote_connect(kt_runtime *rt, const char *url,
                                             const char *name, kt_aid *aidp);

#ifdef __cplusplus
}
#endif

#endif // KT_ACTOR_H
