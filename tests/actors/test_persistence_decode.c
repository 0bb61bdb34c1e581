// The in-place CheckpointEvent decoder against protobuf-c's unpack: random
// events (with unknown fields mixed in), every truncation and random byte
// flips must be accepted or refused alike and decode to the same fields;
// the artifact bytes must point into the message, not at a copy.
#include <ktpb/v1/persist.pb-c.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "persistence/persist_int.h"

#define S(x) ((char *)(uintptr_t)(x))

static uint64_t rng = 88172645463325252ull;

static uint64_t
rnd(void)
{
    static bool seeded;
    if (!seeded && getenv("KT_DECODE_SEED") != NULL) { // replay other inputs
        rng = strtoull(getenv("KT_DECODE_SEED"), NULL, 10) | 1;
    }
    seeded = true;
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

typedef struct gen {
    uint8_t buf[8192];
    size_t len;
} gen;

// pack_random packs a random event into g (and appends unknown fields).
static void
pack_random(gen *g)
{
    static char names[5][16];
    static uint8_t data[5][300], sha[5][32], state[200];
    Ktpb__V1__CheckpointEvent e;
    Ktpb__V1__Artifact a[5], *pa[5];
    size_t na = rnd() % 5;

    ktpb__v1__checkpoint_event__init(&e);
    e.op_id = S(rnd() % 4 ? "op_random.1" : "");
    e.attempt = (uint32_t)rnd();
    e.seq = rnd() % 3 ? rnd() % 1000 : rnd();
    e.type = (Ktpb__V1__CheckpointType)(rnd() % 6);
    e.unit = S(rnd() % 2 ? "epoch" : "bar");
    e.unit_value = (int64_t)rnd();
    e.state.len = rnd() % sizeof(state);
    e.state.data = state;
    e.format_version = (uint32_t)(rnd() % 3);
    for (size_t i = 0; i < na; i++) {
        ktpb__v1__artifact__init(&a[i]);
        snprintf(names[i], sizeof(names[i]), "n%zu.%u", i,
                 (unsigned)(rnd() % 100));
        a[i].name = names[i];
        a[i].data.len = rnd() % sizeof(data[i]);
        a[i].data.data = data[i];
        for (size_t j = 0; j < a[i].data.len; j++) {
            data[i][j] = (uint8_t)rnd();
        }
        a[i].sha256.len = rnd() % 3 == 0 ? 32 : rnd() % 7 == 0 ? 5 : 0;
        a[i].sha256.data = sha[i];
        a[i].size = rnd() % 2 ? rnd() : 0;
        pa[i] = &a[i];
    }
    e.n_artifacts = na;
    e.artifacts = pa;
    g->len = ktpb__v1__checkpoint_event__pack(&e, g->buf);
    if (rnd() % 3 == 0) { // unknown fields: 15 varint, 16 len, 17/18 fixed
        static const uint8_t unk[] = {
            0x78, 0x96, 0x01, 0x82, 0x01, 0x02, 'h', 'i', 0x8d, 0x01, 1, 2,
            3,    4,    0x91, 0x01, 1,    2,    3,   4,   5,    6,    7, 8};
        memcpy(g->buf + g->len, unk, sizeof(unk));
        g->len += sizeof(unk);
    }
}

static void
expect_same(const Ktpb__V1__CheckpointEvent *m, const kt__ckpt_decoded *d)
{
    const kt_ckpt_event *e = &d->e;
    cr_assert_str_eq(e->op_id, m->op_id);
    cr_assert_eq(e->attempt, m->attempt);
    cr_assert_eq(e->seq, m->seq);
    cr_assert_eq((int)e->type, (int)m->type);
    cr_assert_str_eq(e->unit, m->unit);
    cr_assert_eq(e->unit_value, m->unit_value);
    cr_assert_eq(e->state_len, m->state.len);
    if (m->state.len > 0) { // memcmp wants non-NULL pointers
        cr_assert_arr_eq(e->state, m->state.data, m->state.len);
    }
    cr_assert_eq(e->format_version, m->format_version);
    cr_assert_eq(e->nartifacts, m->n_artifacts);
    bool bad = false;
    for (size_t i = 0; i < m->n_artifacts; i++) {
        const Ktpb__V1__Artifact *a = m->artifacts[i];
        cr_assert_str_eq(e->artifacts[i].name, a->name);
        cr_assert_eq(e->artifacts[i].len, a->data.len);
        if (a->data.len > 0) {
            cr_assert_arr_eq(e->artifacts[i].data, a->data.data, a->data.len);
        }
        cr_assert_eq(e->artifacts[i].sha256 != NULL, a->sha256.len > 0);
        if (a->sha256.len > 0) {
            cr_assert_arr_eq(e->artifacts[i].sha256, a->sha256.data,
                             a->sha256.len);
        }
        bad |= a->sha256.len != 0 && a->sha256.len != 32;
    }
    cr_assert_eq(d->bad_hash, bad);
}

// check_both decodes buf[n] both ways: same verdict, same fields.
static bool
check_both(const uint8_t *buf, size_t n)
{
    Ktpb__V1__CheckpointEvent *m =
        ktpb__v1__checkpoint_event__unpack(NULL, n, buf);
    kt__ckpt_decoded d;
    kt_err rv = kt__persist_decode_event(buf, n, &d);
    if ((rv == KT_OK) != (m != NULL)) {
        char hex[3 * 400 + 1] = "";
        for (size_t i = 0; i < n && i < 400; i++) {
            snprintf(hex + 3 * i, 4, "%02x ", buf[i]);
        }
        cr_assert_fail("verdicts differ on %zu bytes: ours %d, protobuf-c %s: "
                       "%s",
                       n, (int)rv, m != NULL ? "accepts" : "refuses", hex);
    }
    if (m != NULL) {
        expect_same(m, &d);
        ktpb__v1__checkpoint_event__free_unpacked(m, NULL);
    } else {
        cr_assert_eq(rv, KT_EPROTO);
    }
    kt__persist_decoded_fini(&d);
    return rv == KT_OK;
}

Test(persist_decode, random_events_decode_like_protobuf_c)
{
    gen g;
    for (int i = 0; i < 2000; i++) {
        pack_random(&g);
        cr_assert(check_both(g.buf, g.len));
    }
}

Test(persist_decode, every_truncation_is_judged_like_protobuf_c)
{
    gen g;
    int refused = 0;
    for (int i = 0; i < 40; i++) {
        pack_random(&g);
        for (size_t n = 0; n <= g.len; n++) {
            refused += !check_both(g.buf, n);
        }
    }
    cr_expect_gt(refused, 0, "some truncations are malformed");
}

Test(persist_decode, byte_flips_are_judged_like_protobuf_c)
{
    gen g;
    for (int i = 0; i < 3000; i++) {
        pack_random(&g);
        size_t k = 1 + rnd() % 3;
        for (size_t j = 0; j < k && g.len > 0; j++) {
            g.buf[rnd() % g.len] ^= (uint8_t)(1u << (rnd() % 8));
        }
        (void)check_both(g.buf, g.len);
    }
}

Test(persist_decode, malformed_inputs_are_refused)
{
    static const struct {
        uint8_t b[12];
        size_t n;
    } bad[] = {
        {{0x00, 0x01}, 2},      // field number 0
        {{0x0b}, 1},            // group start
        {{0x0a, 0x05, 'a'}, 3}, // length past the end
        {{0x10}, 1},            // varint missing
        {{0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0x01},
         12},                          // 11-byte varint
        {{0x08, 0x01}, 2},             // op_id (LEN) as a varint
        {{0x12, 0x01, 0x01}, 3},       // attempt (varint) as LEN
        {{0x42, 0x02, 0x08, 0x01}, 4}, // artifact name as a varint
        {{0x42, 0x02, 0x22, 0x00}, 4}, // artifact size as LEN
        {{0x1d, 1, 2}, 3},             // truncated fixed32
    };
    kt__ckpt_decoded d;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(kt__persist_decode_event(bad[i].b, bad[i].n, &d),
                     KT_EPROTO, "case %zu", i);
        cr_expect_null(
            ktpb__v1__checkpoint_event__unpack(NULL, bad[i].n, bad[i].b),
            "protobuf-c agrees on case %zu", i);
        kt__persist_decoded_fini(&d);
    }
    cr_expect_eq(kt__persist_decode_event(NULL, 0, &d), KT_OK, "empty");
    cr_expect_eq(d.e.nartifacts, 0);
    cr_expect_str_eq(d.e.op_id, "");
    kt__persist_decoded_fini(&d);
}

Test(persist_decode, artifact_bytes_are_borrowed_not_copied)
{
    gen g;
    kt__ckpt_decoded d;
    do {
        pack_random(&g);
        cr_assert_eq(kt__persist_decode_event(g.buf, g.len, &d), KT_OK);
        if (d.e.nartifacts == 0 || d.e.artifacts[0].len == 0) {
            kt__persist_decoded_fini(&d);
        }
    } while (d.arts == NULL);
    const uint8_t *p = d.e.artifacts[0].data;
    cr_expect(p >= g.buf && p + d.e.artifacts[0].len <= g.buf + g.len);
    cr_expect(d.e.state == NULL ||
              (d.e.state >= g.buf && d.e.state < g.buf + g.len));
    kt__persist_decoded_fini(&d);
}
