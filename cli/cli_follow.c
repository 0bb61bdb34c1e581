// cli_follow.c: following an operation live. A local "follower" actor
// subscribes to the operation's ProgressEvents and hands them to the main
// thread through a small queue; the main thread draws a progress bar (a
// terminal) or plain lines, and turns Ctrl+C into a cancel.
#include <errno.h>
#include <inttypes.h>
#include <ktpb/v1/ops.pb-c.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "follow_int.h"

#define QCAP           64
#define FOLLOW_POLL_MS 2000 // no event for this long: ask for the status
#define FINAL_WAIT_MS  3000 // --json: wait for the record to show the end

typedef struct fqueue {
    pthread_mutex_t mtx;
    pthread_cond_t cv;
    fevent ev[QCAP];
    size_t head, n;
    char op_id[128];
    kt_aid ops;
} fqueue;

typedef struct follower {
    fqueue *q;
    uint64_t corr;
} follower;

static volatile sig_atomic_t interrupted;

static void
on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void
q_push(fqueue *q, const fevent *e)
{
    pthread_mutex_lock(&q->mtx);
    if (q->n == QCAP) { // drop the oldest: only the newest matters
        q->head = (q->head + 1) % QCAP;
        q->n--;
    }
    q->ev[(q->head + q->n) % QCAP] = *e;
    q->n++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mtx);
}

static void
ev_from_op(fevent *e, const Ktpb__V1__OperationRecord *op)
{
    e->percent = op->progress_percent;
    e->status = op->status;
    e->final = op->status == KTPB__V1__OP_STATUS__OP_COMPLETED ||
               op->status == KTPB__V1__OP_STATUS__OP_FAILED ||
               op->status == KTPB__V1__OP_STATUS__OP_CANCELLED;
    snprintf(e->step, sizeof(e->step), "%s", op->current_step);
    snprintf(e->error, sizeof(e->error), "%s", op->error);
}

static kt_err
follower_init(void *state, kt_actor *self, const void *cfg)
{
    follower *f = state;
    Ktpb__V1__OpsSubscribeRequest s;
    kt_msg *m;
    kt_err err;
    ktpb__v1__ops_subscribe_request__init(&s);

    f->q = *(fqueue *const *)cfg;
    s.op_id = f->q->op_id;
    if ((err = kt_msg_alloc(
             &m, KT_OPS_SUBSCRIBE,
             ktpb__v1__ops_subscribe_request__get_packed_size(&s))) != KT_OK) {
        return err;
    }
    ktpb__v1__ops_subscribe_request__pack(&s, kt_msg_body(m));
    if ((err = kt_ask(self, f->q->ops, m, 5000, &f->corr)) != KT_OK) {
        kt_msg_free(m);
    }
    return err;
}

static void
on_progress(follower *f, const kt_msg *msg)
{
    Ktpb__V1__ProgressEvent *p = ktpb__v1__progress_event__unpack(
        NULL, kt_msg_len(msg), kt_msg_cbody(msg));
    fevent e = {0};

    if (p == NULL || strcmp(p->op_id, f->q->op_id) != 0) {
        ktpb__v1__progress_event__free_unpacked(p, NULL);
        return;
    }
    e.percent = p->percent;
    e.epoch = p->epoch;
    e.total_epochs = p->total_epochs;
    e.bar = p->bar;
    e.total_bars = p->total_bars;
    e.train_loss = p->train_loss;
    e.val_loss = p->val_loss;
    e.equity = p->equity;
    e.status = p->status;
    e.final = p->final;
    snprintf(e.step, sizeof(e.step), "%s", p->current_step);
    snprintf(e.error, sizeof(e.error), "%s", p->error);
    ktpb__v1__progress_event__free_unpacked(p, NULL);
    q_push(f->q, &e);
}

static kt_err
follower_handle(void *state, kt_actor *self, kt_msg *msg)
{
    follower *f = state;
    fevent e = {0};

    (void)self;
    if (kt_msg_type(msg) == KT_OPS_PROGRESS) {
        on_progress(f, msg);
    } else if (kt_msg_corr(msg) == f->corr) {
        Ktpb__V1__OpsReply *r = NULL;
        if (kt_msg_type(msg) == KT_OPS_REPLY) {
            r = ktpb__v1__ops_reply__unpack(NULL, kt_msg_len(msg),
                                            kt_msg_cbody(msg));
        }
        if (r == NULL || r->status != 0) {
            e.err = r != NULL ? r->status : KT_ETIMEDOUT;
            snprintf(e.error, sizeof(e.error), "%s",
                     r != NULL ? r->message : "subscription timed out");
            e.final = true;
        } else if (r->op != NULL) {
            ev_from_op(&e, r->op);
        } else {
            e.subscribed = true;
        }
        ktpb__v1__ops_reply__free_unpacked(r, NULL);
        q_push(f->q, &e);
    }
    kt_msg_free(msg);
    return KT_OK;
}

static const kt_actor_ops follower_ops = {
    .name = "follower",
    .state_size = sizeof(follower),
    .init = follower_init,
    .handle = follower_handle,
};

static int
finish(cli_ctx *c, view *v, const fevent *e, const char *id)
{
    if (v->tty) {
        printf("\n");
    }
    if (e->err != 0) {
        return cli_error(c, "%s", e->error);
    }
    switch (e->status) {
    case KTPB__V1__OP_STATUS__OP_COMPLETED:
        printf("Operation completed successfully: %s\n", id);
        return CLI_OK;
    case KTPB__V1__OP_STATUS__OP_FAILED:
        printf("Operation failed: %s\n", e->error);
        break;
    default:
        printf("Operation was cancelled: %s\n", id);
        break;
    }
    printf("To resume: ktrdr operations resume %s\n", id);
    return CLI_ERR;
}

static bool
q_wait(fqueue *q, fevent *out, int ms)
{
    struct timespec ts;
    bool got;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&q->mtx);
    while (q->n == 0 && !interrupted &&
           pthread_cond_timedwait(&q->cv, &q->mtx, &ts) != ETIMEDOUT) {
    }
    got = q->n > 0;
    if (got) {
        *out = q->ev[q->head];
        q->head = (q->head + 1) % QCAP;
        q->n--;
    }
    pthread_mutex_unlock(&q->mtx);
    return got;
}

// get_op asks for the operation's record (*rp: release it with
// protobuf_c_message_free_unpacked). CLI_ERR, printed, when it cannot.
static int
get_op(cli_ctx *c, const char *id, Ktpb__V1__OpsReply **rp)
{
    Ktpb__V1__OpsGetRequest g;
    ktpb__v1__ops_get_request__init(&g);

    g.id = CLI_STR(id);
    return cli_call(c, c->ops, KT_OPS_GET, &g.base,
                    &ktpb__v1__ops_reply__descriptor, 5000,
                    (ProtobufCMessage **)rp);
}

// poll_final asks for the operation and, when it has ended, fills e as its
// final event: progress events are best effort, so a follower never waits
// on a lost final event.
static bool
poll_final(cli_ctx *c, const char *id, fevent *e)
{
    Ktpb__V1__OpsReply *r;
    bool ended = false;

    if (get_op(c, id, &r) != CLI_OK) {
        return false;
    }
    if (r->status == 0 && r->op != NULL) {
        fevent f = {0};
        ev_from_op(&f, r->op);
        if (f.final) {
            *e = f;
            ended = true;
        }
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return ended;
}

// finish_json ends a JSON lines stream with the operation's final record,
// the object `operations status ID --json` prints, on one line. The final
// event may overtake the record's last update, so a record that does not
// show the end yet is asked for again, for up to FINAL_WAIT_MS.
static int
finish_json(cli_ctx *c, const fevent *e, const char *id)
{
    int64_t end = cli_now_ms() + FINAL_WAIT_MS;
    struct timespec pause = {0, 20 * 1000000L};
    Ktpb__V1__OpsReply *r;
    int rv;

    if (e->err != 0) {
        return cli_error(c, "%s", e->error);
    }
    for (;;) {
        fevent f = {0};
        if ((rv = get_op(c, id, &r)) != CLI_OK) {
            return rv;
        }
        if (r->status != 0 || r->op == NULL) {
            rv = r->status != 0 ? cli_fail(c, r->status, r->message)
                                : cli_error(c, "malformed reply");
            break;
        }
        ev_from_op(&f, r->op);
        if (f.final || cli_now_ms() >= end) {
            rv = r->op->status == KTPB__V1__OP_STATUS__OP_COMPLETED ? CLI_OK
                                                                    : CLI_ERR;
            (void)cli_json_print(cli_op_json(r->op));
            break;
        }
        protobuf_c_message_free_unpacked(&r->base, NULL);
        nanosleep(&pause, NULL);
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return rv;
}

static int
cancel_now(cli_ctx *c, view *v, const char *id)
{
    Ktpb__V1__OpsCancelRequest k;
    Ktpb__V1__OpsReply *r;
    int rv;
    char ck[64];
    ktpb__v1__ops_cancel_request__init(&k);

    // JSON lines keep stdout for JSON: the notice goes to stderr.
    fprintf(c->json ? stderr : stdout,
            "%sInterrupted: cancelling %s (saving a checkpoint)...\n",
            v->tty ? "\n" : "", id);
    fflush(stdout);
    k.id = CLI_STR(id);
    k.reason = CLI_STR("Cancelled by user (Ctrl+C)");
    if ((rv = cli_call(c, c->ops, KT_OPS_CANCEL, &k.base,
                       &ktpb__v1__ops_reply__descriptor, 60000,
                       (ProtobufCMessage **)&r)) != CLI_OK) {
        return rv;
    }
    if (r->status != 0 || r->op == NULL) {
        rv = cli_fail(c, r->status, r->message);
    } else if (c->json) {
        (void)cli_json_print(cli_op_json(r->op)); // the stream's last line
        rv = CLI_ERR;
    } else {
        cli_ckpt_summary(r->op, ck, sizeof(ck));
        printf("Operation cancelled; checkpoint saved (%s).\n", ck);
        printf("To resume: ktrdr operations resume %s\n", id);
        rv = CLI_ERR;
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return rv;
}

int
cli_follow(cli_ctx *c, const char *op_id)
{
    static fqueue q = {.mtx = PTHREAD_MUTEX_INITIALIZER,
                       .cv = PTHREAD_COND_INITIALIZER};
    fqueue *qp = &q;
    struct sigaction sa = {.sa_handler = on_sigint}, old_int, old_term;
    view v = {.tty = isatty(STDOUT_FILENO) && !c->json,
              .t0 = cli_now_ms(),
              .p0 = -1,
              .last_epoch = UINT32_MAX,
              .last_decile = -1};
    fevent e = {0};
    kt_spawn_opts so = {.name = NULL};
    kt_aid fa;
    int rv = CLI_ERR;
    int64_t last_ev = cli_now_ms();

    snprintf(q.op_id, sizeof(q.op_id), "%s", op_id);
    q.ops = c->ops;
    cli_json_lines(c->json);
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (kt_spawn(c->rt, &follower_ops, &qp, &so, &fa) != KT_OK) {
        rv = cli_error(c, "cannot follow %s", op_id);
        goto out;
    }
    for (;;) {
        if (interrupted) {
            rv = cancel_now(c, &v, op_id);
            break;
        }
        bool got = q_wait(&q, &e, 200);
        int64_t now = cli_now_ms();
        if (got && e.subscribed) {
            // An operation that ended before the subscription took sends
            // no more events: look at its record once now.
            last_ev = now;
            got = poll_final(c, op_id, &e);
        } else if (got) {
            last_ev = now;
        } else if (now - last_ev >= FOLLOW_POLL_MS) {
            last_ev = now;
            got = poll_final(c, op_id, &e);
        }
        if (!got) {
            continue;
        }
        if (v.p0 < 0) {
            v.p0 = e.percent, v.t0 = cli_now_ms();
        }
        if (e.final || e.err != 0) {
            if (c->json) {
                rv = finish_json(c, &e, op_id);
            } else {
                cli_follow_draw(&v, &e);
                rv = finish(c, &v, &e, op_id);
            }
            break;
        }
        if (c->json) {
            cli_follow_draw_json(&v, &e, op_id);
        } else {
            cli_follow_draw(&v, &e);
        }
    }
out:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rv;
}
