// ktpb.v1.Batch for peer sockets (net.h, sock.h): envelopes appended one
// at a time to an NNG message, and taken apart again on receipt.
#include <string.h>

#include <nng/nng.h>

#include <kt/log.h>

#include "core/msg.h"
#include "io/sock.h"
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

kt_err
kt__net_env_pack(nng_msg **nmp, const kt_msg *msg, kt_aid receiver,
                 const char *rname, uint32_t pipe)
{
    nng_pipe p = NNG_PIPE_INITIALIZER;
    kt__batch *b = NULL;
    kt_err err;

    if ((err = kt__net_env_add(&b, msg, receiver, rname)) != KT_OK) {
        return err;
    }
    p.id = pipe;
    nng_msg_set_pipe((nng_msg *)b, p);
    *nmp = (nng_msg *)b;
    return KT_OK;
}

static kt_err
net_env_msg(const Ktpb__V1__Envelope *env, kt_msg **msgp, kt__addr *to)
{
    size_t nlen = strlen(env->receiver_name);
    kt_err err;

    if (env->type == 0 || nlen > KT__NAME_MAX ||
        (env->receiver == 0 && nlen == 0)) {
        return kt__net_drop("bad envelope fields", env->payload.len);
    }
    if ((err = kt__msg_new(msgp, env->type, env->payload.len, env->sender,
                           env->corr, env->flags)) != KT_OK) {
        return err;
    }
    if (env->payload.len > 0) {
        memcpy((*msgp)->body, env->payload.data, env->payload.len);
    }
    to->receiver = env->receiver;
    memcpy(to->name, env->receiver_name, nlen + 1);
    return KT_OK;
}

// The next envelope of the batch in s->env (unpacking a new one if none).
kt_err
kt__net_env_next(kt__sock *s, kt_msg **msgp, kt__addr *to)
{
    kt_err err;
    nng_msg *nm;
    int rv;

    if (s->env == NULL) {
        if (s->wire != NULL) {
            if ((err = kt__wire_recv(s->wire, &nm)) != KT_OK) {
                return err;
            }
        } else if ((rv = kt__net_recvmsg(s, &nm)) != 0) {
            return rv == NNG_EAGAIN ? KT_EAGAIN : kt__net_err(rv, "recv", NULL);
        }
        s->env_pipe = (uint32_t)nng_pipe_id(nng_msg_get_pipe(nm));
        s->env =
            ktpb__v1__batch__unpack(NULL, nng_msg_len(nm), nng_msg_body(nm));
        nng_msg_free(nm);
        if (s->env == NULL) {
            return kt__net_drop("malformed envelope", 0);
        }
        s->env_next = 0;
    }
    err = s->env_next < s->env->n_envelopes
              ? net_env_msg(s->env->envelopes[s->env_next++], msgp, to)
              : kt__net_drop("empty batch", 0);
    to->pipe = s->env_pipe;
    if (s->env_next >= s->env->n_envelopes) {
        ktpb__v1__batch__free_unpacked(s->env, NULL);
        s->env = NULL;
    }
    return err;
}
