// persist_op.c: the persistence actor's operation and worker requests:
// protobuf in, store call, protobuf reply (status + message always set).
#include <ktpb/v1/persist.pb-c.h>
#include <stdlib.h>
#include <string.h>

#include "persistence/persist_int.h"

#define PB_STR(s) ((char *)(uintptr_t)(s)) // packed only, never modified

// Borrowed view of r (valid while r lives).
static void
op_to_pb(const kt_op_rec *r, Ktpb__V1__OperationRecord *o)
{
    ktpb__v1__operation_record__init(o);
    o->id = PB_STR(r->id);
    o->type = PB_STR(r->type);
    o->status = (Ktpb__V1__OpStatus)r->status;
    o->parent_id = PB_STR(r->parent_id);
    o->worker_id = PB_STR(r->worker_id);
    o->attempt = r->attempt;
    o->restart_count = r->restart_count;
    o->created_at_ms = r->created_ms;
    o->started_at_ms = r->started_ms;
    o->updated_at_ms = r->updated_ms;
    o->completed_at_ms = r->completed_ms;
    o->progress_percent = r->progress_percent;
    o->current_step = PB_STR(r->current_step);
    o->units_done = r->units_done;
    o->units_total = r->units_total;
    o->metadata.data = r->metadata;
    o->metadata.len = r->metadata_len;
    o->result.data = r->result;
    o->result.len = r->result_len;
    o->error = PB_STR(r->error != NULL ? r->error : "");
    o->checkpoint_seq = r->ckpt_seq;
    o->checkpoint_type =
        r->ckpt_seq ? (Ktpb__V1__CheckpointType)r->ckpt_type : 0;
    o->checkpoint_unit = PB_STR(r->ckpt_unit);
    o->checkpoint_unit_value = r->ckpt_unit_value;
    o->checkpoint_created_at_ms = r->ckpt_created_ms;
}

// op_reply answers with status rv and, when the operation exists, its row.
static void
op_reply(persist *p, const kt_msg *req, kt_err rv, const char *id)
{
    Ktpb__V1__OpReply r;

    ktpb__v1__op_reply__init(&r);
    Ktpb__V1__OperationRecord o;
    char msg[512];
    kt_op_rec rec;

    kt__store_copy(msg, sizeof(msg), kt__store_errmsg(p->store));
    r.status = (int32_t)rv;
    r.message = msg;
    if (id != NULL && kt__store_valid_id(id) &&
        kt__store_op_get(p->store, id, &rec) == KT_OK) {
        op_to_pb(&rec, &o);
        r.op = &o;
        kt__persist_reply(p, req, KT_PERSIST_OP_REPLY, &r.base);
        kt__op_rec_fini(&rec);
        return;
    }
    kt__persist_reply(p, req, KT_PERSIST_OP_REPLY, &r.base);
}

#define UNPACK_OR_REPLY(var, fn, reply_type, what)               \
    do {                                                         \
        var = fn(NULL, kt_msg_len(req), kt_msg_cbody(req));      \
        if (var == NULL) {                                       \
            kt__persist_reply_err(p, req, reply_type, KT_EPROTO, \
                                  "malformed " what);            \
            return;                                              \
        }                                                        \
    } while (0)

void
kt__persist_op_create(persist *p, const kt_msg *req)
{
    Ktpb__V1__OpCreateRequest *m;
    kt_err rv;

    UNPACK_OR_REPLY(m, ktpb__v1__op_create_request__unpack, KT_PERSIST_OP_REPLY,
                    "OpCreateRequest");
    kt_op_new n = {.id = m->id,
                   .type = m->type,
                   .parent_id = m->parent_id,
                   .metadata = m->metadata.data,
                   .metadata_len = m->metadata.len};
    rv = kt__store_op_create(p->store, &n);
    op_reply(p, req, rv, rv == KT_OK ? m->id : NULL);
    ktpb__v1__op_create_request__free_unpacked(m, NULL);
}

void
kt__persist_op_transition(persist *p, const kt_msg *req)
{
    Ktpb__V1__OpTransitionRequest *m;
    kt_err rv;

    UNPACK_OR_REPLY(m, ktpb__v1__op_transition_request__unpack,
                    KT_PERSIST_OP_REPLY, "OpTransitionRequest");
    kt_op_change c = {.id = m->id,
                      .to = (kt_op_status)m->to,
                      .error = m->error[0] != '\0' ? m->error : NULL,
                      .result = m->result.data,
                      .result_len = m->result.len,
                      .worker_id = m->worker_id,
                      .count_restart = m->count_restart};
    rv = kt__store_op_change(p->store, &c);
    op_reply(p, req, rv, m->id);
    ktpb__v1__op_transition_request__free_unpacked(m, NULL);
}

void
kt__persist_op_progress(persist *p, const kt_msg *req)
{
    Ktpb__V1__OpProgressRequest *m;
    kt_err rv;

    UNPACK_OR_REPLY(m, ktpb__v1__op_progress_request__unpack,
                    KT_PERSIST_OP_REPLY, "OpProgressRequest");
    kt_op_progress pr = {.id = m->id,
                         .percent = m->percent,
                         .current_step = m->current_step,
                         .units_done = m->units_done,
                         .units_total = m->units_total};
    rv = kt__store_op_progress(p->store, &pr);
    op_reply(p, req, rv, m->id);
    ktpb__v1__op_progress_request__free_unpacked(m, NULL);
}

void
kt__persist_op_get(persist *p, const kt_msg *req)
{
    Ktpb__V1__OpGetRequest *m;
    kt_op_rec rec;
    kt_err rv;

    UNPACK_OR_REPLY(m, ktpb__v1__op_get_request__unpack, KT_PERSIST_OP_REPLY,
                    "OpGetRequest");
    rv = kt__store_op_get(p->store, m->id, &rec);
    if (rv == KT_OK) {
        kt__op_rec_fini(&rec); // op_reply reads it again to fill the reply
    }
    op_reply(p, req, rv, rv == KT_OK ? m->id : NULL);
    ktpb__v1__op_get_request__free_unpacked(m, NULL);
}

static void
op_list_reply(persist *p, const kt_msg *req, kt_op_rec *recs, size_t n)
{
    Ktpb__V1__OpListReply r;

    ktpb__v1__op_list_reply__init(&r);
    Ktpb__V1__OperationRecord *o = calloc(n + 1, sizeof(*o));
    Ktpb__V1__OperationRecord **po = calloc(n + 1, sizeof(*po));

    if (o == NULL || po == NULL) {
        kt__persist_reply_err(p, req, KT_PERSIST_OP_LIST_REPLY, KT_ENOMEM,
                              "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            op_to_pb(&recs[i], &o[i]);
            po[i] = &o[i];
        }
        r.message = PB_STR("");
        r.n_ops = n;
        r.ops = po;
        kt__persist_reply(p, req, KT_PERSIST_OP_LIST_REPLY, &r.base);
    }
    free(o);
    free(po);
}

void
kt__persist_op_list(persist *p, const kt_msg *req)
{
    Ktpb__V1__OpListRequest *m;
    kt_op_rec *recs = NULL;
    size_t n = 0;
    kt_err rv;

    UNPACK_OR_REPLY(m, ktpb__v1__op_list_request__unpack,
                    KT_PERSIST_OP_LIST_REPLY, "OpListRequest");
    kt_op_filter f = {.type = m->type[0] != '\0' ? m->type : NULL,
                      .parent_id =
                          m->parent_id[0] != '\0' ? m->parent_id : NULL,
                      .resumable = m->resumable,
                      .limit = m->limit};
    for (size_t i = 0; i < m->n_statuses; i++) {
        int st = (int)m->statuses[i];
        if (st >= (int)KT_OP_PENDING && st <= (int)KT_OP_RESUMING) {
            f.status_mask |= 1u << st;
        }
    }
    rv = kt__store_op_list(p->store, &f, &recs, &n);
    if (rv != KT_OK) {
        kt__persist_reply_err(p, req, KT_PERSIST_OP_LIST_REPLY, rv,
                              kt__store_errmsg(p->store));
    } else {
        op_list_reply(p, req, recs, n);
        kt__op_recs_free(recs, n);
    }
    ktpb__v1__op_list_request__free_unpacked(m, NULL);
}

static void
worker_reply(persist *p, const kt_msg *req, kt_err rv, const char *msg,
             kt_worker_rec *w, size_t n)
{
    Ktpb__V1__WorkerReply r;

    ktpb__v1__worker_reply__init(&r);
    Ktpb__V1__WorkerRecord *o = calloc(n + 1, sizeof(*o));
    Ktpb__V1__WorkerRecord **po = calloc(n + 1, sizeof(*po));

    r.status = (int32_t)rv;
    r.message = PB_STR(msg != NULL   ? msg
                       : rv == KT_OK ? ""
                                     : kt__store_errmsg(p->store));
    for (size_t i = 0; o != NULL && po != NULL && i < n; i++) {
        ktpb__v1__worker_record__init(&o[i]);
        o[i].id = w[i].id;
        o[i].url = w[i].url;
        o[i].capabilities = w[i].capabilities;
        o[i].last_seen_ms = w[i].last_seen_ms;
        o[i].current_op = w[i].current_op;
        po[i] = &o[i];
        r.n_workers = i + 1;
    }
    r.workers = po;
    kt__persist_reply(p, req, KT_PERSIST_WORKER_REPLY, &r.base);
    free(o);
    free(po);
}

void
kt__persist_worker_upsert(persist *p, const kt_msg *req)
{
    Ktpb__V1__WorkerUpsertRequest *m;
    kt_worker_rec w = {0};
    const char *msg = NULL;
    kt_err rv = KT_EINVAL;

    UNPACK_OR_REPLY(m, ktpb__v1__worker_upsert_request__unpack,
                    KT_PERSIST_WORKER_REPLY, "WorkerUpsertRequest");
    if (m->worker == NULL || strlen(m->worker->id) > KT_STORE_ID_MAX ||
        strlen(m->worker->url) >= sizeof(w.url) ||
        strlen(m->worker->capabilities) >= sizeof(w.capabilities) ||
        strlen(m->worker->current_op) > KT_STORE_ID_MAX) {
        msg = "invalid worker";
    } else {
        kt__store_copy(w.id, sizeof(w.id), m->worker->id);
        kt__store_copy(w.url, sizeof(w.url), m->worker->url);
        kt__store_copy(w.capabilities, sizeof(w.capabilities),
                       m->worker->capabilities);
        kt__store_copy(w.current_op, sizeof(w.current_op),
                       m->worker->current_op);
        w.last_seen_ms = m->worker->last_seen_ms;
        rv = kt__store_worker_upsert(p->store, &w);
    }
    worker_reply(p, req, rv, msg, NULL, 0);
    ktpb__v1__worker_upsert_request__free_unpacked(m, NULL);
}

void
kt__persist_worker_remove(persist *p, const kt_msg *req)
{
    Ktpb__V1__WorkerRemoveRequest *m;
    kt_err rv;

    UNPACK_OR_REPLY(m, ktpb__v1__worker_remove_request__unpack,
                    KT_PERSIST_WORKER_REPLY, "WorkerRemoveRequest");
    rv = kt__store_worker_remove(p->store, m->id);
    worker_reply(p, req, rv, NULL, NULL, 0);
    ktpb__v1__worker_remove_request__free_unpacked(m, NULL);
}

void
kt__persist_worker_list(persist *p, const kt_msg *req)
{
    kt_worker_rec *w = NULL;
    size_t n = 0;
    kt_err rv = kt__store_worker_list(p->store, &w, &n);

    worker_reply(p, req, rv, NULL, w, n);
    free(w);
}
