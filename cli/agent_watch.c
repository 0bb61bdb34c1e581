// agent_watch.c: the events of one agent research, for `ktrdr agent
// research --follow`. A local "agent_watch" actor subscribes to the
// research manager's ResearchEvents for the research (KT_RS_SUBSCRIBE) and
// hands them to the main thread through a small queue, as cli_follow.c
// does for a training's ProgressEvents.
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "research/research.h"

#define WQ_CAP 32

struct cli_rs_watch {
    pthread_mutex_t mtx;
    pthread_cond_t cv;
    Ktpb__V1__ResearchEvent *ev[WQ_CAP]; // owned; the oldest is dropped
    size_t head, n;
    bool subscribed; // the subscription reply came, not yet taken
    int err;         // the subscription failed (kt_err), not yet taken
    char error[256];
    char op_id[128];
    kt_aid research;
};

typedef struct watcher {
    cli_rs_watch *w;
    uint64_t corr;
} watcher;

// The caller holds w->mtx.
static void
wq_push(cli_rs_watch *w, Ktpb__V1__ResearchEvent *e)
{
    if (w->n == WQ_CAP) { // only the newest matters for a progress line
        ktpb__v1__research_event__free_unpacked(w->ev[w->head], NULL);
        w->head = (w->head + 1) % WQ_CAP;
        w->n--;
    }
    w->ev[(w->head + w->n) % WQ_CAP] = e;
    w->n++;
}

static kt_err
watcher_init(void *state, kt_actor *self, const void *cfg)
{
    watcher *a = state;
    Ktpb__V1__ResearchSubscribeRequest s;
    kt_msg *m;
    kt_err err;
    ktpb__v1__research_subscribe_request__init(&s);

    a->w = *(cli_rs_watch *const *)cfg;
    s.op_id = a->w->op_id;
    if ((err = kt_msg_alloc(
             &m, KT_RS_SUBSCRIBE,
             ktpb__v1__research_subscribe_request__get_packed_size(&s))) !=
        KT_OK) {
        return err;
    }
    ktpb__v1__research_subscribe_request__pack(&s, kt_msg_body(m));
    if ((err = kt_ask(self, a->w->research, m, 5000, &a->corr)) != KT_OK) {
        kt_msg_free(m);
    }
    return err;
}

static void
on_reply(cli_rs_watch *w, const kt_msg *msg)
{
    Ktpb__V1__ResearchReply *r = NULL;

    if (kt_msg_type(msg) == KT_RS_REPLY) {
        r = ktpb__v1__research_reply__unpack(NULL, kt_msg_len(msg),
                                             kt_msg_cbody(msg));
    }
    pthread_mutex_lock(&w->mtx);
    if (r != NULL && r->status == 0) {
        w->subscribed = true;
    } else {
        w->err = r != NULL ? r->status : KT_ETIMEDOUT;
        snprintf(w->error, sizeof(w->error), "%s",
                 r != NULL ? r->message : "subscription timed out");
    }
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mtx);
    ktpb__v1__research_reply__free_unpacked(r, NULL);
}

static kt_err
watcher_handle(void *state, kt_actor *self, kt_msg *msg)
{
    watcher *a = state;
    cli_rs_watch *w = a->w;

    (void)self;
    if (kt_msg_type(msg) == KT_RS_EVENT) {
        Ktpb__V1__ResearchEvent *e = ktpb__v1__research_event__unpack(
            NULL, kt_msg_len(msg), kt_msg_cbody(msg));
        if (e != NULL && strcmp(e->op_id, w->op_id) == 0) {
            pthread_mutex_lock(&w->mtx);
            wq_push(w, e);
            pthread_cond_signal(&w->cv);
            pthread_mutex_unlock(&w->mtx);
        } else {
            ktpb__v1__research_event__free_unpacked(e, NULL);
        }
    } else if (kt_msg_corr(msg) == a->corr) {
        on_reply(w, msg);
    }
    kt_msg_free(msg);
    return KT_OK;
}

// watcher_fini: events nobody took are freed with the actor (a runtime
// stop; a process that leaves with _exit frees nothing).
static void
watcher_fini(void *state)
{
    cli_rs_watch *w = ((watcher *)state)->w;

    pthread_mutex_lock(&w->mtx);
    while (w->n > 0) {
        ktpb__v1__research_event__free_unpacked(w->ev[w->head], NULL);
        w->head = (w->head + 1) % WQ_CAP;
        w->n--;
    }
    pthread_mutex_unlock(&w->mtx);
}

static const kt_actor_ops watcher_ops = {
    .name = "agent_watch",
    .state_size = sizeof(watcher),
    .init = watcher_init,
    .handle = watcher_handle,
    .fini = watcher_fini,
};

int
cli_rs_watch_start(cli_ctx *c, kt_aid research, const char *op_id,
                   cli_rs_watch **wp)
{
    // One research is followed per process; the actor may outlive the
    // command (until the runtime stops), so the queue is not on a stack.
    static cli_rs_watch w = {.mtx = PTHREAD_MUTEX_INITIALIZER,
                             .cv = PTHREAD_COND_INITIALIZER};
    cli_rs_watch *p = &w;
    kt_aid aid;

    if (strlen(op_id) >= sizeof(w.op_id)) {
        return cli_error(c, "operation id too long: %s", op_id);
    }
    snprintf(w.op_id, sizeof(w.op_id), "%s", op_id);
    w.research = research;
    if (kt_spawn(c->rt, &watcher_ops, &p, NULL, &aid) != KT_OK) {
        return cli_error(c, "cannot follow %s", op_id);
    }
    *wp = p;
    return CLI_OK;
}

cli_rs_watch_got
cli_rs_watch_next(cli_rs_watch *w, int ms, Ktpb__V1__ResearchEvent **ep,
                  char *error, size_t len)
{
    struct timespec ts;
    cli_rs_watch_got got = CLI_RS_NONE;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&w->mtx);
    while (w->n == 0 && !w->subscribed && w->err == 0 &&
           pthread_cond_timedwait(&w->cv, &w->mtx, &ts) != ETIMEDOUT) {
    }
    if (w->err != 0) {
        snprintf(error, len, "%s", w->error);
        w->err = 0;
        got = CLI_RS_FAILED;
    } else if (w->subscribed) {
        w->subscribed = false;
        got = CLI_RS_SUBSCRIBED;
    } else if (w->n > 0) {
        *ep = w->ev[w->head];
        w->head = (w->head + 1) % WQ_CAP;
        w->n--;
        got = CLI_RS_EVENT;
    }
    pthread_mutex_unlock(&w->mtx);
    return got;
}

void
cli_rs_event_info(const Ktpb__V1__ResearchEvent *e, Ktpb__V1__ResearchInfo *i)
{
    ktpb__v1__research_info__init(i);
    kt_rs_info_from_event(i, e);
    i->op_id = e->op_id;
    i->status = e->status;
}
