// A progress subscriber in another runtime (as `ktrdr ... --follow` in
// another process): it subscribes through a remote proxy of "operations"
// over ipc, and the events come back through that connection, no polling.
#include <stdatomic.h>

#include "ops_fixture.h"

static fx f;

static void
setup(void)
{
    fx_setup(&f);
}

static void
teardown(void)
{
    fx_teardown(&f);
}

TestSuite(ops_remote, .init = setup, .fini = teardown, .timeout = 60.0);

static atomic_int subscribed, events, final_status = -1;
static _Atomic double last_pct;

static kt_err
watch_init(void *state, kt_actor *self, const void *cfg)
{
    Ktpb__V1__OpsSubscribeRequest s;
    uint64_t corr;
    kt_msg *m;

    (void)state;
    ktpb__v1__ops_subscribe_request__init(&s);
    if (kt_msg_alloc(&m, KT_OPS_SUBSCRIBE,
                     ktpb__v1__ops_subscribe_request__get_packed_size(&s)) !=
        KT_OK) {
        return KT_ENOMEM;
    }
    ktpb__v1__ops_subscribe_request__pack(&s, kt_msg_body(m));
    if (kt_ask(self, *(const kt_aid *)cfg, m, FX_TIMEOUT_MS, &corr) != KT_OK) {
        kt_msg_free(m);
        return KT_ECLOSED;
    }
    return KT_OK;
}

static kt_err
watch_handle(void *state, kt_actor *self, kt_msg *msg)
{
    Ktpb__V1__ProgressEvent *e;

    (void)state;
    (void)self;
    if (kt_msg_type(msg) == KT_OPS_REPLY) {
        atomic_store(&subscribed, 1);
    } else if (kt_msg_type(msg) == KT_OPS_PROGRESS &&
               (e = ktpb__v1__progress_event__unpack(NULL, kt_msg_len(msg),
                                                     kt_msg_body(msg)))) {
        atomic_fetch_add(&events, 1);
        atomic_store(&last_pct, e->percent);
        if (e->final) {
            atomic_store(&final_status, (int)e->status);
        }
        ktpb__v1__progress_event__free_unpacked(e, NULL);
    }
    kt_msg_free(msg);
    return KT_OK;
}

static const kt_actor_ops watch_ops = {
    .name = "watcher",
    .init = watch_init,
    .handle = watch_handle,
};

static bool
wait_int(atomic_int *v, int want, int ms)
{
    for (int i = 0; i < ms / 2 && atomic_load(v) != want; i++) {
        usleep(2000);
    }
    return atomic_load(v) == want;
}

Test(ops_remote, subscriber_in_another_runtime_gets_progress_and_final)
{
    kt_runtime_cfg rc = {.threads = 1};
    kt_runtime *other;
    kt_aid proxy, watcher;
    char url[200];
    char *id;

    snprintf(url, sizeof(url), "ipc://%s/ops.sock", f.dir);
    cr_assert_eq(kt_runtime_listen(f.rt, url), KT_OK);
    cr_assert_eq(kt_runtime_start(&other, &rc), KT_OK);
    cr_assert_eq(kt_remote_connect(other, url, KT_OPS_NAME, &proxy), KT_OK);
    cr_assert_eq(kt_spawn(other, &watch_ops, &proxy, NULL, &watcher), KT_OK);
    cr_assert(wait_int(&subscribed, 1, FX_TIMEOUT_MS), "no subscribe reply");
    id = fx_train_ok(&f, 6, 0, -1);
    cr_assert(wait_int(&final_status, KTPB__V1__OP_STATUS__OP_COMPLETED,
                       FX_TIMEOUT_MS),
              "no final event (got %d events)", atomic_load(&events));
    cr_expect(atomic_load(&events) >= 6, "%d events", atomic_load(&events));
    cr_expect_float_eq(atomic_load(&last_pct), 100.0, 1e-9);
    kt_runtime_stop(other);
    free(id);
}
