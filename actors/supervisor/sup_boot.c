// sup_boot.c: what a starting supervisor does about the previous backend:
// running operations get a grace to be reclaimed by their workers, ones
// caught mid-resume are failed (and restarted by the policy), and restart
// intents left behind are decided again.
#include <ktpb/v1/persist.pb-c.h>
#include <ktpb/v1/workers.pb-c.h>
#include <stdlib.h>
#include <string.h>

#include <kt/log.h>

#include "supervisor/sup_int.h"
#include "workers/wk_msg.h"

// Operations of this type run inside the backend, never on a worker; the
// research manager resumes them at start (actors/research).
#define SUP_BACKEND_LOCAL_TYPE "agent_research"

void
kt__sup_on_boot_list(supervisor *s, const kt_msg *m)
{
    Ktpb__V1__OpListReply *r = NULL;
    Ktpb__V1__RegistryReclaim rc;
    Ktpb__V1__OpClaim *pbs = NULL, **pp = NULL;

    ktpb__v1__registry_reclaim__init(&rc);
    if (kt_msg_type(m) != KT_MSG_TIMEOUT) {
        r = ktpb__v1__op_list_reply__unpack(NULL, kt_msg_len(m),
                                            kt_msg_cbody(m));
    }
    if (r != NULL && r->n_ops > 0) {
        pbs = calloc(r->n_ops, sizeof(*pbs));
        pp = calloc(r->n_ops, sizeof(*pp));
    }
    for (size_t i = 0; r != NULL && pbs != NULL && pp != NULL && i < r->n_ops;
         i++) {
        Ktpb__V1__OperationRecord *op = r->ops[i];
        if (strcmp(op->type, SUP_BACKEND_LOCAL_TYPE) == 0) {
            continue; // research runs in the backend: its manager resumes it
        }
        if (op->status == KTPB__V1__OP_STATUS__OP_RESUMING) {
            sup_op *o = kt__sup_op_get(s, op->id, true);
            if (o != NULL) {
                kt__wk_copy(o->last_error, sizeof(o->last_error),
                            "Backend restarted during resume");
                kt__sup_fail_direct(s, o, o->last_error);
            }
            continue;
        }
        ktpb__v1__op_claim__init(&pbs[rc.n_ops]);
        pbs[rc.n_ops].op_id = op->id;
        pbs[rc.n_ops].attempt = op->attempt;
        pbs[rc.n_ops].type = op->type;
        pp[rc.n_ops] = &pbs[rc.n_ops];
        rc.n_ops++;
    }
    rc.ops = pp;
    rc.grace_ms = s->cfg.reclaim_grace_ms;
    s->reclaim_pending = (uint32_t)rc.n_ops;
    kt_log(KT_LOG_NOTICE, "supervisor",
           "event=reclaim actor=supervisor running=%zu grace_ms=%u", rc.n_ops,
           rc.grace_ms);
    if (kt__sup_pend(s, s->registry, KT_WK_RECLAIM, &rc.base, SUP_ASK_MS,
                     SP_IGNORE, "", false) != KT_OK) {
        kt_log(KT_LOG_ERR, "supervisor", "event=reclaim_lost");
    }
    free(pbs);
    free(pp);
    ktpb__v1__op_list_reply__free_unpacked(r, NULL);
}

// A restart intent left by the previous backend: decide again from the
// record (a failed operation is restarted, anything else is done).
void
kt__sup_boot_intent(supervisor *s, const char *op_id)
{
    if (kt__sup_op_get(s, op_id, true) != NULL) {
        kt_log(KT_LOG_NOTICE, "supervisor", "event=intent op=%s", op_id);
        kt__sup_get(s, op_id);
    }
}
