// manager.c: the research manager actor ("research"): asks and replies,
// the table of live researches, the trigger (validation, budget, capacity,
// operation create) and the spawn of one research actor per operation.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kt/log.h>

#include "domain/strategy.h"
#include "operations/operations.h"
#include "operations/pbmsg.h"
#include "persistence/persistence.h"
#include "research/mg_int.h"

kt_err
kt__mg_ask(mg *m, kt_aid to, uint32_t type, const ProtobufCMessage *pb,
           mg_kind kind, const char *op_id, const kt_msg *req,
           uint32_t reply_type, mg_pend **pp)
{
    mg_pend *p = calloc(1, sizeof(*p));
    kt_err rv;

    if (p == NULL) {
        return KT_ENOMEM;
    }
    if ((rv = kt__pb_ask(m->self, to, type, pb, m->cfg.ask_timeout_ms,
                         &p->corr)) != KT_OK) {
        free(p);
        return rv;
    }
    p->kind = kind;
    kt__strlcpy(p->op_id, op_id, sizeof(p->op_id));
    if (req != NULL) {
        p->from = kt_msg_sender(req);
        p->from_corr = kt_msg_corr(req);
    }
    p->reply_type = reply_type;
    p->next = m->pends;
    m->pends = p;
    if (pp != NULL) {
        *pp = p;
    }
    return KT_OK;
}

void
kt__mg_reply(mg *m, kt_aid to, uint64_t corr, uint32_t type, int32_t status,
             const char *message, const Ktpb__V1__OperationRecord *op)
{
    Ktpb__V1__ResearchReply r;

    if (to == 0) {
        return;
    }
    ktpb__v1__research_reply__init(&r);
    r.status = status;
    r.message = KT_PB_STR(message);
    r.op = KT_PB_PTR(Ktpb__V1__OperationRecord, op);
    (void)kt__pb_reply_to(m->self, to, corr, type, &r.base);
}

void
kt__mg_relay(mg *m, const mg_pend *p, const kt_msg *msg)
{
    kt_msg *out;

    if (kt_msg_type(msg) == KT_MSG_TIMEOUT) {
        kt__mg_reply(m, p->from, p->from_corr, p->reply_type, KT_ETIMEDOUT,
                     "no answer in time", NULL);
        return;
    }
    if (p->from == 0 ||
        kt_msg_alloc(&out, p->reply_type, kt_msg_len(msg)) != KT_OK) {
        return;
    }
    memcpy(kt_msg_body(out), kt_msg_cbody(msg), kt_msg_len(msg));
    if (kt_reply_to(m->self, p->from, p->from_corr, out) != KT_OK) {
        kt_msg_free(out);
    }
}

mg_live *
kt__mg_live_find(mg *m, const char *id)
{
    for (mg_live *l = m->live; l != NULL; l = l->next) {
        if (strcmp(l->id, id) == 0) {
            return l;
        }
    }
    return NULL;
}

void
kt__mg_live_remove(mg *m, mg_live *l)
{
    for (mg_live **pp = &m->live; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    if (l->last != NULL) {
        ktpb__v1__research_event__free_unpacked(l->last, NULL);
    }
    free(l);
}

void
kt__mg_spawn(mg *m, const char *op_id, uint32_t attempt, const uint8_t *request,
             size_t request_len, const uint8_t *state, size_t state_len,
             uint64_t seq, kt_aid from, uint64_t corr, uint32_t reply_type)
{
    kt__rs_actor_cfg c = {
        .op_id = op_id,
        .attempt = attempt,
        .resume = state != NULL,
        .request = request,
        .request_len = request_len,
        .state = state,
        .state_len = state_len,
        .seq = seq,
        .starter = from,
        .starter_corr = corr,
        .starter_type = reply_type,
        .manager = kt_self(m->self),
        .persist = m->persist,
        .ops = m->ops,
        .cfg = &m->cfg,
    };
    mg_live *l = calloc(1, sizeof(*l));
    kt_err rv = l == NULL ? KT_ENOMEM : KT_OK;
    char why[200];

    if (rv == KT_OK) {
        rv = kt_spawn(kt_actor_runtime(m->self), &kt__rs_research_ops, &c, NULL,
                      &l->aid);
    }
    if (rv == KT_OK && (rv = kt_monitor(m->self, l->aid)) == KT_OK) {
        kt__strlcpy(l->id, op_id, sizeof(l->id));
        l->next = m->live;
        m->live = l;
        return;
    }
    free(l);
    (void)snprintf(why, sizeof(why), "cannot start the research actor: %s",
                   kt_strerror(rv));
    kt_log(KT_LOG_ERR, "research", "actor=research op=%s %s", op_id, why);
    kt__mg_reply(m, from, corr, reply_type, (int32_t)rv, why, NULL);
}

static void
mg_make_id(mg *m, char *id, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;

    (void)gmtime_r(&now, &tm);
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    (void)snprintf(id, n, "%s%04d%02d%02d_%02d%02d%02d_%06llx", KT_RS_ID_PREFIX,
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec,
                   (unsigned long long)(m->rng & 0xffffff));
}

// mg_check_trigger validates a trigger; KT_OK or an error with why.
static kt_err
mg_check_trigger(mg *m, const Ktpb__V1__ResearchTriggerRequest *t, char *why,
                 size_t n)
{
    size_t live = 0;
    kt_strategy *s = NULL;
    kt_err rv;

    if (t->brief[0] != '\0' && t->strategy_path[0] != '\0') {
        (void)snprintf(why, n, "brief and strategy are mutually exclusive");
        return KT_EINVAL;
    }
    if (t->brief[0] == '\0' && t->strategy_path[0] == '\0') {
        (void)snprintf(why, n, "a research brief or a strategy is required");
        return KT_EINVAL;
    }
    if (t->strategy_path[0] != '\0' &&
        (rv = kt_strategy_load(t->strategy_path, &s, why, n)) != KT_OK) {
        return rv;
    }
    kt_strategy_free(s);
    if ((rv = kt__rs_budget_check(m->data_dir, m->cfg.budget_limit, why, n)) !=
        KT_OK) {
        return rv;
    }
    for (mg_live *l = m->live; l != NULL; l = l->next) {
        live++;
    }
    if (live >= m->cfg.max_concurrent) {
        (void)snprintf(why, n,
                       "Too many researches running (%zu of %u); wait for "
                       "one to finish or cancel one",
                       live, m->cfg.max_concurrent);
        return KT_EAGAIN;
    }
    return KT_OK;
}

kt_err
kt__mg_trigger(mg *m, kt_msg *msg)
{
    Ktpb__V1__ResearchTriggerRequest *t =
        (Ktpb__V1__ResearchTriggerRequest *)kt__pb_unpack(
            &ktpb__v1__research_trigger_request__descriptor, msg, "research");
    Ktpb__V1__OpCreateRequest c;
    char why[1200], id[RS_ID_MAX];
    mg_pend *p = NULL;
    kt_err rv;

    if (t == NULL) {
        kt__mg_reply(m, kt_msg_sender(msg), kt_msg_corr(msg), KT_RS_REPLY,
                     KT_EPROTO, "malformed request", NULL);
        return KT_OK;
    }
    if ((rv = mg_check_trigger(m, t, why, sizeof(why))) != KT_OK) {
        kt__mg_reply(m, kt_msg_sender(msg), kt_msg_corr(msg), KT_RS_REPLY,
                     (int32_t)rv, why, NULL);
        ktpb__v1__research_trigger_request__free_unpacked(t, NULL);
        return KT_OK;
    }
    ktpb__v1__research_trigger_request__free_unpacked(t, NULL);
    mg_make_id(m, id, sizeof(id));
    ktpb__v1__op_create_request__init(&c);
    c.id = id;
    c.type = KT_PB_STR(KT_RS_OP_TYPE);
    c.metadata.data = KT_PB_BYTES(kt_msg_cbody(msg));
    c.metadata.len = kt_msg_len(msg);
    rv = kt__mg_ask(m, m->persist, KT_PERSIST_OP_CREATE, &c.base, MK_CREATE, id,
                    msg, KT_RS_REPLY, &p);
    if (rv == KT_OK && (p->data = malloc(kt_msg_len(msg) + 1)) != NULL) {
        memcpy(p->data, kt_msg_cbody(msg), kt_msg_len(msg));
        p->len = kt_msg_len(msg);
    } else if (rv != KT_OK) {
        kt__mg_reply(m, kt_msg_sender(msg), kt_msg_corr(msg), KT_RS_REPLY,
                     (int32_t)rv, "persistence unreachable", NULL);
    }
    return KT_OK;
}

void
kt__mg_on_create(mg *m, const mg_pend *p, const kt_msg *msg)
{
    Ktpb__V1__OpReply *r = NULL;

    if (kt_msg_type(msg) != KT_MSG_TIMEOUT) {
        r = ktpb__v1__op_reply__unpack(NULL, kt_msg_len(msg),
                                       kt_msg_cbody(msg));
    }
    if (r == NULL || r->status != KT_OK || p->data == NULL) {
        kt__mg_reply(m, p->from, p->from_corr, KT_RS_REPLY,
                     r != NULL ? r->status : KT_ETIMEDOUT,
                     r != NULL ? r->message : "persistence did not answer",
                     NULL);
    } else {
        kt__mg_spawn(m, p->op_id, r->op != NULL ? r->op->attempt : 1, p->data,
                     p->len, NULL, 0, 0, p->from, p->from_corr, KT_RS_REPLY);
    }
    if (r != NULL) {
        ktpb__v1__op_reply__free_unpacked(r, NULL);
    }
}
