// Intrusive id hash map with chaining; grows at load factor 1.
#include "core/idmap.h"

#include "base/alloc.h"

static size_t
idmap_slot(uint64_t id, size_t nb)
{
    id ^= id >> 33; // ids are sequential: mix before masking
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return (size_t)id & (nb - 1);
}

static void
idmap_grow(kt__idmap *m)
{
    size_t nb = m->nb * 2;
    kt__idnode **b = kt__zalloc(nb * sizeof(*b));

    if (b == NULL) {
        return; // longer chains, still correct
    }
    for (size_t i = 0; i < m->nb; i++) {
        kt__idnode *n = m->b[i];
        while (n != NULL) {
            kt__idnode *next = n->next;
            size_t s = idmap_slot(n->id, nb);
            n->next = b[s];
            b[s] = n;
            n = next;
        }
    }
    kt__free(m->b, m->nb * sizeof(*m->b));
    m->b = b;
    m->nb = nb;
}

void
kt__idmap_fini(kt__idmap *m)
{
    kt__free(m->b, m->nb * sizeof(*m->b));
    m->b = NULL;
    m->nb = m->n = 0;
}

kt_err
kt__idmap_put(kt__idmap *m, kt__idnode *node)
{
    size_t s;

    if (m->nb == 0) {
        if ((m->b = kt__zalloc(16 * sizeof(*m->b))) == NULL) {
            return KT_ENOMEM;
        }
        m->nb = 16;
    } else if (m->n >= m->nb) {
        idmap_grow(m);
    }
    s = idmap_slot(node->id, m->nb);
    node->next = m->b[s];
    m->b[s] = node;
    m->n++;
    return KT_OK;
}

kt__idnode *
kt__idmap_get(const kt__idmap *m, uint64_t id)
{
    kt__idnode *n;

    if (m->nb == 0) {
        return NULL;
    }
    for (n = m->b[idmap_slot(id, m->nb)]; n != NULL; n = n->next) {
        if (n->id == id) {
            return n;
        }
    }
    return NULL;
}

kt__idnode *
kt__idmap_del(kt__idmap *m, uint64_t id)
{
    kt__idnode **pp;

    if (m->nb == 0) {
        return NULL;
    }
    for (pp = &m->b[idmap_slot(id, m->nb)]; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            kt__idnode *n = *pp;
            *pp = n->next;
            m->n--;
            return n;
        }
    }
    return NULL;
}

kt__idnode *
kt__idmap_pop(kt__idmap *m)
{
    for (size_t i = 0; m->n > 0 && i < m->nb; i++) {
        if (m->b[i] != NULL) {
            return kt__idmap_del(m, m->b[i]->id);
        }
    }
    return NULL;
}
