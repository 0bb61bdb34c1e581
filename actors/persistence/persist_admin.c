// persist_admin.c: the persistence actor's checkpoint management requests:
// delete (`ktrdr checkpoints delete`), list, stats and cleanup (the guide's
// /api/v1/checkpoints/stats and /cleanup).
#include <ktpb/v1/persist.pb-c.h>
#include <stdlib.h>
#include <string.h>

#include "persistence/persist_int.h"

#define PB_STR(s) ((char *)(uintptr_t)(s)) // packed only, never modified

void
kt__persist_ckpt_delete(persist *p, const kt_msg *req)
{
    Ktpb__V1__CheckpointDeleteReply r;

    ktpb__v1__checkpoint_delete_reply__init(&r);
    Ktpb__V1__CheckpointDeleteRequest *m;
    uint64_t n = 0;
    kt_err rv;

    m = ktpb__v1__checkpoint_delete_request__unpack(NULL, kt_msg_len(req),
                                                    kt_msg_cbody(req));
    if (m == NULL) {
        kt__persist_reply_err(p, req, KT_PERSIST_CKPT_DELETE_REPLY, KT_EPROTO,
                              "malformed CheckpointDeleteRequest");
        return;
    }
    rv = kt__store_ckpt_delete_op(p->store, m->op_id, &n);
    r.status = (int32_t)rv;
    r.message = PB_STR(kt__store_errmsg(p->store));
    r.deleted = rv == KT_OK ? n : 0;
    kt__persist_reply(p, req, KT_PERSIST_CKPT_DELETE_REPLY, &r.base);
    ktpb__v1__checkpoint_delete_request__free_unpacked(m, NULL);
}

void
kt__persist_ckpt_stats(persist *p, const kt_msg *req)
{
    Ktpb__V1__StatsReply r;

    ktpb__v1__stats_reply__init(&r);
    kt_ckpt_stats st = {0};
    char iso[32] = "";
    kt_err rv;

    rv = kt__store_ckpt_stats(p->store, &st);
    if (rv == KT_OK && st.oldest_ms > 0) {
        kt__store_iso8601(st.oldest_ms, iso);
    }
    r.status = (int32_t)rv;
    r.message = PB_STR(rv == KT_OK ? "" : kt__store_errmsg(p->store));
    r.total_checkpoints = st.total_checkpoints;
    r.total_size_bytes = st.total_size_bytes;
    r.oldest_checkpoint = iso;
    kt__persist_reply(p, req, KT_PERSIST_CKPT_STATS_REPLY, &r.base);
}

void
kt__persist_ckpt_cleanup(persist *p, const kt_msg *req)
{
    Ktpb__V1__CleanupReply r;

    ktpb__v1__cleanup_reply__init(&r);
    Ktpb__V1__CleanupRequest *m;
    kt_cleanup_result res = {0};
    kt_err rv;

    m = ktpb__v1__cleanup_request__unpack(NULL, kt_msg_len(req),
                                          kt_msg_cbody(req));
    if (m == NULL) {
        kt__persist_reply_err(p, req, KT_PERSIST_CKPT_CLEANUP_REPLY, KT_EPROTO,
                              "malformed CleanupRequest");
        return;
    }
    rv = kt__persist_cleanup(
        p, m->max_age_days > 0 ? m->max_age_days : p->max_age_days, &res);
    r.status = (int32_t)rv;
    r.message = PB_STR(rv == KT_OK ? "" : kt__store_errmsg(p->store));
    r.deleted_by_age = res.aged;
    r.orphan_dirs = res.orphan_dirs;
    r.stale_temps = res.stale_temps;
    kt__persist_reply(p, req, KT_PERSIST_CKPT_CLEANUP_REPLY, &r.base);
    ktpb__v1__cleanup_request__free_unpacked(m, NULL);
}

// list_fill builds one CheckpointRecord per rec (no bytes), each with its
// artifact entries; everything is freed by list_free.
static Ktpb__V1__CheckpointRecord **
list_fill(const kt_ckpt_rec *recs, size_t n, char (*iso)[32])
{
    Ktpb__V1__CheckpointRecord **out = calloc(n + 1, sizeof(*out));

    for (size_t i = 0; out != NULL && i < n; i++) {
        const kt_ckpt_rec *r = &recs[i];
        Ktpb__V1__CheckpointRecord *c = calloc(1, sizeof(*c));
        Ktpb__V1__Artifact *a = calloc(r->narts + 1, sizeof(*a));
        Ktpb__V1__Artifact **pa = calloc(r->narts + 1, sizeof(*pa));
        out[i] = c;
        if (c == NULL || a == NULL || pa == NULL) {
            free(a);
            free(pa);
            return out; // caller sees a NULL slot: out of memory
        }
        ktpb__v1__checkpoint_record__init(c);
        kt__store_iso8601(r->created_ms, iso[i]);
        c->op_id = PB_STR(r->op_id);
        c->seq = r->seq;
        c->attempt = r->attempt;
        c->type = (Ktpb__V1__CheckpointType)r->type;
        c->unit = PB_STR(r->unit);
        c->unit_value = r->unit_value;
        c->format_version = r->format_version;
        c->created_at_ms = r->created_ms;
        c->created_at = iso[i];
        c->artifacts_size = r->artifacts_size;
        c->path = PB_STR(r->path);
        for (size_t j = 0; j < r->narts; j++) {
            ktpb__v1__artifact__init(&a[j]);
            a[j].name = PB_STR(r->arts[j].name);
            a[j].size = r->arts[j].size;
            a[j].sha256.data = (uint8_t *)(uintptr_t)r->arts[j].sha256;
            a[j].sha256.len = KT_SHA256_LEN;
            pa[j] = &a[j];
        }
        c->n_artifacts = r->narts;
        c->artifacts = pa;
    }
    return out;
}

static void
list_free(Ktpb__V1__CheckpointRecord **out, size_t n)
{
    for (size_t i = 0; out != NULL && i < n; i++) {
        if (out[i] != NULL) {
            free(out[i]->artifacts != NULL ? out[i]->artifacts[0] : NULL);
            free(out[i]->artifacts);
            free(out[i]);
        }
    }
    free(out);
}

void
kt__persist_ckpt_list(persist *p, const kt_msg *req)
{
    Ktpb__V1__CheckpointListReply r;

    ktpb__v1__checkpoint_list_reply__init(&r);
    Ktpb__V1__CheckpointListRequest *m;
    Ktpb__V1__CheckpointRecord **out = NULL;
    char(*iso)[32] = NULL;
    kt_ckpt_rec *recs = NULL;
    size_t n = 0;
    kt_err rv;

    m = ktpb__v1__checkpoint_list_request__unpack(NULL, kt_msg_len(req),
                                                  kt_msg_cbody(req));
    if (m == NULL) {
        kt__persist_reply_err(p, req, KT_PERSIST_CKPT_LIST_REPLY, KT_EPROTO,
                              "malformed CheckpointListRequest");
        return;
    }
    rv =
        kt__store_ckpt_list(p->store, m->op_id[0] ? m->op_id : NULL, &recs, &n);
    r.message = PB_STR(rv == KT_OK ? "" : kt__store_errmsg(p->store));
    if (rv == KT_OK && ((iso = calloc(n + 1, sizeof(*iso))) == NULL ||
                        (out = list_fill(recs, n, iso)) == NULL)) {
        rv = KT_ENOMEM;
    }
    for (size_t i = 0; rv == KT_OK && i < n; i++) {
        rv = out[i] == NULL ? KT_ENOMEM : KT_OK;
    }
    r.status = (int32_t)rv;
    if (rv == KT_OK) {
        r.n_checkpoints = n;
        r.checkpoints = out;
    }
    kt__persist_reply(p, req, KT_PERSIST_CKPT_LIST_REPLY, &r.base);
    list_free(out, n);
    free(iso);
    kt__ckpt_recs_free(recs, n);
    ktpb__v1__checkpoint_list_request__free_unpacked(m, NULL);
}
