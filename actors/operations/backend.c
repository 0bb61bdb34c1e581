// backend.c: a runtime with the persistence and operations actors.
#include "operations/backend.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

struct kt_backend {
    kt_runtime *rt;
    kt_aid ops, persist;
};

kt_err
kt_backend_open(const kt_backend_cfg *cfg, kt_backend **bp)
{
    kt_spawn_opts po = {.name = KT_PERSIST_NAME, .dedicated = true};
    kt_spawn_opts oo = {.name = KT_OPS_NAME, .dedicated = false};
    kt_runtime_cfg rc = {.threads = 2};
    kt_persist_cfg pc;
    kt_ops_cfg oc;
    kt_backend *b;
    kt_err rv;

    if (cfg == NULL || cfg->data_dir == NULL || cfg->data_dir[0] == '\0') {
        return KT_EINVAL;
    }
    if (mkdir(cfg->data_dir, 0755) != 0 && errno != EEXIST) {
        return KT_ESYSERR | (kt_err)errno;
    }
    if ((b = calloc(1, sizeof(*b))) == NULL) {
        return KT_ENOMEM;
    }
    if (cfg->threads > 0) {
        rc.threads = cfg->threads;
    }
    if ((rv = kt_runtime_start(&b->rt, &rc)) != KT_OK) {
        goto free_b;
    }
    pc = cfg->persist;
    pc.data_dir = cfg->data_dir;
    if ((rv = kt_spawn(b->rt, &persistence_ops, &pc, &po, &b->persist)) !=
        KT_OK) {
        goto stop_rt;
    }
    oc = cfg->ops;
    oc.data_dir = cfg->data_dir;
    oc.persistence = b->persist;
    if ((rv = kt_spawn(b->rt, &operations_ops, &oc, &oo, &b->ops)) != KT_OK) {
        goto stop_rt;
    }
    *bp = b;
    return KT_OK;
stop_rt:
    kt_runtime_stop(b->rt);
free_b:
    free(b);
    return rv;
}

void
kt_backend_close(kt_backend *b)
{
    if (b == NULL) {
        return;
    }
    kt_runtime_stop(b->rt);
    free(b);
}

kt_runtime *
kt_backend_runtime(const kt_backend *b)
{
    return b->rt;
}

kt_aid
kt_backend_ops(const kt_backend *b)
{
    return b->ops;
}

kt_aid
kt_backend_persistence(const kt_backend *b)
{
    return b->persist;
}
