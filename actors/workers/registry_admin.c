// registry_admin.c: the registry's list (RegistryListReply), the backend
// shutdown broadcast, and the mirror of the registered workers in
// persistence's workers table (what `ktrdr workers` shows).
#include <ktpb/v1/persist.pb-c.h>
#include <ktpb/v1/workers.pb-c.h>
#include <stdio.h>
#include <stdlib.h>

#include <kt/log.h>

#include "persistence/persistence.h"
#include "workers/registry_int.h"
#include "workers/wk_msg.h"

// The persistence workers table mirrors the registry for `ktrdr workers`
// (best effort: answers are ignored).
kt_aid
kt__wk_persist(registry *r)
{
    if (r->persist == 0 && kt_lookup(kt_actor_runtime(r->self), KT_PERSIST_NAME,
                                     &r->persist) != KT_OK) {
        r->persist = 0;
    }
    return r->persist;
}

void
kt__wk_table_put(registry *r, const wk_worker *w)
{
    Ktpb__V1__WorkerUpsertRequest u;
    Ktpb__V1__WorkerRecord rec;
    char url[96], caps[32];

    if (kt__wk_persist(r) == 0) {
        return;
    }
    ktpb__v1__worker_upsert_request__init(&u);
    ktpb__v1__worker_record__init(&rec);
    snprintf(url, sizeof(url), "%s pid %d", w->host, (int)w->pid);
    snprintf(caps, sizeof(caps), "%s%s%s",
             (w->caps & 1u) != 0 ? "training" : "",
             (w->caps & 3u) == 3u ? "," : "",
             (w->caps & 2u) != 0 ? "backtesting" : "");
    rec.id = (char *)(uintptr_t)w->id;
    rec.url = url;
    rec.capabilities = caps;
    rec.current_op =
        (char *)(uintptr_t)(w->nclaims > 0 ? w->claims[0].op_id : "");
    u.worker = &rec;
    if (kt__wk_send(r->self, r->persist, KT_PERSIST_WORKER_UPSERT, &u.base) !=
        KT_OK) {
        kt_log(KT_LOG_DEBUG, "workers", "event=table_put_lost");
    }
}

void
kt__wk_table_del(registry *r, const char *id)
{
    Ktpb__V1__WorkerRemoveRequest q;

    if (kt__wk_persist(r) == 0) {
        return;
    }
    ktpb__v1__worker_remove_request__init(&q);
    q.id = (char *)(uintptr_t)id;
    if (kt__wk_send(r->self, r->persist, KT_PERSIST_WORKER_REMOVE, &q.base) !=
        KT_OK) {
        kt_log(KT_LOG_DEBUG, "workers", "event=table_del_lost");
    }
}

// At start: rows of a previous backend's workers that are not (yet)
// registered here are removed; re-registering workers put theirs back.
void
kt__wk_table_prune(registry *r, const kt_msg *m)
{
    Ktpb__V1__WorkerReply *rep =
        ktpb__v1__worker_reply__unpack(NULL, kt_msg_len(m), kt_msg_cbody(m));

    for (size_t i = 0; rep != NULL && i < rep->n_workers; i++) {
        if (kt__wk_find(r, rep->workers[i]->id) == NULL) {
            kt__wk_table_del(r, rep->workers[i]->id);
        }
    }
    ktpb__v1__worker_reply__free_unpacked(rep, NULL);
}

void
kt__wk_list(registry *r, const kt_msg *m)
{
    Ktpb__V1__RegistryListReply rep;

    ktpb__v1__registry_list_reply__init(&rep);
    Ktpb__V1__WorkerInfo *infos = NULL, **pi = NULL;
    Ktpb__V1__OpClaim *claims = NULL, **pc = NULL;
    static char cap_t[] = "training", cap_b[] = "backtesting";
    static char *caps[] = {cap_t, cap_b};
    char *capv[64][2];
    size_t n = 0, k = 0;

    for (wk_worker *w = r->workers; w != NULL; w = w->next) {
        n++;
    }
    n = n > 64 ? 64 : n;
    infos = calloc(n + 1, sizeof(*infos));
    pi = calloc(n + 1, sizeof(*pi));
    claims = calloc(n * KT_WK_MAX_SLOTS + 1, sizeof(*claims));
    pc = calloc(n * KT_WK_MAX_SLOTS + 1, sizeof(*pc));
    if (infos == NULL || pi == NULL || claims == NULL || pc == NULL) {
        (void)kt__wk_status(r->self, m, KT_ENOMEM, "out of memory", NULL);
        goto out;
    }
    size_t i = 0;
    for (wk_worker *w = r->workers; w != NULL && i < n; w = w->next, i++) {
        Ktpb__V1__WorkerInfo *f = &infos[i];
        ktpb__v1__worker_info__init(f);
        f->worker_id = w->id;
        f->instance = w->instance;
        f->n_capabilities = 0;
        for (int c = 0; c < 2; c++) {
            if ((w->caps & (1u << c)) != 0) {
                capv[i][f->n_capabilities++] = caps[c];
            }
        }
        f->capabilities = capv[i];
        f->slots = w->slots;
        f->pid = w->pid;
        f->host = w->host;
        f->draining = w->draining;
        f->last_seen_ms = w->last_seen_ms;
        f->registered_at_ns = w->registered_at_ns;
        f->registrations = w->registrations;
        f->ops = &pc[k];
        for (uint32_t j = 0; j < w->nclaims; j++, k++) {
            kt__wk_claim_to_pb(&claims[k], &w->claims[j]);
            pc[k] = &claims[k];
            f->n_ops++;
        }
        pi[i] = f;
    }
    rep.workers = pi;
    rep.n_workers = n;
    rep.backend_boot = r->boot;
    for (wk_disp *d = r->disp; d != NULL; d = d->next) {
        rep.queued += d->run_corr == 0 ? 1 : 0;
    }
    if (kt__wk_reply(r->self, m, KT_WK_LIST_REPLY, &rep.base) != KT_OK) {
        kt_log(KT_LOG_NOTICE, "workers", "event=list_reply_lost");
    }
out:
    free(infos);
    free(pi);
    free(claims);
    free(pc);
}

// The backend goes away: tell every worker (they keep computing).
void
kt__wk_notify_shutdown(registry *r, const kt_msg *m)
{
    Ktpb__V1__BackendShutdown b;

    ktpb__v1__backend_shutdown__init(&b);

    b.backend_boot = r->boot;
    for (wk_worker *w = r->workers; w != NULL; w = w->next) {
        if (kt__wk_send(r->self, w->aid, KT_WK_BACKEND_SHUTDOWN, &b.base) !=
            KT_OK) {
            kt_log(KT_LOG_NOTICE, "workers", "event=notify_lost worker=%s",
                   w->id);
        }
    }
    (void)kt__wk_status(r->self, m, KT_OK, NULL, NULL);
}
