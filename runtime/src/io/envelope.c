// ktpb.v1.Batch encoding for peer sockets (declared in net.h): envelopes
// appended one at a time to an NNG message. Part of net.c's NNG layer.
#include <string.h>

#include <nng/nng.h>

#include "io/net.h"
#include "ktpb/v1/envelope.pb-c.h"

// One entry of a ktpb.v1.Batch (field 1, length-delimited) appended to nm:
// a batch is the concatenation of its entries, so senders can add messages
// one at a time. Decoding is left to protobuf-c.
static kt_err
net_env_append(nng_msg *nm, const kt_msg *msg, kt_aid receiver,
               const char *rname)
{
    Ktpb__V1__Envelope env;
    unsigned char hdr[1 + 10];
    size_t n, v, h = 1, old = nng_msg_len(nm);

    ktpb__v1__envelope__init(&env);
    env.sender = msg->sender;
    env.receiver = receiver;
    env.corr = msg->corr;
    env.type = msg->type;
    env.flags = msg->flags;
    env.payload.len = msg->len;
    env.payload.data = (uint8_t *)(uintptr_t)msg->body; // read only
    env.receiver_name = (char *)(uintptr_t)(rname != NULL ? rname : "");
    n = ktpb__v1__envelope__get_packed_size(&env);
    hdr[0] = 0x0a; // field 1, wire type 2, then the length as a varint
    for (v = n; v > 0x7f; v >>= 7) {
        hdr[h++] = (unsigned char)((v & 0x7f) | 0x80);
    }
    hdr[h++] = (unsigned char)v;
    if (nng_msg_realloc(nm, old + h + n) != 0) {
        return KT_ENOMEM;
    }
    memcpy((unsigned char *)nng_msg_body(nm) + old, hdr, h);
    ktpb__v1__envelope__pack(&env, (uint8_t *)nng_msg_body(nm) + old + h);
    return KT_OK;
}

kt_err
kt__net_env_add(kt__batch **bp, const kt_msg *msg, kt_aid receiver,
                const char *rname)
{
    nng_msg *nm = (nng_msg *)*bp;
    kt_err err;

    if (nm == NULL && nng_msg_alloc(&nm, 0) != 0) {
        return KT_ENOMEM;
    }
    if ((err = net_env_append(nm, msg, receiver, rname)) != KT_OK) {
        if (*bp == NULL) {
            nng_msg_free(nm);
        }
        return err;
    }
    *bp = (kt__batch *)nm;
    return KT_OK;
}
