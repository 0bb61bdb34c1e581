// kt_stress_runtime: a plain-main race hunt for TSan (Criterion cannot run
// under TSan). Storms of relayed messages across threads, blocking asks from
// outside threads, actors spawning, linking and killing each other, and
// repeating timers; then a stop with everything in flight. Exits non-zero
// on any lost or leaked message.
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kt/kt.h>

#include "base/alloc.h"

#define NRELAY    2000
#define NASKERS   2
#define NASKS     500
#define NSPAWNERS 50

enum { T_HOP = 100, T_SPAWN = 101, T_PING = 102 };

static kt_aid relays[NRELAY];
static atomic_long hops, spawned, ticks, downs;

static void
check(kt_err rv, const char *what)
{
    if (rv != KT_OK) {
        fprintf(stderr, "stress: %s: %s\n", what, kt_strerror(rv));
        exit(1);
    }
}

static kt_err
relay_handle(void *state, kt_actor *self, kt_msg *msg)
{
    uint64_t *rng = state;
    uint32_t h;
    kt_err rv = KT_OK;

    if (kt_msg_type(msg) != T_HOP) {
        atomic_fetch_add(kt_msg_type(msg) == KT_MSG_DOWN ? &downs : &ticks, 1);
        kt_msg_free(msg); // a tick or a down
        return KT_OK;
    }
    memcpy(&h, kt_msg_cbody(msg), sizeof(h));
    atomic_fetch_add_explicit(&hops, 1, memory_order_relaxed);
    if (h-- == 0) {
        kt_msg_free(msg);
        return KT_OK;
    }
    memcpy(kt_msg_body(msg), &h, sizeof(h));
    *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
    rv = kt_send(self, relays[(*rng >> 33) % NRELAY], msg);
    if (rv == KT_EAGAIN || rv == KT_ENOENT) {
        rv = kt_send(self, kt_self(self), msg); // keep it alive here
    }
    if (rv != KT_OK) {
        kt_msg_free(msg);
    }
    return rv;
}

static kt_err
relay_init(void *state, kt_actor *self, const void *cfg)
{
    uint64_t *rng = state;
    uint64_t id;

    (void)cfg;
    *rng = kt_self(self);
    // Every 16th relay ticks, to mix timers into the storm.
    if (kt_self(self) % 16 == 0) {
        return kt_timer_start(self, 1, true, 1, &id);
    }
    return KT_OK;
}

static const kt_actor_ops relay_ops = {.name = "relay",
                                       .state_size = sizeof(uint64_t),
                                       .init = relay_init,
                                       .handle = relay_handle};

static kt_err
echo_handle(void *state, kt_actor *self, kt_msg *msg)
{
    (void)state;
    if (kt_reply(self, msg, msg) != KT_OK) {
        kt_msg_free(msg);
    }
    return KT_OK;
}

static const kt_actor_ops echo_ops = {.name = "echo", .handle = echo_handle};

// spawner: on T_SPAWN spawns a child (init runs on this thread, the child
// may live on another), links and monitors it, then kills it.
static kt_err
spawner_handle(void *state, kt_actor *self, kt_msg *msg)
{
    kt_aid child;
    kt_err rv;

    (void)state;
    if (kt_msg_type(msg) == T_SPAWN) {
        rv = kt_spawn(kt_actor_runtime(self), &relay_ops, NULL, NULL, &child);
        if (rv == KT_OK) {
            atomic_fetch_add(&spawned, 1);
            // The child may be gone already (KT_ENOENT): both are fine.
            kt_err m1 = kt_monitor(self, child);
            kt_err m2 = kt_link(self, child);
            kt_err m3 = kt_kill(kt_actor_runtime(self), child); // normal
            assert(m1 == KT_OK && (m2 == KT_OK || m2 == KT_ENOENT) &&
                   (m3 == KT_OK || m3 == KT_ENOENT));
            (void)m1, (void)m2, (void)m3;
        }
    } else if (kt_msg_type(msg) == KT_MSG_DOWN) {
        atomic_fetch_add(&downs, 1);
    }
    kt_msg_free(msg);
    return KT_OK;
}

static const kt_actor_ops spawner_ops = {.name = "spawner",
                                         .handle = spawner_handle};

typedef struct asker_arg {
    kt_runtime *rt;
    kt_aid echo; // a local echo, or a proxy to a remote one
    long ok;
} asker_arg;

static void *
asker_main(void *p)
{
    asker_arg *a = p;

    for (int i = 0; i < NASKS; i++) {
        kt_msg *m, *rep = NULL;
        check(kt_msg_alloc(&m, T_PING, 16), "alloc");
        memset(kt_msg_body(m), i & 0xff, 16);
        if (kt_runtime_ask(a->rt, a->echo, m, 10000, &rep) == KT_OK) {
            a->ok += kt_msg_len(rep) == 16;
            kt_msg_free(rep);
        } else {
            kt_msg_free(m);
        }
    }
    return NULL;
}

int
main(void)
{
    kt_runtime_cfg cfg = {.threads = 2};
    pthread_t th[NASKERS];
    asker_arg args[NASKERS];
    kt_aid echo, proxy, spawners[NSPAWNERS];
    kt_spawn_opts named = {.name = "echo"};
    kt_runtime *rt = NULL, *peer = NULL;
    char url[64];
    kt_msg *m;

    // A second runtime in this process, reached over ipc through a proxy:
    // the remote paths (listener, stubs, proxy batches) race too.
    snprintf(url, sizeof(url), "ipc:///tmp/kt-stress-%d.ipc", (int)getpid());
    check(kt_runtime_start(&peer, &cfg), "start peer");
    check(kt_spawn(peer, &echo_ops, NULL, &named, &echo), "spawn peer echo");
    check(kt_runtime_listen(peer, url), "listen");
    check(kt_runtime_start(&rt, &cfg), "start");
    check(kt_remote_connect(rt, url, "echo", &proxy), "connect");
    for (int i = 0; i < NRELAY; i++) {
        check(kt_spawn(rt, &relay_ops, NULL, NULL, &relays[i]), "spawn");
    }
    for (int i = 0; i < NSPAWNERS; i++) {
        check(kt_spawn(rt, &spawner_ops, NULL, NULL, &spawners[i]), "spawn");
    }
    check(kt_spawn(rt, &echo_ops, NULL, NULL, &echo), "spawn echo");
    for (int i = 0; i < NASKERS; i++) {
        args[i] = (asker_arg){.rt = rt, .echo = i == 0 ? echo : proxy};
        pthread_create(&th[i], NULL, asker_main, &args[i]);
    }
    for (int i = 0; i < NRELAY; i++) {
        uint32_t h = 200;
        check(kt_msg_alloc(&m, T_HOP, sizeof(h)), "alloc");
        memcpy(kt_msg_body(m), &h, sizeof(h));
        check(kt_runtime_send(rt, relays[i], m), "send");
    }
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < NSPAWNERS; i++) {
            check(kt_msg_alloc(&m, T_SPAWN, 0), "alloc");
            if (kt_runtime_send(rt, spawners[i], m) != KT_OK) {
                kt_msg_free(m);
            }
        }
    }
    for (int i = 0; i < NASKERS; i++) {
        pthread_join(th[i], NULL);
        if (args[i].ok != NASKS) {
            fprintf(stderr, "stress: %ld of %d asks answered\n", args[i].ok,
                    NASKS);
            return 1;
        }
    }
    kt_runtime_stop(rt); // relays are still hopping
    kt_runtime_stop(peer);
    unlink(url + strlen("ipc://"));
    printf("stress: hops=%ld spawned=%ld downs=%ld ticks=%ld live=%lld\n",
           atomic_load(&hops), atomic_load(&spawned), atomic_load(&downs),
           atomic_load(&ticks), (long long)kt__alloc_live());
    return kt__alloc_live() == 0 ? 0 : 1;
}
