// registry.c: the worker registry actor: registration, heartbeats, loss
// detection (process exits, heartbeat timeouts, reclaim grace) and the
// list. Placement of operations lives in registry_disp.c.
#include <errno.h>
#include <inttypes.h>
#include <ktpb/v1/envelope.pb-c.h>
#include <ktpb/v1/ops.pb-c.h>
#include <ktpb/v1/persist.pb-c.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kt/log.h>

#include "operations/operations.h"
#include "persistence/persistence.h"
#include "workers/registry_int.h"
#include "workers/wk_msg.h"

#define WK_SWEEP_TAG 0x5eeb

uint32_t
kt_wk_capability_of(const char *type)
{
    if (type == NULL) {
        return 0;
    }
    if (strcmp(type, "training") == 0) {
        return 1u;
    }
    if (strcmp(type, "backtesting") == 0 || strcmp(type, "backtest") == 0) {
        return 2u;
    }
    return 0;
}

void
kt__wk_claim_from_pb(wk_claim *c, const Ktpb__V1__OpClaim *pb)
{
    kt__wk_copy(c->op_id, sizeof(c->op_id), pb->op_id);
    kt__wk_copy(c->type, sizeof(c->type), pb->type);
    c->attempt = pb->attempt;
}

void
kt__wk_claim_to_pb(Ktpb__V1__OpClaim *pb, const wk_claim *c)
{
    ktpb__v1__op_claim__init(pb);
    pb->op_id = (char *)(uintptr_t)c->op_id;
    pb->type = (char *)(uintptr_t)c->type;
    pb->attempt = c->attempt;
}

wk_worker *
kt__wk_find(registry *r, const char *id)
{
    for (wk_worker *w = r->workers; w != NULL; w = w->next) {
        if (strcmp(w->id, id) == 0) {
            return w;
        }
    }
    return NULL;
}

bool
kt__wk_claim_drop(wk_worker *w, const char *op_id)
{
    for (uint32_t i = 0; i < w->nclaims; i++) {
        if (strcmp(w->claims[i].op_id, op_id) == 0) {
            w->claims[i] = w->claims[--w->nclaims];
            return true;
        }
    }
    return false;
}

static void
wk_unlink(registry *r, wk_worker *w)
{
    for (wk_worker **pp = &r->workers; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            return;
        }
    }
}

// Report claims lost: to the supervisor, or (none) straight to the
// operations actor as a failed WorkerDone.
static void
wk_report_lost(registry *r, const char *worker, int32_t pid, const char *reason,
               const wk_claim *cl, uint32_t n)
{
    Ktpb__V1__WorkerLost l;

    ktpb__v1__worker_lost__init(&l);
    Ktpb__V1__OpClaim pbs[KT_WK_MAX_SLOTS], *pp[KT_WK_MAX_SLOTS];

    kt_log(KT_LOG_WARN, "workers",
           "event=worker_lost actor=workers worker=%s reason=\"%s\" ops=%u",
           worker[0] != '\0' ? worker : "-", reason, n);
    for (uint32_t i = 0; i < n && i < KT_WK_MAX_SLOTS; i++) {
        kt__wk_claim_to_pb(&pbs[i], &cl[i]);
        pp[i] = &pbs[i];
    }
    l.worker_id = (char *)(uintptr_t)worker;
    l.reason = (char *)(uintptr_t)reason;
    l.n_ops = n < KT_WK_MAX_SLOTS ? n : KT_WK_MAX_SLOTS;
    l.ops = pp;
    l.detected_at_ns = kt__wk_mono_ns();
    l.pid = pid;
    if (kt__wk_sup_aid(r) != 0 &&
        kt__wk_send(r->self, r->sup, KT_WK_LOST, &l.base) == KT_OK) {
        return;
    }
    kt__wk_fail_ops(r, worker, reason, cl, l.n_ops);
}

void
kt__wk_watch(registry *r, wk_worker *w, kt_aid aid)
{
    if (aid == w->aid && w->conn_lost_ns == 0) {
        return;
    }
    w->aid = aid;
    w->conn_lost_ns = 0;
    if (aid != 0 && kt_monitor(r->self, aid) != KT_OK) {
        kt_log(KT_LOG_WARN, "workers", "event=monitor_failed worker=%s", w->id);
    }
}

// A monitored worker endpoint is down: its connection closed. The worker
// is lost unless it comes back over a new connection within the grace.
static void
wk_down(registry *r, const kt_msg *m)
{
    Ktpb__V1__Down *d =
        ktpb__v1__down__unpack(NULL, kt_msg_len(m), kt_msg_cbody(m));

    if (d == NULL) {
        return;
    }
    for (wk_worker *w = r->workers; w != NULL; w = w->next) {
        if (w->aid == d->aid && w->conn_lost_ns == 0) {
            w->conn_lost_ns = kt__wk_mono_ns();
            kt_log(KT_LOG_INFO, "workers",
                   "event=connection_lost worker=%s detail=\"%s\"", w->id,
                   d->detail);
        }
    }
    ktpb__v1__down__free_unpacked(d, NULL);
}

void
kt__wk_lost(registry *r, wk_worker *w, const char *reason)
{
    wk_claim lost[KT_WK_MAX_SLOTS];
    uint32_t n = 0;

    wk_unlink(r, w);
    kt__wk_table_del(r, w->id);
    for (uint32_t i = 0; i < w->nclaims; i++) {
        if (!kt__wk_disp_requeue(r, w->id, w->claims[i].op_id)) {
            lost[n++] = w->claims[i];
        }
    }
    wk_report_lost(r, w->id, w->pid, reason, lost, n);
    free(w);
    kt__wk_try_dispatch(r);
}

void
kt__wk_fail_ops(registry *r, const char *worker, const char *reason,
                const wk_claim *cl, uint32_t n)
{
    char err[256];

    for (uint32_t i = 0; i < n; i++) {
        Ktpb__V1__WorkerDone d;

        ktpb__v1__worker_done__init(&d);
        snprintf(err, sizeof(err), "Worker %s lost: %s",
                 worker[0] != '\0' ? worker : "(none)", reason);
        d.op_id = (char *)(uintptr_t)cl[i].op_id;
        d.attempt = cl[i].attempt;
        d.status = KTPB__V1__OP_STATUS__OP_FAILED;
        d.error = err;
        if (kt__wk_send(r->self, kt__wk_ops_aid(r), KT_OPS_WORKER_DONE,
                        &d.base) != KT_OK) {
            kt_log(KT_LOG_ERR, "workers", "event=fail_lost op=%s", cl[i].op_id);
        }
    }
}

void
kt__wk_abort(registry *r, wk_worker *w, const wk_claim *c)
{
    Ktpb__V1__WorkerControl ctl;

    ktpb__v1__worker_control__init(&ctl);

    ctl.op_id = (char *)(uintptr_t)c->op_id;
    ctl.attempt = c->attempt;
    ctl.kind = KTPB__V1__WORKER_CONTROL_KIND__WORKER_CONTROL_ABORT;
    ctl.reason = (char *)(uintptr_t) "stale attempt";
    if (kt__wk_send(r->self, w->aid, KT_WK_CONTROL, &ctl.base) != KT_OK) {
        kt_log(KT_LOG_NOTICE, "workers", "event=abort_lost worker=%s op=%s",
               w->id, c->op_id);
    }
}

// The running operations at backend start: claims made before this list
// arrived are verified against it now.
static void
wk_on_reclaim(registry *r, const kt_msg *m)
{
    Ktpb__V1__RegistryReclaim *rc = ktpb__v1__registry_reclaim__unpack(
        NULL, kt_msg_len(m), kt_msg_cbody(m));
    int64_t dl;

    if (rc == NULL) {
        (void)kt__wk_status(r->self, m, KT_EPROTO, "malformed reclaim", NULL);
        return;
    }
    dl = kt__wk_mono_ns() + (int64_t)rc->grace_ms * 1000000;
    for (size_t i = 0; i < rc->n_ops; i++) {
        wk_reclaim *e = calloc(1, sizeof(*e));
        if (e == NULL) {
            break;
        }
        kt__wk_claim_from_pb(&e->c, rc->ops[i]);
        e->deadline_ns = dl;
        e->next = r->reclaim;
        r->reclaim = e;
    }
    r->reclaim_known = true;
    for (wk_worker *w = r->workers; w != NULL; w = w->next) {
        for (uint32_t i = 0; i < w->nclaims;) {
            wk_claim *c = &w->claims[i];
            if (!c->unverified) {
                i++;
            } else if (kt__wk_reclaim_take(r, c)) {
                c->unverified = false;
                kt__wk_adopt(r, w, c);
                i++;
            } else {
                kt__wk_abort(r, w, c);
                w->claims[i] = w->claims[--w->nclaims];
            }
        }
    }
    (void)kt__wk_status(r->self, m, KT_OK, NULL, NULL);
    ktpb__v1__registry_reclaim__free_unpacked(rc, NULL);
}

static void
wk_exited(registry *r, const kt_msg *m)
{
    Ktpb__V1__WorkerExited *x =
        ktpb__v1__worker_exited__unpack(NULL, kt_msg_len(m), kt_msg_cbody(m));
    char why[64];
    wk_worker *w;

    if (x == NULL) {
        return;
    }
    if ((w = kt__wk_find(r, x->worker_id)) != NULL &&
        (x->pid == 0 || w->pid == x->pid)) {
        if (x->signal != 0) {
            snprintf(why, sizeof(why), "killed by signal %d", x->signal);
        } else {
            snprintf(why, sizeof(why), "exited with code %d", x->exit_code);
        }
        kt__wk_lost(r, w, why);
    }
    ktpb__v1__worker_exited__free_unpacked(x, NULL);
}

// wk_process_exists: w runs on this host and its process is still there
// (running, or exited and not yet reaped by its parent).
static bool
wk_process_exists(const registry *r, const wk_worker *w)
{
    return w->pid > 0 && r->host[0] != '\0' && strcmp(w->host, r->host) == 0 &&
           (kill((pid_t)w->pid, 0) == 0 || errno == EPERM);
}

// wk_pool_child: w is one of this process's pool workers
// (supervisor/sup_local.c names them "local-<our pid>-<slot>"). The pool
// reports how each one ended from its pidfd, so a closed connection is
// never the reason given for one: under load the pool's report can come
// after one heartbeat interval, and "connection lost" would hide the
// signal that killed it.
static bool
wk_pool_child(const wk_worker *w)
{
    char pre[32];
    int n = snprintf(pre, sizeof(pre), "local-%d-", (int)getpid());

    return n > 0 && strncmp(w->id, pre, (size_t)n) == 0;
}

static void
wk_sweep(registry *r)
{
    int64_t now = kt__wk_mono_ns();
    int64_t limit =
        (int64_t)r->cfg.heartbeat_ms * r->cfg.heartbeat_misses * 1000000;
    wk_worker *w = r->workers;
    char why[64];

    while (w != NULL) {
        wk_worker *next = w->next;
        if (w->conn_lost_ns != 0 && !wk_pool_child(w) &&
            now - w->conn_lost_ns > (int64_t)r->cfg.heartbeat_ms * 1000000 &&
            !wk_process_exists(r, w)) {
            kt__wk_lost(r, w, "connection lost");
        } else if (now - w->last_seen_ns > limit) {
            snprintf(why, sizeof(why), "no heartbeat for %lld ms",
                     (long long)((now - w->last_seen_ns) / 1000000));
            kt__wk_lost(r, w, why);
        }
        w = next;
    }
    for (wk_reclaim **pp = &r->reclaim; *pp != NULL;) {
        wk_reclaim *e = *pp;
        if (e->deadline_ns > now) {
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        wk_report_lost(r, "", 0, "not reclaimed by any worker in time", &e->c,
                       1);
        free(e);
    }
    kt__wk_disp_expire(r, now);
}

kt_aid
kt__wk_ops_aid(registry *r)
{
    if (r->ops == 0 &&
        kt_lookup(kt_actor_runtime(r->self), KT_OPS_NAME, &r->ops) != KT_OK) {
        r->ops = 0;
    }
    return r->ops;
}

kt_aid
kt__wk_sup_aid(registry *r)
{
    if (r->cfg.supervised && r->sup == 0 &&
        kt_lookup(kt_actor_runtime(r->self), "supervisor", &r->sup) != KT_OK) {
        r->sup = 0;
    }
    return r->sup;
}

static kt_err
registry_init(void *state, kt_actor *self, const void *cfg)
{
    registry *r = state;
    const kt_workers_cfg *c = cfg;
    uint32_t sweep;
    uint64_t boot = (uint64_t)kt__wk_now_ms();

    r->self = self;
    if (c != NULL) {
        r->cfg = *c;
    }
    (void)gethostname(r->host, sizeof(r->host) - 1);
    if (r->cfg.heartbeat_ms == 0) {
        r->cfg.heartbeat_ms = KT_WK_DEFAULT_HB_MS;
    }
    if (r->cfg.heartbeat_misses == 0) {
        r->cfg.heartbeat_misses = KT_WK_DEFAULT_MISSES;
    }
    if (r->cfg.dispatch_timeout_ms == 0) {
        r->cfg.dispatch_timeout_ms = KT_WK_DEFAULT_DISP_MS;
    }
    if (r->cfg.run_timeout_ms == 0) {
        r->cfg.run_timeout_ms = 5000;
    }
    r->ops = r->cfg.ops;
    r->reclaim_known = !r->cfg.supervised;
    // Boot id: time mixed with the actor id, different on every start.
    r->boot = (boot << 16) ^ kt_self(self) ^ ((uint64_t)kt__wk_mono_ns() << 40);
    if (kt__wk_persist(r) != 0) {
        Ktpb__V1__WorkerListRequest q;
        ktpb__v1__worker_list_request__init(&q);
        if (kt__wk_ask(self, r->persist, KT_PERSIST_WORKER_LIST, &q.base, 30000,
                       &r->prune_corr) != KT_OK) {
            r->prune_corr = 0;
        }
    }
    sweep = r->cfg.heartbeat_ms / 5;
    sweep = sweep < 10 ? 10 : sweep > 100 ? 100 : sweep;
    return kt_timer_start(self, sweep, true, WK_SWEEP_TAG, &r->sweep_timer);
}

static kt_err
registry_handle(void *state, kt_actor *self, kt_msg *m)
{
    registry *r = state;

    (void)self;
    switch (kt_msg_type(m)) {
    case KT_MSG_TIMER:
        wk_sweep(r);
        break;
    case KT_WK_REGISTER:
        kt__wk_register(r, m);
        break;
    case KT_WK_HEARTBEAT:
        kt__wk_heartbeat(r, m);
        break;
    case KT_WK_OP_ENDED:
        kt__wk_op_ended(r, m);
        break;
    case KT_WK_DISPATCH:
        kt__wk_dispatch(r, m);
        break;
    case KT_WK_CONTROL:
        kt__wk_control(r, m);
        break;
    case KT_WK_EXITED:
        wk_exited(r, m);
        break;
    case KT_MSG_DOWN:
        wk_down(r, m);
        break;
    case KT_WK_LIST:
        kt__wk_list(r, m);
        break;
    case KT_WK_WHERE:
        kt__wk_where(r, m);
        break;
    case KT_WK_RECLAIM:
        wk_on_reclaim(r, m);
        break;
    case KT_WK_NOTIFY_SHUTDOWN:
        kt__wk_notify_shutdown(r, m);
        break;
    case KT_PERSIST_WORKER_REPLY:
        if (kt_msg_corr(m) != 0 && kt_msg_corr(m) == r->prune_corr) {
            kt__wk_table_prune(r, m);
        }
        break;
    case KT_OPS_REPLY:
    case KT_WK_REPLY:
    case KT_MSG_TIMEOUT:
        if (!kt__wk_end_reply(r, m) && !kt__wk_run_reply(r, m)) {
            kt_log(KT_LOG_DEBUG, "workers", "event=late_reply type=%u",
                   kt_msg_type(m));
        }
        break;
    default: // never answered: a reply type must not bounce back
        kt_log(KT_LOG_DEBUG, "workers", "event=ignored type=%u",
               kt_msg_type(m));
        break;
    }
    kt_msg_free(m);
    return KT_OK;
}

static void
registry_fini(void *state)
{
    registry *r = state;

    while (r->workers != NULL) {
        wk_worker *w = r->workers;
        r->workers = w->next;
        free(w);
    }
    while (r->reclaim != NULL) {
        wk_reclaim *e = r->reclaim;
        r->reclaim = e->next;
        free(e);
    }
    kt__wk_disp_free_all(r);
}

const kt_actor_ops workers_ops = {
    .name = "workers",
    .state_size = sizeof(registry),
    .init = registry_init,
    .handle = registry_handle,
    .fini = registry_fini,
};
