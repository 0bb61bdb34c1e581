// mg_main.c: the research manager's init (defaults, start-up
// reconciliation), dispatch, research events fanned out to subscribers,
// and the down notices of researches and subscribers.
#include <ktpb/v1/envelope.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kt/log.h>

#include "operations/operations.h"
#include "operations/pbmsg.h"
#include "persistence/persistence.h"
#include "research/mg_int.h"

static void
mg_fanout(mg *m, const char *op_id, const kt_msg *msg)
{
    for (mg_sub *s = m->subs; s != NULL; s = s->next) {
        kt_msg *out;
        if (s->op_id[0] != '\0' && strcmp(s->op_id, op_id) != 0) {
            continue;
        }
        if (kt_msg_alloc(&out, KT_RS_EVENT, kt_msg_len(msg)) != KT_OK) {
            return;
        }
        memcpy(kt_msg_body(out), kt_msg_cbody(msg), kt_msg_len(msg));
        if (kt_send(m->self, s->aid, out) != KT_OK) {
            kt_msg_free(out);
        }
    }
}

static kt_err
mg_event(mg *m, kt_msg *msg)
{
    Ktpb__V1__ResearchEvent *e = (Ktpb__V1__ResearchEvent *)kt__pb_unpack(
        &ktpb__v1__research_event__descriptor, msg, "research");
    mg_live *l;

    if (e == NULL) {
        return KT_OK;
    }
    mg_fanout(m, e->op_id, msg);
    if ((l = kt__mg_live_find(m, e->op_id)) == NULL) {
        ktpb__v1__research_event__free_unpacked(e, NULL);
        return KT_OK;
    }
    if (l->last != NULL) {
        ktpb__v1__research_event__free_unpacked(l->last, NULL);
    }
    l->last = e;
    return KT_OK;
}

static kt_err
mg_subscribe(mg *m, kt_msg *msg)
{
    Ktpb__V1__ResearchSubscribeRequest *q =
        (Ktpb__V1__ResearchSubscribeRequest *)kt__pb_unpack(
            &ktpb__v1__research_subscribe_request__descriptor, msg, "research");
    kt_aid from = kt_msg_sender(msg);
    mg_sub *s;

    if (q == NULL) {
        kt__mg_reply(m, from, kt_msg_corr(msg), KT_RS_REPLY, KT_EPROTO,
                     "malformed request", NULL);
        return KT_OK;
    }
    for (mg_sub **pp = &m->subs; *pp != NULL;) {
        if ((*pp)->aid == from && strcmp((*pp)->op_id, q->op_id) == 0) {
            s = *pp;
            *pp = s->next;
            free(s);
        } else {
            pp = &(*pp)->next;
        }
    }
    if (kt_msg_type(msg) == KT_RS_SUBSCRIBE &&
        (s = calloc(1, sizeof(*s))) != NULL) {
        s->aid = from;
        kt__strlcpy(s->op_id, q->op_id, sizeof(s->op_id));
        s->next = m->subs;
        m->subs = s;
        if (kt_monitor(m->self, from) != KT_OK) {
            kt_log(KT_LOG_WARN, "research", "event=subscriber_unmonitored");
        }
    }
    kt__mg_reply(m, from, kt_msg_corr(msg), KT_RS_REPLY, KT_OK, "", NULL);
    ktpb__v1__research_subscribe_request__free_unpacked(q, NULL);
    return KT_OK;
}

static kt_err
mg_down(mg *m, kt_msg *msg)
{
    Ktpb__V1__Down *d = (Ktpb__V1__Down *)kt__pb_unpack(
        &ktpb__v1__down__descriptor, msg, "research");

    if (d == NULL) {
        return KT_OK;
    }
    for (mg_live *l = m->live; l != NULL; l = l->next) {
        if (l->aid == d->aid) {
            if (d->reason != KT_OK) {
                kt_log(KT_LOG_ERR, "research",
                       "actor=research op=%s event=actor_down reason=%s", l->id,
                       kt_strerror((kt_err)d->reason));
            }
            kt__mg_live_remove(m, l);
            break;
        }
    }
    for (mg_sub **pp = &m->subs; *pp != NULL;) {
        if ((*pp)->aid == d->aid) {
            mg_sub *s = *pp;
            *pp = s->next;
            free(s);
        } else {
            pp = &(*pp)->next;
        }
    }
    ktpb__v1__down__free_unpacked(d, NULL);
    return KT_OK;
}

static void
mg_answer(mg *m, mg_pend *p, const kt_msg *msg)
{
    switch (p->kind) {
    case MK_RELAY:
        kt__mg_relay(m, p, msg);
        break;
    case MK_CREATE:
        kt__mg_on_create(m, p, msg);
        break;
    case MK_CLAIM:
        kt__mg_on_claim(m, p, msg);
        break;
    case MK_LOAD:
        kt__mg_on_load(m, p, msg);
        break;
    case MK_RECON_LIST:
        kt__mg_on_recon_list(m, msg);
        break;
    case MK_RECON_FAIL:
        kt__mg_on_recon_fail(m, p, msg);
        break;
    case MK_STATUS_GET:
        kt__mg_on_status_get(m, p, msg);
        break;
    case MK_STATUS_CKPT:
        kt__mg_on_status_ckpt(m, p, msg);
        break;
    case MK_STATUS_KIDS:
        kt__mg_on_status_kids(m, p, msg);
        break;
    default:
        break;
    }
}

static mg_pend *
mg_pend_take(mg *m, uint64_t corr)
{
    for (mg_pend **pp = &m->pends; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->corr == corr) {
            mg_pend *p = *pp;
            *pp = p->next;
            return p;
        }
    }
    return NULL;
}

static kt_err
mg_handle(void *state, kt_actor *self, kt_msg *msg)
{
    mg *m = state;
    mg_pend *p;

    (void)self;
    switch (kt_msg_type(msg)) {
    case KT_RS_TRIGGER:
        (void)kt__mg_trigger(m, msg);
        break;
    case KT_RS_STATUS:
        (void)kt__mg_status(m, msg);
        break;
    case KT_RS_SUBSCRIBE:
    case KT_RS_UNSUBSCRIBE:
        (void)mg_subscribe(m, msg);
        break;
    case KT_RS_EVENT:
        (void)mg_event(m, msg);
        break;
    case KT_RS_CANCEL:
    case KT_OPS_CANCEL:
        (void)kt__mg_cancel(m, msg);
        break;
    case KT_OPS_RESUME:
        (void)kt__mg_resume(m, msg);
        break;
    case KT_MSG_DOWN:
        (void)mg_down(m, msg);
        break;
    default:
        if (kt_msg_corr(msg) != 0 &&
            (p = mg_pend_take(m, kt_msg_corr(msg))) != NULL) {
            mg_answer(m, p, msg);
            free(p->data);
            free(p->state);
            free(p);
        }
        break;
    }
    kt_msg_free(msg);
    return KT_OK;
}

static void
mg_defaults(mg *m)
{
    if (m->cfg.designer.design == NULL) {
        m->cfg.designer = kt_rs_offline_designer;
    }
    if (m->cfg.assessor.assess == NULL) {
        m->cfg.assessor = kt_rs_rules_assessor;
    }
    if (!m->cfg.gates_set) {
        kt_rs_gates_default(&m->cfg.gates);
        m->cfg.gates_set = true;
    }
    if (m->cfg.budget_limit == 0) {
        m->cfg.budget_limit = KT_RS_BUDGET_LIMIT;
    }
    if (m->cfg.max_design_tries == 0) {
        m->cfg.max_design_tries = KT_RS_MAX_DESIGN;
    }
    if (m->cfg.max_concurrent == 0) {
        m->cfg.max_concurrent = 4;
    }
    if (m->cfg.ask_timeout_ms == 0) {
        m->cfg.ask_timeout_ms = 30000;
    }
}

static kt_err
mg_init(void *state, kt_actor *self, const void *cfg)
{
    const kt_research_cfg *c = cfg;
    mg *m = state;
    kt_err rv;

    if (c == NULL || c->data_dir == NULL) {
        return KT_EINVAL;
    }
    m->self = self;
    m->cfg = *c;
    kt__strlcpy(m->data_dir, c->data_dir, sizeof(m->data_dir));
    m->cfg.data_dir = m->data_dir;
    mg_defaults(m);
    m->rng = (uint64_t)time(NULL) ^ (kt_self(self) * 0x9e3779b97f4a7c15ULL);
    m->rng |= 1;
    if ((rv = kt_lookup(kt_actor_runtime(self), KT_PERSIST_NAME,
                        &m->persist)) != KT_OK ||
        (rv = kt_lookup(kt_actor_runtime(self), KT_OPS_NAME, &m->ops)) !=
            KT_OK) {
        return rv;
    }
    if (!m->cfg.no_reconcile) {
        kt__mg_reconcile(m);
    }
    return KT_OK;
}

static void
mg_fini(void *state)
{
    mg *m = state;

    while (m->live != NULL) {
        kt__mg_live_remove(m, m->live);
    }
    while (m->subs != NULL) {
        mg_sub *s = m->subs;
        m->subs = s->next;
        free(s);
    }
    while (m->pends != NULL) {
        mg_pend *p = m->pends;
        m->pends = p->next;
        free(p->data);
        free(p->state);
        free(p);
    }
}

const kt_actor_ops research_manager_ops = {
    .name = "research",
    .state_size = sizeof(mg),
    .init = mg_init,
    .handle = mg_handle,
    .fini = mg_fini,
};
