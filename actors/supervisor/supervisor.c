// supervisor.c: the supervisor actor: a lost operation is failed (with the
// worker's loss as its error), then restarted from its last durable
// checkpoint after a backoff, while the restart policy allows; at start,
// running operations wait a grace period for their worker to re-register.
#include "supervisor/supervisor.h"

#include <inttypes.h>
#include <ktpb/v1/ops.pb-c.h>
#include <ktpb/v1/persist.pb-c.h>
#include <ktpb/v1/workers.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kt/log.h>

#include "operations/operations.h"
#include "persistence/persistence.h"
#include "supervisor/sup_int.h"
#include "workers/wk_msg.h"

#define SUP_OP_TAG 0x0b000000000ull // + n

kt_err
kt__sup_pend(supervisor *s, kt_aid to, uint32_t type, const ProtobufCMessage *m,
             uint32_t timeout, sup_kind kind, const char *op_id, bool orphan)
{
    sup_pend *p = calloc(1, sizeof(*p));
    sup_op *o;
    kt_err err;

    if (p == NULL) {
        return KT_ENOMEM;
    }
    if ((err = kt__wk_ask(s->self, to, type, m, timeout, &p->corr)) != KT_OK) {
        free(p);
        return err;
    }
    p->kind = kind;
    p->orphan = orphan;
    p->gen = (o = kt__sup_op_get(s, op_id, false)) != NULL ? o->fail_gen : 0;
    kt__wk_copy(p->op_id, sizeof(p->op_id), op_id);
    p->next = s->pends;
    s->pends = p;
    return KT_OK;
}

static sup_pend *
sup_pend_take(supervisor *s, uint64_t corr)
{
    for (sup_pend **pp = &s->pends; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->corr == corr) {
            sup_pend *p = *pp;
            *pp = p->next;
            return p;
        }
    }
    return NULL;
}

sup_op *
kt__sup_op_get(supervisor *s, const char *op_id, bool create)
{
    sup_op *o;

    for (o = s->ops_list; o != NULL; o = o->next) {
        if (strcmp(o->op_id, op_id) == 0) {
            return o;
        }
    }
    if (!create || (o = calloc(1, sizeof(*o))) == NULL) {
        return NULL;
    }
    kt__wk_copy(o->op_id, sizeof(o->op_id), op_id);
    o->tag = SUP_OP_TAG + ++s->tags;
    o->next = s->ops_list;
    s->ops_list = o;
    return o;
}

// sup_intent_done: the failure of generation gen is settled; its restart
// intent goes unless a newer failure (with an answer still to come) wrote
// it again meanwhile.
static void
sup_intent_done(supervisor *s, const sup_op *o, uint32_t gen)
{
    if (gen == o->fail_gen) {
        kt__sup_intent_clear(s, o->op_id);
    }
}

// sup_failed_again: record one more failure of o (its intent is written).
static void
sup_failed_again(supervisor *s, sup_op *o)
{
    o->fail_gen++;
    kt__sup_intent_set(s, o->op_id); // durable before the failure
}

// The failure is recorded: restart after a backoff, or leave it failed.
// An answer older than the latest failure decides nothing (gen).
static void
sup_decide(supervisor *s, sup_op *o, const Ktpb__V1__OperationRecord *rec,
           uint32_t gen)
{
    uint32_t delay = 0;
    int64_t now = kt__wk_now_ms();

    if (gen != o->fail_gen) {
        return; // the newer failure's answer decides
    }
    if (rec->status == KTPB__V1__OP_STATUS__OP_RESUMING) {
        return; // a resume or a boot-time failure is in flight: its
                // answer decides (the intent stays until then)
    }
    if (rec->status != KTPB__V1__OP_STATUS__OP_FAILED) {
        sup_intent_done(s, o, gen);
        return; // cancelled, completed or running again: nothing to do
    }
    o->restarts = rec->restart_count;
    kt__wk_copy(o->last_error, sizeof(o->last_error), rec->error);
    if (s->shutting ||
        !kt_restart_decide(&s->cfg.policy, &o->hist, rec->restart_count,
                           rec->started_at_ms, now, &s->rng, &delay)) {
        o->gave_up = true;
        sup_intent_done(s, o, gen);
        kt_log(KT_LOG_WARN, "supervisor",
               "event=give_up actor=supervisor op=%s restarts=%u "
               "error=\"%s\"",
               o->op_id, rec->restart_count, rec->error);
        return;
    }
    o->gave_up = false;
    o->next_ms = now + delay;
    if (kt_timer_start(s->self, delay > 0 ? delay : 1, false, o->tag,
                       &o->timer) != KT_OK) {
        kt_log(KT_LOG_ERR, "supervisor", "event=timer_failed op=%s", o->op_id);
        return;
    }
    kt_log(KT_LOG_NOTICE, "supervisor",
           "event=restart_scheduled actor=supervisor op=%s in_ms=%u "
           "restarts=%u",
           o->op_id, delay, rec->restart_count);
}

static void
sup_fail(supervisor *s, sup_op *o, const char *worker, const char *reason,
         bool orphan, bool own)
{
    Ktpb__V1__WorkerDone d;
    char err[300];

    ktpb__v1__worker_done__init(&d);
    if (own) {
        snprintf(err, sizeof(err), "%s", reason); // the operation's error
    } else if (orphan) {
        snprintf(err, sizeof(err), "Worker lost: %s", reason);
    } else {
        snprintf(err, sizeof(err), "Worker %s lost: %s", worker, reason);
    }
    d.op_id = o->op_id;
    d.attempt = o->attempt;
    d.status = KTPB__V1__OP_STATUS__OP_FAILED;
    d.error = err;
    kt__wk_copy(o->last_error, sizeof(o->last_error), err);
    sup_failed_again(s, o);
    if (kt__sup_pend(s, s->ops, KT_OPS_WORKER_DONE, &d.base, SUP_ASK_MS,
                     SP_FAIL, o->op_id, orphan) != KT_OK) {
        kt_log(KT_LOG_ERR, "supervisor", "event=fail_lost op=%s", o->op_id);
    }
}

void
kt__sup_fail_direct(supervisor *s, sup_op *o, const char *error)
{
    Ktpb__V1__OpTransitionRequest t;

    ktpb__v1__op_transition_request__init(&t);
    t.id = o->op_id;
    t.to = KTPB__V1__OP_STATUS__OP_FAILED;
    t.error = (char *)(uintptr_t)error;
    sup_failed_again(s, o);
    if (kt__sup_pend(s, s->persist, KT_PERSIST_OP_TRANSITION, &t.base,
                     SUP_ASK_MS, SP_FAIL_DIRECT, o->op_id, true) != KT_OK) {
        kt_log(KT_LOG_ERR, "supervisor", "event=fail_lost op=%s", o->op_id);
    }
}

static void
sup_lost(supervisor *s, const kt_msg *m)
{
    Ktpb__V1__WorkerLost *l =
        ktpb__v1__worker_lost__unpack(NULL, kt_msg_len(m), kt_msg_cbody(m));

    if (l == NULL) {
        return;
    }
    if (!l->op_failed && l->pid != 0) {
        kt__sup_reap_hung(s, l->pid); // a hung local process: end it
    }
    for (size_t i = 0; i < l->n_ops; i++) {
        sup_op *o = kt__sup_op_get(s, l->ops[i]->op_id, true);
        if (o == NULL) {
            continue;
        }
        o->attempt = l->ops[i]->attempt;
        o->lost_at_ns = l->detected_at_ns;
        kt__wk_copy(o->worker, sizeof(o->worker), l->worker_id);
        if (l->worker_id[0] == '\0' && s->reclaim_pending > 0) {
            s->reclaim_pending--;
        }
        sup_fail(s, o, l->worker_id, l->reason, l->worker_id[0] == '\0',
                 l->op_failed);
    }
    ktpb__v1__worker_lost__free_unpacked(l, NULL);
}

static void
sup_resume(supervisor *s, sup_op *o)
{
    Ktpb__V1__OpsResumeRequest r;

    ktpb__v1__ops_resume_request__init(&r);
    r.id = o->op_id;
    r.count_restart = true;
    o->next_ms = 0;
    if (kt__sup_pend(s, s->ops, KT_OPS_RESUME, &r.base, 0, SP_RESUME, o->op_id,
                     false) != KT_OK) {
        kt_log(KT_LOG_ERR, "supervisor", "event=resume_lost op=%s", o->op_id);
    }
}

void
kt__sup_get(supervisor *s, const char *op_id)
{
    Ktpb__V1__OpGetRequest g;

    ktpb__v1__op_get_request__init(&g);
    g.id = (char *)(uintptr_t)op_id;
    if (kt__sup_pend(s, s->persist, KT_PERSIST_OP_GET, &g.base, SUP_ASK_MS,
                     SP_GET, op_id, false) != KT_OK) {
        kt_log(KT_LOG_ERR, "supervisor", "event=get_lost op=%s", op_id);
    }
}

static void
sup_on_fail(supervisor *s, const sup_pend *p, const kt_msg *m)
{
    Ktpb__V1__OpsReply *r = NULL;
    sup_op *o = kt__sup_op_get(s, p->op_id, false);

    if (o == NULL) {
        return;
    }
    if (kt_msg_type(m) == KT_MSG_TIMEOUT ||
        (r = ktpb__v1__ops_reply__unpack(NULL, kt_msg_len(m),
                                         kt_msg_cbody(m))) == NULL) {
        kt__sup_get(s, o->op_id); // decide from what persistence says
        return;
    }
    if (r->status == KT_OK && r->op != NULL) {
        sup_decide(s, o, r->op, p->gen);
    } else if (r->status == KT_ESTATE && p->orphan) {
        // No job for it in this backend: it was running when the backend
        // stopped and no worker came back with it.
        kt__sup_fail_direct(s, o, o->last_error);
    } else if (r->status == KT_OK) {
        kt__sup_get(s, o->op_id);
    } else {
        sup_intent_done(s, o, p->gen); // ended meanwhile
    }
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
}

static void
sup_on_record(supervisor *s, const sup_pend *p, const kt_msg *m)
{
    Ktpb__V1__OpReply *r = NULL;
    sup_op *o = kt__sup_op_get(s, p->op_id, false);

    if (o != NULL && kt_msg_type(m) != KT_MSG_TIMEOUT &&
        (r = ktpb__v1__op_reply__unpack(NULL, kt_msg_len(m),
                                        kt_msg_cbody(m))) != NULL &&
        r->status == KT_OK && r->op != NULL) {
        sup_decide(s, o, r->op, p->gen);
    } else if (r != NULL) {
        kt_log(KT_LOG_WARN, "supervisor", "event=record_refused op=%s why=%s",
               p->op_id, r->message);
    }
    ktpb__v1__op_reply__free_unpacked(r, NULL);
}

static void
sup_on_resume(supervisor *s, const sup_pend *p, const kt_msg *m)
{
    Ktpb__V1__OpsReply *r = NULL;
    sup_op *o = kt__sup_op_get(s, p->op_id, false);

    if (o == NULL) {
        return;
    }
    if (kt_msg_type(m) != KT_MSG_TIMEOUT) {
        r = ktpb__v1__ops_reply__unpack(NULL, kt_msg_len(m), kt_msg_cbody(m));
    }
    if (r != NULL && r->status == KT_OK) {
        o->resumed_at_ns = kt__wk_mono_ns();
        o->attempt = r->op != NULL ? r->op->attempt : o->attempt + 1;
        s->restarts++;
        sup_intent_done(s, o, p->gen);
        kt_log(KT_LOG_NOTICE, "supervisor",
               "event=restarted actor=supervisor op=%s attempt=%u "
               "after_lost_ms=%.1f",
               o->op_id, o->attempt,
               (double)(o->resumed_at_ns - o->lost_at_ns) / 1e6);
    } else if (r != NULL && r->status == KT_ESTATE) {
        kt_log(KT_LOG_NOTICE, "supervisor", "event=resume_refused op=%s",
               o->op_id); // resumed or cancelled by someone else
        sup_intent_done(s, o, p->gen);
    } else if (r != NULL &&
               (r->status == KT_ENOENT || r->status == KT_EVERSION ||
                r->status == KT_ECORRUPT)) {
        // Nothing to restart from (it failed before its first checkpoint,
        // or the checkpoint is unusable): that will not change by trying
        // again. It stays failed; the guide's troubleshooting applies.
        o->gave_up = true;
        sup_intent_done(s, o, p->gen);
        kt_log(KT_LOG_WARN, "supervisor",
               "event=give_up actor=supervisor op=%s why=\"%s\"", o->op_id,
               r->message);
    } else {
        kt__sup_get(s, o->op_id); // it failed again: the policy decides
    }
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
}

static void
sup_answer(supervisor *s, const sup_pend *p, const kt_msg *m)
{
    switch (p->kind) {
    case SP_FAIL:
        sup_on_fail(s, p, m);
        break;
    case SP_FAIL_DIRECT:
    case SP_GET:
        sup_on_record(s, p, m);
        break;
    case SP_RESUME:
        sup_on_resume(s, p, m);
        break;
    case SP_BOOT_LIST:
        kt__sup_on_boot_list(s, m);
        break;
    default:
        break;
    }
}

static void
sup_timer(supervisor *s, uint64_t tag)
{
    if (tag >= SUP_RESPAWN_TAG && tag < SUP_RESPAWN_TAG + SUP_MAX_LOCAL) {
        kt__sup_respawn_timer(s, tag);
        return;
    }
    for (sup_op *o = s->ops_list; o != NULL; o = o->next) {
        if (o->tag == tag && o->next_ms != 0) {
            sup_resume(s, o);
            return;
        }
    }
}

static kt_err
sup_lookup(kt_runtime *rt, const char *name, kt_aid *aidp)
{
    kt_err err = kt_lookup(rt, name, aidp);

    if (err != KT_OK) {
        kt_log(KT_LOG_ERR, "supervisor", "event=missing actor=%s", name);
    }
    return err;
}

static kt_err
supervisor_init(void *state, kt_actor *self, const void *cfg)
{
    supervisor *s = state;
    const kt__sup_actor_cfg *c = cfg;
    kt_runtime *rt = kt_actor_runtime(self);
    Ktpb__V1__OpListRequest l;
    kt_err err;

    if (c == NULL || kt_restart_policy_check(&c->sup.policy) != KT_OK) {
        return KT_EINVAL;
    }
    s->self = self;
    s->cfg = c->sup;
    s->owner = c->owner;
    if (s->owner != NULL) {
        s->owner->sup = kt_self(self); // before any worker can exit
    }
    if (!c->sup.policy_set) {
        kt_restart_policy_default(&s->cfg.policy);
    }
    if (s->cfg.respawn.backoff_max_ms == 0) {
        s->cfg.respawn.backoff_base_ms = 20;
        s->cfg.respawn.backoff_max_ms = 2000;
        s->cfg.respawn.jitter = 0.2;
        s->cfg.respawn.window_ms = 10000;
    }
    kt__wk_copy(s->url, sizeof(s->url), c->sup.backend_url);
    kt__wk_copy(s->exe, sizeof(s->exe), c->sup.worker_exe);
    s->cfg.backend_url = s->url;
    s->cfg.worker_exe = s->exe;
    s->rng = c->sup.seed != 0 ? c->sup.seed : (uint64_t)kt__wk_mono_ns();
    if (s->cfg.reclaim_grace_ms == 0) {
        s->cfg.reclaim_grace_ms = KT_SUP_DEFAULT_GRACE_MS;
    }
    if ((err = sup_lookup(rt, KT_WORKERS_NAME, &s->registry)) != KT_OK ||
        (err = sup_lookup(rt, KT_OPS_NAME, &s->ops)) != KT_OK ||
        (err = sup_lookup(rt, KT_PERSIST_NAME, &s->persist)) != KT_OK) {
        return err;
    }
    ktpb__v1__op_list_request__init(&l);
    Ktpb__V1__OpStatus want[2] = {KTPB__V1__OP_STATUS__OP_RUNNING,
                                  KTPB__V1__OP_STATUS__OP_RESUMING};
    l.statuses = want;
    l.n_statuses = 2;
    l.limit = 10000;
    if ((err = kt__sup_pend(s, s->persist, KT_PERSIST_OP_LIST, &l.base,
                            SUP_ASK_MS, SP_BOOT_LIST, "", false)) != KT_OK) {
        return err;
    }
    kt__sup_intent_init(s, c->sup.data_dir);
    kt__sup_intent_scan(s, kt__sup_boot_intent);
    kt__sup_local_start(s);
    return KT_OK;
}

static kt_err
supervisor_handle(void *state, kt_actor *self, kt_msg *m)
{
    supervisor *s = state;
    sup_pend *p;

    (void)self;
    if (kt_msg_corr(m) != 0 && kt_msg_type(m) != KT_MSG_TIMER &&
        (p = sup_pend_take(s, kt_msg_corr(m))) != NULL) {
        sup_answer(s, p, m);
        free(p);
    } else {
        switch (kt_msg_type(m)) {
        case KT_MSG_TIMER:
            sup_timer(s, kt_msg_corr(m));
            break;
        case KT_WK_LOST:
            sup_lost(s, m);
            break;
        case KT_WK_EXITED:
            kt__sup_exited(s, m);
            break;
        case KT_SUP_STATUS:
            kt__sup_status(s, m);
            break;
        case KT_SUP_SHUTDOWN:
            kt__sup_shutdown(s, m);
            break;
        default: // WorkerUp and late replies: nothing to do
            break;
        }
    }
    kt_msg_free(m);
    return KT_OK;
}

static void
supervisor_fini(void *state)
{
    supervisor *s = state;

    while (s->ops_list != NULL) {
        sup_op *o = s->ops_list;
        s->ops_list = o->next;
        free(o);
    }
    while (s->pends != NULL) {
        sup_pend *p = s->pends;
        s->pends = p->next;
        free(p);
    }
}

const kt_actor_ops supervisor_ops = {
    .name = "supervisor",
    .state_size = sizeof(supervisor),
    .init = supervisor_init,
    .handle = supervisor_handle,
    .fini = supervisor_fini,
};
