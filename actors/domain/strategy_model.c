// strategy_model.c: the model, decisions and training sections of a
// strategy (-> kt_mlp_cfg, kt_decisions, kt_label_cfg, kt_train_cfg).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/errbuf.h"
#include "domain/strategy_int.h"

#define PATH_MAX_LEN 256

// opt_* read an optional key of map: absent keeps *out.
static kt_err
opt_dbl(kt__sb *b, const kt__ynode *map, const char *sect, const char *key,
        double lo, double hi, double *out)
{
    char p[PATH_MAX_LEN];
    const kt__ynode *n = kt__ymap_get(map, key);
    if (kt__ynull(n)) {
        return KT_OK;
    }
    kt__fmt(p, sizeof(p), "%s.%s", sect, key);
    return kt__sb_dbl(b, n, p, lo, hi, out);
}

static kt_err
opt_int(kt__sb *b, const kt__ynode *map, const char *sect, const char *key,
        int lo, int hi, int *out)
{
    char p[PATH_MAX_LEN];
    const kt__ynode *n = kt__ymap_get(map, key);
    if (kt__ynull(n)) {
        return KT_OK;
    }
    kt__fmt(p, sizeof(p), "%s.%s", sect, key);
    return kt__sb_int(b, n, p, lo, hi, out);
}

static kt_err
opt_bool(kt__sb *b, const kt__ynode *map, const char *sect, const char *key,
         bool *out)
{
    char p[PATH_MAX_LEN];
    const kt__ynode *n = kt__ymap_get(map, key);
    if (kt__ynull(n)) {
        return KT_OK;
    }
    kt__fmt(p, sizeof(p), "%s.%s", sect, key);
    return kt__sb_bool(b, n, p, out);
}

// in_word_list says whether word is one of the space-separated words of
// list (NULL: none).
static bool
in_word_list(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *end = strchr(p, ' ');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, word, n) == 0) {
            return true;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return false;
}

// opt_enum reads a scalar that must be one of names[0..n); sets *out to its
// index. Unsupported-but-known values get their own message.
static kt_err
opt_enum(kt__sb *b, const kt__ynode *map, const char *sect, const char *key,
         const char *const *names, int n, const char *unsupported, int *out)
{
    char p[PATH_MAX_LEN], list[160] = "";
    const kt__ynode *v = kt__ymap_get(map, key);

    if (kt__ynull(v)) {
        return KT_OK;
    }
    kt__fmt(p, sizeof(p), "%s.%s", sect, key);
    if (kt__sb_kind(b, v, p, KT_Y_SCALAR) != KT_OK) {
        return KT_EINVAL;
    }
    for (int i = 0; i < n; i++) {
        size_t len = strlen(list);
        if (strcmp(v->str, names[i]) == 0) {
            *out = i;
            return KT_OK;
        }
        (void)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
                       names[i]);
    }
    if (in_word_list(unsupported, v->str)) {
        return kt__sb_fail(b, p,
                           "'%s' is not supported by this build "
                           "(supported: %s)",
                           v->str, list);
    }
    return kt__sb_fail(b, p, "unknown value '%s' (expected: %s)", v->str, list);
}

// ---- model ---------------------------------------------------------------

static kt_err
hidden_layers(kt__sb *b, const kt__ynode *n, const char *path, kt_mlp_cfg *m)
{
    char p[PATH_MAX_LEN];
    if (kt__sb_kind(b, n, path, KT_Y_SEQ) != KT_OK) {
        return KT_EINVAL;
    }
    if (n->n < 1 || n->n > KT_MLP_MAX_LAYERS) {
        return kt__sb_fail(b, path, "needs 1 to %d layer sizes, got %zu",
                           KT_MLP_MAX_LAYERS, n->n);
    }
    for (size_t i = 0; i < n->n; i++) {
        kt__fmt(p, sizeof(p), "%s[%zu]", path, i);
        if (kt__sb_int(b, n->items[i], p, 1, 4096, &m->hidden[i]) != KT_OK) {
            return KT_EINVAL;
        }
    }
    m->n_hidden = (int)n->n;
    return KT_OK;
}

kt_err
kt__sb_model(kt__sb *b, const kt__ynode *root)
{
    static const char *const types[] = {"mlp"};
    static const char *const acts[] = {"relu", "tanh"};
    const kt__ynode *m = kt__ymap_get(root, "model"), *arch, *hl;
    kt_mlp_cfg *c = &b->s->mlp;
    const char *sect = "model";
    int type = 0, act = KT_ACT_RELU;

    if (kt__sb_kind(b, m, "model", KT_Y_MAP) != KT_OK ||
        opt_enum(b, m, "model", "type", types, 1, "lstm gru", &type) != KT_OK) {
        return KT_EINVAL;
    }
    c->n_hidden = 2;
    c->hidden[0] = 64;
    c->hidden[1] = 32;
    c->dropout = 0.2;
    // Both layouts exist in KTRDR's examples: model.architecture.* and
    // (v3_minimal) directly under model.
    arch = kt__ymap_get(m, "architecture");
    if (arch != NULL) {
        if (kt__sb_kind(b, arch, "model.architecture", KT_Y_MAP) != KT_OK) {
            return KT_EINVAL;
        }
        sect = "model.architecture";
    } else {
        arch = m;
    }
    hl = kt__ymap_get(arch, "hidden_layers");
    if (hl != NULL) {
        char p[PATH_MAX_LEN];
        kt__fmt(p, sizeof(p), "%s.hidden_layers", sect);
        if (hidden_layers(b, hl, p, c) != KT_OK) {
            return KT_EINVAL;
        }
    }
    if (opt_enum(b, arch, sect, "activation", acts, 2, "sigmoid leaky_relu",
                 &act) != KT_OK ||
        opt_dbl(b, arch, sect, "dropout", 0, 0.99, &c->dropout) != KT_OK) {
        return KT_EINVAL;
    }
    c->activation = (kt_activation)act;
    return KT_OK;
}

// ---- decisions -------------------------------------------------------------

kt_err
kt__sb_decisions(kt__sb *b, const kt__ynode *root)
{
    static const char *const formats[] = {"classification"};
    const kt__ynode *d = kt__ymap_get(root, "decisions"), *f;
    kt_decisions *o = &b->s->decisions;
    int fmt = 0;

    o->confidence_threshold = 0.5;
    o->position_awareness = true;
    o->allow_short_from_flat = false;
    o->min_signal_separation = 4.0;
    if (kt__ynull(d)) {
        return KT_OK;
    }
    if (kt__sb_kind(b, d, "decisions", KT_Y_MAP) != KT_OK ||
        opt_enum(b, d, "decisions", "output_format", formats, 1, "regression",
                 &fmt) != KT_OK ||
        opt_dbl(b, d, "decisions", "confidence_threshold", 0, 1,
                &o->confidence_threshold) != KT_OK ||
        opt_bool(b, d, "decisions", "position_awareness",
                 &o->position_awareness) != KT_OK ||
        opt_bool(b, d, "decisions", "allow_short_from_flat",
                 &o->allow_short_from_flat) != KT_OK) {
        return KT_EINVAL;
    }
    f = kt__ymap_get(d, "filters");
    if (kt__ynull(f)) {
        return KT_OK;
    }
    if (kt__sb_kind(b, f, "decisions.filters", KT_Y_MAP) != KT_OK) {
        return KT_EINVAL;
    }
    return opt_dbl(b, f, "decisions.filters", "min_signal_separation", 0, 1e6,
                   &o->min_signal_separation);
}

// ---- training ------------------------------------------------------------

static kt_err
labels(kt__sb *b, const kt__ynode *t)
{
    static const char *const sources[] = {"zigzag", "triple_barrier"};
    static const char *const vols[] = {"atr"};
    const kt__ynode *l = kt__ymap_get(t, "labels");
    kt_label_cfg *c = &b->s->labels;
    const char *sect = "training.labels";
    int src = KT_LABEL_ZIGZAG, vol = 0;

    c->zigzag_threshold = 0.02;
    c->label_lookahead = 10;
    c->pt_multiplier = 2.0;
    c->sl_multiplier = 1.5;
    c->max_holding_period = 50;
    c->vol_span = 50;
    if (kt__ynull(l)) {
        c->source = KT_LABEL_ZIGZAG;
        return KT_OK;
    }
    if (kt__sb_kind(b, l, sect, KT_Y_MAP) != KT_OK ||
        opt_enum(b, l, sect, "source", sources, 2,
                 "forward_return context regime", &src) != KT_OK ||
        opt_dbl(b, l, sect, "zigzag_threshold", 1e-6, 0.999,
                &c->zigzag_threshold) != KT_OK ||
        opt_int(b, l, sect, "label_lookahead", 1, 100000,
                &c->label_lookahead) != KT_OK ||
        opt_dbl(b, l, sect, "pt_multiplier", 1e-6, 1000, &c->pt_multiplier) !=
            KT_OK ||
        opt_dbl(b, l, sect, "sl_multiplier", 1e-6, 1000, &c->sl_multiplier) !=
            KT_OK ||
        opt_int(b, l, sect, "max_holding_period", 1, 100000,
                &c->max_holding_period) != KT_OK ||
        opt_int(b, l, sect, "vol_span", 1, 100000, &c->vol_span) != KT_OK ||
        opt_enum(b, l, sect, "vol_method", vols, 1, "close", &vol) != KT_OK) {
        return KT_EINVAL;
    }
    c->source = (kt_label_source)src;
    return KT_OK;
}

static kt_err
data_split(kt__sb *b, const kt__ynode *t)
{
    const kt__ynode *ds = kt__ymap_get(t, "data_split");
    const char *sect = "training.data_split";
    kt_train_cfg *c = &b->s->train;
    double test = -1;

    if (kt__ynull(ds)) {
        return KT_OK;
    }
    if (kt__sb_kind(b, ds, sect, KT_Y_MAP) != KT_OK ||
        opt_dbl(b, ds, sect, "train", 0.01, 1, &c->train_frac) != KT_OK ||
        opt_dbl(b, ds, sect, "validation", 0, 0.99, &c->val_frac) != KT_OK ||
        opt_dbl(b, ds, sect, "test", 0, 0.99, &test) != KT_OK) {
        return KT_EINVAL;
    }
    if (c->train_frac + c->val_frac > 1 + 1e-9) {
        return kt__sb_fail(b, sect, "train + validation must be <= 1, got %g",
                           c->train_frac + c->val_frac);
    }
    if (test >= 0 && fabs(c->train_frac + c->val_frac + test - 1) > 1e-6) {
        return kt__sb_fail(b, sect,
                           "train + validation + test must be 1, got %g",
                           c->train_frac + c->val_frac + test);
    }
    return KT_OK;
}

static kt_err
seed(kt__sb *b, const kt__ynode *t)
{
    const kt__ynode *n = kt__ymap_get(t, "seed");
    char *end;
    unsigned long long v;

    if (kt__ynull(n)) {
        return KT_OK;
    }
    if (kt__sb_kind(b, n, "training.seed", KT_Y_SCALAR) != KT_OK) {
        return KT_EINVAL;
    }
    errno = 0;
    v = strtoull(n->str, &end, 10);
    if (n->str[0] == '-' || end == n->str || *end != '\0' || errno != 0) {
        return kt__sb_fail(b, "training.seed",
                           "must be an unsigned 64-bit integer, got '%s'",
                           n->str);
    }
    b->s->train.seed = v;
    return KT_OK;
}

kt_err
kt__sb_training(kt__sb *b, const kt__ynode *root)
{
    static const char *const losses[] = {"cross_entropy", "focal"};
    const kt__ynode *t = kt__ymap_get(root, "training");
    const kt__ynode *mt = kt__ymap_get(kt__ymap_get(root, "model"), "training");
    kt_train_cfg *c = &b->s->train;
    int loss = KT_LOSS_CROSS_ENTROPY;

    *c = (kt_train_cfg){.epochs = 100,
                        .learning_rate = 0.001,
                        .batch_size = 32,
                        .loss = KT_LOSS_CROSS_ENTROPY,
                        .focal_gamma = 2.0,
                        .weight_decay = 1e-4,
                        .grad_clip = 1.0,
                        .train_frac = 0.7,
                        .val_frac = 0.15,
                        .seed = 42};
    if (kt__sb_kind(b, t, "training", KT_Y_MAP) != KT_OK) {
        return KT_EINVAL;
    }
    // KTRDR ignores model.training in v3; we take its epochs/learning_rate/
    // batch_size as fallbacks, since that is what such files mean. The
    // training section still wins.
    if (mt != NULL && mt->kind == KT_Y_MAP &&
        (opt_int(b, mt, "model.training", "epochs", 1, 1000000, &c->epochs) !=
             KT_OK ||
         opt_dbl(b, mt, "model.training", "learning_rate", 1e-12, 10,
                 &c->learning_rate) != KT_OK ||
         opt_int(b, mt, "model.training", "batch_size", 1, 1000000,
                 &c->batch_size) != KT_OK)) {
        return KT_EINVAL;
    }
    if (opt_int(b, t, "training", "epochs", 1, 1000000, &c->epochs) != KT_OK ||
        opt_dbl(b, t, "training", "learning_rate", 1e-12, 10,
                &c->learning_rate) != KT_OK ||
        opt_int(b, t, "training", "batch_size", 1, 1000000, &c->batch_size) !=
            KT_OK ||
        opt_enum(b, t, "training", "loss", losses, 2, "huber mse", &loss) !=
            KT_OK ||
        opt_dbl(b, t, "training", "focal_gamma", 0, 100, &c->focal_gamma) !=
            KT_OK ||
        opt_dbl(b, t, "training", "weight_decay", 0, 1, &c->weight_decay) !=
            KT_OK ||
        opt_dbl(b, t, "training", "gradient_clip", 0, 1e6, &c->grad_clip) !=
            KT_OK ||
        seed(b, t) != KT_OK || labels(b, t) != KT_OK ||
        data_split(b, t) != KT_OK) {
        return KT_EINVAL;
    }
    c->loss = (kt_loss_kind)loss;
    return KT_OK;
}
