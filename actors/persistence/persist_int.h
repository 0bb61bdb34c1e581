// persist_int.h: what the persistence actor's files share: its state, the
// reply helpers and the request handlers (one per message type).
#ifndef KT_PERSISTENCE_PERSIST_INT_H
#define KT_PERSISTENCE_PERSIST_INT_H

#include <protobuf-c/protobuf-c.h>

#include <kt/actor.h>

#include "persistence/persistence.h"
#include "persistence/store.h"

typedef struct persist {
    kt__store *store;
    kt_actor *self;
    char data_dir[KT_STORE_PATH_MAX];
    uint32_t max_age_days;
    size_t max_request_bytes;
    uint64_t timer_id;
} persist;

// persist_send_reply packs m and replies to req with type; logs and drops
// it when the sender cannot be reached (fire-and-forget requests).
void kt__persist_reply(persist *p, const kt_msg *req, uint32_t type,
                       const ProtobufCMessage *m);
// kt__persist_reply_err replies a ReplyHead {status, message} under type:
// every reply begins with those two fields, so it decodes as any reply.
void kt__persist_reply_err(persist *p, const kt_msg *req, uint32_t type,
                           kt_err status, const char *message);

// Handlers: read req (not freed here), reply exactly once.
void kt__persist_op_create(persist *p, const kt_msg *req);
void kt__persist_op_transition(persist *p, const kt_msg *req);
void kt__persist_op_progress(persist *p, const kt_msg *req);
void kt__persist_op_get(persist *p, const kt_msg *req);
void kt__persist_op_list(persist *p, const kt_msg *req);
void kt__persist_worker_upsert(persist *p, const kt_msg *req);
void kt__persist_worker_remove(persist *p, const kt_msg *req);
void kt__persist_worker_list(persist *p, const kt_msg *req);
void kt__persist_ckpt_save(persist *p, const kt_msg *req);
void kt__persist_ckpt_load(persist *p, const kt_msg *req);
void kt__persist_ckpt_delete(persist *p, const kt_msg *req);
void kt__persist_ckpt_stats(persist *p, const kt_msg *req);
void kt__persist_ckpt_cleanup(persist *p, const kt_msg *req);
void kt__persist_ckpt_list(persist *p, const kt_msg *req);
// kt__persist_cleanup runs a cleanup and logs its result.
kt_err kt__persist_cleanup(persist *p, uint32_t max_age_days,
                           kt_cleanup_result *out);

// A CheckpointEvent decoded in place: e borrows the state and artifact
// bytes from the message (keep it alive while e is used); op id, unit and
// names are copied into strs. bad_hash: an artifact hash that is neither
// empty nor 32 bytes.
typedef struct kt__ckpt_decoded {
    kt_ckpt_event e;
    kt_ckpt_artifact *arts, scratch;
    char *strs;
    size_t strs_len;
    bool bad_hash;
} kt__ckpt_decoded;

// kt__persist_decode_event: KT_EPROTO malformed, KT_ENOMEM. On success free
// with kt__persist_decoded_fini (safe on a failed or zeroed one too).
KT_NODISCARD kt_err kt__persist_decode_event(const uint8_t *p, size_t n,
                                             kt__ckpt_decoded *d);
void kt__persist_decoded_fini(kt__ckpt_decoded *d);

#endif // KT_PERSISTENCE_PERSIST_INT_H
