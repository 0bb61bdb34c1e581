// pbmsg.h: protobuf-c messages in and out of kt_msg for the operations,
// training and backtest actors (STYLE.md 3.5: pack once into the body).
#ifndef KT_OPERATIONS_PBMSG_H
#define KT_OPERATIONS_PBMSG_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <kt/actor.h>

// Pointers into protobuf-c structs that are only packed, never modified.
#define KT_PB_STR(s)    ((char *)(uintptr_t)(s))
#define KT_PB_BYTES(p)  ((uint8_t *)(uintptr_t)(p))
#define KT_PB_PTR(T, p) ((T *)(uintptr_t)(p))

// kt__pb_msg packs m into a new message of the given type (*out, caller
// owns it). Errors: KT_ENOMEM.
KT_NODISCARD kt_err kt__pb_msg(uint32_t type, const ProtobufCMessage *m,
                               kt_msg **out);
// kt__pb_send / kt__pb_ask / kt__pb_reply_to: pack and send; on failure
// the packed message is freed (the caller keeps m either way). A reply or
// a fire-and-forget send that fails is logged here; callers may ignore it.
kt_err kt__pb_send(kt_actor *self, kt_aid to, uint32_t type,
                   const ProtobufCMessage *m);
KT_NODISCARD kt_err kt__pb_ask(kt_actor *self, kt_aid to, uint32_t type,
                               const ProtobufCMessage *m, uint32_t timeout_ms,
                               uint64_t *corrp);
kt_err kt__pb_reply_to(kt_actor *self, kt_aid to, uint64_t corr, uint32_t type,
                       const ProtobufCMessage *m);
// kt__pb_unpack decodes msg's body with desc (NULL on a malformed body,
// after a log line naming the actor). Free with
// protobuf_c_message_free_unpacked.
ProtobufCMessage *kt__pb_unpack(const ProtobufCMessageDescriptor *desc,
                                const kt_msg *msg, const char *who);
// kt__now_ms: the wall clock in Unix ms (UTC).
int64_t kt__now_ms(void);
// kt__mono_ms: a monotonic clock in ms (intervals, throttles).
int64_t kt__mono_ms(void);
// kt__strlcpy copies src (NULL = "") into dst[n], truncating.
void kt__strlcpy(char *dst, const char *src, size_t n);

#endif // KT_OPERATIONS_PBMSG_H
