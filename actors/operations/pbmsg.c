// pbmsg.c: protobuf-c <-> kt_msg helpers shared by the operation actors.
#include "operations/pbmsg.h"

#include <string.h>
#include <time.h>

#include <kt/log.h>

kt_err
kt__pb_msg(uint32_t type, const ProtobufCMessage *m, kt_msg **out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    kt_msg *msg;
    kt_err rv;

    if ((rv = kt_msg_alloc(&msg, type, n)) != KT_OK) {
        return rv;
    }
    if (n > 0) {
        (void)protobuf_c_message_pack(m, kt_msg_body(msg));
    }
    *out = msg;
    return KT_OK;
}

kt_err
kt__pb_send(kt_actor *self, kt_aid to, uint32_t type, const ProtobufCMessage *m)
{
    kt_msg *msg;
    kt_err rv;

    if ((rv = kt__pb_msg(type, m, &msg)) != KT_OK) {
        return rv;
    }
    if ((rv = kt_send(self, to, msg)) != KT_OK) {
        kt_msg_free(msg);
        kt_log(KT_LOG_WARN, "ops", "event=send_failed to=%llu type=%u err=%s",
               (unsigned long long)to, type, kt_strerror(rv));
    }
    return rv;
}

kt_err
kt__pb_ask(kt_actor *self, kt_aid to, uint32_t type, const ProtobufCMessage *m,
           uint32_t timeout_ms, uint64_t *corrp)
{
    kt_msg *msg;
    kt_err rv;

    if ((rv = kt__pb_msg(type, m, &msg)) != KT_OK) {
        return rv;
    }
    if ((rv = kt_ask(self, to, msg, timeout_ms, corrp)) != KT_OK) {
        kt_msg_free(msg);
    }
    return rv;
}

kt_err
kt__pb_reply_to(kt_actor *self, kt_aid to, uint64_t corr, uint32_t type,
                const ProtobufCMessage *m)
{
    kt_msg *msg;
    kt_err rv;

    if ((rv = kt__pb_msg(type, m, &msg)) != KT_OK) {
        return rv;
    }
    // A request sent without kt_ask (corr 0) is answered with a plain send.
    rv = corr != 0 ? kt_reply_to(self, to, corr, msg) : kt_send(self, to, msg);
    if (rv != KT_OK) {
        kt_msg_free(msg);
        kt_log(KT_LOG_WARN, "ops", "event=reply_failed to=%llu type=%u err=%s",
               (unsigned long long)to, type, kt_strerror(rv));
    }
    return rv;
}

ProtobufCMessage *
kt__pb_unpack(const ProtobufCMessageDescriptor *desc, const kt_msg *msg,
              const char *who)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, kt_msg_len(msg),
                                                    kt_msg_cbody(msg));

    if (m == NULL) {
        kt_log(KT_LOG_WARN, "ops", "actor=%s event=bad_message type=%u len=%zu",
               who, kt_msg_type(msg), kt_msg_len(msg));
    }
    return m;
}

static int64_t
clock_ms(clockid_t id)
{
    struct timespec ts;

    (void)clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
kt__now_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

int64_t
kt__mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

void
kt__strlcpy(char *dst, const char *src, size_t n)
{
    size_t l;

    if (n == 0) {
        return;
    }
    if (src == NULL) {
        src = "";
    }
    l = strnlen(src, n - 1);
    memcpy(dst, src, l);
    dst[l] = '\0';
}
