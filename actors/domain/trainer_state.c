// trainer_state.c: kt_trainer_export / kt_trainer_import: the trainer's
// complete state between epochs as a checksummed ktpb.v1.TrainerCheckpoint.
#include <ktpb/v1/train.pb-c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kt/sha256.h>

#include "domain/model.h"
#include "domain/trainer.h"
#include "domain/trainer_impl.h"

typedef Ktpb__V1__TrainerState tstate;

static void
state_arch(const kt_mlp_cfg *c, Ktpb__V1__MlpArch *a, int32_t *hidden)
{
    ktpb__v1__mlp_arch__init(a);
    a->n_inputs = c->n_inputs;
    a->n_hidden = (size_t)c->n_hidden;
    for (int i = 0; i < c->n_hidden; i++) {
        hidden[i] = c->hidden[i];
    }
    a->hidden = hidden;
    a->activation = (int32_t)c->activation;
    a->dropout = c->dropout;
}

static void
state_config(const kt_train_cfg *c, Ktpb__V1__TrainConfig *p)
{
    ktpb__v1__train_config__init(p);
    p->epochs = c->epochs;
    p->learning_rate = c->learning_rate;
    p->batch_size = c->batch_size;
    p->loss = (int32_t)c->loss;
    p->focal_gamma = c->focal_gamma;
    p->weight_decay = c->weight_decay;
    p->grad_clip = c->grad_clip;
    p->train_frac = c->train_frac;
    p->val_frac = c->val_frac;
    p->seed = c->seed;
}

// Packs the state message (borrowing t's arrays) into a fresh buffer.
static kt_err
state_pack(const kt_trainer *t, uint8_t **out, size_t *len)
{
    Ktpb__V1__MlpArch arch;
    Ktpb__V1__TrainConfig cfg;
    int32_t hidden[KT_MLP_MAX_LAYERS];
    tstate s;
    ktpb__v1__trainer_state__init(&s);
    state_arch(&t->mcfg, &arch, hidden);
    state_config(&t->tcfg, &cfg);
    size_t np = kt_mlp_n_params(t->net), ne = (size_t)t->epoch;
    Ktpb__V1__EpochStats *h = calloc(ne + 1, sizeof(*h));
    Ktpb__V1__EpochStats **hp = calloc(ne + 1, sizeof(*hp));
    if (h == NULL || hp == NULL) {
        free(h), free(hp);
        return KT_ENOMEM;
    }
    for (size_t e = 0; e < ne; e++) {
        ktpb__v1__epoch_stats__init(&h[e]);
        h[e].epoch = t->hist[e].epoch;
        h[e].train_loss = t->hist[e].train_loss;
        h[e].train_accuracy = t->hist[e].train_accuracy;
        h[e].val_loss = t->hist[e].val_loss;
        h[e].val_accuracy = t->hist[e].val_accuracy;
        hp[e] = &h[e];
    }
    s.arch = &arch;
    s.config = &cfg;
    s.n_rows = t->n_rows;
    s.epoch = (uint32_t)t->epoch;
    s.n_rng_state = KT_RNG_STATE_WORDS;
    uint64_t rs[KT_RNG_STATE_WORDS]; // protobuf-c wants non-const arrays
    double cw[KT_NCLASSES];
    memcpy(rs, t->rng.s, sizeof(rs));
    memcpy(cw, t->cw, sizeof(cw));
    s.rng_state = rs;
    s.adam_step = t->step;
    s.n_params = s.n_adam_m = s.n_adam_v = s.n_best_params = np;
    s.params = kt_mlp_params(t->net);
    s.adam_m = t->m;
    s.adam_v = t->v;
    s.best_params = kt_mlp_params(t->best);
    s.best_val_loss = t->best_val_loss;
    s.best_epoch = t->best_epoch;
    s.n_history = ne;
    s.history = hp;
    s.n_class_weights = KT_NCLASSES;
    s.class_weights = cw;
    *len = ktpb__v1__trainer_state__get_packed_size(&s);
    *out = malloc(*len + 1);
    if (*out != NULL) {
        ktpb__v1__trainer_state__pack(&s, *out);
    }
    free(h), free(hp);
    return *out != NULL ? KT_OK : KT_ENOMEM;
}

kt_err
kt_trainer_export(const kt_trainer *t, uint8_t **buf, size_t *len)
{
    if (t->cursor != 0) {
        return KT_ESTATE;
    }
    uint8_t *state, digest[32];
    size_t slen;
    kt_err rv = state_pack(t, &state, &slen);
    if (rv != KT_OK) {
        return rv;
    }
    kt_sha256(state, slen, digest);
    Ktpb__V1__TrainerCheckpoint ck;
    ktpb__v1__trainer_checkpoint__init(&ck);
    ck.format_version = KT_TRAINER_FORMAT_VERSION;
    ck.state.data = state;
    ck.state.len = slen;
    ck.sha256.data = digest;
    ck.sha256.len = sizeof(digest);
    size_t n = ktpb__v1__trainer_checkpoint__get_packed_size(&ck);
    uint8_t *out = malloc(n + 1);
    if (out == NULL) {
        free(state);
        return KT_ENOMEM;
    }
    ktpb__v1__trainer_checkpoint__pack(&ck, out);
    free(state);
    *buf = out;
    *len = n;
    return KT_OK;
}

static kt_err
import_fail(kt_err rv, char *err, size_t errlen, const char *msg)
{
    if (errlen > 0) {
        snprintf(err, errlen, "trainer checkpoint: %s", msg);
    }
    return rv;
}

// Rebuilds the configs from a checksummed state; KT_ECORRUPT if missing.
static kt_err
import_cfgs(const tstate *s, kt_mlp_cfg *mc, kt_train_cfg *tc, char *err,
            size_t errlen)
{
    if (s->arch == NULL || s->config == NULL ||
        s->arch->n_hidden > KT_MLP_MAX_LAYERS) {
        return import_fail(KT_ECORRUPT, err, errlen, "no architecture");
    }
    memset(mc, 0, sizeof(*mc));
    mc->n_inputs = s->arch->n_inputs;
    mc->n_hidden = (int)s->arch->n_hidden;
    for (size_t i = 0; i < s->arch->n_hidden; i++) {
        mc->hidden[i] = s->arch->hidden[i];
    }
    mc->activation = (kt_activation)s->arch->activation;
    mc->dropout = s->arch->dropout;
    const Ktpb__V1__TrainConfig *c = s->config;
    *tc = (kt_train_cfg){
        .epochs = c->epochs,
        .learning_rate = c->learning_rate,
        .batch_size = c->batch_size,
        .loss = (kt_loss_kind)c->loss,
        .focal_gamma = c->focal_gamma,
        .weight_decay = c->weight_decay,
        .grad_clip = c->grad_clip,
        .train_frac = c->train_frac,
        .val_frac = c->val_frac,
        .seed = c->seed,
    };
    return KT_OK;
}

// Loads the dynamic state into a freshly built trainer.
static kt_err
import_state(kt_trainer *t, const tstate *s, char *err, size_t errlen)
{
    size_t np = kt_mlp_n_params(t->net);
    if (s->n_params != np || s->n_adam_m != np || s->n_adam_v != np ||
        s->n_best_params != np || s->n_class_weights != KT_NCLASSES ||
        s->epoch > (uint32_t)t->tcfg.epochs || s->n_history != s->epoch ||
        s->best_epoch < 0 || s->best_epoch > (int32_t)s->epoch) {
        return import_fail(KT_ECORRUPT, err, errlen,
                           "fields do not fit the architecture");
    }
    if (kt_rng_set_state(&t->rng, s->rng_state, s->n_rng_state) != KT_OK) {
        return import_fail(KT_ECORRUPT, err, errlen, "bad RNG state");
    }
    memcpy(kt_mlp_params(t->net), s->params, np * sizeof(float));
    memcpy(kt_mlp_params(t->best), s->best_params, np * sizeof(float));
    memcpy(t->m, s->adam_m, np * sizeof(float));
    memcpy(t->v, s->adam_v, np * sizeof(float));
    memcpy(t->cw, s->class_weights, sizeof(t->cw));
    t->step = s->adam_step;
    t->epoch = (int)s->epoch;
    t->best_epoch = s->best_epoch;
    t->best_val_loss = s->best_epoch > 0 ? s->best_val_loss : INFINITY;
    for (size_t e = 0; e < s->n_history; e++) {
        const Ktpb__V1__EpochStats *h = s->history[e];
        t->hist[e] =
            (kt_epoch_stats){h->epoch, h->train_loss, h->train_accuracy,
                             h->val_loss, h->val_accuracy};
    }
    return KT_OK;
}

// Unwraps and verifies the checkpoint envelope; *sp is the unpacked state.
static kt_err
import_unwrap(const uint8_t *buf, size_t len, tstate **sp, char *err,
              size_t errlen)
{
    Ktpb__V1__TrainerCheckpoint *ck =
        ktpb__v1__trainer_checkpoint__unpack(NULL, len, buf);
    if (ck == NULL) {
        return import_fail(KT_EPROTO, err, errlen, "not decodable");
    }
    kt_err rv = KT_OK;
    uint8_t digest[32];
    if (ck->format_version == 0) {
        rv = import_fail(KT_ECORRUPT, err, errlen, "no format version");
    } else if (ck->format_version != KT_TRAINER_FORMAT_VERSION) {
        if (errlen > 0) {
            snprintf(err, errlen,
                     "trainer checkpoint: format version %u, this build "
                     "reads %d",
                     ck->format_version, KT_TRAINER_FORMAT_VERSION);
        }
        rv = KT_EVERSION;
    } else if (ck->sha256.len != 32) {
        rv = import_fail(KT_ECORRUPT, err, errlen, "no checksum");
    } else {
        kt_sha256(ck->state.data, ck->state.len, digest);
        if (memcmp(digest, ck->sha256.data, 32) != 0) {
            rv = import_fail(KT_ECORRUPT, err, errlen, "checksum mismatch");
        }
    }
    if (rv == KT_OK) {
        *sp = ktpb__v1__trainer_state__unpack(NULL, ck->state.len,
                                              ck->state.data);
        if (*sp == NULL) {
            rv = import_fail(KT_ECORRUPT, err, errlen, "state undecodable");
        }
    }
    ktpb__v1__trainer_checkpoint__free_unpacked(ck, NULL);
    return rv;
}

kt_err
kt_trainer_import(const kt_features *f, const uint8_t *labels,
                  const uint8_t *buf, size_t len, kt_trainer **out, char *err,
                  size_t errlen)
{
    tstate *s = NULL;
    kt_trainer *t = NULL;
    kt_mlp_cfg mc;
    kt_train_cfg tc;
    kt_err rv = import_unwrap(buf, len, &s, err, errlen);
    if (rv != KT_OK) {
        return rv;
    }
    if ((rv = import_cfgs(s, &mc, &tc, err, errlen)) != KT_OK) {
        goto done;
    }
    if (f != NULL && s->n_rows != f->n_rows) {
        if (errlen > 0) {
            snprintf(err, errlen,
                     "trainer checkpoint: saved for %llu rows, the features "
                     "have %zu",
                     (unsigned long long)s->n_rows, f->n_rows);
        }
        rv = KT_EINVAL;
        goto done;
    }
    if ((rv = kt__trainer_build(&mc, &tc, f, labels, &t, err, errlen)) !=
        KT_OK) {
        goto done;
    }
    if ((rv = import_state(t, s, err, errlen)) != KT_OK) {
        kt_trainer_free(t);
        goto done;
    }
    *out = t;
done:
    ktpb__v1__trainer_state__free_unpacked(s, NULL);
    return rv;
}
