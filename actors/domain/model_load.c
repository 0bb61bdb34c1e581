// model_load.c: loading a model directory (model_io.c writes it): every
// digest in MANIFEST checked, the format version refused when unknown.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ktpb/v1/train.pb-c.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kt/sha256.h>

#include "domain/model.h"
#include "domain/model_impl.h"

// Reads dir/name whole. KT_ENOENT names the path.
static kt_err
model_read_file(const char *dir, const char *name, uint8_t **out, size_t *len,
                char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
        return kt__model_fail(KT_EINVAL, err, errlen, "model: path too long");
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return kt__model_errno(errno, err, errlen, "open", path);
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf != NULL) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) {
            break;
        }
        uint8_t *nb = realloc(buf, cap * 2);
        if (nb == NULL) {
            free(buf);
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    (void)fclose(f);
    if (buf == NULL || bad) {
        free(buf);
        return buf == NULL ? KT_ENOMEM
                           : kt__model_errno(EIO, err, errlen, "read", path);
    }
    *out = buf;
    *len = n;
    return KT_OK;
}

// Checks MANIFEST's format line and every listed digest.
static kt_err
model_verify(const char *dir, char *err, size_t errlen)
{
    uint8_t *man, d[32];
    size_t len;
    kt_err rv = model_read_file(dir, "MANIFEST", &man, &len, err, errlen);
    if (rv != KT_OK) {
        return rv;
    }
    char *text = (char *)man, *save = NULL;
    text[len < 4095 ? len : 4095] = 0; // MANIFEST is small; cap the scan
    int version = 0, listed = 0;
    char *line = strtok_r(text, "\n", &save);
    if (line == NULL || sscanf(line, "kt-model %d", &version) != 1) {
        rv = kt__model_fail(KT_ECORRUPT, err, errlen,
                            "model: %s/MANIFEST is not a model manifest", dir);
    } else if (version != KT_MODEL_FORMAT_VERSION) {
        rv = kt__model_fail(KT_EVERSION, err, errlen,
                            "model: %s has format version %d, this build "
                            "reads %d",
                            dir, version, KT_MODEL_FORMAT_VERSION);
    }
    while (rv == KT_OK && (line = strtok_r(NULL, "\n", &save)) != NULL) {
        char hex[65], want[65], name[64];
        uint8_t *data;
        size_t dl;
        if (sscanf(line, "%64[0-9a-f]  %63[^/\n]", want, name) != 2 ||
            strlen(want) != 64) {
            rv = kt__model_fail(KT_ECORRUPT, err, errlen,
                                "model: %s/MANIFEST: bad line", dir);
            break;
        }
        if ((rv = model_read_file(dir, name, &data, &dl, err, errlen)) !=
            KT_OK) {
            break;
        }
        kt_sha256(data, dl, d);
        free(data);
        kt__model_hex(d, hex);
        if (strcmp(hex, want) != 0) {
            rv = kt__model_fail(KT_ECORRUPT, err, errlen,
                                "model: %s/%s fails its checksum", dir, name);
        }
        listed += strcmp(name, "model.pb") == 0;
    }
    if (rv == KT_OK && listed != 1) {
        rv = kt__model_fail(KT_ECORRUPT, err, errlen,
                            "model: %s/MANIFEST does not list model.pb", dir);
    }
    free(man);
    return rv;
}

// Builds a kt_model from a decoded artifact whose digest already matched.
static kt_err
model_from_pb(const Ktpb__V1__ModelArtifact *a, const char *dir, kt_model **out,
              char *err, size_t errlen)
{
    kt_mlp_cfg c = {0};
    kt_mlp *mlp = NULL;
    kt_err rv = KT_ECORRUPT;
    if (a->format_version != KT_MODEL_FORMAT_VERSION) {
        return kt__model_fail(KT_EVERSION, err, errlen,
                              "model: %s/model.pb has format version %u", dir,
                              a->format_version);
    }
    if (a->arch == NULL || a->arch->n_hidden > KT_MLP_MAX_LAYERS ||
        a->strategy == NULL || a->timeframe == NULL) {
        goto bad;
    }
    c.n_inputs = a->arch->n_inputs;
    c.n_hidden = (int)a->arch->n_hidden;
    for (int i = 0; i < c.n_hidden; i++) {
        c.hidden[i] = a->arch->hidden[i];
    }
    c.activation = (kt_activation)a->arch->activation;
    c.dropout = a->arch->dropout;
    if (kt_mlp_alloc(&c, &mlp) != KT_OK ||
        a->n_layers != (size_t)kt_mlp_n_layers(mlp)) {
        goto bad;
    }
    for (int l = 0; l < kt_mlp_n_layers(mlp); l++) {
        const Ktpb__V1__LinearLayer *ly = a->layers[l];
        int in, o;
        kt_mlp_layer_shape(mlp, l, &in, &o);
        if (ly->n_in != in || ly->n_out != o ||
            ly->n_weight != (size_t)in * (size_t)o || ly->n_bias != (size_t)o ||
            kt_mlp_set_layer(mlp, l, ly->weight, ly->bias) != KT_OK) {
            goto bad;
        }
    }
    kt_train_metrics tm = {0};
    kt_test_metrics te = {0};
    if (a->train_metrics != NULL) {
        const Ktpb__V1__TrainMetrics *t = a->train_metrics;
        tm = (kt_train_metrics){t->epochs_trained,       t->final_train_loss,
                                t->final_train_accuracy, t->final_val_loss,
                                t->final_val_accuracy,   t->best_val_loss,
                                t->best_val_accuracy,    t->best_epoch,
                                t->first_train_loss};
    }
    if (a->test_metrics != NULL) {
        const Ktpb__V1__TestMetrics *t = a->test_metrics;
        te = (kt_test_metrics){t->n_samples, t->accuracy, t->loss,
                               t->precision, t->recall,   t->f1};
    }
    rv = kt_model_alloc(mlp, a->feature_names, a->n_feature_names, a->strategy,
                        a->timeframe, &tm, &te, out, err, errlen);
    if (rv == KT_EINVAL) {
        goto bad;
    }
    if (rv == KT_OK) {
        (*out)->created_at = a->created_at;
    }
    kt_mlp_free(mlp);
    return rv;
bad:
    kt_mlp_free(mlp);
    return kt__model_fail(KT_ECORRUPT, err, errlen,
                          "model: %s/model.pb does not describe a valid model",
                          dir);
}

kt_err
kt_model_load(const char *dir, kt_model **out, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        return kt__model_errno(errno, err, errlen, "open", dir);
    }
    if (!S_ISDIR(st.st_mode)) {
        return kt__model_errno(ENOTDIR, err, errlen, "open", dir);
    }
    kt_err rv = model_verify(dir, err, errlen);
    if (rv != KT_OK) {
        return rv;
    }
    uint8_t *pb;
    size_t len;
    if ((rv = model_read_file(dir, "model.pb", &pb, &len, err, errlen)) !=
        KT_OK) {
        return rv;
    }
    Ktpb__V1__ModelArtifact *a =
        ktpb__v1__model_artifact__unpack(NULL, len, pb);
    free(pb);
    if (a == NULL) {
        return kt__model_fail(KT_ECORRUPT, err, errlen,
                              "model: %s/model.pb is not decodable", dir);
    }
    rv = model_from_pb(a, dir, out, err, errlen);
    ktpb__v1__model_artifact__free_unpacked(a, NULL);
    return rv;
}
