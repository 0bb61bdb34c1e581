// worker.c: the part of the training and backtest actors that talks to the
// rest of the system: checkpoint saves and their acks, the checkpoint load
// on resume, progress reports and WorkerDone.
#include "operations/worker.h"

#include <ktpb/v1/persist.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kt/log.h>

#include "operations/pbmsg.h"
#include "persistence/persistence.h"

#define WORKER_PROGRESS_MS 100

kt_err
kt__worker_init(kt__worker *w, kt_actor *self, const kt_worker_cfg *cfg)
{
    if (cfg == NULL || cfg->op_id == NULL || cfg->op_id[0] == '\0' ||
        strlen(cfg->op_id) >= KT_OPS_ID_MAX || cfg->data_dir == NULL ||
        strlen(cfg->data_dir) >= KT_OPS_PATH_MAX || cfg->request == NULL ||
        cfg->request_len == 0 || cfg->ops == 0 || cfg->persistence == 0) {
        return KT_EINVAL;
    }
    if ((w->request = malloc(cfg->request_len)) == NULL) {
        return KT_ENOMEM;
    }
    memcpy(w->request, cfg->request, cfg->request_len);
    w->request_len = cfg->request_len;
    w->self = self;
    kt__strlcpy(w->op_id, cfg->op_id, sizeof(w->op_id));
    kt__strlcpy(w->data_dir, cfg->data_dir, sizeof(w->data_dir));
    w->attempt = cfg->attempt;
    w->resume = cfg->resume;
    w->ops = cfg->ops;
    w->persist = cfg->persistence;
    w->timeout_ms = cfg->ask_timeout_ms != 0 ? cfg->ask_timeout_ms : 30000;
    w->slice = cfg->slice;
    w->requested_at_ms = cfg->requested_at_ms;
    w->hook = cfg->hook;
    w->hook_arg = cfg->hook_arg;
    w->state = cfg->resume ? KT_W_LOADING : KT_W_RUNNING;
    // Seqs increase across attempts: the attempt in the high half.
    w->seq = (uint64_t)cfg->attempt << 32;
    w->last_ckpt_ms = kt__mono_ms();
    return KT_OK;
}

void
kt__worker_fini(kt__worker *w)
{
    free(w->request);
    w->request = NULL;
}

kt_err
kt__worker_hook(kt__worker *w, const char *unit, int64_t value)
{
    return w->hook != NULL ? w->hook(w->hook_arg, w->op_id, unit, value)
                           : KT_OK;
}

static kt_err
worker_send_ckpt(kt__worker *w, Ktpb__V1__CheckpointType type,
                 const Ktpb__V1__CheckpointSummary *sum, const char *name,
                 const uint8_t *engine, size_t len, uint64_t *corrp)
{
    Ktpb__V1__OpCheckpointState st;
    Ktpb__V1__CheckpointEvent ev;
    Ktpb__V1__Artifact art;
    Ktpb__V1__Artifact *arts[1] = {&art};
    uint8_t *sbuf;
    size_t slen;
    kt_err rv;

    ktpb__v1__op_checkpoint_state__init(&st);
    ktpb__v1__checkpoint_event__init(&ev);
    ktpb__v1__artifact__init(&art);
    st.format_version = KT_OPS_CKPT_FORMAT;
    st.summary = KT_PB_PTR(Ktpb__V1__CheckpointSummary, sum);
    st.request.data = w->request;
    st.request.len = w->request_len;
    slen = ktpb__v1__op_checkpoint_state__get_packed_size(&st);
    if ((sbuf = malloc(slen > 0 ? slen : 1)) == NULL) {
        return KT_ENOMEM;
    }
    (void)ktpb__v1__op_checkpoint_state__pack(&st, sbuf);
    art.name = KT_PB_STR(name);
    art.data.data = KT_PB_BYTES(engine);
    art.data.len = len;
    ev.op_id = w->op_id;
    ev.attempt = w->attempt;
    ev.seq = ++w->seq;
    ev.type = type;
    ev.unit = sum->unit;
    ev.unit_value = sum->unit_value;
    ev.state.data = sbuf;
    ev.state.len = slen;
    ev.n_artifacts = 1;
    ev.artifacts = arts;
    ev.format_version = KT_OPS_CKPT_FORMAT;
    rv = kt__pb_ask(w->self, w->persist, KT_PERSIST_CKPT_SAVE, &ev.base,
                    w->timeout_ms, corrp);
    free(sbuf);
    if (rv == KT_OK) {
        w->last_ckpt_ms = kt__mono_ms();
    }
    return rv;
}

kt_err
kt__worker_checkpoint(kt__worker *w, Ktpb__V1__CheckpointType type,
                      const Ktpb__V1__CheckpointSummary *sum, const char *name,
                      const uint8_t *engine, size_t len)
{
    uint64_t corr;
    kt_err rv;

    if (w->nacks >= KT_WORKER_ACKS) {
        return KT_EAGAIN; // callers check kt__worker_may_step first
    }
    rv = worker_send_ckpt(w, type, sum, name, engine, len, &corr);
    if (rv == KT_OK) {
        w->acks[w->nacks++] = corr;
    }
    return rv;
}

void
kt__worker_terminal(kt__worker *w, Ktpb__V1__CheckpointType type,
                    Ktpb__V1__OpStatus end, const char *error,
                    const Ktpb__V1__CheckpointSummary *sum, const char *name,
                    const uint8_t *engine, size_t len)
{
    char why[600];
    kt_err rv;

    w->terminal = end;
    kt__strlcpy(w->error, error, sizeof(w->error));
    rv = worker_send_ckpt(w, type, sum, name, engine, len, &w->terminal_corr);
    if (rv != KT_OK) {
        (void)snprintf(why, sizeof(why), "Checkpoint save failed: %s (%s)",
                       kt_strerror(rv), w->error);
        kt__worker_done(w, KTPB__V1__OP_STATUS__OP_FAILED, why, NULL, 0);
        return;
    }
    w->state = KT_W_STOPPING;
}

kt_err
kt__worker_load(kt__worker *w)
{
    Ktpb__V1__CheckpointLoadRequest rq;

    ktpb__v1__checkpoint_load_request__init(&rq);
    rq.op_id = w->op_id;
    rq.format_version = KT_OPS_CKPT_FORMAT;
    rq.with_artifacts = true;
    return kt__pb_ask(w->self, w->persist, KT_PERSIST_CKPT_LOAD, &rq.base,
                      w->timeout_ms, &w->load_corr);
}

// worker_ack_status reads an ack (or a timeout) into rv and why.
static kt_err
worker_ack_status(const kt_msg *msg, char *why, size_t n)
{
    Ktpb__V1__CheckpointAck *a;
    kt_err rv;

    if (kt_msg_type(msg) == KT_MSG_TIMEOUT) {
        kt__strlcpy(why, "no acknowledgement from persistence in time", n);
        return KT_ETIMEDOUT;
    }
    a = (Ktpb__V1__CheckpointAck *)kt__pb_unpack(
        &ktpb__v1__checkpoint_ack__descriptor, msg, "worker");
    if (a == NULL) {
        kt__strlcpy(why, "malformed acknowledgement", n);
        return KT_EPROTO;
    }
    rv = (kt_err)a->status;
    kt__strlcpy(why, a->message, n);
    ktpb__v1__checkpoint_ack__free_unpacked(a, NULL);
    return rv;
}

static bool
worker_take_ack(kt__worker *w, uint64_t corr)
{
    for (size_t i = 0; i < w->nacks; i++) {
        if (w->acks[i] == corr) {
            memmove(&w->acks[i], &w->acks[i + 1],
                    (w->nacks - i - 1) * sizeof(w->acks[0]));
            w->nacks--;
            return true;
        }
    }
    return false;
}

bool
kt__worker_reply(kt__worker *w, kt_msg *msg, bool *resume_step)
{
    uint64_t corr = kt_msg_corr(msg);
    bool terminal = corr != 0 && corr == w->terminal_corr;
    char why[400], text[600];
    kt_err rv;

    *resume_step = false;
    if (corr == 0 || (!terminal && !worker_take_ack(w, corr))) {
        return false;
    }
    if (kt_msg_type(msg) != KT_PERSIST_CKPT_ACK &&
        kt_msg_type(msg) != KT_MSG_TIMEOUT) {
        return false;
    }
    rv = worker_ack_status(msg, why, sizeof(why));
    kt_msg_free(msg);
    if (w->state == KT_W_DONE) {
        return true;
    }
    if (rv != KT_OK) {
        kt_log(KT_LOG_ERR, "ops",
               "actor=worker#%llu event=checkpoint_failed op=%s err=%s "
               "why=\"%s\"",
               (unsigned long long)kt_self(w->self), w->op_id, kt_strerror(rv),
               why);
        (void)snprintf(text, sizeof(text), "Checkpoint save failed: %s", why);
        kt__worker_done(w, KTPB__V1__OP_STATUS__OP_FAILED, text, NULL, 0);
        return true;
    }
    if (terminal) {
        kt__worker_done(w, w->terminal, w->error, NULL, 0);
        return true;
    }
    if (w->step_deferred && w->state == KT_W_RUNNING) {
        w->step_deferred = false;
        *resume_step = true;
    }
    return true;
}

bool
kt__worker_may_step(kt__worker *w)
{
    if (w->nacks >= KT_WORKER_ACKS) {
        w->step_deferred = true;
        return false;
    }
    return true;
}

void
kt__worker_progress(kt__worker *w, Ktpb__V1__ProgressEvent *ev, bool force)
{
    int64_t now = kt__mono_ms();

    if (!force && now - w->last_progress_ms < WORKER_PROGRESS_MS) {
        return;
    }
    w->last_progress_ms = now;
    ev->op_id = w->op_id;
    ev->attempt = w->attempt;
    if (kt__pb_send(w->self, w->ops, KT_OPS_PROGRESS, &ev->base) != KT_OK) {
        kt_log(KT_LOG_WARN, "ops", "actor=worker op=%s event=progress_lost",
               w->op_id);
    }
}

void
kt__worker_done(kt__worker *w, Ktpb__V1__OpStatus st, const char *error,
                const uint8_t *result, size_t len)
{
    Ktpb__V1__WorkerDone d;
    kt_err rv;

    ktpb__v1__worker_done__init(&d);
    if (w->state == KT_W_DONE) {
        return;
    }
    w->state = KT_W_DONE;
    d.op_id = w->op_id;
    d.attempt = w->attempt;
    d.status = st;
    d.error = KT_PB_STR(error != NULL ? error : "");
    d.result.data = KT_PB_BYTES(result);
    d.result.len = result != NULL ? len : 0;
    d.checkpoint_seq = w->seq;
    if ((rv = kt__pb_send(w->self, w->ops, KT_OPS_WORKER_DONE, &d.base)) !=
        KT_OK) {
        kt_log(KT_LOG_ERR, "ops", "actor=worker op=%s event=done_lost err=%s",
               w->op_id, kt_strerror(rv));
        kt_exit(w->self, KT_OK); // nobody will release us
    }
}

static kt_err
worker_restore_from(const Ktpb__V1__CheckpointLoadReply *r,
                    const char *artifact, kt__worker_import_fn import,
                    void *arg, char *err, size_t n)
{
    const Ktpb__V1__CheckpointRecord *c = r->checkpoint;
    kt_err rv;

    if (r->status != KT_OK) {
        (void)snprintf(err, n, "%s", r->message);
        return (kt_err)r->status;
    }
    for (size_t i = 0; c != NULL && i < c->n_artifacts; i++) {
        if (strcmp(c->artifacts[i]->name, artifact) == 0) {
            rv = import(arg, c->artifacts[i]->data.data,
                        c->artifacts[i]->data.len, err, n);
            if (rv == KT_EVERSION) {
                char why[256];
                kt__strlcpy(why, err, sizeof(why));
                (void)snprintf(err, n, "Checkpoint version mismatch: %s", why);
            }
            return rv;
        }
    }
    (void)snprintf(err, n, "Checkpoint corrupted: missing %s", artifact);
    return KT_ECORRUPT;
}

kt_err
kt__worker_restore(const kt_msg *reply, const char *artifact,
                   kt__worker_import_fn import, void *arg, char *err, size_t n)
{
    Ktpb__V1__CheckpointLoadReply *r;
    kt_err rv;

    if (kt_msg_type(reply) == KT_MSG_TIMEOUT) {
        (void)snprintf(err, n, "checkpoint load timed out");
        return KT_ETIMEDOUT;
    }
    r = (Ktpb__V1__CheckpointLoadReply *)kt__pb_unpack(
        &ktpb__v1__checkpoint_load_reply__descriptor, reply, "worker");
    if (r == NULL) {
        (void)snprintf(err, n, "malformed checkpoint load reply");
        return KT_EPROTO;
    }
    rv = worker_restore_from(r, artifact, import, arg, err, n);
    ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
    return rv;
}
