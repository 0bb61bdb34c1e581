// http_reply.c: the JSON response of each route, built from the backend's
// protobuf reply (KTRDR's shapes, with the guide's where they differ).
#include <inttypes.h>
#include <ktpb/v1/ops.pb-c.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

// unpack decodes rep, or answers 500 and returns NULL.
static ProtobufCMessage *
unpack(struct evhttp_request *req, const ProtobufCMessageDescriptor *d,
       const kt_msg *rep)
{
    ProtobufCMessage *m =
        protobuf_c_message_unpack(d, NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    if (m == NULL) {
        kt__http_send_error(req, 500, "malformed reply from the backend");
    }
    return m;
}

// failed answers the error of a reply whose status is not 0.
static bool
failed(struct evhttp_request *req, int32_t status, const char *message)
{
    if (status == 0) {
        return false;
    }
    kt__http_send_status(req, status, message);
    return true;
}

#define UNPACK(T, d)                    \
    T *r = (T *)unpack(req, &(d), rep); \
    if (r == NULL) {                    \
        return;                         \
    }

void
kt__http_r_stats(struct evhttp_request *req, const http_slot *s,
                 const kt_msg *rep)
{
    UNPACK(Ktpb__V1__StatsReply, ktpb__v1__stats_reply__descriptor);
    (void)s;
    if (!failed(req, r->status, r->message)) {
        kt__http_send_json(
            req, 200,
            json_pack("{s:b,s:I,s:I,s:o}", "success", 1, "total_checkpoints",
                      (json_int_t)r->total_checkpoints, "total_size_bytes",
                      (json_int_t)r->total_size_bytes, "oldest_checkpoint",
                      r->oldest_checkpoint[0] != '\0'
                          ? json_string(r->oldest_checkpoint)
                          : json_null()));
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

void
kt__http_r_cleanup(struct evhttp_request *req, const http_slot *s,
                   const kt_msg *rep)
{
    UNPACK(Ktpb__V1__CleanupReply, ktpb__v1__cleanup_reply__descriptor);
    (void)s;
    if (!failed(req, r->status, r->message)) {
        kt__http_send_json(
            req, 200,
            json_pack("{s:b,s:I,s:I}", "success", 1, "checkpoints_deleted",
                      (json_int_t)r->deleted_by_age, "orphan_artifacts_cleaned",
                      (json_int_t)(r->orphan_dirs + r->stale_temps)));
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

void
kt__http_r_ckpt_list(struct evhttp_request *req, const http_slot *s,
                     const kt_msg *rep)
{
    UNPACK(Ktpb__V1__CheckpointListReply,
           ktpb__v1__checkpoint_list_reply__descriptor);
    (void)s;
    if (!failed(req, r->status, r->message)) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_checkpoints; i++) {
            const Ktpb__V1__CheckpointRecord *k = r->checkpoints[i];
            json_array_append_new(
                a, json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "operation_id",
                             k->op_id, "checkpoint_type",
                             kt_http_ckpt_type_name(k->type), "created_at",
                             k->created_at, "unit", k->unit, "unit_value",
                             (json_int_t)k->unit_value, "artifacts_size_bytes",
                             (json_int_t)k->artifacts_size, "seq",
                             (json_int_t)k->seq));
        }
        kt__http_send_json(req, 200,
                           json_pack("{s:b,s:o,s:I}", "success", 1, "data", a,
                                     "total_count",
                                     (json_int_t)r->n_checkpoints));
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static json_t *
show_state(const Ktpb__V1__CheckpointShowReply *r)
{
    json_t *st = json_pack("{s:s,s:I,s:I}", "unit", r->unit, "value",
                           (json_int_t)r->unit_value, "total",
                           (json_int_t)r->unit_total);
    if (strcmp(r->unit, "bar") == 0) {
        json_object_set_new(st, "bar_index", json_integer(r->unit_value));
        json_object_set_new(st, "equity", json_real(r->equity));
        json_object_set_new(st, "trades", json_integer((json_int_t)r->trades));
        return st;
    }
    json_object_set_new(st, "epoch", json_integer(r->unit_value));
    json_object_set_new(st, "train_loss", json_real(r->train_loss));
    json_object_set_new(st, "val_loss",
                        r->has_val ? json_real(r->val_loss) : json_null());
    json_object_set_new(st, "best_val_loss",
                        r->has_val ? json_real(r->best_val_loss) : json_null());
    json_object_set_new(st, "learning_rate", json_real(r->learning_rate));
    return st;
}

void
kt__http_r_ckpt_get(struct evhttp_request *req, const http_slot *s,
                    const kt_msg *rep)
{
    UNPACK(Ktpb__V1__CheckpointShowReply,
           ktpb__v1__checkpoint_show_reply__descriptor);
    if (r->status == KT_ENOENT) {
        kt__http_send_error(req, 404, "No checkpoint found for operation %s",
                            s->id);
    } else if (!failed(req, r->status, r->message)) {
        kt__http_send_json(
            req, 200,
            json_pack("{s:b,s:{s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:I}}", "success", 1,
                      "data", "operation_id", r->op_id, "operation_type",
                      r->op_type, "checkpoint_type",
                      kt_http_ckpt_type_name(r->type), "created_at",
                      r->created_at, "state", show_state(r), "artifacts_path",
                      r->artifacts_path, "seq", (json_int_t)r->seq,
                      "size_bytes", (json_int_t)r->size_bytes));
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

void
kt__http_r_ckpt_delete(struct evhttp_request *req, const http_slot *s,
                       const kt_msg *rep)
{
    UNPACK(Ktpb__V1__CheckpointDeleteReply,
           ktpb__v1__checkpoint_delete_reply__descriptor);
    if (r->status == KT_ENOENT || (r->status == 0 && r->deleted == 0)) {
        kt__http_send_error(req, 404, "No checkpoint found for operation %s",
                            s->id);
    } else if (!failed(req, r->status, r->message)) {
        kt__http_send_json(req, 200,
                           json_pack("{s:b,s:s,s:I}", "success", 1, "message",
                                     "Checkpoint deleted", "deleted",
                                     (json_int_t)r->deleted));
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

void
kt__http_r_start(struct evhttp_request *req, const http_slot *s,
                 const kt_msg *rep)
{
    UNPACK(Ktpb__V1__OpsReply, ktpb__v1__ops_reply__descriptor);
    (void)s;
    if (!failed(req, r->status, r->message)) {
        if (r->op == NULL) {
            kt__http_send_error(req, 500, "no operation in the reply");
        } else {
            kt__http_send_json(req, 200,
                               json_pack("{s:b,s:s,s:s,s:s,s:o}", "success", 1,
                                         "operation_id", r->op->id, "task_id",
                                         r->op->id, "status",
                                         kt_http_status_name(r->op->status),
                                         "data", kt_http_op_json(r->op)));
        }
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

// OpsListReply (operations) and OpListReply (persistence, children) share
// their field numbers, so one decoder serves both.
void
kt__http_r_ops_list(struct evhttp_request *req, const http_slot *s,
                    const kt_msg *rep)
{
    UNPACK(Ktpb__V1__OpsListReply, ktpb__v1__ops_list_reply__descriptor);
    (void)s;
    if (!failed(req, r->status, r->message)) {
        json_t *a = json_array();
        size_t active = 0;
        for (size_t i = 0; i < r->n_ops; i++) {
            Ktpb__V1__OpStatus st = r->ops[i]->status;
            json_array_append_new(a, kt_http_op_json(r->ops[i]));
            active += st == KTPB__V1__OP_STATUS__OP_PENDING ||
                      st == KTPB__V1__OP_STATUS__OP_RUNNING ||
                      st == KTPB__V1__OP_STATUS__OP_RESUMING;
        }
        kt__http_send_json(req, 200,
                           json_pack("{s:b,s:o,s:I,s:I}", "success", 1, "data",
                                     a, "total_count", (json_int_t)r->n_ops,
                                     "active_count", (json_int_t)active));
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

void
kt__http_r_op(struct evhttp_request *req, const http_slot *s, const kt_msg *rep)
{
    UNPACK(Ktpb__V1__OpsReply, ktpb__v1__ops_reply__descriptor);
    if (r->status == KT_ENOENT) {
        kt__http_send_error(req, 404, "Operation not found: %s", s->id);
    } else if (!failed(req, r->status, r->message)) {
        json_t *j =
            json_pack("{s:b,s:o}", "success", 1, "data",
                      r->op != NULL ? kt_http_op_json(r->op) : json_null());
        char *txt = j != NULL
                        ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER)
                        : NULL;
        size_t n = txt != NULL ? strlen(txt) : 0;
        // The rendered body goes to the client and, asked for, to the view.
        if (s->ticket != 0 && r->op != NULL && txt != NULL) {
            kt__http_view_fill(s->loop, s, r->op, txt, n);
        }
        kt__http_send_text(req, 200, txt, n);
        free(txt);
        json_decref(j);
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

void
kt__http_r_resume(struct evhttp_request *req, const http_slot *s,
                  const kt_msg *rep)
{
    UNPACK(Ktpb__V1__OpsReply, ktpb__v1__ops_reply__descriptor);
    if (r->status == KT_ENOENT && r->message[0] == '\0') {
        kt__http_send_error(req, 404, "Operation not found: %s", s->id);
    } else if (!failed(req, r->status, r->message) && r->op != NULL) {
        const Ktpb__V1__OperationRecord *op = r->op;
        bool ep = strcmp(op->checkpoint_unit, "epoch") == 0;
        kt__http_send_json(
            req, 200,
            json_pack(
                "{s:b,s:{s:s,s:s,s:{s:s,s:s?,s:o,s:o},s:o}}", "success", 1,
                "data", "operation_id", op->id, "status",
                kt_http_status_name(op->status), "resumed_from",
                "checkpoint_type", kt_http_ckpt_type_name(op->checkpoint_type),
                "checkpoint_summary", NULL, "epoch",
                ep ? json_integer(op->checkpoint_unit_value) : json_null(),
                "bar_index",
                !ep ? json_integer(op->checkpoint_unit_value) : json_null(),
                "operation", kt_http_op_json(op)));
    } else if (r->status == 0) {
        kt__http_send_error(req, 500, "no operation in the reply");
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

json_t *
kt_http_results_json(const Ktpb__V1__OpsResultsReply *r)
{
    json_t *res = json_object();

    if (r->training != NULL) {
        json_object_set_new(res, "training",
                            kt__http_pb_json(&r->training->base));
    }
    if (r->backtest != NULL) {
        json_object_set_new(res, "backtest",
                            kt__http_pb_json(&r->backtest->base));
    }
    if (r->trades != NULL) {
        json_object_set_new(res, "trades", kt__http_pb_json(&r->trades->base));
    }
    if (r->equity != NULL) {
        json_object_set_new(res, "equity", kt__http_pb_json(&r->equity->base));
    }
    return res;
}

void
kt__http_r_results(struct evhttp_request *req, const http_slot *s,
                   const kt_msg *rep)
{
    UNPACK(Ktpb__V1__OpsResultsReply, ktpb__v1__ops_results_reply__descriptor);
    if (r->status == KT_ENOENT && r->op == NULL) {
        kt__http_send_error(req, 404, "Operation not found: %s", s->id);
    } else if (!failed(req, r->status, r->message)) {
        json_t *res = kt_http_results_json(r);
        kt__http_send_json(
            req, 200,
            json_pack("{s:b,s:s,s:s?,s:s?,s:o}", "success", 1, "operation_id",
                      s->id, "operation_type", r->op ? r->op->type : NULL,
                      "status",
                      r->op ? kt_http_status_name(r->op->status) : NULL,
                      "results", res));
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

void
kt__http_r_workers(struct evhttp_request *req, const http_slot *s,
                   const kt_msg *rep)
{
    UNPACK(Ktpb__V1__WorkerReply, ktpb__v1__worker_reply__descriptor);
    (void)s;
    if (!failed(req, r->status, r->message)) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_workers; i++) {
            json_array_append_new(a, kt__http_pb_json(&r->workers[i]->base));
        }
        kt__http_send_json(req, 200, a);
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

bool
kt__http_has_dotdot(const char *path)
{
    for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2) {
        if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/')) {
            return true;
        }
    }
    return false;
}
