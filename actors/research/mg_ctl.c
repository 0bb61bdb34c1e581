// mg_ctl.c: cancel and resume of research operations (the operations
// actor routes `operations cancel|resume` of op_agent_research_* here),
// and the start-up reconciliation: a research that was running when its
// backend stopped is marked failed and, unless configured otherwise,
// resumed from its last phase checkpoint.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kt/log.h>

#include "operations/operations.h"
#include "operations/pbmsg.h"
#include "persistence/persistence.h"
#include "research/mg_int.h"

#define MG_RESTARTED "Backend restarted during research"

kt_err
kt__mg_cancel(mg *m, kt_msg *msg)
{
    Ktpb__V1__OpsCancelRequest *c = (Ktpb__V1__OpsCancelRequest *)kt__pb_unpack(
        &ktpb__v1__ops_cancel_request__descriptor, msg, "research");
    Ktpb__V1__OpTransitionRequest t;
    mg_live *l;
    mg_pend *p;
    kt_msg *fwd;

    if (c == NULL) {
        kt__mg_reply(m, kt_msg_sender(msg), kt_msg_corr(msg), KT_OPS_REPLY,
                     KT_EPROTO, "malformed request", NULL);
        return KT_OK;
    }
    if ((l = kt__mg_live_find(m, c->id)) != NULL &&
        (p = calloc(1, sizeof(*p))) != NULL) {
        if (kt_msg_alloc(&fwd, KT_RS_CANCEL, kt_msg_len(msg)) == KT_OK) {
            memcpy(kt_msg_body(fwd), kt_msg_cbody(msg), kt_msg_len(msg));
            if (kt_ask(m->self, l->aid, fwd, 0, &p->corr) == KT_OK) {
                p->kind = MK_RELAY;
                p->from = kt_msg_sender(msg);
                p->from_corr = kt_msg_corr(msg);
                p->reply_type = KT_OPS_REPLY;
                p->next = m->pends;
                m->pends = p;
                p = NULL;
            } else {
                kt_msg_free(fwd);
            }
        }
        if (p != NULL) {
            free(p);
            kt__mg_reply(m, kt_msg_sender(msg), kt_msg_corr(msg), KT_OPS_REPLY,
                         KT_ENOMEM, "cannot reach the research", NULL);
        }
    } else {
        // Not running here: persistence decides (pending -> cancelled, or
        // "cannot go from completed to cancelled").
        ktpb__v1__op_transition_request__init(&t);
        t.id = c->id;
        t.to = KTPB__V1__OP_STATUS__OP_CANCELLED;
        t.error = c->reason[0] ? c->reason : KT_PB_STR("Cancelled by user");
        if (kt__mg_ask(m, m->persist, KT_PERSIST_OP_TRANSITION, &t.base,
                       MK_RELAY, c->id, msg, KT_OPS_REPLY, NULL) != KT_OK) {
            kt__mg_reply(m, kt_msg_sender(msg), kt_msg_corr(msg), KT_OPS_REPLY,
                         KT_ECLOSED, "persistence unreachable", NULL);
        }
    }
    ktpb__v1__ops_cancel_request__free_unpacked(c, NULL);
    return KT_OK;
}

void
kt__mg_resume_id(mg *m, const char *id, kt_aid from, uint64_t corr,
                 bool count_restart)
{
    Ktpb__V1__OpTransitionRequest t;
    mg_pend *p = NULL;
    char text[200];

    if (kt__mg_live_find(m, id) != NULL) {
        (void)snprintf(text, sizeof(text),
                       "Operation is not in a resumable state (%s: running)",
                       id);
        kt__mg_reply(m, from, corr, KT_OPS_REPLY, KT_ESTATE, text, NULL);
        return;
    }
    ktpb__v1__op_transition_request__init(&t);
    t.id = KT_PB_STR(id);
    t.to = KTPB__V1__OP_STATUS__OP_RESUMING;
    t.count_restart = count_restart;
    if (kt__mg_ask(m, m->persist, KT_PERSIST_OP_TRANSITION, &t.base, MK_CLAIM,
                   id, NULL, KT_OPS_REPLY, &p) != KT_OK) {
        kt__mg_reply(m, from, corr, KT_OPS_REPLY, KT_ECLOSED,
                     "persistence unreachable", NULL);
        return;
    }
    p->from = from;
    p->from_corr = corr;
}

kt_err
kt__mg_resume(mg *m, kt_msg *msg)
{
    Ktpb__V1__OpsResumeRequest *r = (Ktpb__V1__OpsResumeRequest *)kt__pb_unpack(
        &ktpb__v1__ops_resume_request__descriptor, msg, "research");

    if (r == NULL || r->id[0] == '\0') {
        kt__mg_reply(m, kt_msg_sender(msg), kt_msg_corr(msg), KT_OPS_REPLY,
                     r == NULL ? KT_EPROTO : KT_EINVAL,
                     "an operation id is required", NULL);
    } else {
        kt__mg_resume_id(m, r->id, kt_msg_sender(msg), kt_msg_corr(msg),
                         r->count_restart);
    }
    if (r != NULL) {
        ktpb__v1__ops_resume_request__free_unpacked(r, NULL);
    }
    return KT_OK;
}

void
kt__mg_on_claim(mg *m, const mg_pend *p, const kt_msg *msg)
{
    Ktpb__V1__OpReply *r = NULL;
    Ktpb__V1__CheckpointLoadRequest l;
    mg_pend *np = NULL;

    if (kt_msg_type(msg) != KT_MSG_TIMEOUT) {
        r = ktpb__v1__op_reply__unpack(NULL, kt_msg_len(msg),
                                       kt_msg_cbody(msg));
    }
    if (r == NULL || r->status != KT_OK || r->op == NULL) {
        kt__mg_relay(m, p, msg); // the refusal, as persistence said it
        goto out;
    }
    ktpb__v1__checkpoint_load_request__init(&l);
    l.op_id = KT_PB_STR(p->op_id);
    l.format_version = KT_RS_CKPT_FORMAT;
    if (kt__mg_ask(m, m->persist, KT_PERSIST_CKPT_LOAD, &l.base, MK_LOAD,
                   p->op_id, NULL, KT_OPS_REPLY, &np) != KT_OK) {
        kt__mg_reply(m, p->from, p->from_corr, KT_OPS_REPLY, KT_ECLOSED,
                     "persistence unreachable", NULL);
        goto out;
    }
    np->from = p->from;
    np->from_corr = p->from_corr;
    np->attempt = r->op->attempt;
out:
    if (r != NULL) {
        ktpb__v1__op_reply__free_unpacked(r, NULL);
    }
}

void
kt__mg_on_load(mg *m, const mg_pend *p, const kt_msg *msg)
{
    Ktpb__V1__CheckpointLoadReply *r = NULL;
    Ktpb__V1__OpTransitionRequest t;
    const Ktpb__V1__CheckpointRecord *ck;
    char text[600] = "persistence did not answer in time";

    if (kt_msg_type(msg) != KT_MSG_TIMEOUT) {
        r = ktpb__v1__checkpoint_load_reply__unpack(NULL, kt_msg_len(msg),
                                                    kt_msg_cbody(msg));
    }
    ck = r != NULL && r->status == KT_OK ? r->checkpoint : NULL;
    if (ck == NULL) {
        if (r != NULL) {
            kt__strlcpy(text, r->message, sizeof(text));
        }
        // No usable checkpoint: back to failed, with the reason.
        ktpb__v1__op_transition_request__init(&t);
        t.id = KT_PB_STR(p->op_id);
        t.to = KTPB__V1__OP_STATUS__OP_FAILED;
        t.error = text;
        if (kt__mg_ask(m, m->persist, KT_PERSIST_OP_TRANSITION, &t.base,
                       MK_IGNORE, p->op_id, NULL, 0, NULL) != KT_OK) {
            kt_log(KT_LOG_ERR, "research", "op=%s event=fail_lost", p->op_id);
        }
        kt__mg_reply(m, p->from, p->from_corr, KT_OPS_REPLY,
                     r != NULL ? r->status : KT_ETIMEDOUT, text, NULL);
    } else {
        kt_log(KT_LOG_NOTICE, "research",
               "actor=research op=%s event=resume seq=%llu attempt=%u",
               p->op_id, (unsigned long long)ck->seq, p->attempt);
        kt__mg_spawn(m, p->op_id, p->attempt, NULL, 0, ck->state.data,
                     ck->state.len, ck->seq, p->from, p->from_corr,
                     KT_OPS_REPLY);
    }
    if (r != NULL) {
        ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
    }
}

void
kt__mg_reconcile(mg *m)
{
    Ktpb__V1__OpListRequest l;
    Ktpb__V1__OpStatus want[] = {KTPB__V1__OP_STATUS__OP_PENDING,
                                 KTPB__V1__OP_STATUS__OP_RUNNING,
                                 KTPB__V1__OP_STATUS__OP_RESUMING};

    ktpb__v1__op_list_request__init(&l);
    l.statuses = want;
    l.n_statuses = 3;
    l.type = KT_PB_STR(KT_RS_OP_TYPE);
    l.limit = 1000;
    if (kt__mg_ask(m, m->persist, KT_PERSIST_OP_LIST, &l.base, MK_RECON_LIST,
                   "", NULL, 0, NULL) != KT_OK) {
        kt_log(KT_LOG_ERR, "research", "actor=research event=reconcile_lost");
    }
}

void
kt__mg_on_recon_list(mg *m, const kt_msg *msg)
{
    Ktpb__V1__OpListReply *r = NULL;
    Ktpb__V1__OpTransitionRequest t;

    if (kt_msg_type(msg) != KT_MSG_TIMEOUT) {
        r = ktpb__v1__op_list_reply__unpack(NULL, kt_msg_len(msg),
                                            kt_msg_cbody(msg));
    }
    for (size_t i = 0; r != NULL && i < r->n_ops; i++) {
        if (kt__mg_live_find(m, r->ops[i]->id) != NULL) {
            continue;
        }
        kt_log(KT_LOG_NOTICE, "research",
               "actor=research op=%s event=reconcile status=%d", r->ops[i]->id,
               (int)r->ops[i]->status);
        ktpb__v1__op_transition_request__init(&t);
        t.id = r->ops[i]->id;
        t.to = KTPB__V1__OP_STATUS__OP_FAILED;
        t.error = KT_PB_STR(MG_RESTARTED);
        if (kt__mg_ask(m, m->persist, KT_PERSIST_OP_TRANSITION, &t.base,
                       MK_RECON_FAIL, r->ops[i]->id, NULL, 0, NULL) != KT_OK) {
            kt_log(KT_LOG_ERR, "research", "op=%s event=reconcile_lost",
                   r->ops[i]->id);
        }
    }
    if (r != NULL) {
        ktpb__v1__op_list_reply__free_unpacked(r, NULL);
    }
}

void
kt__mg_on_recon_fail(mg *m, const mg_pend *p, const kt_msg *msg)
{
    Ktpb__V1__OpReply *r = NULL;

    if (kt_msg_type(msg) != KT_MSG_TIMEOUT) {
        r = ktpb__v1__op_reply__unpack(NULL, kt_msg_len(msg),
                                       kt_msg_cbody(msg));
    }
    if (r != NULL && r->status == KT_OK && !m->cfg.no_auto_resume) {
        kt__mg_resume_id(m, p->op_id, 0, 0, true);
    }
    if (r != NULL) {
        ktpb__v1__op_reply__free_unpacked(r, NULL);
    }
}
