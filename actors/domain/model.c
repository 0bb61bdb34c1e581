// model.c: the model artifact directory (model.pb + metadata.json +
// MANIFEST of SHA-256 digests), written atomically and verified on load.
#include "domain/model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/model_impl.h"

// ---- the in-memory model ----

KT_PRINTF(4, 5)
kt_err
kt__model_fail(kt_err rv, char *err, size_t errlen, const char *fmt, ...)
{
    if (errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rv;
}

static int
model_name_ok(const char *s)
{
    return s != NULL && s[0] != 0 && strchr(s, '/') == NULL &&
           strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && strlen(s) < 200;
}

void
kt_model_free(kt_model *m)
{
    if (m == NULL) {
        return;
    }
    kt_mlp_free(m->mlp);
    for (size_t i = 0; m->names != NULL && i < m->n_names; i++) {
        free(m->names[i]);
    }
    free(m->names);
    free(m->strategy);
    free(m->timeframe);
    free(m);
}

kt_err
kt_model_alloc(const kt_mlp *mlp, char *const *names, size_t n_names,
               const char *strategy, const char *timeframe,
               const kt_train_metrics *train, const kt_test_metrics *test,
               kt_model **out, char *err, size_t errlen)
{
    if (!model_name_ok(strategy) || !model_name_ok(timeframe)) {
        return kt__model_fail(KT_EINVAL, err, errlen,
                              "model: bad strategy or timeframe name");
    }
    if (n_names != (size_t)kt_mlp_cfg_of(mlp)->n_inputs) {
        return kt__model_fail(KT_EINVAL, err, errlen,
                              "model: %zu feature names for a network of "
                              "%d inputs",
                              n_names, kt_mlp_cfg_of(mlp)->n_inputs);
    }
    kt_model *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return KT_ENOMEM;
    }
    m->names = calloc(n_names + 1, sizeof(char *));
    m->n_names = n_names;
    m->strategy = strdup(strategy);
    m->timeframe = strdup(timeframe);
    int ok = m->names && m->strategy && m->timeframe &&
             kt_mlp_clone(mlp, &m->mlp) == KT_OK;
    for (size_t i = 0; ok && i < n_names; i++) {
        ok = names[i] != NULL && (m->names[i] = strdup(names[i])) != NULL;
    }
    if (!ok) {
        kt_model_free(m);
        return KT_ENOMEM;
    }
    if (train != NULL) {
        m->train = *train;
    }
    if (test != NULL) {
        m->test = *test;
    }
    m->created_at = (int64_t)time(NULL);
    *out = m;
    return KT_OK;
}

const kt_mlp *
kt_model_mlp(const kt_model *m)
{
    return m->mlp;
}

size_t
kt_model_n_features(const kt_model *m)
{
    return m->n_names;
}

char *const *
kt_model_features(const kt_model *m)
{
    return m->names;
}

const char *
kt_model_strategy(const kt_model *m)
{
    return m->strategy;
}

const char *
kt_model_timeframe(const kt_model *m)
{
    return m->timeframe;
}

const kt_train_metrics *
kt_model_train_metrics(const kt_model *m)
{
    return &m->train;
}

const kt_test_metrics *
kt_model_test_metrics(const kt_model *m)
{
    return &m->test;
}

int64_t
kt_model_created_at(const kt_model *m)
{
    return m->created_at;
}

kt_err
kt_model_check_features(const kt_model *m, char *const *names, size_t n,
                        char *err, size_t errlen)
{
    size_t common = n < m->n_names ? n : m->n_names;
    for (size_t i = 0; i < common; i++) {
        if (names[i] == NULL || strcmp(names[i], m->names[i]) != 0) {
            if (errlen > 0) {
                snprintf(err, errlen,
                         "feature %zu is '%s' but the model was trained "
                         "with '%s'",
                         i, names[i] ? names[i] : "(null)", m->names[i]);
            }
            return KT_EINVAL;
        }
    }
    if (n != m->n_names) {
        if (errlen > 0) {
            snprintf(err, errlen,
                     "%zu features given but the model was trained with %zu", n,
                     m->n_names);
        }
        return KT_EINVAL;
    }
    return KT_OK;
}
