// agent.c: the worker agent: registration and heartbeats (re-registering
// with its running operations whenever the backend comes back), the
// operation actors it runs, control from the registry, graceful shutdown
// and the orphan drain.
#include "workers/agent.h"

#include <inttypes.h>
#include <ktpb/v1/ops.pb-c.h>
#include <ktpb/v1/workers.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kt/log.h>

#include "backtest/backtest.h"
#include "operations/worker.h"
#include "training/training.h"
#include "workers/agent_int.h"
#include "workers/wk_msg.h"

#define AG_TICK_MS      50u
#define AG_TICK_TAG     0xa9e47
#define AG_REG_EVERY_NS (100 * 1000000LL)
#define AG_DOWN_GRACE   (100 * 1000000LL)
// An orphan (its backend gone) whose backend never comes back gives up.
#define AG_ORPHAN_GIVE_UP_NS (600 * 1000000000LL)

void
kt__ag_kill(agent *a, kt_aid aid)
{
    if (kt_kill(kt_actor_runtime(a->self), aid) != KT_OK) {
        kt_log(KT_LOG_DEBUG, "worker", "event=kill_gone aid=%" PRIu64, aid);
    }
}

ag_op *
kt__ag_op_find(agent *a, const char *op_id)
{
    for (ag_op *op = a->ops; op != NULL; op = op->next) {
        if (strcmp(op->op_id, op_id) == 0) {
            return op;
        }
    }
    return NULL;
}

ag_op *
kt__ag_op_by_aid(agent *a, kt_aid aid)
{
    for (ag_op *op = a->ops; op != NULL && aid != 0; op = op->next) {
        if (op->aid == aid) {
            return op;
        }
    }
    return NULL;
}

void
kt__ag_op_remove(agent *a, ag_op *op)
{
    for (ag_op **pp = &a->ops; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == op) {
            *pp = op->next;
            break;
        }
    }
    if (op->aid != 0) {
        kt__ag_kill(a, op->aid);
        kt__ag_drop_relays(a, op->aid);
    }
    kt_msg_free(op->progress);
    free(op->done);
    free(op);
}

uint32_t
kt__ag_nops(const agent *a)
{
    uint32_t n = 0;

    for (const ag_op *op = a->ops; op != NULL; op = op->next) {
        n++;
    }
    return n;
}

// The claims (running or ended-but-unacknowledged operations), as pbs.
size_t
kt__ag_claims(agent *a, Ktpb__V1__OpClaim *pbs, Ktpb__V1__OpClaim **pp)
{
    size_t n = 0;

    for (ag_op *op = a->ops; op != NULL && n < KT_WK_MAX_SLOTS; op = op->next) {
        ktpb__v1__op_claim__init(&pbs[n]);
        pbs[n].op_id = op->op_id;
        pbs[n].attempt = op->attempt;
        pbs[n].type = op->type;
        pp[n] = &pbs[n];
        n++;
    }
    return n;
}

static void
ag_register(agent *a)
{
    Ktpb__V1__WorkerRegister g;
    Ktpb__V1__OpClaim pbs[KT_WK_MAX_SLOTS], *pp[KT_WK_MAX_SLOTS];
    char *caps[2], cap_t[] = "training", cap_b[] = "backtesting";
    char host[64] = "";

    ktpb__v1__worker_register__init(&g);
    if (strstr(a->caps, "training") != NULL) {
        caps[g.n_capabilities++] = cap_t;
    }
    if (strstr(a->caps, "backtest") != NULL) {
        caps[g.n_capabilities++] = cap_b;
    }
    (void)gethostname(host, sizeof(host) - 1);
    g.worker_id = a->id;
    g.instance = a->instance;
    g.capabilities = caps;
    g.slots = a->cfg.slots;
    g.pid = (int32_t)getpid();
    g.host = host;
    g.n_ops = kt__ag_claims(a, pbs, pp);
    g.ops = pp;
    g.draining = a->draining || a->shutting;
    g.sent_at_ms = (uint64_t)kt__wk_now_ms();
    a->last_reg_ns = kt__wk_mono_ns();
    if (kt__wk_ask(a->self, a->cfg.registry, KT_WK_REGISTER, &g.base, 500,
                   &a->reg_corr) != KT_OK) {
        a->reg_corr = 0;
    }
}

static void
ag_heartbeat(agent *a)
{
    Ktpb__V1__WorkerHeartbeat h;
    Ktpb__V1__OpClaim pbs[KT_WK_MAX_SLOTS], *pp[KT_WK_MAX_SLOTS];

    ktpb__v1__worker_heartbeat__init(&h);
    h.worker_id = a->id;
    h.instance = a->instance;
    h.n_ops = kt__ag_claims(a, pbs, pp);
    h.ops = pp;
    h.draining = a->draining || a->shutting;
    a->last_hb_ns = kt__wk_mono_ns();
    if (kt__wk_ask(a->self, a->cfg.registry, KT_WK_HEARTBEAT, &h.base, a->hb_ms,
                   &a->hb_corr) != KT_OK) {
        a->hb_corr = 0;
    }
}

static void
ag_exit(agent *a, int code)
{
    if (a->exited) {
        return;
    }
    a->exited = true;
    kt_log(KT_LOG_NOTICE, "worker", "event=exit worker=%s code=%d", a->id,
           code);
    if (a->cfg.on_exit != NULL) {
        a->cfg.on_exit(a->cfg.exit_arg, code);
    }
}

// Operations whose actor stopped without an end are failed after a grace
// (their WorkerDone may still be on its way).
static void
ag_check_downs(agent *a, int64_t now)
{
    for (ag_op *op = a->ops; op != NULL; op = op->next) {
        if (op->aid == 0 && !op->ended && op->down_at_ns != 0 &&
            now - op->down_at_ns > AG_DOWN_GRACE) {
            Ktpb__V1__WorkerDone d;
            ktpb__v1__worker_done__init(&d);
            d.op_id = op->op_id;
            d.attempt = op->attempt;
            d.status = KTPB__V1__OP_STATUS__OP_FAILED;
            d.error =
                (char *)(uintptr_t) "operation actor stopped unexpectedly";
            op->done_len = ktpb__v1__worker_done__get_packed_size(&d);
            if ((op->done = malloc(op->done_len + 1)) != NULL) {
                ktpb__v1__worker_done__pack(&d, op->done);
                op->ended = true;
                kt__ag_send_end(a, op);
            }
        }
    }
}

static void
ag_tick(agent *a)
{
    int64_t now = kt__wk_mono_ns();

    if (a->cfg.parent_pid != 0 && !a->draining &&
        getppid() != a->cfg.parent_pid) {
        a->draining = true; // the backend that spawned us is gone
        kt_log(KT_LOG_NOTICE, "worker", "event=orphaned worker=%s ops=%u",
               a->id, kt__ag_nops(a));
    }
    ag_check_downs(a, now);
    if (!a->registered) {
        if (a->reg_corr == 0 && now - a->last_reg_ns >= AG_REG_EVERY_NS) {
            ag_register(a);
        }
    } else if (a->hb_corr == 0 &&
               now - a->last_hb_ns >= (int64_t)a->hb_ms * 1000000) {
        ag_heartbeat(a);
    }
    if (a->registered) {
        kt__ag_flush(a);
    }
    if ((a->shutting || a->draining) && a->ops == NULL && a->relays == NULL) {
        ag_exit(a, 0);
    } else if (a->draining && !a->registered && a->lost_at_ns != 0 &&
               now - a->lost_at_ns > AG_ORPHAN_GIVE_UP_NS) {
        kt_log(KT_LOG_ERR, "worker",
               "event=orphan_give_up worker=%s ops=%u unsaved", a->id,
               kt__ag_nops(a));
        ag_exit(a, 3); // no backend came back for us
    } else if (a->shutting && now > a->deadline_ns) {
        kt_log(KT_LOG_ERR, "worker",
               "event=shutdown_deadline worker=%s ops=%u unsaved", a->id,
               kt__ag_nops(a));
        ag_exit(a, 2);
    }
}

static void
ag_stale(agent *a, Ktpb__V1__OpClaim **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ag_op *op = kt__ag_op_find(a, v[i]->op_id);
        if (op != NULL && op->attempt == v[i]->attempt) {
            kt_log(KT_LOG_NOTICE, "worker",
                   "event=fenced op=%s attempt=%u worker=%s", op->op_id,
                   op->attempt, a->id);
            kt__ag_op_remove(a, op);
        }
    }
}

static void
ag_lost_backend(agent *a, const char *why)
{
    if (a->registered) {
        a->registered = false;
        a->lost_at_ns = kt__wk_mono_ns();
        kt_log(KT_LOG_NOTICE, "worker", "event=backend_lost worker=%s why=%s",
               a->id, why);
    }
    a->last_reg_ns = 0; // register at the next tick
}

static void
ag_on_register(agent *a, kt_msg *m)
{
    Ktpb__V1__WorkerRegisterReply *r = NULL;

    a->reg_corr = 0;
    if (kt_msg_type(m) != KT_WK_REGISTER_REPLY ||
        (r = ktpb__v1__worker_register_reply__unpack(
             NULL, kt_msg_len(m), kt_msg_cbody(m))) == NULL ||
        r->status != KT_OK) {
        if (r != NULL) {
            kt_log(KT_LOG_WARN, "worker", "event=register_refused why=\"%s\"",
                   r->message);
        }
        goto out;
    }
    a->registered = true;
    a->registrations++;
    a->boot = r->backend_boot;
    a->misses = 0;
    a->hb_ms = r->heartbeat_ms != 0 ? r->heartbeat_ms : a->hb_ms;
    a->last_hb_ns = kt__wk_mono_ns();
    kt_log(KT_LOG_NOTICE, "worker",
           "event=registered worker=%s n=%u ops=%u stale=%zu "
           "after_ms=%.1f",
           a->id, a->registrations, kt__ag_nops(a), r->n_stale,
           a->lost_at_ns != 0 ? (double)(kt__wk_mono_ns() - a->lost_at_ns) / 1e6
                              : 0.0);
    ag_stale(a, r->stale, r->n_stale);
    kt__ag_flush(a);
out:
    ktpb__v1__worker_register_reply__free_unpacked(r, NULL);
}

static void
ag_on_heartbeat(agent *a, kt_msg *m)
{
    Ktpb__V1__WorkerHeartbeatReply *r = NULL;

    a->hb_corr = 0;
    if (kt_msg_type(m) == KT_MSG_TIMEOUT) {
        if (++a->misses >= a->cfg.heartbeat_misses) {
            ag_lost_backend(a, "heartbeat timeout");
        }
        return;
    }
    if ((r = ktpb__v1__worker_heartbeat_reply__unpack(
             NULL, kt_msg_len(m), kt_msg_cbody(m))) == NULL) {
        return;
    }
    a->misses = 0;
    if (r->status == KT_ENOENT || r->backend_boot != a->boot) {
        ag_lost_backend(a, "backend restarted");
    } else {
        ag_stale(a, r->stale, r->n_stale);
    }
    ktpb__v1__worker_heartbeat_reply__free_unpacked(r, NULL);
}

static kt_err
agent_init(void *state, kt_actor *self, const void *cfg)
{
    agent *a = state;
    const kt_wk_agent_cfg *c = cfg;

    if (c == NULL || c->worker_id == NULL || c->worker_id[0] == '\0' ||
        strlen(c->worker_id) > KT_WK_ID_MAX || c->registry == 0 ||
        c->ops == 0 || c->persistence == 0) {
        return KT_EINVAL;
    }
    a->self = self;
    a->cfg = *c;
    kt__wk_copy(a->id, sizeof(a->id), c->worker_id);
    kt__wk_copy(a->caps, sizeof(a->caps),
                c->capabilities != NULL ? c->capabilities
                                        : "training,backtesting");
    kt__wk_copy(a->data_dir, sizeof(a->data_dir), c->data_dir);
    a->cfg.worker_id = a->id;
    a->cfg.capabilities = a->caps;
    a->cfg.data_dir = a->data_dir;
    if (a->cfg.heartbeat_misses == 0) {
        a->cfg.heartbeat_misses = KT_WK_DEFAULT_MISSES;
    }
    if (a->cfg.relay_timeout_ms == 0) {
        a->cfg.relay_timeout_ms = 1000;
    }
    if (a->cfg.shutdown_ms == 0) {
        a->cfg.shutdown_ms = KT_WK_DEFAULT_SHUTDOWN_MS;
    }
    if (a->cfg.slots == 0) {
        a->cfg.slots = 1;
    }
    a->hb_ms = c->heartbeat_ms != 0 ? c->heartbeat_ms : KT_WK_DEFAULT_HB_MS;
    a->instance = ((uint64_t)kt__wk_mono_ns() * 0x9e3779b97f4a7c15ull) ^
                  ((uint64_t)getpid() << 32) ^ kt_self(self);
    ag_register(a);
    return kt_timer_start(self, AG_TICK_MS, true, AG_TICK_TAG, &a->tick);
}

static kt_err
agent_handle(void *state, kt_actor *self, kt_msg *m)
{
    agent *a = state;
    uint64_t corr = kt_msg_corr(m);

    (void)self;
    if (kt_msg_type(m) == KT_MSG_TIMER) {
        ag_tick(a);
    } else if (kt_msg_type(m) == KT_MSG_DOWN) {
        kt__ag_down(a, m);
    } else if (corr != 0 && corr == a->reg_corr) {
        ag_on_register(a, m);
    } else if (corr != 0 && corr == a->hb_corr) {
        ag_on_heartbeat(a, m);
    } else if (kt__ag_relay_reply(a, m) || kt__ag_from_op(a, m)) {
        return KT_OK; // consumed
    } else {
        switch (kt_msg_type(m)) {
        case KT_WK_RUN:
            kt__ag_run(a, m);
            break;
        case KT_WK_CONTROL:
            kt__ag_control(a, m);
            break;
        case KT_WK_BACKEND_SHUTDOWN:
            ag_lost_backend(a, "backend shutting down");
            break;
        case KT_WK_AGENT_SHUTDOWN:
            kt__ag_shutdown(a, m);
            break;
        case KT_WK_AGENT_STATUS:
            kt__ag_status(a, m);
            break;
        default:
            kt_log(KT_LOG_DEBUG, "worker", "event=ignored type=%u",
                   kt_msg_type(m));
            break;
        }
    }
    kt_msg_free(m);
    return KT_OK;
}

static void
agent_fini(void *state)
{
    agent *a = state;

    while (a->ops != NULL) {
        ag_op *op = a->ops;
        a->ops = op->next;
        kt_msg_free(op->progress);
        free(op->done);
        free(op);
    }
    kt__ag_free_relays(a);
}

const kt_actor_ops wk_agent_ops = {
    .name = "worker",
    .state_size = sizeof(agent),
    .init = agent_init,
    .handle = agent_handle,
    .fini = agent_fini,
};
