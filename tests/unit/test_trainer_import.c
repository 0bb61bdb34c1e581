// test_trainer_import.c: the trainer checkpoint decoder's error paths:
// every truncated prefix, flipped bits and garbage, other versions, and
// features that do not fit.
#include "trainer_fx.h"

static void
small_export(const data *d, uint8_t **buf, size_t *len)
{
    kt_mlp_cfg m = {.n_inputs = 3,
                    .n_hidden = 1,
                    .hidden = {4},
                    .activation = KT_ACT_TANH,
                    .dropout = 0.1};
    kt_train_cfg c = tcfg(3);
    kt_trainer *t = new_ok(&m, &c, d);
    cr_assert_eq(kt_trainer_run_epoch(t, NULL), KT_OK);
    cr_assert_eq(kt_trainer_export(t, buf, len), KT_OK);
    kt_trainer_free(t);
}

Test(trainer, import_refuses_every_truncated_prefix)
{
    data d = make_data(60, 3, 1);
    uint8_t *buf;
    size_t len;
    small_export(&d, &buf, &len);
    char err[200];
    for (size_t n = 0; n < len; n++) {
        uint8_t *cp = malloc(n + 1); // exact size: ASan sees any overread
        cr_assert_not_null(cp);
        memcpy(cp, buf, n);
        kt_trainer *t = NULL;
        err[0] = 0;
        kt_err rv = kt_trainer_import(&d.f, d.y, cp, n, &t, err, 200);
        cr_expect(rv == KT_EPROTO || rv == KT_ECORRUPT, "prefix %zu of %zu: %d",
                  n, len, rv);
        cr_expect_null(t);
        cr_expect(strlen(err) > 0);
        free(cp);
    }
    kt_trainer *t = NULL;
    cr_expect_eq(kt_trainer_import(&d.f, d.y, buf, len, &t, err, 200), KT_OK);
    kt_trainer_free(t);
    free(buf);
    free_data(&d);
}

Test(trainer, import_detects_flipped_bits_and_garbage)
{
    data d = make_data(60, 3, 1);
    uint8_t *buf;
    size_t len;
    small_export(&d, &buf, &len);
    char err[200];
    for (size_t i = 0; i < len; i += 7) {
        buf[i] ^= 0x10;
        kt_trainer *t = NULL;
        kt_err rv = kt_trainer_import(&d.f, d.y, buf, len, &t, err, 200);
        cr_expect(rv == KT_EPROTO || rv == KT_ECORRUPT || rv == KT_EVERSION,
                  "byte %zu: %d", i, rv);
        cr_expect_null(t);
        buf[i] ^= 0x10;
    }
    uint8_t junk[64];
    for (int i = 0; i < 64; i++) {
        junk[i] = (uint8_t)(i * 73 + 5);
    }
    kt_trainer *t = NULL;
    kt_err rv = kt_trainer_import(&d.f, d.y, junk, sizeof(junk), &t, err, 200);
    cr_expect(rv == KT_EPROTO || rv == KT_ECORRUPT, "%d", rv);
    free(buf);
    free_data(&d);
}

Test(trainer, import_refuses_other_versions)
{
    data d = make_data(60, 3, 1);
    uint8_t *buf;
    size_t len;
    small_export(&d, &buf, &len);
    Ktpb__V1__TrainerCheckpoint *ck =
        ktpb__v1__trainer_checkpoint__unpack(NULL, len, buf);
    cr_assert_not_null(ck);
    ck->format_version = KT_TRAINER_FORMAT_VERSION + 1;
    size_t n = ktpb__v1__trainer_checkpoint__get_packed_size(ck);
    uint8_t *other = malloc(n);
    cr_assert_not_null(other);
    ktpb__v1__trainer_checkpoint__pack(ck, other);
    char err[200];
    kt_trainer *t = NULL;
    cr_expect_eq(kt_trainer_import(&d.f, d.y, other, n, &t, err, 200),
                 KT_EVERSION);
    cr_expect(strstr(err, "version 2") != NULL, "%s", err);
    cr_expect_null(t);
    ktpb__v1__trainer_checkpoint__free_unpacked(ck, NULL);
    free(other);
    free(buf);
    free_data(&d);
}

Test(trainer, import_refuses_features_that_do_not_fit)
{
    data d = make_data(60, 3, 1), wide = make_data(60, 4, 1);
    data longer = make_data(80, 3, 1);
    uint8_t *buf;
    size_t len;
    small_export(&d, &buf, &len);
    char err[200];
    kt_trainer *t = NULL;
    cr_expect_eq(kt_trainer_import(&wide.f, wide.y, buf, len, &t, err, 200),
                 KT_EINVAL);
    cr_expect(strstr(err, "3 inputs") && strstr(err, "4 columns"), "%s", err);
    cr_expect_eq(kt_trainer_import(&longer.f, longer.y, buf, len, &t, err, 200),
                 KT_EINVAL);
    cr_expect(strstr(err, "60 rows") != NULL, "%s", err);
    cr_expect_null(t);
    free(buf);
    free_data(&d), free_data(&wide), free_data(&longer);
}
