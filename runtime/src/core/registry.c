// Endpoint registry: two intrusive id maps (aid, name hash) under a rwlock.
#include "core/registry.h"

#include <stddef.h>
#include <string.h>

// FNV-1a. Two names with the same 64-bit hash cannot both be registered
// (the second gets KT_ESTATE); lookups compare the name, so a collision can
// refuse a name but never misdeliver.
static uint64_t
reg_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    }
    return h;
}

kt_err
kt__reg_init(kt__reg *r)
{
    memset(r, 0, sizeof(*r));
    return pthread_rwlock_init(&r->lk, NULL) == 0 ? KT_OK : KT_ENOMEM;
}

void
kt__reg_fini(kt__reg *r)
{
    kt__idmap_fini(&r->ids);
    kt__idmap_fini(&r->names);
    pthread_rwlock_destroy(&r->lk);
}

void
kt__reg_rdlock(kt__reg *r)
{
    pthread_rwlock_rdlock(&r->lk);
}

void
kt__reg_wrlock(kt__reg *r)
{
    pthread_rwlock_wrlock(&r->lk);
}

void
kt__reg_unlock(kt__reg *r)
{
    pthread_rwlock_unlock(&r->lk);
}

kt_err
kt__reg_add(kt__reg *r, kt__ep *ep)
{
    kt_err err;

    if (ep->name != NULL) {
        ep->byname.id = reg_hash(ep->name);
        if (kt__idmap_get(&r->names, ep->byname.id) != NULL) {
            return KT_ESTATE;
        }
        if ((err = kt__idmap_put(&r->names, &ep->byname)) != KT_OK) {
            return err;
        }
    }
    if ((err = kt__idmap_put(&r->ids, &ep->byid)) != KT_OK &&
        ep->name != NULL) {
        kt__idmap_del(&r->names, ep->byname.id);
    }
    return err;
}

void
kt__reg_del(kt__reg *r, kt__ep *ep)
{
    // Only our own entries: a failed spawn's name may be someone's by now.
    if (kt__idmap_get(&r->ids, ep->byid.id) == &ep->byid) {
        kt__idmap_del(&r->ids, ep->byid.id);
    }
    if (ep->name != NULL &&
        kt__idmap_get(&r->names, ep->byname.id) == &ep->byname) {
        kt__idmap_del(&r->names, ep->byname.id);
    }
}

kt__ep *
kt__reg_find(kt__reg *r, kt_aid aid)
{
    kt__idnode *n = kt__idmap_get(&r->ids, aid);

    return n != NULL ? (kt__ep *)(void *)((char *)n - offsetof(kt__ep, byid))
                     : NULL;
}

kt__ep *
kt__reg_find_name(kt__reg *r, const char *name)
{
    kt__idnode *n = kt__idmap_get(&r->names, reg_hash(name));
    kt__ep *ep;

    if (n == NULL) {
        return NULL;
    }
    ep = (kt__ep *)(void *)((char *)n - offsetof(kt__ep, byname));
    return strcmp(ep->name, name) == 0 ? ep : NULL;
}
