// strategy_int.h: the YAML document tree strategy.c builds with libyaml and
// strategy_build.c turns into a kt_strategy (internal).
#ifndef KT_DOMAIN_STRATEGY_INT_H
#define KT_DOMAIN_STRATEGY_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "domain/strategy.h"

typedef enum kt__ykind { KT_Y_SCALAR, KT_Y_SEQ, KT_Y_MAP } kt__ykind;

typedef struct kt__ynode {
    kt__ykind kind;
    int line;   // 1-based line of the node's start
    char *str;  // scalar text ("" for an empty scalar)
    bool plain; // unquoted scalar: "", "~", "null" mean null
    size_t n;   // items (sequence) or key/value pairs (mapping)
    size_t cap;
    struct kt__ynode **items; // sequence items, or mapping values
    char **keys;              // mapping keys (mappings only)
} kt__ynode;

// kt__ymap_get returns the value of key in a mapping, or NULL.
const kt__ynode *kt__ymap_get(const kt__ynode *map, const char *key);

// kt__ynull: an absent node or a plain null scalar.
bool kt__ynull(const kt__ynode *n);

// The validation context shared by strategy_build.c and strategy_model.c.
typedef struct kt__sb {
    const char *file;
    char *err;
    size_t errlen;
    kt_strategy *s;
} kt__sb;

// kt__sb_fail writes "<file>: <path>: <message>" and returns KT_EINVAL.
kt_err kt__sb_fail(kt__sb *b, const char *path, const char *fmt, ...)
    KT_PRINTF(3, 4);

// Typed scalar readers: the node must be a scalar of the type and inside
// the inclusive range; otherwise kt__sb_fail names path.
kt_err kt__sb_int(kt__sb *b, const kt__ynode *n, const char *path, int lo,
                  int hi, int *out);
kt_err kt__sb_dbl(kt__sb *b, const kt__ynode *n, const char *path, double lo,
                  double hi, double *out);
kt_err kt__sb_bool(kt__sb *b, const kt__ynode *n, const char *path, bool *out);
kt_err kt__sb_str(kt__sb *b, const kt__ynode *n, const char *path, char *dst,
                  size_t cap);
// kt__sb_kind checks that n is a mapping/sequence/scalar.
kt_err kt__sb_kind(kt__sb *b, const kt__ynode *n, const char *path,
                   kt__ykind kind);

// kt__sb_ident checks an id (letters, digits, '_', '-'; 1..cap-1 chars).
kt_err kt__sb_ident(kt__sb *b, const char *id, const char *path, size_t cap);

// Sections done in strategy_sets.c: indicators, fuzzy_sets.
kt_err kt__sb_indicators(kt__sb *b, const kt__ynode *root);
kt_err kt__sb_fuzzy_sets(kt__sb *b, const kt__ynode *root);

// Sections done in strategy_model.c: model, decisions, training.
kt_err kt__sb_model(kt__sb *b, const kt__ynode *root);
kt_err kt__sb_decisions(kt__sb *b, const kt__ynode *root);
kt_err kt__sb_training(kt__sb *b, const kt__ynode *root);

// kt__strategy_build validates the document root into s (zeroed by the
// caller; on failure the caller frees what s holds with kt_strategy_free).
// Errors are "<file>: <key.path>: <problem>" in err. KT_EINVAL, KT_ENOMEM.
kt_err kt__strategy_build(const kt__ynode *root, const char *file,
                          kt_strategy *s, char *err, size_t errlen);

#endif // KT_DOMAIN_STRATEGY_INT_H
