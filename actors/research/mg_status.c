// mg_status.c: status of agent researches: the live ones (from their
// newest events) with today's budget, or one research: its record, its
// state (the result of a completed one, else its newest checkpoint) and
// its children.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operations/pbmsg.h"
#include "persistence/persistence.h"
#include "research/mg_int.h"

void
kt_rs_info_from_event(Ktpb__V1__ResearchInfo *i,
                      const Ktpb__V1__ResearchEvent *e)
{
    i->phase = e->phase;
    i->percent = e->percent;
    i->step = e->step;
    i->child_id = e->child_id;
    i->child_percent = e->child_percent;
    i->child_step = e->child_step;
}

// A live research's info: its last event, running.
static void
mg_info_from_event(Ktpb__V1__ResearchInfo *i, const Ktpb__V1__ResearchEvent *e)
{
    kt_rs_info_from_event(i, e);
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

kt_err
kt__mg_status(mg *m, kt_msg *msg)
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

void
kt__mg_on_status_get(mg *m, mg_pend *p, const kt_msg *msg)
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

void
kt__mg_on_status_ckpt(mg *m, mg_pend *p, const kt_msg *msg)
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

void
kt__mg_on_status_kids(mg *m, const mg_pend *p, const kt_msg *msg)
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
