// mg_main.c: the research manager's init, dispatch, events and
// subscribers, status, and the embedding helpers (kt_research_start,
// kt_research_cfg_env).
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
mg_info_from_event(Ktpb__V1__ResearchInfo *i, const Ktpb__V1__ResearchEvent *e)
{
    i->phase = e->phase;
    i->percent = e->percent;
    i->step = e->step;
    i->child_id = e->child_id;
    i->child_percent = e->child_percent;
    i->child_step = e->child_step;
    i->status = KTPB__V1__OP_STATUS__OP_RUNNING;
}

static void
mg_status_reply(mg *m, kt_aid to, uint64_t corr, Ktpb__V1__ResearchInfo **infos,
                size_t n, int32_t status, const char *message)
{
    Ktpb__V1__ResearchStatusReply r;
    double spent = 0;

    ktpb__v1__research_status_reply__init(&r);
    r.status = status;
    r.message = KT_PB_STR(message);
    r.researches = infos;
    r.n_researches = n;
    r.budget_limit = m->cfg.budget_limit > 0 ? m->cfg.budget_limit : 0;
    if (kt__rs_budget_spent(m->data_dir, &spent) == KT_OK) {
        r.budget_spent = spent;
    }
    (void)kt__pb_reply_to(m->self, to, corr, KT_RS_STATUS_REPLY, &r.base);
}

static void
mg_status_live(mg *m, const kt_msg *msg)
{
    size_t n = 0, k = 0;
    Ktpb__V1__ResearchInfo *infos, **ptrs;

    for (mg_live *l = m->live; l != NULL; l = l->next) {
        n++;
    }
    infos = calloc(n + 1, sizeof(*infos));
    ptrs = calloc(n + 1, sizeof(*ptrs));
    for (mg_live *l = m->live; infos && ptrs && l != NULL; l = l->next) {
        ktpb__v1__research_info__init(&infos[k]);
        infos[k].op_id = l->id;
        infos[k].status = KTPB__V1__OP_STATUS__OP_RUNNING;
        infos[k].phase = KT_PB_STR("idle");
        if (l->last != NULL) {
            mg_info_from_event(&infos[k], l->last);
        }
        ptrs[k] = &infos[k];
        k++;
    }
    mg_status_reply(m, kt_msg_sender(msg), kt_msg_corr(msg), ptrs, k, KT_OK,
                    "");
    free(infos);
    free(ptrs);
}

static kt_err
mg_status(mg *m, kt_msg *msg)
{
    Ktpb__V1__ResearchStatusRequest *q =
        (Ktpb__V1__ResearchStatusRequest *)kt__pb_unpack(
            &ktpb__v1__research_status_request__descriptor, msg, "research");
    Ktpb__V1__OpGetRequest g;

    if (q == NULL) {
        mg_status_reply(m, kt_msg_sender(msg), kt_msg_corr(msg), NULL, 0,
                        KT_EPROTO, "malformed request");
        return KT_OK;
    }
    if (q->op_id[0] == '\0') {
        mg_status_live(m, msg);
    } else {
        ktpb__v1__op_get_request__init(&g);
        g.id = q->op_id;
        if (kt__mg_ask(m, m->persist, KT_PERSIST_OP_GET, &g.base, MK_STATUS_GET,
                       q->op_id, msg, KT_RS_STATUS_REPLY, NULL) != KT_OK) {
            mg_status_reply(m, kt_msg_sender(msg), kt_msg_corr(msg), NULL, 0,
                            KT_ECLOSED, "persistence unreachable");
        }
    }
    ktpb__v1__research_status_request__free_unpacked(q, NULL);
    return KT_OK;
}

static uint8_t *
mg_dup(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n + 1);

    if (d != NULL && n > 0) {
        memcpy(d, p, n);
    }
    return d;
}

// mg_status_next asks for the next piece of a status: kind MK_STATUS_CKPT
// or MK_STATUS_KIDS; the new pend takes over p's buffers.
static void
mg_status_next(mg *m, mg_pend *p, mg_kind kind)
{
    Ktpb__V1__OpListRequest l;
    Ktpb__V1__CheckpointLoadRequest c;
    mg_pend *np = NULL;
    kt_err rv;

    if (kind == MK_STATUS_CKPT) {
        ktpb__v1__checkpoint_load_request__init(&c);
        c.op_id = KT_PB_STR(p->op_id);
        c.format_version = KT_RS_CKPT_FORMAT;
        rv = kt__mg_ask(m, m->persist, KT_PERSIST_CKPT_LOAD, &c.base, kind,
                        p->op_id, NULL, KT_RS_STATUS_REPLY, &np);
    } else {
        ktpb__v1__op_list_request__init(&l);
        l.parent_id = KT_PB_STR(p->op_id);
        rv = kt__mg_ask(m, m->persist, KT_PERSIST_OP_LIST, &l.base, kind,
                        p->op_id, NULL, KT_RS_STATUS_REPLY, &np);
    }
    if (rv != KT_OK) {
        mg_status_reply(m, p->from, p->from_corr, NULL, 0, KT_ECLOSED,
                        "persistence unreachable");
        return;
    }
    np->from = p->from;
    np->from_corr = p->from_corr;
    np->data = p->data;
    np->len = p->len;
    np->state = p->state;
    np->state_len = p->state_len;
    p->data = NULL;
    p->state = NULL;
}

static void
mg_on_status_get(mg *m, mg_pend *p, const kt_msg *msg)
{
    Ktpb__V1__OpReply *r = NULL;
    bool done;

    if (kt_msg_type(msg) != KT_MSG_TIMEOUT) {
        r = ktpb__v1__op_reply__unpack(NULL, kt_msg_len(msg),
                                       kt_msg_cbody(msg));
    }
    if (r == NULL || r->status != KT_OK || r->op == NULL) {
        mg_status_reply(m, p->from, p->from_corr, NULL, 0,
                        r != NULL ? r->status : KT_ETIMEDOUT,
                        r != NULL ? r->message : "no answer");
        goto out;
    }
    if (strcmp(r->op->type, KT_RS_OP_TYPE) != 0) {
        char why[200];
        (void)snprintf(why, sizeof(why),
                       "Operation %s is not an agent research (%s)", r->op->id,
                       r->op->type);
        mg_status_reply(m, p->from, p->from_corr, NULL, 0, KT_EINVAL, why);
        goto out;
    }
    p->len = ktpb__v1__operation_record__get_packed_size(r->op);
    if ((p->data = malloc(p->len + 1)) != NULL) {
        (void)ktpb__v1__operation_record__pack(r->op, p->data);
    }
    done = r->op->status == KTPB__V1__OP_STATUS__OP_COMPLETED;
    if (done && r->op->result.len > 0) {
        p->state = mg_dup(r->op->result.data, r->op->result.len);
        p->state_len = r->op->result.len;
    }
    mg_status_next(m, p, done ? MK_STATUS_KIDS : MK_STATUS_CKPT);
out:
    if (r != NULL) {
        ktpb__v1__op_reply__free_unpacked(r, NULL);
    }
}

static void
mg_on_status_ckpt(mg *m, mg_pend *p, const kt_msg *msg)
{
    Ktpb__V1__CheckpointLoadReply *r = NULL;

    if (kt_msg_type(msg) != KT_MSG_TIMEOUT) {
        r = ktpb__v1__checkpoint_load_reply__unpack(NULL, kt_msg_len(msg),
                                                    kt_msg_cbody(msg));
    }
    if (r != NULL && r->status == KT_OK && r->checkpoint != NULL) {
        p->state = mg_dup(r->checkpoint->state.data, r->checkpoint->state.len);
        p->state_len = r->checkpoint->state.len;
    }
    if (r != NULL) {
        ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
    }
    mg_status_next(m, p, MK_STATUS_KIDS);
}

static void
mg_on_status_kids(mg *m, const mg_pend *p, const kt_msg *msg)
{
    Ktpb__V1__OpListReply *l = NULL;
    Ktpb__V1__OperationRecord *op = NULL;
    Ktpb__V1__ResearchState *st = NULL;
    Ktpb__V1__ResearchInfo info, *pi = &info;
    mg_live *live = kt__mg_live_find(m, p->op_id);

    if (kt_msg_type(msg) != KT_MSG_TIMEOUT) {
        l = ktpb__v1__op_list_reply__unpack(NULL, kt_msg_len(msg),
                                            kt_msg_cbody(msg));
    }
    if (p->data != NULL) {
        op = ktpb__v1__operation_record__unpack(NULL, p->len, p->data);
    }
    ktpb__v1__research_info__init(&info);
    info.op_id = KT_PB_STR(p->op_id);
    if (op != NULL) {
        info.status = op->status;
        info.percent = op->progress_percent;
        info.step = op->current_step;
    }
    if (p->state != NULL) {
        st = ktpb__v1__research_state__unpack(NULL, p->state_len, p->state);
    }
    if (live != NULL && live->last != NULL) {
        mg_info_from_event(&info, live->last);
    }
    if (st != NULL) {
        info.state = st;
        info.phase = st->phase;
        info.strategy_name = st->strategy_name;
    }
    if (l != NULL && l->status == KT_OK) {
        info.children = l->ops;
        info.n_children = l->n_ops;
    }
    mg_status_reply(m, p->from, p->from_corr, &pi, 1, KT_OK, "");
    if (st != NULL) {
        ktpb__v1__research_state__free_unpacked(st, NULL);
    }
    if (op != NULL) {
        ktpb__v1__operation_record__free_unpacked(op, NULL);
    }
    if (l != NULL) {
        ktpb__v1__op_list_reply__free_unpacked(l, NULL);
    }
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
        mg_on_status_get(m, p, msg);
        break;
    case MK_STATUS_CKPT:
        mg_on_status_ckpt(m, p, msg);
        break;
    case MK_STATUS_KIDS:
        mg_on_status_kids(m, p, msg);
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
        (void)mg_status(m, msg);
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
