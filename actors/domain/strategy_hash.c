// strategy_hash.c: a 64-bit FNV-1a hash over a canonical text of everything
// in a strategy that changes features, labels, model or training.
#include <stdarg.h>
#include <stdio.h>

#include "domain/strategy.h"

typedef struct fnv {
    uint64_t h;
} fnv;

static void KT_PRINTF(2, 3) feed(fnv *f, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (int i = 0; i < n && i < (int)sizeof(buf) - 1; i++) {
        f->h ^= (unsigned char)buf[i];
        f->h *= 0x100000001b3ULL;
    }
}

static void
hash_inputs(fnv *f, const kt_strategy *s)
{
    for (int i = 0; i < s->n_timeframes; i++) {
        feed(f, "tf=%s;", s->timeframes[i]);
    }
    for (int i = 0; i < s->n_indicators; i++) {
        const kt_indicator_def *d = &s->indicators[i];
        feed(f, "ind=%s,%d,%d,%d,%d,%d,%d,%d,%d,%d,%.17g,%d;", d->id,
             (int)d->type, (int)d->source, d->period, d->fast_period,
             d->slow_period, d->signal_period, d->k_period, d->d_period,
             d->smooth_k, d->multiplier, (int)d->adjust);
    }
    for (int i = 0; i < s->n_fuzzy_sets; i++) {
        const kt_fuzzy_set *fs = &s->fuzzy_sets[i];
        feed(f, "fs=%s,%d,%d;", fs->id, fs->ind, fs->output);
        for (int m = 0; m < fs->n_mfs; m++) {
            const kt_mf *mf = &fs->mfs[m];
            feed(f, "mf=%s,%d,%.17g,%.17g,%.17g,%.17g;", mf->name,
                 (int)mf->type, mf->p[0], mf->p[1], mf->p[2], mf->p[3]);
        }
    }
    for (int i = 0; i < s->n_nn_inputs; i++) {
        feed(f, "in=%d:", s->nn_inputs[i].fuzzy_set);
        for (int t = 0; t < s->nn_inputs[i].n_tf; t++) {
            feed(f, "%d,", s->nn_inputs[i].tf[t]);
        }
    }
}

uint64_t
kt_strategy_hash(const kt_strategy *s)
{
    fnv f = {0xcbf29ce484222325ULL};
    const kt_mlp_cfg *m = &s->mlp;
    const kt_label_cfg *l = &s->labels;
    const kt_train_cfg *t = &s->train;

    hash_inputs(&f, s);
    feed(&f, "mlp=%d,%d,%.17g:", m->n_inputs, (int)m->activation, m->dropout);
    for (int i = 0; i < m->n_hidden; i++) {
        feed(&f, "%d,", m->hidden[i]);
    }
    feed(&f, "lab=%d,%.17g,%d,%.17g,%.17g,%d,%d;", (int)l->source,
         l->zigzag_threshold, l->label_lookahead, l->pt_multiplier,
         l->sl_multiplier, l->max_holding_period, l->vol_span);
    feed(&f, "tr=%d,%.17g,%d,%d,%.17g,%.17g,%.17g,%.17g,%.17g,%llu;", t->epochs,
         t->learning_rate, t->batch_size, (int)t->loss, t->focal_gamma,
         t->weight_decay, t->grad_clip, t->train_frac, t->val_frac,
         (unsigned long long)t->seed);
    return f.h;
}
