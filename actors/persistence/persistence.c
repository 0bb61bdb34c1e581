// persistence.c: the persistence actor: owns the store, dispatches the
// 200-299 requests to their handlers and runs the periodic cleanup. It is
// spawned dedicated: fsync and SQLite commits block by nature.
#include "persistence/persistence.h"

#include <ktpb/v1/persist.pb-c.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include <kt/log.h>

#include "persistence/persist_int.h"

#define PERSIST_DEFAULT_CLEANUP_MS (24u * 3600u * 1000u)
#define PERSIST_DEFAULT_MAX_REQ    ((size_t)512 << 20)
#define PERSIST_CLEANUP_TAG        0x7c1ea9

typedef struct persist_route {
    uint32_t type, reply_type;
    void (*fn)(persist *p, const kt_msg *req);
} persist_route;

static const persist_route persist_routes[] = {
    {KT_PERSIST_OP_CREATE, KT_PERSIST_OP_REPLY, kt__persist_op_create},
    {KT_PERSIST_OP_TRANSITION, KT_PERSIST_OP_REPLY, kt__persist_op_transition},
    {KT_PERSIST_OP_PROGRESS, KT_PERSIST_OP_REPLY, kt__persist_op_progress},
    {KT_PERSIST_OP_GET, KT_PERSIST_OP_REPLY, kt__persist_op_get},
    {KT_PERSIST_OP_LIST, KT_PERSIST_OP_LIST_REPLY, kt__persist_op_list},
    {KT_PERSIST_CKPT_SAVE, KT_PERSIST_CKPT_ACK, kt__persist_ckpt_save},
    {KT_PERSIST_CKPT_LOAD, KT_PERSIST_CKPT_LOAD_REPLY, kt__persist_ckpt_load},
    {KT_PERSIST_CKPT_DELETE, KT_PERSIST_CKPT_DELETE_REPLY,
     kt__persist_ckpt_delete},
    {KT_PERSIST_CKPT_STATS, KT_PERSIST_CKPT_STATS_REPLY,
     kt__persist_ckpt_stats},
    {KT_PERSIST_CKPT_CLEANUP, KT_PERSIST_CKPT_CLEANUP_REPLY,
     kt__persist_ckpt_cleanup},
    {KT_PERSIST_CKPT_LIST, KT_PERSIST_CKPT_LIST_REPLY, kt__persist_ckpt_list},
    {KT_PERSIST_WORKER_UPSERT, KT_PERSIST_WORKER_REPLY,
     kt__persist_worker_upsert},
    {KT_PERSIST_WORKER_REMOVE, KT_PERSIST_WORKER_REPLY,
     kt__persist_worker_remove},
    {KT_PERSIST_WORKER_LIST, KT_PERSIST_WORKER_REPLY, kt__persist_worker_list},
};

static pthread_once_t persist_sqlite_once = PTHREAD_ONCE_INIT;

static void
persist_sqlite_log(void *arg, int code, const char *msg)
{
    (void)arg;
    // Constraint failures are expected answers (duplicate id), not alarms.
    kt_log((code & 0xff) == SQLITE_CONSTRAINT ? KT_LOG_DEBUG : KT_LOG_WARN,
           "persistence", "event=sqlite code=%d msg=\"%s\"", code, msg);
}

static void
persist_sqlite_setup(void)
{
    // Must precede sqlite3_initialize; harmless (MISUSE) if it came first.
    (void)sqlite3_config(SQLITE_CONFIG_LOG, persist_sqlite_log, NULL);
}

void
kt__persist_reply(persist *p, const kt_msg *req, uint32_t type,
                  const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    kt_msg *rep;
    kt_err rv;

    if ((rv = kt_msg_alloc(&rep, type, n)) != KT_OK) {
        kt_log(KT_LOG_ERR, "persistence",
               "actor=persistence#%llu event=reply_failed type=%u err=\"%s\"",
               (unsigned long long)kt_self(p->self), type, kt_strerror(rv));
        return;
    }
    (void)protobuf_c_message_pack(m, kt_msg_body(rep));
    if ((rv = kt_reply(p->self, req, rep)) != KT_OK) {
        kt_msg_free(rep); // no sender to answer (or it is gone)
        kt_log(KT_LOG_DEBUG, "persistence",
               "actor=persistence#%llu event=reply_dropped type=%u err=\"%s\"",
               (unsigned long long)kt_self(p->self), type, kt_strerror(rv));
    }
}

void
kt__persist_reply_err(persist *p, const kt_msg *req, uint32_t type,
                      kt_err status, const char *message)
{
    Ktpb__V1__ReplyHead r;

    ktpb__v1__reply_head__init(&r);
    r.status = (int32_t)status;
    r.message = (char *)(uintptr_t)message; // packed, never modified
    kt__persist_reply(p, req, type, &r.base);
}

static void
persist_reply_unknown(persist *p, const kt_msg *req)
{
    Ktpb__V1__ErrorReply r;
    char why[64];

    ktpb__v1__error_reply__init(&r);
    (void)snprintf(why, sizeof(why), "unknown request type %u",
                   kt_msg_type(req));
    r.status = KT_EPROTO;
    r.message = why;
    r.request_type = kt_msg_type(req);
    kt__persist_reply(p, req, KT_PERSIST_ERROR_REPLY, &r.base);
}

static kt_err
persist_init(void *state, kt_actor *self, const void *cfgp)
{
    const kt_persist_cfg *cfg = cfgp;
    persist *p = state;
    uint32_t ms;
    char err[256] = "";
    kt_err rv;

    if (cfg == NULL) {
        return KT_EINVAL;
    }
    (void)pthread_once(&persist_sqlite_once, persist_sqlite_setup);
    p->self = self;
    p->max_age_days =
        cfg->max_age_days > 0 ? cfg->max_age_days : KT_PERSIST_DEFAULT_MAX_AGE;
    p->max_request_bytes = cfg->max_request_bytes > 0 ? cfg->max_request_bytes
                                                      : PERSIST_DEFAULT_MAX_REQ;
    if ((rv = kt__store_open(&p->store, cfg, err, sizeof(err))) != KT_OK) {
        kt_log(KT_LOG_ERR, "persistence",
               "actor=persistence#%llu event=open_failed dir=\"%s\" "
               "err=\"%s\"",
               (unsigned long long)kt_self(self),
               cfg->data_dir != NULL ? cfg->data_dir : "", err);
        return rv;
    }
    kt__store_copy(p->data_dir, sizeof(p->data_dir), cfg->data_dir);
    ms = cfg->cleanup_interval_ms > 0 ? cfg->cleanup_interval_ms
                                      : PERSIST_DEFAULT_CLEANUP_MS;
    rv = kt_timer_start(self, ms, true, PERSIST_CLEANUP_TAG, &p->timer_id);
    if (rv != KT_OK) {
        kt__store_close(p->store);
        p->store = NULL;
        return rv;
    }
    kt_log(KT_LOG_INFO, "persistence",
           "actor=persistence#%llu event=open dir=\"%s\" cleanup_ms=%u",
           (unsigned long long)kt_self(self), p->data_dir, ms);
    return KT_OK;
}

kt_err
kt__persist_cleanup(persist *p, uint32_t max_age_days, kt_cleanup_result *out)
{
    kt_err rv = kt__store_cleanup(p->store, max_age_days, out);

    if (rv != KT_OK) {
        kt_log(KT_LOG_ERR, "persistence",
               "actor=persistence#%llu event=cleanup_failed err=\"%s\"",
               (unsigned long long)kt_self(p->self),
               kt__store_errmsg(p->store));
        return rv;
    }
    kt_log(KT_LOG_INFO, "persistence",
           "actor=persistence#%llu event=cleanup max_age_days=%u aged=%llu "
           "orphans=%llu temps=%llu",
           (unsigned long long)kt_self(p->self), max_age_days,
           (unsigned long long)out->aged, (unsigned long long)out->orphan_dirs,
           (unsigned long long)out->stale_temps);
    return KT_OK;
}

static const persist_route *
persist_route_of(uint32_t type)
{
    for (size_t i = 0; i < sizeof(persist_routes) / sizeof(*persist_routes);
         i++) {
        if (persist_routes[i].type == type) {
            return &persist_routes[i];
        }
    }
    return NULL;
}

static kt_err
persist_handle(void *state, kt_actor *self, kt_msg *msg)
{
    persist *p = state;
    uint32_t type = kt_msg_type(msg);
    const persist_route *r;
    kt_cleanup_result res;
    char why[96];

    (void)self;
    if (type == KT_MSG_TIMER && kt_msg_corr(msg) == PERSIST_CLEANUP_TAG) {
        (void)kt__persist_cleanup(p, p->max_age_days, &res);
    } else if (type < KT_MSG_USER) {
        // Other system messages (downs, stray timeouts): nothing to do.
    } else if ((r = persist_route_of(type)) == NULL) {
        persist_reply_unknown(p, msg);
    } else if (kt_msg_len(msg) > p->max_request_bytes) {
        (void)snprintf(why, sizeof(why), "request of %zu bytes exceeds %zu",
                       kt_msg_len(msg), p->max_request_bytes);
        kt__persist_reply_err(p, msg, r->reply_type, KT_EINVAL, why);
    } else {
        r->fn(p, msg);
    }
    kt_msg_free(msg);
    return KT_OK; // bad requests get error replies; they never stop us
}

static void
persist_stop(void *state, kt_actor *self)
{
    persist *p = state;

    if (p->timer_id != 0) {
        if (kt_timer_cancel(self, p->timer_id) != KT_OK) {
            // Already gone with the actor: nothing left to cancel.
            kt_log(KT_LOG_DEBUG, "persistence",
                   "actor=persistence#%llu event=timer_cancel_failed",
                   (unsigned long long)kt_self(self));
        }
        p->timer_id = 0;
    }
}

static void
persist_fini(void *state)
{
    persist *p = state;

    kt__store_close(p->store);
    p->store = NULL;
}

const kt_actor_ops persistence_ops = {
    .name = "persistence",
    .state_size = sizeof(persist),
    .init = persist_init,
    .handle = persist_handle,
    .stop = persist_stop,
    .fini = persist_fini,
};
