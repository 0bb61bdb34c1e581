// strategy.c: strategy files: libyaml (used here only) -> a small document
// tree -> kt_strategy (strategy_build.c); feature names and the hash.
#include "domain/strategy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "domain/errbuf.h"
#include "domain/slurp.h"
#include "domain/strategy_int.h"

#define MAX_DEPTH 64
#define MAX_FILE  (4u << 20) // strategy files are a few KB

// ---- document tree ---------------------------------------------------------

// ynode_free recurses at most MAX_DEPTH levels (the builder refuses more).
static void
ynode_free(kt__ynode *n)
{
    if (n == NULL) {
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        ynode_free(n->items[i]);
        if (n->keys != NULL) {
            free(n->keys[i]);
        }
    }
    free(n->items);
    free(n->keys);
    free(n->str);
    free(n);
}

const kt__ynode *
kt__ymap_get(const kt__ynode *map, const char *key)
{
    if (map == NULL || map->kind != KT_Y_MAP) {
        return NULL;
    }
    for (size_t i = 0; i < map->n; i++) {
        if (strcmp(map->keys[i], key) == 0) {
            return map->items[i];
        }
    }
    return NULL;
}

bool
kt__ynull(const kt__ynode *n)
{
    return n == NULL ||
           (n->kind == KT_Y_SCALAR && n->plain &&
            (n->str[0] == '\0' || strcmp(n->str, "~") == 0 ||
             strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
             strcmp(n->str, "NULL") == 0));
}

typedef struct ybuild {
    const char *file;
    char *err;
    size_t errlen;
    kt__ynode *root;
    kt__ynode *stack[MAX_DEPTH];
    int depth;
    char *key; // pending mapping key of the innermost mapping
    int key_line;
} ybuild;

static kt_err
yfail(ybuild *b, const yaml_event_t *ev, const char *what)
{
    kt__errf(b->err, b->errlen, "%s:%lu:%lu: %s", b->file,
             (unsigned long)ev->start_mark.line + 1,
             (unsigned long)ev->start_mark.column + 1, what);
    return KT_EINVAL;
}

// attach links a new node under the innermost open container.
static kt_err
attach(ybuild *b, kt__ynode *n, const yaml_event_t *ev)
{
    kt__ynode *top = b->depth > 0 ? b->stack[b->depth - 1] : NULL;

    if (top == NULL) {
        ynode_free(b->root); // only one root per document: defensive
        b->root = n;
        return KT_OK;
    }
    if (top->kind == KT_Y_MAP && b->key == NULL) {
        if (n->kind != KT_Y_SCALAR) {
            ynode_free(n);
            return yfail(b, ev, "mapping keys must be plain scalars");
        }
        for (size_t i = 0; i < top->n; i++) {
            if (strcmp(top->keys[i], n->str) == 0) {
                char msg[192];
                (void)snprintf(msg, sizeof(msg), "duplicate key '%.100s'",
                               n->str);
                ynode_free(n);
                return yfail(b, ev, msg);
            }
        }
        b->key = n->str;
        n->str = NULL;
        ynode_free(n);
        return KT_OK;
    }
    if (top->n == top->cap) {
        size_t cap = top->cap ? top->cap * 2 : 8;
        kt__ynode **it = realloc(top->items, cap * sizeof(*it));
        if (it != NULL) {
            top->items = it;
        }
        if (it != NULL && top->kind == KT_Y_MAP) {
            char **k = realloc(top->keys, cap * sizeof(*k));
            if (k != NULL) {
                top->keys = k;
            }
            it = k != NULL ? it : NULL;
        }
        if (it == NULL) {
            ynode_free(n);
            return KT_ENOMEM;
        }
        top->cap = cap;
    }
    if (top->kind == KT_Y_MAP) {
        top->keys[top->n] = b->key;
        b->key = NULL;
    }
    top->items[top->n++] = n;
    return KT_OK;
}

static kt_err
on_event(ybuild *b, const yaml_event_t *ev)
{
    kt__ynode *n;
    kt_err rv;

    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return yfail(b, ev, "YAML aliases (*name) are not supported");
    case YAML_DOCUMENT_START_EVENT:
        return b->root != NULL
                   ? yfail(b, ev, "more than one YAML document in the file")
                   : KT_OK;
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        b->depth--;
        return KT_OK;
    case YAML_SCALAR_EVENT:
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT:
        break;
    default:
        return KT_OK;
    }
    if ((n = calloc(1, sizeof(*n))) == NULL) {
        return KT_ENOMEM;
    }
    n->line = (int)ev->start_mark.line + 1;
    if (ev->type == YAML_SCALAR_EVENT) {
        n->kind = KT_Y_SCALAR;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->str = malloc(ev->data.scalar.length + 1);
        if (n->str == NULL) {
            free(n);
            return KT_ENOMEM;
        }
        memcpy(n->str, ev->data.scalar.value, ev->data.scalar.length);
        n->str[ev->data.scalar.length] = '\0';
        if (strlen(n->str) != ev->data.scalar.length) {
            ynode_free(n);
            return yfail(b, ev, "NUL character in a scalar");
        }
        return attach(b, n, ev);
    }
    n->kind = ev->type == YAML_MAPPING_START_EVENT ? KT_Y_MAP : KT_Y_SEQ;
    if (b->depth == MAX_DEPTH) {
        ynode_free(n);
        return yfail(b, ev, "nesting too deep");
    }
    if ((rv = attach(b, n, ev)) != KT_OK) {
        return rv;
    }
    b->stack[b->depth++] = n;
    return KT_OK;
}

// ydoc parses text into a tree; on failure err says where and why.
static kt_err
ydoc(const char *text, size_t len, const char *file, kt__ynode **root,
     char *err, size_t errlen)
{
    yaml_parser_t p;
    yaml_event_t ev;
    ybuild b = {.file = file, .err = err, .errlen = errlen};
    kt_err rv = KT_OK;
    bool done = false;

    if (!yaml_parser_initialize(&p)) {
        return KT_ENOMEM;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (!done && rv == KT_OK) {
        if (!yaml_parser_parse(&p, &ev)) {
            kt__errf(err, errlen, "%s:%lu:%lu: YAML syntax error: %s", file,
                     (unsigned long)p.problem_mark.line + 1,
                     (unsigned long)p.problem_mark.column + 1,
                     p.problem != NULL ? p.problem : "unknown problem");
            rv = KT_EINVAL;
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rv = on_event(&b, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    free(b.key);
    if (rv == KT_OK && (b.root == NULL || b.root->kind != KT_Y_MAP)) {
        kt__errf(err, errlen,
                 "%s: the document must be a mapping of "
                 "sections (name, indicators, fuzzy_sets, ...)",
                 file);
        rv = KT_EINVAL;
    }
    if (rv != KT_OK) {
        ynode_free(b.root);
        return rv;
    }
    *root = b.root;
    return KT_OK;
}

// ---- public API ------------------------------------------------------------

kt_err
kt_strategy_parse(const char *yaml_text, size_t len, const char *name,
                  kt_strategy **out, char *err, size_t errlen)
{
    const char *file = name != NULL ? name : "<strategy>";
    kt__ynode *root = NULL;
    kt_strategy *s;
    kt_err rv;

    if ((rv = ydoc(yaml_text, len, file, &root, err, errlen)) != KT_OK) {
        return rv;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL ||
        (s->source_path = kt__dom_strdup(file)) == NULL) {
        free(s);
        ynode_free(root);
        return KT_ENOMEM;
    }
    rv = kt__strategy_build(root, file, s, err, errlen);
    ynode_free(root);
    if (rv != KT_OK) {
        kt_strategy_free(s);
        return rv;
    }
    *out = s;
    return KT_OK;
}

kt_err
kt_strategy_load(const char *path, kt_strategy **out, char *err, size_t errlen)
{
    char *buf;
    size_t n;
    kt_err rv = kt__slurp(path, MAX_FILE, &buf, &n, err, errlen);

    if (rv == KT_ENOENT || (rv & KT_ESYSERR) != 0) {
        int e = rv == KT_ENOENT ? ENOENT : (int)(rv & ~KT_ESYSERR);
        kt__errf(err, errlen, "%s: cannot open strategy file: %s", path,
                 strerror(e));
    }
    if (rv != KT_OK) {
        return rv;
    }
    rv = kt_strategy_parse(buf, n, path, out, err, errlen);
    free(buf);
    return rv;
}

void
kt_strategy_free(kt_strategy *s)
{
    if (s == NULL) {
        return;
    }
    for (int i = 0; i < s->n_fuzzy_sets; i++) {
        free(s->fuzzy_sets[i].mfs);
    }
    free(s->fuzzy_sets);
    free(s->indicators);
    free(s->nn_inputs);
    free(s->symbols);
    free(s->description);
    free(s->source_path);
    free(s);
}

size_t
kt_strategy_n_features(const kt_strategy *s)
{
    size_t n = 0;
    for (int i = 0; i < s->n_nn_inputs; i++) {
        const kt_nn_input *in = &s->nn_inputs[i];
        n += (size_t)in->n_tf * (size_t)s->fuzzy_sets[in->fuzzy_set].n_mfs;
    }
    return n;
}

void
kt_names_free(char **names, size_t n)
{
    if (names == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

// input_names appends the names of one nn_input's columns to v at *k.
static kt_err
input_names(const kt_strategy *s, const kt_nn_input *in, char **v, size_t *k)
{
    const kt_fuzzy_set *fs = &s->fuzzy_sets[in->fuzzy_set];
    for (int t = 0; t < in->n_tf; t++) {
        const char *tf = s->timeframes[in->tf[t]];
        for (int m = 0; m < fs->n_mfs; m++) {
            size_t len = strlen(tf) + strlen(fs->id) + strlen(fs->mfs[m].name);
            if ((v[*k] = malloc(len + 3)) == NULL) {
                return KT_ENOMEM;
            }
            kt__fmt(v[(*k)++], len + 3, "%s_%s_%s", tf, fs->id,
                    fs->mfs[m].name);
        }
    }
    return KT_OK;
}

kt_err
kt_strategy_feature_names(const kt_strategy *s, char ***names, size_t *n)
{
    size_t total = kt_strategy_n_features(s), k = 0;
    char **v = calloc(total ? total : 1, sizeof(*v));

    if (v == NULL) {
        return KT_ENOMEM;
    }
    for (int i = 0; i < s->n_nn_inputs; i++) {
        if (input_names(s, &s->nn_inputs[i], v, &k) != KT_OK) {
            kt_names_free(v, k);
            return KT_ENOMEM;
        }
    }
    *names = v;
    *n = total;
    return KT_OK;
}

int
kt_strategy_find_indicator(const kt_strategy *s, const char *id)
{
    for (int i = 0; i < s->n_indicators; i++) {
        if (strcmp(s->indicators[i].id, id) == 0) {
            return i;
        }
    }
    return -1;
}
