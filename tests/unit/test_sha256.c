// sha256: FIPS 180-4 test vectors, incremental == one-shot over every split.
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <kt/sha256.h>

static void
expect_hex(const void *data, size_t len, const char *want)
{
    uint8_t d[32];
    char hex[65];
    kt_sha256(data, len, d);
    kt_sha256_hex(d, hex);
    cr_expect_str_eq(hex, want);
}

Test(store_sha256, standard_vectors)
{
    expect_hex("", 0,
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
               "b855");
    expect_hex("abc", 3,
               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f200"
               "15ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    expect_hex(m, strlen(m),
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db"
               "06c1");
}

Test(store_sha256, million_a)
{
    char *buf = malloc(1000000);
    memset(buf, 'a', 1000000);
    expect_hex(buf, 1000000,
               "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc711"
               "2cd0");
    free(buf);
}

Test(store_sha256, incremental_matches_one_shot_for_every_split)
{
    uint8_t data[200], a[32], b[32];
    for (int i = 0; i < 200; i++) {
        data[i] = (uint8_t)(i * 13 + 7);
    }
    for (size_t len = 0; len <= 200; len += 11) {
        kt_sha256(data, len, a);
        for (size_t cut = 0; cut <= len; cut++) {
            kt_sha256_ctx c;
            kt_sha256_init(&c);
            kt_sha256_update(&c, data, cut);
            kt_sha256_update(&c, data + cut, len - cut);
            kt_sha256_final(&c, b);
            cr_assert_arr_eq(a, b, 32, "len %zu cut %zu", len, cut);
        }
    }
}

Test(store_sha256, portable_and_hardware_paths_agree)
{
    uint8_t *data = malloc(100000), a[32], b[32];
    for (int i = 0; i < 100000; i++) {
        data[i] = (uint8_t)(i * 2654435761u >> 11);
    }
    bool hw = kt_sha256_hw(0);
    for (size_t len = 0; len < 100000; len = len * 3 + 61) {
        (void)kt_sha256_hw(0);
        kt_sha256(data, len, a);
        (void)kt_sha256_hw(1);
        kt_sha256(data, len, b);
        cr_assert_arr_eq(a, b, 32, "len %zu (hw %d)", len, hw);
    }
    (void)kt_sha256_hw(0);
    expect_hex("abc", 3,
               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f200"
               "15ad");
    free(data);
}
