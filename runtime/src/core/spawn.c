// kt_spawn, kt_kill, kt_lookup: creating, stopping and finding actors.
#include <inttypes.h>
#include <string.h>

#include <kt/actor.h>
#include <kt/log.h>

#include "base/alloc.h"
#include "core/actor.h"
#include "core/msg.h"
#include "core/sched.h"

static kt_err
spawn_alloc(kt_runtime *rt, const kt_actor_ops *ops, const kt_spawn_opts *opts,
            kt_actor **ap)
{
    kt_actor *a;

    if ((a = kt__zalloc(sizeof(*a))) == NULL) {
        return KT_ENOMEM;
    }
    if ((a->state = kt__zalloc(ops->state_size)) == NULL) {
        goto free_actor;
    }
    if (opts != NULL && opts->name != NULL &&
        (a->ep.name = kt__strdup(opts->name)) == NULL) {
        goto free_state;
    }
    a->rt = rt;
    a->ops = ops;
    a->ep.ops = &kt__actor_ep_ops;
    a->ep.byid.id = kt__next_id();
    atomic_init(&a->queued, 0);
    pthread_mutex_init(&a->mtx, NULL);
    *ap = a;
    return KT_OK;
free_state:
    kt__free(a->state, ops->state_size);
free_actor:
    kt__free(a, sizeof(*a));
    return KT_ENOMEM;
}

static void
spawn_undo(kt_actor *a)
{
    pthread_mutex_destroy(&a->mtx);
    kt__strfree((char *)(uintptr_t)a->ep.name);
    kt__free(a->state, a->ops->state_size);
    kt__free(a, sizeof(*a));
}

// Pick a thread and register a; counts the spawn in progress.
static kt_err
spawn_place(kt_runtime *rt, kt_actor *a, bool dedicated)
{
    kt__sched *s = NULL;
    kt_err err;

    pthread_mutex_lock(&rt->mtx);
    if (rt->stopping) {
        pthread_mutex_unlock(&rt->mtx);
        return KT_ECLOSED;
    }
    rt->spawning++;
    pthread_mutex_unlock(&rt->mtx);
    if (dedicated) {
        err = kt__sched_start(rt, true, &s);
    } else {
        unsigned i = atomic_fetch_add(&rt->rr, 1);
        s = rt->scheds[i % (unsigned)rt->nsched];
        err = KT_OK;
    }
    if (err == KT_OK) {
        a->sched = s;
        kt__reg_wrlock(&rt->reg);
        err = kt__reg_add(&rt->reg, &a->ep);
        kt__reg_unlock(&rt->reg);
    }
    pthread_mutex_lock(&rt->mtx);
    if (dedicated && s != NULL) {
        s->next = rt->dedicated; // joined by kt_runtime_stop
        rt->dedicated = s;
    }
    if (err != KT_OK) {
        rt->spawning--;
        pthread_cond_broadcast(&rt->cv);
    }
    pthread_mutex_unlock(&rt->mtx);
    if (err != KT_OK && dedicated && s != NULL) {
        kt__sched_shutdown(s); // no actor: let the thread end
    }
    return err;
}

kt_err
kt_spawn(kt_runtime *rt, const kt_actor_ops *ops, const void *cfg,
         const kt_spawn_opts *opts, kt_aid *aidp)
{
    kt_actor *a;
    kt_err err;

    if (rt == NULL || ops == NULL || ops->handle == NULL || aidp == NULL ||
        ops->name == NULL ||
        (opts != NULL && opts->name != NULL &&
         (opts->name[0] == '\0' || strlen(opts->name) > KT__NAME_MAX))) {
        return KT_EINVAL;
    }
    if ((err = spawn_alloc(rt, ops, opts, &a)) != KT_OK) {
        return err;
    }
    if ((err = spawn_place(rt, a, opts != NULL && opts->dedicated)) != KT_OK) {
        spawn_undo(a);
        return err;
    }
    // init runs here, on the caller's thread; the actor's scheduler queues
    // its mail but runs nothing until the activate request below.
    if (ops->init != NULL && (err = ops->init(a->state, a, cfg)) != KT_OK) {
        kt_log(KT_LOG_WARN, "actor",
               "event=init_failed actor=%s#%" PRIu64 " err=\"%s\"", ops->name,
               a->ep.byid.id, kt_strerror(err));
        kt__reg_wrlock(&rt->reg);
        kt__reg_del(&rt->reg, &a->ep); // the name is free again now
        kt__reg_unlock(&rt->reg);
        kt__sched_post(a, KT__CTL_REAP, err, 0);
    } else {
        *aidp = a->ep.byid.id;
        kt__sched_post(a, KT__CTL_ACTIVATE, KT_OK, 0);
    }
    pthread_mutex_lock(&rt->mtx);
    rt->spawning--;
    pthread_cond_broadcast(&rt->cv);
    pthread_mutex_unlock(&rt->mtx);
    return err;
}

kt_err
kt_kill(kt_runtime *rt, kt_aid aid)
{
    kt_actor *a;

    if (rt == NULL || aid == 0) {
        return KT_EINVAL;
    }
    kt__reg_rdlock(&rt->reg);
    if ((a = kt__actor_of(kt__reg_find(&rt->reg, aid))) != NULL) {
        kt__sched_post(a, KT__CTL_KILL, KT_OK, 0);
    }
    kt__reg_unlock(&rt->reg);
    return a != NULL ? KT_OK : KT_ENOENT;
}

kt_err
kt_lookup(kt_runtime *rt, const char *name, kt_aid *aidp)
{
    kt__ep *ep;

    if (rt == NULL || name == NULL || aidp == NULL) {
        return KT_EINVAL;
    }
    kt__reg_rdlock(&rt->reg);
    if ((ep = kt__reg_find_name(&rt->reg, name)) != NULL) {
        *aidp = ep->byid.id;
    }
    kt__reg_unlock(&rt->reg);
    return ep != NULL ? KT_OK : KT_ENOENT;
}
