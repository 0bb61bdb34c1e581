// Internal layout of kt_msg: a header and the body in one allocation.
#ifndef KT_CORE_MSG_H
#define KT_CORE_MSG_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include <kt/msg.h>

// Flags carried with a message (also on the wire).
enum {
    KT__MSG_REPLY = 1u << 0, // an answer to an ask: dropped if nobody waits
};

// Longest registered name, terminator excluded (longer names: KT_EINVAL).
#define KT__NAME_MAX 127

struct kt_msg {
    kt_msg *next; // mailbox link, owned by whoever holds the message
    kt_aid sender;
    uint64_t corr;
    uint64_t aux; // internal: timer id of a KT_MSG_TIMER
    kt_aid to;    // internal: receiver, while queued for another thread
    size_t len;
    uint32_t type;
    uint32_t flags;
    alignas(max_align_t) unsigned char body[];
};

// kt__msg_new allocates a message with every header field set.
kt_err kt__msg_new(kt_msg **msgp, uint32_t type, size_t len, kt_aid sender,
                   uint64_t corr, uint32_t flags);

#endif // KT_CORE_MSG_H
