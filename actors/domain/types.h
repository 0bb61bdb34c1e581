// Plain value types shared by the domain modules (strategy config, features,
// labels, MLP, trainer, backtest). No behaviour lives here.
#ifndef KT_DOMAIN_TYPES_H
#define KT_DOMAIN_TYPES_H

#include <stddef.h>
#include <stdint.h>

// Signal classes, as KTRDR encodes them everywhere.
enum { KT_BUY = 0, KT_HOLD = 1, KT_SELL = 2, KT_NCLASSES = 3 };

typedef enum kt_activation { KT_ACT_RELU = 0, KT_ACT_TANH = 1 } kt_activation;

typedef enum kt_loss_kind {
    KT_LOSS_CROSS_ENTROPY = 0,
    KT_LOSS_FOCAL = 1
} kt_loss_kind;

#define KT_MLP_MAX_LAYERS 8

// Architecture of a Linear -> activation -> dropout stack with a 3-class head.
typedef struct kt_mlp_cfg {
    int n_inputs;                  // feature count
    int n_hidden;                  // number of hidden layers
    int hidden[KT_MLP_MAX_LAYERS]; // their widths
    kt_activation activation;
    double dropout; // 0 <= p < 1
} kt_mlp_cfg;

// Training hyper-parameters (strategy `training:` section plus fixed ones).
typedef struct kt_train_cfg {
    int epochs;           // default 100
    double learning_rate; // default 0.001
    int batch_size;       // default 32
    kt_loss_kind loss;    // default cross_entropy
    double focal_gamma;   // default 2.0
    double weight_decay;  // default 1e-4 (L2 added to the gradient)
    double grad_clip;     // global grad-norm clip, default 1.0
    double train_frac;    // temporal split, default 0.70
    double val_frac;      // default 0.15 (test = the rest)
    uint64_t seed;        // every random draw comes from this
} kt_train_cfg;

// A row-major float feature matrix with its column names in canonical order
// and one timestamp (seconds since the Unix epoch, UTC) per row.
typedef struct kt_features {
    size_t n_rows;
    size_t n_cols;
    float *x;      // n_rows * n_cols
    char **names;  // n_cols strings
    int64_t *time; // n_rows
} kt_features;

#endif // KT_DOMAIN_TYPES_H
