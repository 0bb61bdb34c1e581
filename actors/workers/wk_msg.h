// wk_msg.h: packing protobuf messages into runtime messages, shared by the
// registry, the worker agent and the supervisor (internal).
#ifndef KT_WORKERS_WK_MSG_H
#define KT_WORKERS_WK_MSG_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <kt/actor.h>

// kt__wk_pack allocates a message of `type` holding m. Errors: KT_ENOMEM.
KT_NODISCARD kt_err kt__wk_pack(kt_msg **mp, uint32_t type,
                                const ProtobufCMessage *m);
// Send / reply / ask m as `type`; nothing is left to free on error.
KT_NODISCARD kt_err kt__wk_send(kt_actor *self, kt_aid to, uint32_t type,
                                const ProtobufCMessage *m);
KT_NODISCARD kt_err kt__wk_reply(kt_actor *self, const kt_msg *req,
                                 uint32_t type, const ProtobufCMessage *m);
KT_NODISCARD kt_err kt__wk_reply_to(kt_actor *self, kt_aid to, uint64_t corr,
                                    uint32_t type, const ProtobufCMessage *m);
KT_NODISCARD kt_err kt__wk_ask(kt_actor *self, kt_aid to, uint32_t type,
                               const ProtobufCMessage *m, uint32_t timeout_ms,
                               uint64_t *corrp);
// kt__wk_status replies a WorkersReply (705) to req.
kt_err kt__wk_status(kt_actor *self, const kt_msg *req, kt_err status,
                     const char *message, const char *worker_id);
// kt__wk_copy copies src into dst[cap] (truncating, always terminated).
void kt__wk_copy(char *dst, size_t cap, const char *src);
// kt__wk_now_ms: CLOCK_REALTIME in ms; kt__wk_mono_ns: CLOCK_MONOTONIC ns.
int64_t kt__wk_now_ms(void);
int64_t kt__wk_mono_ns(void);

#endif // KT_WORKERS_WK_MSG_H
