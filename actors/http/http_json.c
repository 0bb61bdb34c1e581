// http_json.c: JSON of operations (shared with `ktrdr --json`) and a
// generic protobuf-c message to JSON walk (results, metrics) driven by the
// message descriptors, so new result fields need no code here.
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "http/http_int.h"

static const char *const status_names[] = {
    "unknown", "pending",   "running",  "completed",
    "failed",  "cancelled", "resuming",
};

const char *
kt_http_status_name(Ktpb__V1__OpStatus s)
{
    return (unsigned)s < 7 ? status_names[s] : "unknown";
}

const char *
kt_http_ckpt_type_name(Ktpb__V1__CheckpointType t)
{
    static const char *const names[] = {"unknown", "periodic", "cancellation",
                                        "failure", "shutdown"};
    return (unsigned)t < 5 ? names[t] : "unknown";
}

static json_t *
iso_or_null(int64_t ms)
{
    char buf[32];
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0) {
        return json_null();
    }
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

static json_t *
str_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

json_t *
kt_http_op_json(const Ktpb__V1__OperationRecord *op)
{
    char ck[96];
    bool has = op->checkpoint_seq > 0;
    bool resumable = has && (op->status == KTPB__V1__OP_STATUS__OP_CANCELLED ||
                             op->status == KTPB__V1__OP_STATUS__OP_FAILED);
    json_t *j = json_object();

    snprintf(ck, sizeof(ck), "%s %" PRId64, op->checkpoint_unit,
             op->checkpoint_unit_value);
    json_object_set_new(j, "operation_id", json_string(op->id));
    json_object_set_new(j, "operation_type", json_string(op->type));
    json_object_set_new(j, "status",
                        json_string(kt_http_status_name(op->status)));
    json_object_set_new(j, "parent_operation_id", str_or_null(op->parent_id));
    json_object_set_new(j, "created_at", iso_or_null(op->created_at_ms));
    json_object_set_new(j, "started_at", iso_or_null(op->started_at_ms));
    json_object_set_new(j, "completed_at", iso_or_null(op->completed_at_ms));
    json_object_set_new(j, "progress",
                        json_pack("{s:f,s:s,s:I,s:I}", "percentage",
                                  op->progress_percent, "current_step",
                                  op->current_step, "steps_completed",
                                  (json_int_t)op->units_done, "steps_total",
                                  (json_int_t)op->units_total));
    json_object_set_new(j, "error_message", str_or_null(op->error));
    json_object_set_new(j, "attempt", json_integer(op->attempt));
    json_object_set_new(j, "has_checkpoint", json_boolean(has));
    json_object_set_new(j, "checkpoint_summary",
                        has ? json_string(ck) : json_null());
    json_object_set_new(
        j, "checkpoint_type",
        has ? json_string(kt_http_ckpt_type_name(op->checkpoint_type))
            : json_null());
    json_object_set_new(j, "resumable", json_boolean(resumable));
    return j;
}

static json_t *
field_json(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer((json_int_t) * (const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_integer((json_int_t) * (const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return json_real(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_real(*(const double *)p); // NaN/inf become null
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            f->descriptor, *(const int *)p);
        return v != NULL ? json_string(v->name) : json_integer(*(const int *)p);
    }
    case PROTOBUF_C_TYPE_STRING:
        return json_string(*(char *const *)p != NULL ? *(char *const *)p : "");
    case PROTOBUF_C_TYPE_BYTES:
        return json_integer((json_int_t)((const ProtobufCBinaryData *)p)->len);
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)p != NULL
                   ? kt__http_pb_json(*(ProtobufCMessage *const *)p)
                   : json_null();
    }
    return json_null();
}

static size_t
elem_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default:
        return 4;
    }
}

// kt__http_pb_json: every field of m by name; repeated fields as arrays;
// bytes as their length; a oneof member only when it is set.
json_t *
kt__http_pb_json(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    json_t *j = json_object();

    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *p = base + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(char *const *)p;
            json_t *a = json_array();
            for (size_t k = 0; k < n; k++) {
                json_array_append_new(a, field_json(f, arr + k * elem_size(f)));
            }
            json_object_set_new(j, f->name, a);
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id) {
            continue;
        }
        json_object_set_new(j, f->name, field_json(f, p));
    }
    return j;
}
