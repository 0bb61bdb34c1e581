// model_io.c: saving the model directory: model.pb (ktpb.v1.ModelArtifact),
// metadata.json (for humans) and MANIFEST (format line + SHA-256 per file),
// written into a temporary directory, fsynced, renamed into place (loading
// it: model_load.c).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ktpb/v1/train.pb-c.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kt/sha256.h>

#include "domain/model.h"
#include "domain/model_impl.h"

typedef struct model_buf {
    char *p;
    size_t len, cap;
} model_buf;

KT_PRINTF(2, 3) static int model_buf_printf(model_buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL,
                          b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            return -1;
        }
        if (b->p != NULL && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return 0;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
}

static int
model_json_str(model_buf *b, const char *s)
{
    int rc = model_buf_printf(b, "\"");
    for (; rc == 0 && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            rc = model_buf_printf(b, "\\%c", c);
        } else if (c < 0x20) {
            rc = model_buf_printf(b, "\\u%04x", c);
        } else {
            rc = model_buf_printf(b, "%c", c);
        }
    }
    return rc == 0 ? model_buf_printf(b, "\"") : rc;
}

static int
model_json(const kt_model *m, model_buf *b)
{
    const kt_mlp_cfg *c = kt_mlp_cfg_of(m->mlp);
    int rc =
        model_buf_printf(b, "{\n  \"format_version\": %d,\n  \"strategy\": ",
                         KT_MODEL_FORMAT_VERSION);
    rc = rc ? rc : model_json_str(b, m->strategy);
    rc = rc ? rc : model_buf_printf(b, ",\n  \"timeframe\": ");
    rc = rc ? rc : model_json_str(b, m->timeframe);
    rc = rc ? rc
            : model_buf_printf(
                  b,
                  ",\n  \"created_at\": %lld,\n  \"model_type\": \"mlp\",\n"
                  "  \"output_type\": \"classification\",\n  \"architecture\": "
                  "{\"input_size\": %d, \"activation\": \"%s\", \"dropout\": "
                  "%.17g, \"hidden_layers\": [",
                  (long long)m->created_at, c->n_inputs,
                  c->activation == KT_ACT_TANH ? "tanh" : "relu", c->dropout);
    for (int i = 0; rc == 0 && i < c->n_hidden; i++) {
        rc = model_buf_printf(b, "%s%d", i ? ", " : "", c->hidden[i]);
    }
    rc = rc ? rc : model_buf_printf(b, "]},\n  \"resolved_features\": [");
    for (size_t i = 0; rc == 0 && i < m->n_names; i++) {
        rc = model_buf_printf(b, "%s", i ? ", " : "");
        rc = rc ? rc : model_json_str(b, m->names[i]);
    }
    const kt_train_metrics *t = &m->train;
    const kt_test_metrics *e = &m->test;
    return rc ? rc
              : model_buf_printf(
                    b,
                    "],\n  \"training_metrics\": {\"epochs_trained\": %d, "
                    "\"final_train_loss\": %.17g, \"final_train_accuracy\": "
                    "%.17g, \"final_val_loss\": %.17g, \"final_val_accuracy\": "
                    "%.17g, \"best_val_loss\": %.17g, \"best_val_accuracy\": "
                    "%.17g, \"best_epoch\": %d, \"first_train_loss\": "
                    "%.17g},\n  \"test_metrics\": "
                    "{\"n_samples\": %llu, \"test_accuracy\": %.17g, "
                    "\"test_loss\": %.17g, \"precision\": %.17g, \"recall\": "
                    "%.17g, \"f1_score\": %.17g}\n}\n",
                    t->epochs_trained, t->final_train_loss,
                    t->final_train_accuracy, t->final_val_loss,
                    t->final_val_accuracy, t->best_val_loss,
                    t->best_val_accuracy, t->best_epoch, t->first_train_loss,
                    (unsigned long long)e->n_samples, e->accuracy, e->loss,
                    e->precision, e->recall, e->f1);
}

// Packs m as a ModelArtifact into a fresh buffer.
static kt_err
model_pack(const kt_model *m, uint8_t **out, size_t *len)
{
    const kt_mlp_cfg *c = kt_mlp_cfg_of(m->mlp);
    int nl = kt_mlp_n_layers(m->mlp);
    Ktpb__V1__ModelArtifact a;
    Ktpb__V1__MlpArch arch;
    Ktpb__V1__TrainMetrics tm;
    Ktpb__V1__TestMetrics te;
    Ktpb__V1__LinearLayer layers[KT_MLP_MAX_LAYERS + 1];
    Ktpb__V1__LinearLayer *lp[KT_MLP_MAX_LAYERS + 1];
    int32_t hidden[KT_MLP_MAX_LAYERS];
    float *mem = malloc(kt_mlp_n_params(m->mlp) * sizeof(float));
    if (mem == NULL) {
        return KT_ENOMEM;
    }
    ktpb__v1__model_artifact__init(&a);
    ktpb__v1__mlp_arch__init(&arch);
    arch.n_inputs = c->n_inputs;
    arch.n_hidden = (size_t)c->n_hidden;
    for (int i = 0; i < c->n_hidden; i++) {
        hidden[i] = c->hidden[i];
    }
    arch.hidden = hidden;
    arch.activation = (int32_t)c->activation;
    arch.dropout = c->dropout;
    float *p = mem;
    for (int l = 0; l < nl; l++) {
        int in, o;
        kt_mlp_layer_shape(m->mlp, l, &in, &o);
        ktpb__v1__linear_layer__init(&layers[l]);
        layers[l].n_in = in;
        layers[l].n_out = o;
        layers[l].n_weight = (size_t)in * (size_t)o;
        layers[l].weight = p;
        layers[l].n_bias = (size_t)o;
        layers[l].bias = p + layers[l].n_weight;
        if (kt_mlp_get_layer(m->mlp, l, layers[l].weight, layers[l].bias) !=
            KT_OK) {
            free(mem);
            return KT_EINVAL; // cannot happen: l < n_layers
        }
        p += layers[l].n_weight + layers[l].n_bias;
        lp[l] = &layers[l];
    }
    ktpb__v1__train_metrics__init(&tm);
    tm.epochs_trained = m->train.epochs_trained;
    tm.final_train_loss = m->train.final_train_loss;
    tm.first_train_loss = m->train.first_train_loss;
    tm.final_train_accuracy = m->train.final_train_accuracy;
    tm.final_val_loss = m->train.final_val_loss;
    tm.final_val_accuracy = m->train.final_val_accuracy;
    tm.best_val_loss = m->train.best_val_loss;
    tm.best_val_accuracy = m->train.best_val_accuracy;
    tm.best_epoch = m->train.best_epoch;
    ktpb__v1__test_metrics__init(&te);
    te.n_samples = m->test.n_samples;
    te.accuracy = m->test.accuracy;
    te.loss = m->test.loss;
    te.precision = m->test.precision;
    te.recall = m->test.recall;
    te.f1 = m->test.f1;
    a.format_version = KT_MODEL_FORMAT_VERSION;
    a.strategy = m->strategy;
    a.timeframe = m->timeframe;
    a.arch = &arch;
    a.n_layers = (size_t)nl;
    a.layers = lp;
    a.n_feature_names = m->n_names;
    a.feature_names = m->names;
    a.train_metrics = &tm;
    a.test_metrics = &te;
    a.created_at = m->created_at;
    a.output_type = (char *)(uintptr_t) "classification";
    *len = ktpb__v1__model_artifact__get_packed_size(&a);
    *out = malloc(*len + 1);
    if (*out != NULL) {
        ktpb__v1__model_artifact__pack(&a, *out);
    }
    free(mem);
    return *out != NULL ? KT_OK : KT_ENOMEM;
}

kt_err
kt__model_errno(int e, char *err, size_t errlen, const char *what,
                const char *path)
{
    kt__model_fail(KT_ESYSERR | e, err, errlen, "model: %s %s: %s", what, path,
                   strerror(e));
    return e == ENOENT ? KT_ENOENT : (kt_err)(KT_ESYSERR | e);
}

// Writes len bytes to dir/name (new file) and fsyncs it.
static kt_err
model_write_file(const char *dir, const char *name, const void *data,
                 size_t len, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        return kt__model_errno(errno, err, errlen, "create", path);
    }
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int e = errno;
            close(fd);
            return kt__model_errno(e, err, errlen, "write", path);
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        return kt__model_errno(errno, err, errlen, "fsync", path);
    }
    return KT_OK;
}

static kt_err
model_fsync_dir(const char *dir, char *err, size_t errlen)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return kt__model_errno(errno, err, errlen, "open", dir);
    }
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    return rc == 0 ? KT_OK : kt__model_errno(e, err, errlen, "fsync", dir);
}

void
kt__model_hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
}

static const char *const model_files[] = {"model.pb", "metadata.json"};

// Writes the three files into the (new, empty) directory tmp.
static kt_err
model_write_all(const kt_model *m, const char *tmp, char *err, size_t errlen)
{
    uint8_t *pb = NULL, d[2][32];
    size_t pblen = 0;
    model_buf js = {0}, man = {0};
    kt_err rv = model_pack(m, &pb, &pblen);
    if (rv == KT_OK && model_json(m, &js) != 0) {
        rv = KT_ENOMEM;
    }
    if (rv == KT_OK) {
        kt_sha256(pb, pblen, d[0]);
        kt_sha256(js.p, js.len, d[1]);
        int rc =
            model_buf_printf(&man, "kt-model %d\n", KT_MODEL_FORMAT_VERSION);
        for (int i = 0; rc == 0 && i < 2; i++) {
            char hex[65];
            kt__model_hex(d[i], hex);
            rc = model_buf_printf(&man, "%s  %s\n", hex, model_files[i]);
        }
        rv = rc == 0 ? KT_OK : KT_ENOMEM;
    }
    if (rv == KT_OK) {
        rv = model_write_file(tmp, "model.pb", pb, pblen, err, errlen);
    }
    if (rv == KT_OK) {
        rv = model_write_file(tmp, "metadata.json", js.p, js.len, err, errlen);
    }
    if (rv == KT_OK) {
        rv = model_write_file(tmp, "MANIFEST", man.p, man.len, err, errlen);
    }
    free(pb), free(js.p), free(man.p);
    return rv;
}

static void
model_rmtree(const char *tmp)
{
    char path[PATH_MAX];
    const char *names[] = {"model.pb", "metadata.json", "MANIFEST"};
    for (int i = 0; i < 3; i++) {
        if (snprintf(path, sizeof(path), "%s/%s", tmp, names[i]) <
            (int)sizeof(path)) {
            (void)unlink(path);
        }
    }
    (void)rmdir(tmp);
}

kt_err
kt_model_save_dir(const kt_model *m, const char *dir, char *err, size_t errlen)
{
    char tmp[PATH_MAX], parent[PATH_MAX];
    struct stat st;
    if (strlen(dir) + 16 >= sizeof(tmp)) {
        return kt__model_fail(KT_EINVAL, err, errlen, "model: path too long");
    }
    if (stat(dir, &st) == 0) {
        return kt__model_errno(EEXIST, err, errlen, "save", dir);
    }
    snprintf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    snprintf(slash ? slash + 1 : parent, 2, ".");
    snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", dir);
    if (mkdtemp(tmp) == NULL) {
        return kt__model_errno(errno, err, errlen, "mkdtemp", tmp);
    }
    kt_err rv = model_write_all(m, tmp, err, errlen);
    if (rv == KT_OK) {
        rv = model_fsync_dir(tmp, err, errlen);
    }
    if (rv == KT_OK && rename(tmp, dir) != 0) {
        int e = errno == ENOTEMPTY ? EEXIST : errno;
        rv = kt__model_errno(e, err, errlen, "rename to", dir);
    }
    if (rv != KT_OK) {
        model_rmtree(tmp);
        return rv;
    }
    return model_fsync_dir(parent, err, errlen);
}

static kt_err
model_mkdir(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        return kt__model_errno(errno, err, errlen, "mkdir", path);
    }
    return KT_OK;
}

// Highest N of the existing <tf>_v<N> entries in dir (0 if none).
static int
model_last_version(const char *dir, const char *tf)
{
    DIR *d = opendir(dir);
    int best = 0;
    size_t tl = strlen(tf);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        char *end;
        if (strncmp(e->d_name, tf, tl) != 0 || e->d_name[tl] != '_' ||
            e->d_name[tl + 1] != 'v') {
            continue;
        }
        long v = strtol(e->d_name + tl + 2, &end, 10);
        if (v > best && v < INT_MAX && (*end == 0 || *end == '.')) {
            best = (int)v; // ".tmp.*" leftovers count too: never reused
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return best;
}

kt_err
kt_model_save(const kt_model *m, const char *models_dir, char *path_out,
              size_t path_len, int *version_out, char *err, size_t errlen)
{
    char sdir[PATH_MAX], dir[PATH_MAX];
    kt_err rv;
    if (strlen(models_dir) + strlen(m->strategy) + strlen(m->timeframe) + 40 >=
        sizeof(sdir)) {
        return kt__model_fail(KT_EINVAL, err, errlen, "model: path too long");
    }
    snprintf(sdir, sizeof(sdir), "%s/%s", models_dir, m->strategy);
    if ((rv = model_mkdir(models_dir, err, errlen)) != KT_OK ||
        (rv = model_mkdir(sdir, err, errlen)) != KT_OK) {
        return rv;
    }
    int v = model_last_version(sdir, m->timeframe);
    for (int tries = 0; tries < 100; tries++) {
        v++;
        if (snprintf(dir, sizeof(dir), "%s/%s_v%d", sdir, m->timeframe, v) >=
            (int)sizeof(dir)) {
            return kt__model_fail(KT_EINVAL, err, errlen,
                                  "model: path too long");
        }
        rv = kt_model_save_dir(m, dir, err, errlen);
        if (rv != (kt_err)(KT_ESYSERR | EEXIST)) {
            break;
        }
    }
    if (rv == KT_OK) {
        if (path_out != NULL && path_len > 0) {
            snprintf(path_out, path_len, "%s", dir);
        }
        if (version_out != NULL) {
            *version_out = v;
        }
    }
    return rv;
}
