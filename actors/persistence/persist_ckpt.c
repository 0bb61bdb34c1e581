// persist_ckpt.c: the persistence actor's checkpoint requests: save (the
// ack is sent only once the checkpoint is durable), load, delete, list,
// stats and cleanup.
#include <ktpb/v1/persist.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kt/log.h>

#include "persistence/persist_int.h"

#define PB_STR(s) ((char *)(uintptr_t)(s)) // packed only, never modified

#define UNPACK_OR_REPLY(var, fn, reply_type, what)               \
    do {                                                         \
        var = fn(NULL, kt_msg_len(req), kt_msg_cbody(req));      \
        if (var == NULL) {                                       \
            kt__persist_reply_err(p, req, reply_type, KT_EPROTO, \
                                  "malformed " what);            \
            return;                                              \
        }                                                        \
    } while (0)

// save_failed logs a failed save and, for an I/O or database failure,
// records it on the operation so its status shows why.
static void
save_failed(persist *p, const kt_ckpt_event *m, kt_err rv, const char *msg)
{
    bool io = (rv & KT_ESYSERR) != 0 || rv == KT_EDB || rv == KT_ENOMEM;

    kt_log(io ? KT_LOG_ERR : KT_LOG_WARN, "persistence",
           "actor=persistence#%llu event=checkpoint_save_failed op=%s "
           "seq=%llu attempt=%u err=\"%s\" msg=\"%s\"",
           (unsigned long long)kt_self(p->self), m->op_id,
           (unsigned long long)m->seq, m->attempt, kt_strerror(rv), msg);
    if (io && kt__store_valid_id(m->op_id)) {
        char note[600];
        (void)snprintf(note, sizeof(note), "Checkpoint save failed: %s", msg);
        if (kt__store_op_note_error(p->store, m->op_id, note) != KT_OK) {
            kt_log(KT_LOG_ERR, "persistence",
                   "actor=persistence#%llu event=note_error_failed op=%s",
                   (unsigned long long)kt_self(p->self), m->op_id);
        }
    }
}

void
kt__persist_ckpt_save(persist *p, const kt_msg *req)
{
    Ktpb__V1__CheckpointAck ack;
    kt__ckpt_decoded d;
    char msg[512] = "invalid artifact hash";
    kt_err rv;

    ktpb__v1__checkpoint_ack__init(&ack);
    // Decoded in place: the artifact bytes are written from req's body.
    rv = kt__persist_decode_event(kt_msg_cbody(req), kt_msg_len(req), &d);
    if (rv != KT_OK) {
        kt__persist_reply_err(p, req, KT_PERSIST_CKPT_ACK, rv,
                              rv == KT_ENOMEM ? "out of memory"
                                              : "malformed CheckpointEvent");
        return;
    }
    rv = KT_EINVAL;
    if (!d.bad_hash) {
        rv = kt__store_ckpt_save(p->store, &d.e);
        kt__store_copy(msg, sizeof(msg), kt__store_errmsg(p->store));
    }
    if (rv != KT_OK) {
        save_failed(p, &d.e, rv, msg);
    }
    ack.status = (int32_t)rv;
    ack.message = msg;
    ack.op_id = PB_STR(d.e.op_id);
    ack.seq = d.e.seq;
    kt__persist_reply(p, req, KT_PERSIST_CKPT_ACK, &ack.base);
    kt__store_ckpt_finish(p->store); // pruned directories, after the ack
    kt__persist_decoded_fini(&d);
}

// ckpt_to_pb fills c (borrowing from r); arts/parts hold r->narts entries.
static void
ckpt_to_pb(const kt_ckpt_rec *r, Ktpb__V1__CheckpointRecord *c,
           Ktpb__V1__Artifact *arts, Ktpb__V1__Artifact **parts, char iso[32])
{
    ktpb__v1__checkpoint_record__init(c);
    kt__store_iso8601(r->created_ms, iso);
    c->op_id = PB_STR(r->op_id);
    c->seq = r->seq;
    c->attempt = r->attempt;
    c->type = (Ktpb__V1__CheckpointType)r->type;
    c->unit = PB_STR(r->unit);
    c->unit_value = r->unit_value;
    c->state.data = r->state;
    c->state.len = r->state_len;
    c->format_version = r->format_version;
    c->created_at_ms = r->created_ms;
    c->created_at = iso;
    c->artifacts_size = r->artifacts_size;
    c->path = PB_STR(r->path);
    for (size_t i = 0; i < r->narts; i++) {
        ktpb__v1__artifact__init(&arts[i]);
        arts[i].name = PB_STR(r->arts[i].name);
        arts[i].size = r->arts[i].size;
        arts[i].sha256.data = (uint8_t *)(uintptr_t)r->arts[i].sha256;
        arts[i].sha256.len = KT_SHA256_LEN;
        if (r->arts[i].data != NULL) {
            arts[i].data.data = r->arts[i].data;
            arts[i].data.len = r->arts[i].size;
        }
        parts[i] = &arts[i];
    }
    c->n_artifacts = r->narts;
    c->artifacts = parts;
}

void
kt__persist_ckpt_load(persist *p, const kt_msg *req)
{
    Ktpb__V1__CheckpointLoadReply r;

    ktpb__v1__checkpoint_load_reply__init(&r);
    Ktpb__V1__CheckpointLoadRequest *m;
    Ktpb__V1__CheckpointRecord c;
    Ktpb__V1__Artifact *arts = NULL, **parts = NULL;
    char iso[32], msg[512];
    kt_ckpt_rec rec;
    bool loaded;
    kt_err rv;

    UNPACK_OR_REPLY(m, ktpb__v1__checkpoint_load_request__unpack,
                    KT_PERSIST_CKPT_LOAD_REPLY, "CheckpointLoadRequest");
    rv = kt__store_ckpt_load(p->store, m->op_id, m->format_version,
                             m->with_artifacts, &rec);
    kt__store_copy(msg, sizeof(msg), kt__store_errmsg(p->store));
    loaded = rv == KT_OK;
    if (loaded) {
        arts = calloc(rec.narts + 1, sizeof(*arts));
        parts = calloc(rec.narts + 1, sizeof(*parts));
        if (arts == NULL || parts == NULL) {
            rv = KT_ENOMEM;
            kt__store_copy(msg, sizeof(msg), "out of memory");
        } else {
            ckpt_to_pb(&rec, &c, arts, parts, iso);
            r.checkpoint = &c;
            r.fell_back = rec.skipped > 0;
            r.skipped = rec.skipped;
        }
        if (rec.skipped > 0) {
            kt_log(KT_LOG_WARN, "persistence",
                   "actor=persistence#%llu event=checkpoint_fallback op=%s "
                   "msg=\"%s\"",
                   (unsigned long long)kt_self(p->self), m->op_id, rec.note);
        }
    }
    r.status = (int32_t)rv;
    r.message = msg;
    kt__persist_reply(p, req, KT_PERSIST_CKPT_LOAD_REPLY, &r.base);
    if (loaded) {
        kt__ckpt_rec_fini(&rec);
    }
    free(arts);
    free(parts);
    ktpb__v1__checkpoint_load_request__free_unpacked(m, NULL);
}
