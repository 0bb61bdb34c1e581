// The only NNG user: mailbox sockets (push/pull over inproc, a fixed binary
// frame) and peer sockets carrying ktpb.v1.Batch (pair1 over inproc; over
// ipc:// and tcp://, NNG byte streams with the framing of io/wire.c).
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>

#include <kt/log.h>

#include "base/alloc.h"
#include "io/guard.h"
#include "io/sock.h"

#define FRAME_MAGIC  0x4b544631u // "KTF1"
#define NET_CLOSE_MS 3000        // longest wait for nng_close (guard.h)

// A frame between threads of one process, in native byte order. One NNG
// message carries one or more frames back to back (a batch).
typedef struct frame_hdr {
    uint32_t magic;
    uint32_t type;
    uint32_t flags;
    uint32_t len; // body bytes after the header
    uint64_t sender;
    uint64_t receiver;
    uint64_t corr;
} frame_hdr;

kt_err
kt__net_err(int rv, const char *what, const char *url)
{
    switch (rv) {
    case NNG_EAGAIN:
        return KT_EAGAIN;
    case NNG_ENOMEM:
        return KT_ENOMEM;
    case NNG_ECLOSED:
        return KT_ECLOSED;
    case NNG_EADDRINVAL:
    case NNG_EINVAL:
    case NNG_ENOTSUP:
        kt_log(KT_LOG_WARN, "net", "op=%s url=%s err=\"%s\"", what,
               url != NULL ? url : "-", nng_strerror(rv));
        return KT_EINVAL;
    default:
        kt_log(KT_LOG_WARN, "net", "op=%s url=%s err=\"%s\"", what,
               url != NULL ? url : "-", nng_strerror(rv));
        return KT_ENET;
    }
}

void
kt__net_sock_free(kt__sock *s)
{
    nng_aio_free(s->raio); // NULL is a no-op
    nng_aio_free(s->saio);
    pthread_mutex_destroy(&s->smtx);
    kt__strfree(s->url);
    kt__free(s, sizeof(*s));
}

kt_err
kt__net_sock_alloc(kt__sock **sp, bool peer)
{
    kt__sock *s = kt__zalloc(sizeof(*s));

    if (s == NULL) {
        return KT_ENOMEM;
    }
    pthread_mutex_init(&s->smtx, NULL);
    if (nng_aio_alloc(&s->raio, NULL, NULL) != 0 ||
        nng_aio_alloc(&s->saio, NULL, NULL) != 0) {
        kt__net_sock_free(s);
        return KT_ENOMEM;
    }
    // Zero: an operation that cannot finish at once times out (EAGAIN).
    nng_aio_set_timeout(s->raio, NNG_DURATION_ZERO);
    nng_aio_set_timeout(s->saio, NNG_DURATION_ZERO);
    s->peer = peer;
    s->send_fd = -1;
    *sp = s;
    return KT_OK;
}

// kt__net_sendmsg queues nm without blocking, as nng_sendmsg(NNG_FLAG_NONBLOCK)
// does but on the kept aio when no other sender holds it. On failure nm
// stays the caller's.
int
kt__net_sendmsg(kt__sock *s, nng_msg *nm)
{
    int rv;

    if (pthread_mutex_trylock(&s->smtx) != 0) {
        return nng_sendmsg(s->tx, nm, NNG_FLAG_NONBLOCK);
    }
    nng_aio_set_msg(s->saio, nm);
    nng_send_aio(s->tx, s->saio);
    nng_aio_wait(s->saio);
    rv = nng_aio_result(s->saio);
    pthread_mutex_unlock(&s->smtx);
    return rv == NNG_ETIMEDOUT ? NNG_EAGAIN : rv;
}

// kt__net_recvmsg takes a waiting message without blocking (the receiving
// thread only).
int
kt__net_recvmsg(kt__sock *s, nng_msg **nmp)
{
    int rv;

    nng_recv_aio(s->rx, s->raio);
    nng_aio_wait(s->raio);
    if ((rv = nng_aio_result(s->raio)) != 0) {
        return rv == NNG_ETIMEDOUT ? NNG_EAGAIN : rv;
    }
    *nmp = nng_aio_get_msg(s->raio);
    return 0;
}

kt_err
kt__net_mbox_open(kt__sock **sp, const char *url)
{
    kt__sock *s;
    kt_err err;
    int rv;

    if ((err = kt__net_sock_alloc(&s, false)) != KT_OK) {
        return err;
    }
    if ((rv = nng_pull0_open(&s->rx)) != 0) {
        goto free_sock;
    }
    if ((rv = nng_push0_open(&s->tx)) != 0) {
        goto close_rx;
    }
    // Deep buffers: a burst waits in the socket instead of failing.
    (void)nng_socket_set_int(s->rx, NNG_OPT_RECVBUF, 8192);
    (void)nng_socket_set_int(s->tx, NNG_OPT_SENDBUF, 8192);
    if ((rv = nng_listen(s->rx, url, NULL, 0)) != 0 ||
        (rv = nng_dial(s->tx, url, NULL, 0)) != 0 ||
        (rv = nng_socket_get_int(s->rx, NNG_OPT_RECVFD, &s->fd)) != 0) {
        goto close_tx;
    }
    *sp = s;
    return KT_OK;
close_tx:
    nng_close(s->tx);
close_rx:
    nng_close(s->rx);
free_sock:
    kt__net_sock_free(s);
    return kt__net_err(rv, "mbox_open", url);
}

int
kt__net_fd(const kt__sock *s)
{
    return s->fd;
}

bool
kt__net_close(kt__sock *s)
{
    if (s == NULL) {
        return true;
    }
    if (s->wire != NULL) {
        kt__wire_close(s->wire);
        if (s->env != NULL) {
            ktpb__v1__batch__free_unpacked(s->env, NULL);
        }
        kt__net_sock_free(s);
        return true;
    }
    // Both wait for pipe callbacks to finish, but never forever (guard.h).
    if ((!s->peer && !kt__guard_close_bounded(s->tx, NET_CLOSE_MS)) ||
        !kt__guard_close_bounded(s->rx, NET_CLOSE_MS)) {
        kt__leak_on_purpose(s); // abandoned: callbacks may still use s
        return false;
    }
    if (s->cur != NULL) {
        nng_msg_free(s->cur);
    }
    if (s->env != NULL) {
        ktpb__v1__batch__free_unpacked(s->env, NULL);
    }
    kt__net_sock_free(s);
    return true;
}

static kt_err
net_append_frame(nng_msg *nm, const kt_msg *msg, kt_aid receiver)
{
    frame_hdr h = {.magic = FRAME_MAGIC,
                   .type = msg->type,
                   .flags = msg->flags,
                   .len = (uint32_t)msg->len,
                   .sender = msg->sender,
                   .receiver = receiver,
                   .corr = msg->corr};

    if (msg->len > UINT32_MAX || nng_msg_append(nm, &h, sizeof(h)) != 0) {
        return KT_ENOMEM;
    }
    if (nng_msg_append(nm, msg->body, msg->len) != 0) {
        nng_msg_chop(nm, sizeof(h));
        return KT_ENOMEM;
    }
    return KT_OK;
}

static kt_err
net_pack_frame(nng_msg **nmp, const kt_msg *msg, kt_aid receiver)
{
    nng_msg *nm;

    if (nng_msg_alloc(&nm, 0) != 0) {
        return KT_ENOMEM;
    }
    if (net_append_frame(nm, msg, receiver) != KT_OK) {
        nng_msg_free(nm);
        return KT_ENOMEM;
    }
    *nmp = nm;
    return KT_OK;
}

kt_err
kt__net_batch_add(kt__batch **bp, const kt_msg *msg, kt_aid receiver)
{
    nng_msg *nm = (nng_msg *)*bp;
    kt_err err;

    if (nm == NULL && nng_msg_alloc(&nm, 0) != 0) {
        return KT_ENOMEM;
    }
    if ((err = net_append_frame(nm, msg, receiver)) != KT_OK) {
        if (*bp == NULL) {
            nng_msg_free(nm);
        }
        return err;
    }
    *bp = (kt__batch *)nm;
    return KT_OK;
}

size_t
kt__net_batch_len(const kt__batch *b)
{
    return b != NULL ? nng_msg_len((nng_msg *)(uintptr_t)b) : 0;
}

kt_err
kt__net_batch_send(kt__sock *s, kt__batch *b)
{
    int rv;

    if (s->wire != NULL) {
        return kt__wire_send(s->wire, (nng_msg *)b, 0);
    }
    rv = kt__net_sendmsg(s, (nng_msg *)b);
    return rv == 0 ? KT_OK : rv == NNG_EAGAIN ? KT_EAGAIN : KT_ECLOSED;
}

void
kt__net_batch_free(kt__batch *b)
{
    if (b != NULL) {
        nng_msg_free((nng_msg *)b);
    }
}

kt_err
kt__net_send(kt__sock *s, const kt_msg *msg, kt_aid receiver, const char *rname,
             uint32_t pipe)
{
    nng_msg *nm;
    kt_err err;
    int rv;

    err = s->peer ? kt__net_env_pack(&nm, msg, receiver, rname, pipe)
                  : net_pack_frame(&nm, msg, receiver);
    if (err != KT_OK) {
        return err;
    }
    if (s->wire != NULL) {
        if ((err = kt__wire_send(s->wire, nm, pipe)) != KT_OK) {
            nng_msg_free(nm);
        }
        return err;
    }
    if ((rv = kt__net_sendmsg(s, nm)) != 0) {
        nng_msg_free(nm);
        return rv == NNG_EAGAIN ? KT_EAGAIN : kt__net_err(rv, "send", NULL);
    }
    return KT_OK;
}

kt_err
kt__net_drop(const char *why, size_t len)
{
    kt_log(KT_LOG_WARN, "net", "event=drop reason=\"%s\" len=%zu", why, len);
    return KT_EPROTO;
}

// The next frame of the batch in s->cur; a malformed one ends the batch.
static kt_err
net_next_frame(kt__sock *s, kt_msg **msgp, kt__addr *to)
{
    const unsigned char *p = nng_msg_body(s->cur);
    size_t left = nng_msg_len(s->cur) - s->off;
    kt_err err = KT_OK;
    frame_hdr h;

    if (left < sizeof(h)) {
        err = kt__net_drop("short frame", left);
    } else {
        memcpy(&h, p + s->off, sizeof(h));
        if (h.magic != FRAME_MAGIC || h.type == 0 || h.len > left - sizeof(h)) {
            err = kt__net_drop("bad frame header", left);
        }
    }
    if (err == KT_OK && (err = kt__msg_new(msgp, h.type, h.len, h.sender,
                                           h.corr, h.flags)) == KT_OK) {
        memcpy((*msgp)->body, p + s->off + sizeof(h), h.len);
        to->receiver = h.receiver;
        to->name[0] = '\0';
        s->off += sizeof(h) + h.len;
    }
    if (err != KT_OK || s->off == nng_msg_len(s->cur)) {
        nng_msg_free(s->cur);
        s->cur = NULL;
    }
    return err;
}

uint64_t
kt__net_rx_msgs(const kt__sock *s)
{
    return s->rx_msgs;
}

bool
kt__net_pending(const kt__sock *s)
{
    return s->cur != NULL || s->env != NULL;
}

kt_err
kt__net_recv(kt__sock *s, kt_msg **msgp, kt__addr *to)
{
    nng_msg *nm;
    int rv;

    to->mapped = false;
    to->pipe = 0;
    if (s->peer) {
        return kt__net_env_next(s, msgp, to);
    }
    if (s->cur == NULL) {
        if ((rv = kt__net_recvmsg(s, &nm)) != 0) {
            return rv == NNG_EAGAIN ? KT_EAGAIN : kt__net_err(rv, "recv", NULL);
        }
        s->cur = nm;
        s->off = 0;
        s->rx_msgs++;
    }
    return net_next_frame(s, msgp, to);
}
