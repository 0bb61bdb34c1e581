// strategy_sets.c: the indicators and fuzzy_sets sections of a strategy,
// including indicator references with dot notation ("bbands_20.upper").
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "domain/errbuf.h"
#include "domain/fuzzy.h"
#include "domain/indicators.h"
#include "domain/strategy_int.h"

#define PATH_MAX_LEN 256

// ---- indicators ----------------------------------------------------------

static kt_err
indicator(kt__sb *b, const char *id, const kt__ynode *n, kt_indicator_def *d)
{
    char p[PATH_MAX_LEN], why[256];
    const kt__ynode *type = kt__ymap_get(n, "type");
    kt_ind_type t;

    kt__fmt(p, sizeof(p), "indicators.%s", id);
    if (kt__sb_ident(b, id, p, KT_ID_MAX) != KT_OK ||
        kt__sb_kind(b, n, p, KT_Y_MAP) != KT_OK) {
        return KT_EINVAL;
    }
    kt__fmt(p, sizeof(p), "indicators.%s.type", id);
    if (kt__sb_kind(b, type, p, KT_Y_SCALAR) != KT_OK) {
        return KT_EINVAL;
    }
    if (!kt_indicator_type_parse(type->str, &t)) {
        return kt__sb_fail(b, p, "unknown indicator type '%s' (supported: %s)",
                           type->str, kt_indicator_type_list());
    }
    kt_indicator_defaults(t, d);
    memcpy(d->id, id, strlen(id) + 1);
    for (size_t i = 0; i < n->n; i++) {
        if (strcmp(n->keys[i], "type") == 0) {
            continue;
        }
        kt__fmt(p, sizeof(p), "indicators.%s.%s", id, n->keys[i]);
        if (n->items[i]->kind != KT_Y_SCALAR) {
            return kt__sb_fail(b, p, "must be a value");
        }
        if (kt_indicator_set_param(d, n->keys[i], n->items[i]->str, why,
                                   sizeof(why)) != KT_OK) {
            return kt__sb_fail(b, p, "%s", why);
        }
    }
    kt__fmt(p, sizeof(p), "indicators.%s", id);
    if (kt_indicator_check(d, why, sizeof(why)) != KT_OK) {
        return kt__sb_fail(b, p, "%s", why);
    }
    return KT_OK;
}

kt_err
kt__sb_indicators(kt__sb *b, const kt__ynode *root)
{
    const kt__ynode *n = kt__ymap_get(root, "indicators");
    kt_strategy *s = b->s;

    if (n != NULL && n->kind == KT_Y_SEQ) {
        return kt__sb_fail(b, "indicators",
                           "a list of indicators is the v2 format; v3 needs "
                           "a mapping id -> {type, params}");
    }
    if (kt__sb_kind(b, n, "indicators", KT_Y_MAP) != KT_OK) {
        return KT_EINVAL;
    }
    if (n->n == 0) {
        return kt__sb_fail(b, "indicators", "at least one indicator needed");
    }
    if ((s->indicators = calloc(n->n, sizeof(*s->indicators))) == NULL) {
        return KT_ENOMEM;
    }
    for (size_t i = 0; i < n->n; i++) {
        if (indicator(b, n->keys[i], n->items[i], &s->indicators[i]) != KT_OK) {
            return KT_EINVAL;
        }
        s->n_indicators++;
    }
    return KT_OK;
}

// ---- fuzzy sets ----------------------------------------------------------

static kt_err
mf_params(kt__sb *b, const kt__ynode *seq, const char *path, kt_mf *mf)
{
    char p[PATH_MAX_LEN];
    if (kt__sb_kind(b, seq, path, KT_Y_SEQ) != KT_OK) {
        return KT_EINVAL;
    }
    if (seq->n < 2 || seq->n > 4) {
        return kt__sb_fail(b, path, "needs 2 to 4 numbers, got %zu", seq->n);
    }
    mf->n_params = (int)seq->n;
    for (size_t i = 0; i < seq->n; i++) {
        kt__fmt(p, sizeof(p), "%s[%zu]", path, i);
        if (kt__sb_dbl(b, seq->items[i], p, -HUGE_VAL, HUGE_VAL, &mf->p[i]) !=
            KT_OK) {
            return KT_EINVAL;
        }
    }
    return KT_OK;
}

static kt_err
membership(kt__sb *b, const char *path, const char *name, const kt__ynode *n,
           kt_mf *mf)
{
    char p[PATH_MAX_LEN], why[256];
    const kt__ynode *type, *params;

    if (kt__sb_ident(b, name, path, KT_ID_MAX) != KT_OK) {
        return KT_EINVAL;
    }
    memcpy(mf->name, name, strlen(name) + 1);
    mf->type = KT_MF_TRIANGULAR;
    if (n->kind == KT_Y_SEQ) { // shorthand: [a,b,c] triangular, 4: trapezoid
        if (mf_params(b, n, path, mf) != KT_OK) {
            return KT_EINVAL;
        }
        mf->type = mf->n_params == 4 ? KT_MF_TRAPEZOIDAL : KT_MF_TRIANGULAR;
    } else if (n->kind == KT_Y_MAP) {
        type = kt__ymap_get(n, "type");
        params = kt__ymap_get(n, "parameters");
        kt__fmt(p, sizeof(p), "%s.type", path);
        if (type != NULL) {
            if (kt__sb_kind(b, type, p, KT_Y_SCALAR) != KT_OK) {
                return KT_EINVAL;
            }
            if (strcasecmp(type->str, "triangular") == 0) {
                mf->type = KT_MF_TRIANGULAR;
            } else if (strcasecmp(type->str, "trapezoidal") == 0) {
                mf->type = KT_MF_TRAPEZOIDAL;
            } else if (strcasecmp(type->str, "gaussian") == 0) {
                mf->type = KT_MF_GAUSSIAN;
            } else {
                return kt__sb_fail(b, p,
                                   "unknown membership type '%s' (triangular, "
                                   "trapezoidal, gaussian)",
                                   type->str);
            }
        }
        kt__fmt(p, sizeof(p), "%s.parameters", path);
        if (mf_params(b, params, p, mf) != KT_OK) {
            return KT_EINVAL;
        }
    } else {
        return kt__sb_fail(b, path,
                           "a membership is [a, b, c] or {type, parameters}");
    }
    if (kt_mf_check(mf, why, sizeof(why)) != KT_OK) {
        return kt__sb_fail(b, path, "%s", why);
    }
    return KT_OK;
}

// resolve_ref sets fs->ind/output from "id" or "id.output".
static kt_err
resolve_ref(kt__sb *b, const char *path, kt_fuzzy_set *fs)
{
    char id[KT_REF_MAX];
    char *dot;
    const kt_indicator_def *d;

    memcpy(id, fs->indicator, sizeof(id));
    dot = strchr(id, '.');
    if (dot != NULL) {
        *dot++ = '\0';
    }
    if ((fs->ind = kt_strategy_find_indicator(b->s, id)) < 0) {
        return kt__sb_fail(b, path, "unknown indicator '%s'", id);
    }
    d = &b->s->indicators[fs->ind];
    fs->output = 0;
    if (dot == NULL) {
        return KT_OK; // the primary output
    }
    if (kt_indicator_n_outputs(d->type) == 1) {
        return kt__sb_fail(b, path,
                           "'%s' (%s) has a single output: use '%s' without "
                           "'.%s'",
                           id, kt_indicator_type_name(d->type), id, dot);
    }
    if ((fs->output = kt_indicator_output_index(d->type, dot)) < 0) {
        char list[128] = "";
        for (int i = 0; i < kt_indicator_n_outputs(d->type); i++) {
            size_t len = strlen(list);
            (void)snprintf(list + len, sizeof(list) - len, "%s%s",
                           i ? ", " : "", kt_indicator_output_name(d->type, i));
        }
        return kt__sb_fail(b, path, "%s (%s) has no output '%s' (outputs: %s)",
                           id, kt_indicator_type_name(d->type), dot, list);
    }
    return KT_OK;
}

static kt_err
fuzzy_set(kt__sb *b, const char *id, const kt__ynode *n, kt_fuzzy_set *fs)
{
    char p[PATH_MAX_LEN];
    const kt__ynode *ind = kt__ymap_get(n, "indicator");

    kt__fmt(p, sizeof(p), "fuzzy_sets.%s", id);
    if (kt__sb_ident(b, id, p, KT_ID_MAX) != KT_OK ||
        kt__sb_kind(b, n, p, KT_Y_MAP) != KT_OK) {
        return KT_EINVAL;
    }
    memcpy(fs->id, id, strlen(id) + 1);
    kt__fmt(p, sizeof(p), "fuzzy_sets.%s.indicator", id);
    if (kt__sb_str(b, ind, p, fs->indicator, sizeof(fs->indicator)) != KT_OK ||
        resolve_ref(b, p, fs) != KT_OK) {
        return KT_EINVAL;
    }
    if ((fs->mfs = calloc(n->n, sizeof(*fs->mfs))) == NULL) {
        return KT_ENOMEM;
    }
    for (size_t i = 0; i < n->n; i++) {
        if (strcmp(n->keys[i], "indicator") == 0) {
            continue;
        }
        kt__fmt(p, sizeof(p), "fuzzy_sets.%s.%s", id, n->keys[i]);
        if (membership(b, p, n->keys[i], n->items[i], &fs->mfs[fs->n_mfs]) !=
            KT_OK) {
            return KT_EINVAL;
        }
        fs->n_mfs++;
    }
    if (fs->n_mfs == 0) {
        kt__fmt(p, sizeof(p), "fuzzy_sets.%s", id);
        return kt__sb_fail(b, p, "needs at least one membership function");
    }
    return KT_OK;
}

kt_err
kt__sb_fuzzy_sets(kt__sb *b, const kt__ynode *root)
{
    const kt__ynode *n = kt__ymap_get(root, "fuzzy_sets");
    kt_strategy *s = b->s;

    if (kt__sb_kind(b, n, "fuzzy_sets", KT_Y_MAP) != KT_OK) {
        return KT_EINVAL;
    }
    if (n->n == 0) {
        return kt__sb_fail(b, "fuzzy_sets", "at least one fuzzy set needed");
    }
    if ((s->fuzzy_sets = calloc(n->n, sizeof(*s->fuzzy_sets))) == NULL) {
        return KT_ENOMEM;
    }
    for (size_t i = 0; i < n->n; i++) {
        kt_err rv = fuzzy_set(b, n->keys[i], n->items[i], &s->fuzzy_sets[i]);
        s->n_fuzzy_sets++; // counted even on failure: its mfs are freed
        if (rv != KT_OK) {
            return rv;
        }
    }
    return KT_OK;
}
