// wk_msg.c: protobuf <-> runtime message helpers (internal).
#include "workers/wk_msg.h"

#include <ktpb/v1/workers.pb-c.h>
#include <string.h>
#include <time.h>

#include <kt/log.h>

#include "workers/workers.h"

kt_err
kt__wk_pack(kt_msg **mp, uint32_t type, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    kt_msg *msg;
    kt_err err;

    if ((err = kt_msg_alloc(&msg, type, n)) != KT_OK) {
        return err;
    }
    (void)protobuf_c_message_pack(m, kt_msg_body(msg));
    *mp = msg;
    return KT_OK;
}

kt_err
kt__wk_send(kt_actor *self, kt_aid to, uint32_t type, const ProtobufCMessage *m)
{
    kt_msg *msg;
    kt_err err;

    if ((err = kt__wk_pack(&msg, type, m)) != KT_OK) {
        return err;
    }
    if ((err = kt_send(self, to, msg)) != KT_OK) {
        kt_msg_free(msg);
    }
    return err;
}

kt_err
kt__wk_reply(kt_actor *self, const kt_msg *req, uint32_t type,
             const ProtobufCMessage *m)
{
    kt_msg *msg;
    kt_err err;

    if ((err = kt__wk_pack(&msg, type, m)) != KT_OK) {
        return err;
    }
    if ((err = kt_reply(self, req, msg)) != KT_OK) {
        kt_msg_free(msg);
    }
    return err;
}

kt_err
kt__wk_reply_to(kt_actor *self, kt_aid to, uint64_t corr, uint32_t type,
                const ProtobufCMessage *m)
{
    kt_msg *msg;
    kt_err err;

    if ((err = kt__wk_pack(&msg, type, m)) != KT_OK) {
        return err;
    }
    if ((err = kt_reply_to(self, to, corr, msg)) != KT_OK) {
        kt_msg_free(msg);
    }
    return err;
}

kt_err
kt__wk_ask(kt_actor *self, kt_aid to, uint32_t type, const ProtobufCMessage *m,
           uint32_t timeout_ms, uint64_t *corrp)
{
    kt_msg *msg;
    kt_err err;

    if ((err = kt__wk_pack(&msg, type, m)) != KT_OK) {
        return err;
    }
    if ((err = kt_ask(self, to, msg, timeout_ms, corrp)) != KT_OK) {
        kt_msg_free(msg);
    }
    return err;
}

kt_err
kt__wk_status(kt_actor *self, const kt_msg *req, kt_err status,
              const char *message, const char *worker_id)
{
    Ktpb__V1__WorkersReply r;

    ktpb__v1__workers_reply__init(&r);

    r.status = (int32_t)status;
    r.message = (char *)(uintptr_t)(message != NULL ? message : "");
    r.worker_id = (char *)(uintptr_t)(worker_id != NULL ? worker_id : "");
    return kt__wk_reply(self, req, KT_WK_REPLY, &r.base);
}

void
kt__wk_copy(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;

    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(dst, src != NULL ? src : "", n);
    dst[n] = '\0';
}

int64_t
kt__wk_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
kt__wk_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
