// runner.c: the plug-in runner, a dedicated actor (a thread of its own)
// that makes one designer or assessor call -- which may block on an
// external command -- and sends the result back to its research actor,
// then exits. The research actor never blocks on a plug-in.
#include <stdlib.h>
#include <unistd.h>

#include <kt/log.h>

#include "operations/pbmsg.h"
#include "research/rs_int.h"

typedef struct runner {
    kt__rs_runner_cfg cfg;
    uint64_t timer;
} runner;

static kt_err
runner_init(void *state, kt_actor *self, const void *cfg)
{
    runner *r = state;

    (void)self;
    r->cfg = *(const kt__rs_runner_cfg *)cfg;
    return KT_OK;
}

static void
runner_design(runner *r, kt_actor *self, const kt_msg *msg)
{
    Ktpb__V1__DesignRequest *in = (Ktpb__V1__DesignRequest *)kt__pb_unpack(
        &ktpb__v1__design_request__descriptor, msg, "research_runner");
    Ktpb__V1__DesignResult *out = malloc(sizeof(*out));

    if (out == NULL || in == NULL) {
        free(out);
        if (in != NULL) {
            ktpb__v1__design_request__free_unpacked(in, NULL);
        }
        return;
    }
    ktpb__v1__design_result__init(out);
    r->cfg.designer.design(r->cfg.designer.arg, in, r->cfg.cancel_fd, out);
    (void)kt__pb_send(self, r->cfg.reply_to, KT_RS_DESIGN_DONE, &out->base);
    ktpb__v1__design_result__free_unpacked(out, NULL);
    ktpb__v1__design_request__free_unpacked(in, NULL);
}

static void
runner_assess(runner *r, kt_actor *self, const kt_msg *msg)
{
    Ktpb__V1__AssessRequest *in = (Ktpb__V1__AssessRequest *)kt__pb_unpack(
        &ktpb__v1__assess_request__descriptor, msg, "research_runner");
    Ktpb__V1__AssessResult *out = malloc(sizeof(*out));

    if (out == NULL || in == NULL) {
        free(out);
        if (in != NULL) {
            ktpb__v1__assess_request__free_unpacked(in, NULL);
        }
        return;
    }
    ktpb__v1__assess_result__init(out);
    r->cfg.assessor.assess(r->cfg.assessor.arg, in, r->cfg.cancel_fd, out);
    (void)kt__pb_send(self, r->cfg.reply_to, KT_RS_ASSESS_DONE, &out->base);
    ktpb__v1__assess_result__free_unpacked(out, NULL);
    ktpb__v1__assess_request__free_unpacked(in, NULL);
}

static kt_err
runner_handle(void *state, kt_actor *self, kt_msg *msg)
{
    runner *r = state;

    if (kt_msg_type(msg) == KT_RS_DESIGN) {
        runner_design(r, self, msg);
    } else if (kt_msg_type(msg) == KT_RS_ASSESS) {
        runner_assess(r, self, msg);
    }
    if (kt_msg_type(msg) == KT_MSG_TIMER ||
        kt_timer_start(self, 1, false, 1, &r->timer) != KT_OK) {
        kt_exit(self, KT_OK);
    }
    // One call per runner. It exits on the next turn of its loop, once the
    // result has left (a message sent in the turn that exits could be
    // dropped with the thread).
    kt_msg_free(msg);
    return KT_OK;
}

static void
runner_fini(void *state)
{
    runner *r = state;

    if (r->cfg.cancel_fd >= 0) {
        (void)close(r->cfg.cancel_fd);
    }
}

const kt_actor_ops kt__rs_runner_ops = {
    .name = "research_runner",
    .state_size = sizeof(runner),
    .init = runner_init,
    .handle = runner_handle,
    .fini = runner_fini,
};
