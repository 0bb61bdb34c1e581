// sup_admin.c: the supervisor's status report (tests, benchmarks) and its
// shutdown (backend SIGTERM: no more respawns or restarts, workers told).
#include <ktpb/v1/workers.pb-c.h>
#include <stdlib.h>

#include <kt/log.h>

#include "supervisor/sup_int.h"
#include "workers/wk_msg.h"

void
kt__sup_status(supervisor *s, const kt_msg *m)
{
    Ktpb__V1__SupervisorStatusReply rep;
    Ktpb__V1__SupervisedOp *v = NULL, **pv = NULL;
    size_t n = 0, i = 0;

    ktpb__v1__supervisor_status_reply__init(&rep);
    for (sup_op *o = s->ops_list; o != NULL; o = o->next) {
        n++;
    }
    if (n > 0 && ((v = calloc(n, sizeof(*v))) == NULL ||
                  (pv = calloc(n, sizeof(*pv))) == NULL)) {
        rep.status = KT_ENOMEM;
        n = 0;
    }
    for (sup_op *o = s->ops_list; o != NULL && i < n; o = o->next, i++) {
        ktpb__v1__supervised_op__init(&v[i]);
        v[i].op_id = o->op_id;
        v[i].restarts = o->restarts;
        v[i].last_error = o->last_error;
        v[i].next_restart_ms = o->next_ms;
        v[i].gave_up = o->gave_up;
        v[i].lost_at_ns = o->lost_at_ns;
        v[i].resumed_at_ns = o->resumed_at_ns;
        pv[i] = &v[i];
    }
    rep.ops = pv;
    rep.n_ops = n;
    for (uint32_t k = 0; k < s->cfg.local_workers; k++) {
        rep.local_workers += s->slots[k].pid != 0 ? 1 : 0;
    }
    rep.spawned = s->spawned;
    rep.restarts = s->restarts;
    rep.reclaim_pending = s->reclaim_pending;
    if (kt__wk_reply(s->self, m, KT_SUP_STATUS_REPLY, &rep.base) != KT_OK) {
        kt_log(KT_LOG_NOTICE, "supervisor", "event=status_reply_lost");
    }
    free(v);
    free(pv);
}

static void
sup_cancel(supervisor *s, uint64_t timer)
{
    if (kt_timer_cancel(s->self, timer) != KT_OK) {
        kt_log(KT_LOG_DEBUG, "supervisor", "event=timer_gone");
    }
}

void
kt__sup_shutdown(supervisor *s, const kt_msg *m)
{
    kt_msg *n;

    s->shutting = true;
    for (uint32_t k = 0; k < s->cfg.local_workers; k++) {
        if (s->slots[k].timer != 0) {
            sup_cancel(s, s->slots[k].timer);
            s->slots[k].timer = 0;
        }
    }
    for (sup_op *o = s->ops_list; o != NULL; o = o->next) {
        if (o->next_ms != 0) {
            sup_cancel(s, o->timer);
            o->next_ms = 0;
        }
    }
    if (kt_msg_alloc(&n, KT_WK_NOTIFY_SHUTDOWN, 0) == KT_OK &&
        kt_send(s->self, s->registry, n) != KT_OK) {
        kt_msg_free(n);
    }
    if (kt_msg_corr(m) != 0) {
        (void)kt__wk_status(s->self, m, KT_OK, NULL, NULL);
    }
}
