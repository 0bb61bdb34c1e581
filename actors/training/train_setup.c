// train_setup.c: the training actor's data: strategy, bars, features and
// labels; the trainer made fresh or restored from a checkpoint; the epoch
// snapshot every checkpoint holds; the model artifact and result at the end.
#include <ktpb/v1/persist.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/labels.h"
#include "domain/model.h"
#include "operations/opreq.h"
#include "operations/pbmsg.h"
#include "training/training.h"
#include "training/training_int.h"

static kt_err
setup_data(training *tr, kt_ohlcv **bars, char *err, size_t n)
{
    size_t n_valid = 0;
    kt_err rv;

    rv = kt_features_build_mtf(tr->s, (const kt_ohlcv *const *)bars,
                               (size_t)tr->s->n_timeframes, &tr->f, err, n);
    if (rv != KT_OK) {
        return rv;
    }
    if ((tr->labels = malloc(bars[0]->n > 0 ? bars[0]->n : 1)) == NULL) {
        return KT_ENOMEM;
    }
    rv = kt_labels_build(&tr->s->labels, bars[0], tr->labels, &n_valid, err, n);
    if (rv != KT_OK) {
        return rv;
    }
    tr->f.n_rows = n_valid; // rows without a complete label window dropped
    return KT_OK;
}

kt_err
kt__training_setup(training *tr, char *err, size_t n)
{
    const Ktpb__V1__StartTrainingRequest *rq = tr->rq;
    kt_ohlcv *bars[KT_STRAT_MAX_TF] = {0};
    kt_err rv;

    rv = kt__opreq_load(rq->strategy_path, rq->symbol, rq->timeframe,
                        rq->start_date, rq->end_date, tr->w.data_dir, &tr->s,
                        bars, err, n);
    if (rv != KT_OK) {
        return rv;
    }
    rv = setup_data(tr, bars, err, n);
    for (int i = 0; i < KT_STRAT_MAX_TF; i++) {
        kt_ohlcv_free(bars[i]);
    }
    if (rv != KT_OK) {
        return rv;
    }
    tr->tc = tr->s->train;
    if (rq->epochs > 0) {
        tr->tc.epochs = (int)rq->epochs;
    }
    if (rq->opt_seed_case == KTPB__V1__START_TRAINING_REQUEST__OPT_SEED_SEED) {
        tr->tc.seed = rq->seed;
    }
    if (tr->w.resume) {
        return KT_OK; // the trainer comes from the checkpoint
    }
    return kt_trainer_new(&tr->s->mlp, &tr->tc, &tr->f, tr->labels, &tr->t, err,
                          n);
}

static kt_err
training_import(void *arg, const uint8_t *data, size_t len, char *err, size_t n)
{
    training *tr = arg;

    return kt_trainer_import(&tr->f, tr->labels, data, len, &tr->t, err, n);
}

kt_err
kt__training_restore(training *tr, const kt_msg *reply, char *err, size_t n)
{
    kt_err rv = kt__worker_restore(reply, KT_TRAINING_ARTIFACT, training_import,
                                   tr, err, n);

    if (rv == KT_OK) {
        tr->last_ckpt_epoch = kt_trainer_epoch(tr->t);
    }
    return rv;
}

kt_err
kt__training_snapshot(training *tr)
{
    const kt_epoch_stats *h;
    kt_train_metrics tm;
    uint8_t *buf;
    size_t len, nh;
    kt_err rv;

    if ((rv = kt_trainer_export(tr->t, &buf, &len)) != KT_OK) {
        return rv;
    }
    free(tr->snap);
    tr->snap = buf;
    tr->snap_len = len;
    h = kt_trainer_history(tr->t, &nh);
    kt_trainer_metrics(tr->t, &tm, NULL);
    ktpb__v1__checkpoint_summary__init(&tr->sum);
    tr->sum.op_type = KT_PB_STR("training");
    tr->sum.unit = KT_PB_STR("epoch");
    tr->sum.unit_value = kt_trainer_epoch(tr->t);
    tr->sum.unit_total = tr->tc.epochs;
    tr->sum.has_val = nh > 0;
    if (nh > 0) {
        tr->sum.train_loss = h[nh - 1].train_loss;
        tr->sum.val_loss = h[nh - 1].val_loss;
        tr->sum.best_val_loss = tm.best_val_loss;
    }
    tr->sum.learning_rate = tr->tc.learning_rate;
    return KT_OK;
}

static void
metrics_pb(const kt_train_metrics *tm, const kt_test_metrics *te,
           Ktpb__V1__TrainMetrics *a, Ktpb__V1__TestMetrics *b)
{
    ktpb__v1__train_metrics__init(a);
    ktpb__v1__test_metrics__init(b);
    a->epochs_trained = tm->epochs_trained;
    a->final_train_loss = tm->final_train_loss;
    a->first_train_loss = tm->first_train_loss;
    a->final_train_accuracy = tm->final_train_accuracy;
    a->final_val_loss = tm->final_val_loss;
    a->final_val_accuracy = tm->final_val_accuracy;
    a->best_val_loss = tm->best_val_loss;
    a->best_val_accuracy = tm->best_val_accuracy;
    a->best_epoch = tm->best_epoch;
    b->n_samples = te->n_samples;
    b->accuracy = te->accuracy;
    b->loss = te->loss;
    b->precision = te->precision;
    b->recall = te->recall;
    b->f1 = te->f1;
}

kt_err
kt__training_finish(training *tr, uint8_t **res, size_t *len, char *err,
                    size_t n)
{
    char dir[KT_OPS_PATH_MAX + 16], path[KT_OPS_PATH_MAX + 256];
    Ktpb__V1__TrainingResult r;
    Ktpb__V1__TrainMetrics a;
    Ktpb__V1__TestMetrics b;
    kt_train_metrics tm;
    kt_test_metrics te;
    kt_model *m;
    int version = 0;
    kt_err rv;

    kt_trainer_metrics(tr->t, &tm, &te);
    rv =
        kt_model_alloc(kt_trainer_model(tr->t), tr->f.names, tr->f.n_cols,
                       tr->s->name, tr->s->timeframes[0], &tm, &te, &m, err, n);
    if (rv != KT_OK) {
        return rv;
    }
    (void)snprintf(dir, sizeof(dir), "%s/models", tr->w.data_dir);
    rv = kt_model_save(m, dir, path, sizeof(path), &version, err, n);
    kt_model_free(m);
    if (rv != KT_OK) {
        return rv;
    }
    ktpb__v1__training_result__init(&r);
    metrics_pb(&tm, &te, &a, &b);
    r.model_path = path;
    r.model_version = version;
    r.train = &a;
    r.test = &b;
    r.strategy = tr->s->name;
    r.symbol = tr->rq->symbol;
    r.timeframe = tr->s->timeframes[0];
    r.epochs = (uint32_t)tr->tc.epochs;
    r.resumes = tr->w.attempt > 1 ? tr->w.attempt - 1 : 0;
    *len = ktpb__v1__training_result__get_packed_size(&r);
    if ((*res = malloc(*len > 0 ? *len : 1)) == NULL) {
        return KT_ENOMEM;
    }
    (void)ktpb__v1__training_result__pack(&r, *res);
    return KT_OK;
}

void
kt__training_release(training *tr)
{
    kt_trainer_free(tr->t);
    kt_features_free(&tr->f);
    free(tr->labels);
    free(tr->snap);
    kt_strategy_free(tr->s);
    if (tr->rq != NULL) {
        ktpb__v1__start_training_request__free_unpacked(tr->rq, NULL);
    }
    memset(tr, 0, sizeof(*tr));
}
