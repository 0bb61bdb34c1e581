// The only NNG user: mailbox sockets (push/pull over inproc, a fixed binary
// frame) and peer sockets (pair1 over any transport, ktpb.v1.Envelope).
#include "io/net.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>

#include <kt/log.h>

#include "base/alloc.h"
#include "io/guard.h"
#include "ktpb/v1/envelope.pb-c.h"

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

struct kt__sock {
    nng_socket rx; // receives (the pull or pair socket)
    nng_socket tx; // sends (the push socket, or rx for peers)
    bool peer;     // Envelope framing
    int fd;
    int send_fd;
    kt__pipe_gone_cb gone;
    void *gone_arg;
    kt__guard *guard;     // peer listeners on ipc:// and tcp://
    nng_msg *cur;         // mailbox: the batch being taken apart
    size_t off;           // next frame in cur
    uint64_t rx_msgs;     // mailbox: NNG messages taken (receiver only)
    Ktpb__V1__Batch *env; // peer: the batch being taken apart
    size_t env_next;
    uint32_t env_pipe;
    nng_dialer dialer;             // peer dial sockets: the current dialer
    atomic_uint_fast64_t connects; // peer dial sockets: connections made
    char *url;                     // peer dial sockets: what it dials
    // Kept aios: nng_sendmsg and nng_recvmsg allocate one per call (with a
    // getrandom(2) each in NNG 1.5.2), several per message on a hot path.
    nng_aio *raio;        // the receiving thread's
    nng_aio *saio;        // any sender's, while it holds smtx
    pthread_mutex_t smtx; // a leaf; contended senders allocate their own
};

static kt_err
net_err(int rv, const char *what, const char *url)
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

static void
net_sock_free(kt__sock *s)
{
    nng_aio_free(s->raio); // NULL is a no-op
    nng_aio_free(s->saio);
    pthread_mutex_destroy(&s->smtx);
    kt__strfree(s->url);
    kt__free(s, sizeof(*s));
}

static kt_err
net_sock_alloc(kt__sock **sp, bool peer)
{
    kt__sock *s = kt__zalloc(sizeof(*s));

    if (s == NULL) {
        return KT_ENOMEM;
    }
    pthread_mutex_init(&s->smtx, NULL);
    if (nng_aio_alloc(&s->raio, NULL, NULL) != 0 ||
        nng_aio_alloc(&s->saio, NULL, NULL) != 0) {
        net_sock_free(s);
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

// net_sendmsg queues nm without blocking, as nng_sendmsg(NNG_FLAG_NONBLOCK)
// does but on the kept aio when no other sender holds it. On failure nm
// stays the caller's.
static int
net_sendmsg(kt__sock *s, nng_msg *nm)
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

// net_recvmsg takes a waiting message without blocking (the receiving
// thread only).
static int
net_recvmsg(kt__sock *s, nng_msg **nmp)
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

    if ((err = net_sock_alloc(&s, false)) != KT_OK) {
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
    net_sock_free(s);
    return net_err(rv, "mbox_open", url);
}

static void
net_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    kt__sock *s = arg;

    if (ev == NNG_PIPE_EV_ADD_POST) {
        if (s->guard != NULL) {
            kt__guard_pipe_added(s->guard);
        }
        atomic_fetch_add(&s->connects, 1);
    } else if (s->gone != NULL) {
        s->gone(s->gone_arg, (uint32_t)nng_pipe_id(p));
    }
}

// Listen at url. ipc:// and tcp:// listeners get a watchdog (guard.h),
// started before the listener so the pipe callback always sees it: NNG
// 1.5.2 may stop accepting after a stray connection.
static int
net_listen(kt__sock *s, const char *url)
{
    nng_listener lst;
    int rv;

    if ((rv = nng_pipe_notify(s->rx, NNG_PIPE_EV_ADD_POST, net_pipe_cb, s)) !=
            0 ||
        (rv = nng_pipe_notify(s->rx, NNG_PIPE_EV_REM_POST, net_pipe_cb, s)) !=
            0 ||
        (rv = nng_listener_create(&lst, s->rx, url)) != 0) {
        return rv;
    }
    if (strncmp(url, "inproc://", 9) != 0 &&
        kt__guard_start(&s->guard, s->rx, lst, url) != KT_OK) {
        nng_listener_close(lst);
        return NNG_ENOMEM;
    }
    if ((rv = nng_listener_start(lst, 0)) != 0) {
        kt__guard_stop(s->guard);
        nng_listener_close(lst);
        kt__guard_free(s->guard);
        s->guard = NULL;
    }
    return rv;
}

static kt_err
net_peer_open(kt__sock **sp, const char *url, bool listen,
              kt__pipe_gone_cb gone, void *arg)
{
    kt__sock *s;
    kt_err err;
    int rv;

    if ((err = net_sock_alloc(&s, true)) != KT_OK) {
        return err;
    }
    s->gone = gone;
    s->gone_arg = arg;
    rv = listen ? nng_pair1_open_poly(&s->rx) : nng_pair1_open(&s->rx);
    if (rv != 0) {
        goto free_sock;
    }
    s->tx = s->rx;
    (void)nng_socket_set_int(s->rx, NNG_OPT_RECVBUF, 1024);
    (void)nng_socket_set_int(s->rx, NNG_OPT_SENDBUF, 1024);
    (void)nng_socket_set_ms(s->rx, NNG_OPT_RECONNMINT, 10);
    (void)nng_socket_set_ms(s->rx, NNG_OPT_RECONNMAXT, 1000);
    if (listen) {
        if ((rv = net_listen(s, url)) != 0) {
            goto close_sock;
        }
    } else if ((s->url = kt__strdup(url)) == NULL ||
               (rv = nng_pipe_notify(s->rx, NNG_PIPE_EV_ADD_POST, net_pipe_cb,
                                     s)) != 0 ||
               (rv = nng_dial(s->rx, url, &s->dialer, NNG_FLAG_NONBLOCK)) !=
                   0) {
        rv = s->url == NULL ? NNG_ENOMEM : rv;
        goto close_sock;
    }
    if ((rv = nng_socket_get_int(s->rx, NNG_OPT_RECVFD, &s->fd)) != 0 ||
        (rv = nng_socket_get_int(s->rx, NNG_OPT_SENDFD, &s->send_fd)) != 0) {
        goto close_sock;
    }
    *sp = s;
    return KT_OK;
close_sock:
    nng_close(s->rx);
free_sock:
    net_sock_free(s);
    return net_err(rv, listen ? "listen" : "dial", url);
}

kt_err
kt__net_peer_listen(kt__sock **sp, const char *url, kt__pipe_gone_cb gone,
                    void *arg)
{
    return net_peer_open(sp, url, true, gone, arg);
}

kt_err
kt__net_peer_dial(kt__sock **sp, const char *url)
{
    return net_peer_open(sp, url, false, NULL, NULL);
}

static void *
net_dialer_close_main(void *arg)
{
    nng_dialer d = {.id = (uint32_t)(uintptr_t)arg};

    nng_dialer_close(d); // and its connection; may wait on NNG's reaper
    return NULL;
}

kt_err
kt__net_redial(kt__sock *s)
{
    nng_dialer old = s->dialer;
    void *arg = (void *)(uintptr_t)nng_dialer_id(old);
    pthread_t t;
    int rv;

    if (s->url == NULL) {
        return KT_EINVAL;
    }
    // The old dialer closes on a thread of its own: closing its connection
    // must never hold up the caller's loop. Until it is gone the new one's
    // connection is refused (pair1 takes one) and NNG retries it.
    if (pthread_create(&t, NULL, net_dialer_close_main, arg) == 0) {
        (void)pthread_detach(t);
    } else {
        nng_dialer_close(old);
    }
    if ((rv = nng_dial(s->rx, s->url, &s->dialer, NNG_FLAG_NONBLOCK)) != 0) {
        return net_err(rv, "redial", s->url);
    }
    return KT_OK;
}

uint64_t
kt__net_connects(kt__sock *s)
{
    return atomic_load(&s->connects);
}

uint64_t
kt__net_relistens(const kt__sock *s)
{
    return kt__guard_relistens(s->guard);
}

int
kt__net_fd(const kt__sock *s)
{
    return s->fd;
}

int
kt__net_send_fd(const kt__sock *s)
{
    return s->send_fd;
}

bool
kt__net_close(kt__sock *s)
{
    if (s == NULL) {
        return true;
    }
    kt__guard_stop(s->guard); // it may listen again until stopped
    // Both wait for pipe callbacks to finish, but never forever (guard.h).
    if ((!s->peer && !kt__guard_close_bounded(s->tx, NET_CLOSE_MS)) ||
        !kt__guard_close_bounded(s->rx, NET_CLOSE_MS)) {
        kt__leak_on_purpose(s); // abandoned: callbacks may still use s
        return false;
    }
    kt__guard_free(s->guard);
    if (s->cur != NULL) {
        nng_msg_free(s->cur);
    }
    if (s->env != NULL) {
        ktpb__v1__batch__free_unpacked(s->env, NULL);
    }
    net_sock_free(s);
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
    int rv = net_sendmsg(s, (nng_msg *)b);

    return rv == 0 ? KT_OK : rv == NNG_EAGAIN ? KT_EAGAIN : KT_ECLOSED;
}

void
kt__net_batch_free(kt__batch *b)
{
    if (b != NULL) {
        nng_msg_free((nng_msg *)b);
    }
}

static kt_err
net_pack_env(nng_msg **nmp, const kt_msg *msg, kt_aid receiver,
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

kt_err
kt__net_send(kt__sock *s, const kt_msg *msg, kt_aid receiver, const char *rname,
             uint32_t pipe)
{
    nng_msg *nm;
    kt_err err;
    int rv;

    err = s->peer ? net_pack_env(&nm, msg, receiver, rname, pipe)
                  : net_pack_frame(&nm, msg, receiver);
    if (err != KT_OK) {
        return err;
    }
    if ((rv = net_sendmsg(s, nm)) != 0) {
        nng_msg_free(nm);
        return rv == NNG_EAGAIN ? KT_EAGAIN : net_err(rv, "send", NULL);
    }
    return KT_OK;
}

static kt_err
net_drop(const char *why, size_t len)
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
        err = net_drop("short frame", left);
    } else {
        memcpy(&h, p + s->off, sizeof(h));
        if (h.magic != FRAME_MAGIC || h.type == 0 || h.len > left - sizeof(h)) {
            err = net_drop("bad frame header", left);
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

static kt_err
net_env_msg(const Ktpb__V1__Envelope *env, kt_msg **msgp, kt__addr *to)
{
    size_t nlen = strlen(env->receiver_name);
    kt_err err;

    if (env->type == 0 || nlen > KT__NAME_MAX ||
        (env->receiver == 0 && nlen == 0)) {
        return net_drop("bad envelope fields", env->payload.len);
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
static kt_err
net_next_env(kt__sock *s, kt_msg **msgp, kt__addr *to)
{
    kt_err err;
    nng_msg *nm;
    int rv;

    if (s->env == NULL) {
        if ((rv = net_recvmsg(s, &nm)) != 0) {
            return rv == NNG_EAGAIN ? KT_EAGAIN : net_err(rv, "recv", NULL);
        }
        s->env_pipe = (uint32_t)nng_pipe_id(nng_msg_get_pipe(nm));
        s->env =
            ktpb__v1__batch__unpack(NULL, nng_msg_len(nm), nng_msg_body(nm));
        nng_msg_free(nm);
        if (s->env == NULL) {
            return net_drop("malformed envelope", 0);
        }
        s->env_next = 0;
    }
    err = s->env_next < s->env->n_envelopes
              ? net_env_msg(s->env->envelopes[s->env_next++], msgp, to)
              : net_drop("empty batch", 0);
    to->pipe = s->env_pipe;
    if (s->env_next >= s->env->n_envelopes) {
        ktpb__v1__batch__free_unpacked(s->env, NULL);
        s->env = NULL;
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
        return net_next_env(s, msgp, to);
    }
    if (s->cur == NULL) {
        if ((rv = net_recvmsg(s, &nm)) != 0) {
            return rv == NNG_EAGAIN ? KT_EAGAIN : net_err(rv, "recv", NULL);
        }
        s->cur = nm;
        s->off = 0;
        s->rx_msgs++;
    }
    return net_next_frame(s, msgp, to);
}
