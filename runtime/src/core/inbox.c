// Peer input with back-pressure (see inbox.h).
#include "core/inbox.h"

#include "core/msg.h"

#define INBOX_BATCH    256 // frames per wake-up: the run queue gets turns
#define INBOX_RETRY_MS 1

static bool
inbox_flush_held(kt__inbox *ib)
{
    if (ib->held == NULL) {
        return true;
    }
    if (ib->deliver(ib->arg, ib->held, &ib->held_to) == KT_EAGAIN) {
        return false;
    }
    ib->held = NULL;
    return true;
}

static void
inbox_pause(kt__inbox *ib)
{
    kt__ev_stop(ib->rx);
    if (kt__ev_start(ib->retry, INBOX_RETRY_MS) != KT_OK) {
        kt__ev_activate(ib->retry); // cannot arm a timer: retry at once
    }
}

static void
inbox_rx_cb(void *arg)
{
    kt__inbox *ib = arg;
    kt_msg *m;

    for (int i = 0; i < INBOX_BATCH; i++) {
        kt_err err = kt__net_recv(ib->sock, &m, &ib->held_to);
        if (err == KT_EAGAIN) {
            return;
        }
        if (err != KT_OK) {
            continue; // malformed: logged by net.c
        }
        ib->held = m;
        if (!inbox_flush_held(ib)) {
            inbox_pause(ib);
            return;
        }
    }
    if (kt__net_pending(ib->sock)) {
        kt__ev_activate(ib->rx); // the rest of a batch: after this turn
    }
}

static void
inbox_retry_cb(void *arg)
{
    kt__inbox *ib = arg;

    if (!inbox_flush_held(ib)) {
        inbox_pause(ib);
    } else if (kt__ev_start(ib->rx, 0) != KT_OK) {
        inbox_pause(ib);
    } else {
        kt__ev_activate(ib->rx); // a batch may be half taken apart
    }
}

kt_err
kt__inbox_start(kt__inbox *ib, kt__loop *loop, kt__sock *sock,
                kt__inbox_fn deliver, void *arg)
{
    kt_err err;

    ib->sock = sock;
    ib->held = NULL;
    ib->deliver = deliver;
    ib->arg = arg;
    ib->rx = ib->retry = NULL;
    if ((err = kt__ev_alloc(loop, kt__net_fd(sock), true, inbox_rx_cb, ib,
                            &ib->rx)) != KT_OK ||
        (err = kt__ev_alloc(loop, -1, false, inbox_retry_cb, ib, &ib->retry)) !=
            KT_OK ||
        (err = kt__ev_start(ib->rx, 0)) != KT_OK) {
        kt__inbox_stop(ib);
    }
    return err;
}

void
kt__inbox_stop(kt__inbox *ib)
{
    kt__ev_free(ib->rx);
    kt__ev_free(ib->retry);
    ib->rx = ib->retry = NULL;
    kt_msg_free(ib->held);
    ib->held = NULL;
}
