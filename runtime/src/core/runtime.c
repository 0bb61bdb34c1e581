// kt_runtime_start / kt_runtime_stop and the process's list of runtimes.
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <kt/actor.h>
#include <kt/log.h>

#include "base/alloc.h"
#include "core/actor.h"
#include "core/remote.h"
#include "core/sched.h"

static atomic_uint_fast64_t next_id = 1;
static pthread_mutex_t rt_list_mtx = PTHREAD_MUTEX_INITIALIZER;
static kt_runtime *rt_list;

uint64_t
kt__next_id(void)
{
    return atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
}

kt_err
kt__runtime_find(kt_aid to, kt_runtime **rtp)
{
    kt_err err = KT_ENOENT;

    pthread_mutex_lock(&rt_list_mtx);
    for (kt_runtime *rt = rt_list; rt != NULL; rt = rt->next) {
        kt__reg_rdlock(&rt->reg);
        if (kt__reg_find(&rt->reg, to) != NULL) {
            *rtp = rt;
            err = KT_OK;
        }
        kt__reg_unlock(&rt->reg);
        if (err == KT_OK) {
            break;
        }
    }
    pthread_mutex_unlock(&rt_list_mtx);
    return err;
}

static void
runtime_free_scheds(kt_runtime *rt)
{
    for (int i = 0; i < rt->nsched; i++) {
        if (rt->scheds[i] != NULL) {
            kt__sched_shutdown(rt->scheds[i]);
        }
    }
    for (kt__sched *s = rt->dedicated; s != NULL; s = s->next) {
        kt__sched_shutdown(s);
    }
    for (int i = 0; i < rt->nsched; i++) {
        if (rt->scheds[i] != NULL) {
            kt__sched_join(rt->scheds[i]);
        }
    }
    for (kt__sched *s = rt->dedicated; s != NULL; s = s->next) {
        kt__sched_join(s);
    }
    for (int i = 0; i < rt->nsched; i++) {
        if (rt->scheds[i] != NULL) {
            kt__sched_free(rt->scheds[i]);
        }
    }
    while (rt->dedicated != NULL) {
        kt__sched *s = rt->dedicated;
        rt->dedicated = s->next;
        kt__sched_free(s);
    }
    kt__free(rt->scheds, (size_t)rt->nsched * sizeof(*rt->scheds));
}

static void
runtime_free(kt_runtime *rt)
{
    runtime_free_scheds(rt);
    kt__reg_fini(&rt->reg);
    pthread_cond_destroy(&rt->cv);
    pthread_mutex_destroy(&rt->mtx);
    kt__free(rt, sizeof(*rt));
}

kt_err
kt_runtime_start(kt_runtime **rtp, const kt_runtime_cfg *cfg)
{
    kt_runtime *rt;
    kt_err err;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cfg != NULL && cfg->threads > 0 ? cfg->threads
                                            : (ncpu > 0 ? (int)ncpu : 1);

    if (rtp == NULL || (cfg != NULL && cfg->threads < 0)) {
        return KT_EINVAL;
    }
    kt__loop_global_init();
    if ((rt = kt__zalloc(sizeof(*rt))) == NULL) {
        return KT_ENOMEM;
    }
    rt->mailbox_limit =
        cfg != NULL && cfg->mailbox_limit > 0 ? cfg->mailbox_limit : 65536;
    rt->keepalive_ms =
        cfg != NULL && cfg->keepalive_ms > 0 ? cfg->keepalive_ms : 1000;
    pthread_mutex_init(&rt->mtx, NULL);
    pthread_cond_init(&rt->cv, NULL);
    atomic_init(&rt->rr, 0);
    if ((err = kt__reg_init(&rt->reg)) != KT_OK) {
        goto fail_reg;
    }
    if ((rt->scheds = kt__zalloc((size_t)n * sizeof(*rt->scheds))) == NULL) {
        err = KT_ENOMEM;
        goto fail;
    }
    rt->nsched = n;
    for (int i = 0; i < n; i++) {
        if ((err = kt__sched_start(rt, false, &rt->scheds[i])) != KT_OK) {
            goto fail;
        }
    }
    pthread_mutex_lock(&rt_list_mtx);
    rt->next = rt_list;
    rt_list = rt;
    pthread_mutex_unlock(&rt_list_mtx);
    kt_log(KT_LOG_INFO, "runtime", "event=start threads=%d mailbox_limit=%zu",
           n, rt->mailbox_limit);
    *rtp = rt;
    return KT_OK;
fail:
    runtime_free(rt);
    return err;
fail_reg:
    pthread_cond_destroy(&rt->cv);
    pthread_mutex_destroy(&rt->mtx);
    kt__free(rt, sizeof(*rt));
    return err;
}

void
kt_runtime_stop(kt_runtime *rt)
{
    if (rt == NULL) {
        return;
    }
    pthread_mutex_lock(&rt->mtx);
    rt->stopping = true;
    while (rt->spawning > 0) {
        pthread_cond_wait(&rt->cv, &rt->mtx);
    }
    pthread_mutex_unlock(&rt->mtx);
    pthread_mutex_lock(&rt_list_mtx);
    for (kt_runtime **pp = &rt_list; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == rt) {
            *pp = rt->next;
            break;
        }
    }
    pthread_mutex_unlock(&rt_list_mtx);
    kt__remote_close_all(rt); // no more input from other processes
    runtime_free(rt);         // stops every actor, joins every thread
    kt_log(KT_LOG_INFO, "runtime", "event=stop");
}
