// The registry: every endpoint a message can be sent to (actors, blocked
// askers, remote senders), by id and by name, under one rwlock. Senders hold
// the read lock while delivering, so an endpoint is never freed under them.
#ifndef KT_CORE_REGISTRY_H
#define KT_CORE_REGISTRY_H

#include <pthread.h>

#include <kt/err.h>
#include <kt/msg.h>

#include "core/idmap.h"

typedef struct kt__ep kt__ep;

typedef struct kt__ep_ops {
    // deliver: called with the read lock held; on KT_OK it owns msg.
    // Must not block.
    kt_err (*deliver)(kt__ep *ep, kt_msg *msg);
} kt__ep_ops;

struct kt__ep {
    kt__idnode byid;   // id = the endpoint's aid
    kt__idnode byname; // id = hash of name, when named
    const kt__ep_ops *ops;
    const char *name; // NULL = anonymous; owned by the endpoint
};

typedef struct kt__reg {
    pthread_rwlock_t lk;
    kt__idmap ids;
    kt__idmap names;
} kt__reg;

kt_err kt__reg_init(kt__reg *r);
void kt__reg_fini(kt__reg *r); // must be empty
void kt__reg_rdlock(kt__reg *r);
void kt__reg_wrlock(kt__reg *r);
void kt__reg_unlock(kt__reg *r);
// kt__reg_add (write lock held) registers ep. Errors: KT_ESTATE (name
// taken), KT_ENOMEM.
kt_err kt__reg_add(kt__reg *r, kt__ep *ep);
void kt__reg_del(kt__reg *r, kt__ep *ep); // write lock held
// Lookups (read or write lock held); NULL when absent.
kt__ep *kt__reg_find(kt__reg *r, kt_aid aid);
kt__ep *kt__reg_find_name(kt__reg *r, const char *name);

#endif // KT_CORE_REGISTRY_H
