// An intrusive hash map from 64-bit ids to nodes embedded in their owners:
// no allocation per entry, so inserting can only fail on the first table.
#ifndef KT_CORE_IDMAP_H
#define KT_CORE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include <kt/err.h>

typedef struct kt__idnode {
    uint64_t id;
    struct kt__idnode *next;
} kt__idnode;

typedef struct kt__idmap {
    kt__idnode **b;
    size_t nb; // buckets, a power of two (0 before the first put)
    size_t n;  // entries
} kt__idmap;

void kt__idmap_fini(kt__idmap *m); // the map must be empty
// kt__idmap_put adds node (ids must be unique). Errors: KT_ENOMEM.
kt_err kt__idmap_put(kt__idmap *m, kt__idnode *node);
kt__idnode *kt__idmap_get(const kt__idmap *m, uint64_t id);
// kt__idmap_del removes and returns the node with id (NULL: none).
kt__idnode *kt__idmap_del(kt__idmap *m, uint64_t id);
// kt__idmap_pop removes and returns any node (NULL when empty).
kt__idnode *kt__idmap_pop(kt__idmap *m);

#endif // KT_CORE_IDMAP_H
