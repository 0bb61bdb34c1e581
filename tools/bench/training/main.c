// kt-bench-training: times the C trainer per epoch on deterministic
// synthetic data, and can dump that data for the PyTorch reference.
// usage: kt-bench-training ROWS COLS BATCH EPOCHS [DUMP_FILE]
// Prints one line: "<fastest epoch, seconds> <kernel level> <val acc>".
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kt/vec.h>

#include "domain/trainer.h"

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// Features in [0, 1) from an LCG; a noisy linear rule gives the labels.
static void
synth(size_t rows, size_t cols, float *x, uint8_t *y)
{
    uint32_t s = 12345;
    for (size_t i = 0; i < rows; i++) {
        double score = 0;
        for (size_t j = 0; j < cols; j++) {
            s = s * 1664525u + 1013904223u;
            x[i * cols + j] = (float)(s >> 8) / 16777216.0f;
            score += (j % 2 ? -1.0 : 1.0) * x[i * cols + j];
        }
        s = s * 1664525u + 1013904223u;
        score += ((s >> 8) / 16777216.0 - 0.5) * 0.3;
        y[i] = score > 0.3 ? 0 : score < -0.3 ? 2 : 1;
    }
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s ROWS COLS BATCH EPOCHS [DUMP]\n", argv[0]);
        return 2;
    }
    size_t rows = strtoul(argv[1], NULL, 10), cols = strtoul(argv[2], NULL, 10);
    int batch = atoi(argv[3]), epochs = atoi(argv[4]);
    kt_features f = {.n_rows = rows, .n_cols = cols};
    f.x = malloc(rows * cols * sizeof(float));
    uint8_t *y = malloc(rows);
    if (f.x == NULL || y == NULL || epochs < 1 || epochs > 64) {
        return 2;
    }
    synth(rows, cols, f.x, y);
    if (argc > 5) {
        FILE *o = fopen(argv[5], "wb");
        if (o == NULL ||
            fwrite(f.x, sizeof(float), rows * cols, o) != rows * cols ||
            fwrite(y, 1, rows, o) != rows || fclose(o) != 0) {
            return 1;
        }
    }
    kt_mlp_cfg mc = {.n_inputs = (int)cols,
                     .n_hidden = 2,
                     .hidden = {64, 32},
                     .activation = KT_ACT_RELU,
                     .dropout = 0.2};
    kt_train_cfg tc = {.epochs = epochs,
                       .learning_rate = 1e-3,
                       .batch_size = batch,
                       .focal_gamma = 2.0,
                       .weight_decay = 1e-4,
                       .grad_clip = 1.0,
                       .train_frac = 0.7,
                       .val_frac = 0.15,
                       .seed = 1};
    kt_trainer *t;
    char err[200];
    if (kt_trainer_new(&mc, &tc, &f, y, &t, err, sizeof(err)) != KT_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double sec[64];
    kt_epoch_stats st = {0};
    for (int e = 0; e < epochs; e++) {
        double t0 = now();
        if (kt_trainer_run_epoch(t, &st) != KT_OK) {
            return 1;
        }
        sec[e] = now() - t0;
    }
    qsort(sec, (size_t)epochs, sizeof(double), cmp_double);
    printf("%.6f %s %.4f\n", sec[0], kt_vec_level_name(kt_vec_level_get()),
           st.val_accuracy);
    kt_trainer_free(t);
    free(f.x);
    free(y);
    return 0;
}
