// Messages: one allocation holding header and body (STYLE 3.5).
#include "core/msg.h"

#include "base/alloc.h"

kt_err
kt__msg_new(kt_msg **msgp, uint32_t type, size_t len, kt_aid sender,
            uint64_t corr, uint32_t flags)
{
    kt_msg *m;

    if (len > SIZE_MAX - sizeof(*m) ||
        (m = kt__alloc(sizeof(*m) + len)) == NULL) {
        return KT_ENOMEM;
    }
    m->next = NULL;
    m->sender = sender;
    m->corr = corr;
    m->aux = 0;
    m->len = len;
    m->type = type;
    m->flags = flags;
    *msgp = m;
    return KT_OK;
}

kt_err
kt_msg_alloc(kt_msg **msgp, uint32_t type, size_t len)
{
    if (msgp == NULL) {
        return KT_EINVAL;
    }
    return kt__msg_new(msgp, type, len, 0, 0, 0);
}

void
kt_msg_free(kt_msg *msg)
{
    if (msg != NULL) {
        kt__free(msg, sizeof(*msg) + msg->len);
    }
}

void *
kt_msg_body(kt_msg *msg)
{
    return msg->body;
}

const void *
kt_msg_cbody(const kt_msg *msg)
{
    return msg->body;
}

size_t
kt_msg_len(const kt_msg *msg)
{
    return msg->len;
}

uint32_t
kt_msg_type(const kt_msg *msg)
{
    return msg->type;
}

kt_aid
kt_msg_sender(const kt_msg *msg)
{
    return msg->sender;
}

uint64_t
kt_msg_corr(const kt_msg *msg)
{
    return msg->corr;
}
