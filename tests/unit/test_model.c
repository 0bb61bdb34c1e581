// test_model.c: SHA-256 vectors, the model directory round trip, versioned
// atomic saves, and every load error: missing dir/file, checksum, version,
// corrupt contents, feature-order mismatch.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <kt/sha256.h>

#include "domain/model.h"

static char root[256];

static void
setup(void)
{
    snprintf(root, sizeof(root), "/tmp/kt_test_model_XXXXXX");
    cr_assert_not_null(mkdtemp(root));
}

static void
teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(model, .init = setup, .fini = teardown);

static void
hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
}

Test(model, sha256_matches_fips_vectors)
{
    uint8_t d[32];
    char h[65];
    kt_sha256("", 0, d);
    hex(d, h);
    cr_expect_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca4959"
                        "91b7852b855");
    kt_sha256("abc", 3, d);
    hex(d, h);
    cr_expect_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410f"
                        "f61f20015ad");
    const char *two =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    kt_sha256(two, strlen(two), d);
    hex(d, h);
    cr_expect_str_eq(h,
                     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd"
                     "419db06c1");
}

static char f0[] = "1h_rsi_low", f1[] = "1h_rsi_mid", f2[] = "1h_rsi_high",
            f3[] = "1h_x";
static char *names[] = {f0, f1, f2, f3};

static kt_model *
sample(void)
{
    kt_mlp_cfg c = {.n_inputs = 4,
                    .n_hidden = 2,
                    .hidden = {5, 3},
                    .activation = KT_ACT_TANH,
                    .dropout = 0.2};
    kt_mlp *mlp;
    kt_rng r;
    cr_assert_eq(kt_mlp_alloc(&c, &mlp), KT_OK);
    kt_rng_seed(&r, 3);
    kt_mlp_init(mlp, &r);
    kt_train_metrics tm = {.epochs_trained = 7,
                           .best_val_loss = 0.5,
                           .first_train_loss = 1.25,
                           .best_epoch = 4,
                           .final_val_accuracy = 0.6};
    kt_test_metrics te = {.n_samples = 10, .accuracy = 0.7, .f1 = 0.65};
    kt_model *m = NULL;
    char err[200];
    cr_assert_eq(kt_model_alloc(mlp, names, 4, "my \"strat\"", "1h", &tm, &te,
                                &m, err, sizeof(err)),
                 KT_OK, "%s", err);
    kt_mlp_free(mlp);
    return m;
}

Test(model, alloc_refuses_bad_names_and_counts)
{
    kt_model *m = sample(), *o = NULL;
    char err[200];
    const kt_mlp *mlp = kt_model_mlp(m);
    cr_expect_eq(
        kt_model_alloc(mlp, names, 3, "s", "1h", NULL, NULL, &o, err, 200),
        KT_EINVAL);
    cr_expect(strstr(err, "3 feature names") != NULL, "%s", err);
    const char *bad[] = {"", "a/b", "..", "."};
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(kt_model_alloc(mlp, names, 4, bad[i], "1h", NULL, NULL, &o,
                                    err, 200),
                     KT_EINVAL);
        cr_expect_eq(kt_model_alloc(mlp, names, 4, "s", bad[i], NULL, NULL, &o,
                                    err, 200),
                     KT_EINVAL);
    }
    cr_expect_null(o);
    kt_model_free(m);
    kt_model_free(NULL);
}

Test(model, saves_versioned_dirs_and_loads_them_back)
{
    kt_model *m = sample(), *l = NULL;
    char path[512], err[300], want[512];
    int v = 0;
    cr_assert_eq(kt_model_save(m, root, path, sizeof(path), &v, err, 300),
                 KT_OK, "%s", err);
    snprintf(want, sizeof(want), "%s/my \"strat\"/1h_v1", root);
    cr_expect_str_eq(path, want);
    cr_expect_eq(v, 1);
    cr_assert_eq(kt_model_save(m, root, path, sizeof(path), &v, err, 300),
                 KT_OK);
    cr_expect_eq(v, 2);
    cr_assert_eq(kt_model_load(path, &l, err, sizeof(err)), KT_OK, "%s", err);
    cr_expect_str_eq(kt_model_strategy(l), "my \"strat\"");
    cr_expect_str_eq(kt_model_timeframe(l), "1h");
    cr_expect_eq(kt_model_n_features(l), 4);
    cr_expect_str_eq(kt_model_features(l)[3], "1h_x");
    cr_expect_eq(kt_model_train_metrics(l)->best_epoch, 4);
    cr_expect_eq(kt_model_train_metrics(l)->best_val_loss, 0.5);
    cr_expect_eq(kt_model_train_metrics(l)->first_train_loss, 1.25);
    cr_expect_eq(kt_model_test_metrics(l)->f1, 0.65);
    cr_expect_eq(kt_model_created_at(l), kt_model_created_at(m));
    const kt_mlp *a = kt_model_mlp(m), *b = kt_model_mlp(l);
    cr_expect_eq(kt_mlp_n_params(a), kt_mlp_n_params(b));
    cr_expect(memcmp(kt_mlp_params_const(a), kt_mlp_params_const(b),
                     kt_mlp_n_params(a) * 4) == 0);
    cr_expect_eq(kt_mlp_cfg_of(b)->activation, KT_ACT_TANH);
    cr_expect_eq(kt_mlp_cfg_of(b)->dropout, 0.2);
    // No temporary directory is left behind.
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "ls '%s/my \"strat\"' | grep -q tmp", root);
    cr_expect_neq(system(cmd), 0);
    // save_dir refuses an existing directory
    cr_expect_eq(kt_model_save_dir(m, path, err, 300), KT_ESYSERR | EEXIST);
    kt_model_free(m);
    kt_model_free(l);
}

static void
save_one(char *path, size_t len)
{
    kt_model *m = sample();
    char err[300];
    cr_assert_eq(kt_model_save(m, root, path, len, NULL, err, 300), KT_OK);
    kt_model_free(m);
}

static void
rewrite(const char *dir, const char *name, const char *from, const char *to)
{
    char p[600], buf[8192];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *at = NULL; // binary-safe search
    for (size_t i = 0; at == NULL && i + strlen(from) <= n; i++) {
        at = memcmp(buf + i, from, strlen(from)) == 0 ? buf + i : NULL;
    }
    cr_assert_not_null(at, "%s not in %s", from, name);
    memcpy(at, to, strlen(to)); // same length
    f = fopen(p, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}

Test(model, load_names_a_missing_dir_or_file)
{
    char path[512], p[600], err[600];
    kt_model *l = NULL;
    snprintf(p, sizeof(p), "%s/nope", root);
    cr_expect_eq(kt_model_load(p, &l, err, sizeof(err)), KT_ENOENT);
    cr_expect(strstr(err, p) != NULL, "%s", err);
    save_one(path, sizeof(path));
    snprintf(p, sizeof(p), "%s/model.pb", path);
    cr_assert_eq(unlink(p), 0);
    cr_expect_eq(kt_model_load(path, &l, err, sizeof(err)), KT_ENOENT);
    cr_expect(strstr(err, "model.pb") != NULL, "%s", err);
    snprintf(p, sizeof(p), "%s/MANIFEST", path);
    cr_assert_eq(unlink(p), 0);
    cr_expect_eq(kt_model_load(path, &l, err, sizeof(err)), KT_ENOENT);
    cr_expect(strstr(err, "MANIFEST") != NULL, "%s", err);
    cr_expect_null(l);
}

Test(model, load_detects_checksum_mismatch_and_other_versions)
{
    char path[512], err[600];
    kt_model *l = NULL;
    save_one(path, sizeof(path));
    rewrite(path, "metadata.json", "\"1h\"", "\"2h\"");
    cr_expect_eq(kt_model_load(path, &l, err, sizeof(err)), KT_ECORRUPT);
    cr_expect(strstr(err, "metadata.json") != NULL, "%s", err);
    rewrite(path, "metadata.json", "\"2h\"", "\"1h\"");
    cr_assert_eq(kt_model_load(path, &l, err, sizeof(err)), KT_OK, "%s", err);
    kt_model_free(l);
    l = NULL;
    rewrite(path, "model.pb", "1h_rsi", "1h_RSI");
    cr_expect_eq(kt_model_load(path, &l, err, sizeof(err)), KT_ECORRUPT);
    cr_expect(strstr(err, "model.pb") != NULL, "%s", err);
    rewrite(path, "MANIFEST", "kt-model 1", "kt-model 9");
    cr_expect_eq(kt_model_load(path, &l, err, sizeof(err)), KT_EVERSION);
    cr_expect(strstr(err, "version 9") != NULL, "%s", err);
    rewrite(path, "MANIFEST", "kt-model 9", "xx-model 1");
    cr_expect_eq(kt_model_load(path, &l, err, sizeof(err)), KT_ECORRUPT);
    cr_expect_null(l);
}

Test(model, check_features_names_the_first_difference)
{
    kt_model *m = sample();
    char err[300];
    char *same[] = {f0, f1, f2, f3};
    char *swapped[] = {f0, f2, f1, f3};
    cr_expect_eq(kt_model_check_features(m, same, 4, err, 300), KT_OK);
    cr_expect_eq(kt_model_check_features(m, swapped, 4, err, 300), KT_EINVAL);
    cr_expect(strstr(err, "feature 1 is '1h_rsi_high'") &&
                  strstr(err, "'1h_rsi_mid'"),
              "%s", err);
    cr_expect_eq(kt_model_check_features(m, same, 3, err, 300), KT_EINVAL);
    cr_expect(strstr(err, "3 features") != NULL, "%s", err);
    kt_model_free(m);
}
