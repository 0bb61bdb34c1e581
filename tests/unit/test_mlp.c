// test_mlp.c: the MLP against a double-precision reference written here:
// configuration checks, PyTorch init, layouts, inference, dropout, and the
// backward pass against finite differences.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "domain/mlp.h"

static kt_mlp_cfg
cfg_of(int in, int h0, int h1, kt_activation act, double dropout)
{
    kt_mlp_cfg c = {.n_inputs = in, .activation = act, .dropout = dropout};
    c.n_hidden = (h0 > 0) + (h1 > 0);
    c.hidden[0] = h0;
    c.hidden[1] = h1;
    return c;
}

static kt_mlp *
make(kt_mlp_cfg c, uint64_t seed)
{
    kt_mlp *m = NULL;
    kt_rng r;
    cr_assert_eq(kt_mlp_alloc(&c, &m), KT_OK);
    kt_rng_seed(&r, seed);
    kt_mlp_init(m, &r);
    return m;
}

Test(mlp, cfg_check_rejects_each_bad_field)
{
    kt_mlp_cfg good = cfg_of(12, 64, 32, KT_ACT_RELU, 0.2);
    char err[128];
    cr_expect_eq(kt_mlp_cfg_check(&good, err, sizeof(err)), KT_OK);
    kt_mlp_cfg bad[9];
    for (int i = 0; i < 9; i++) {
        bad[i] = good;
    }
    bad[0].n_inputs = 0;
    bad[1].n_inputs = KT_MLP_MAX_WIDTH + 1;
    bad[2].n_hidden = -1;
    bad[3].n_hidden = KT_MLP_MAX_LAYERS + 1;
    bad[4].hidden[1] = 0;
    bad[5].activation = (kt_activation)7;
    bad[6].dropout = -0.1;
    bad[7].dropout = 1.0;
    bad[8].dropout = NAN;
    for (int i = 0; i < 9; i++) {
        err[0] = 0;
        cr_expect_eq(kt_mlp_cfg_check(&bad[i], err, sizeof(err)), KT_EINVAL,
                     "case %d", i);
        cr_expect(strncmp(err, "mlp: ", 5) == 0, "case %d: '%s'", i, err);
        kt_mlp *m = (kt_mlp *)&good; // must stay untouched
        cr_expect_eq(kt_mlp_alloc(&bad[i], &m), KT_EINVAL);
        cr_expect_eq(m, (kt_mlp *)&good);
    }
}

Test(mlp, shapes_and_parameter_count_follow_the_architecture)
{
    kt_mlp *m = make(cfg_of(12, 64, 32, KT_ACT_RELU, 0.2), 1);
    cr_expect_eq(kt_mlp_n_params(m), 12 * 64 + 64 + 64 * 32 + 32 + 32 * 3 + 3);
    cr_expect_eq(kt_mlp_n_layers(m), 3);
    int in, out;
    kt_mlp_layer_shape(m, 2, &in, &out);
    cr_expect(in == 32 && out == 3);
    kt_mlp_layer_shape(m, 3, &in, &out);
    cr_expect(in == 0 && out == 0);
    cr_expect_eq(kt_mlp_cfg_of(m)->hidden[1], 32);
    kt_mlp_free(m);
    kt_mlp_cfg lin = cfg_of(5, 0, 0, KT_ACT_RELU, 0.0); // no hidden layer
    m = make(lin, 1);
    cr_expect_eq(kt_mlp_n_params(m), 5 * 3 + 3);
    kt_mlp_free(m);
}

Test(mlp, init_is_seeded_and_within_pytorch_bounds)
{
    kt_mlp_cfg c = cfg_of(12, 64, 32, KT_ACT_RELU, 0.2);
    kt_mlp *a = make(c, 42), *b = make(c, 42), *d = make(c, 43);
    size_t n = kt_mlp_n_params(a);
    cr_expect(memcmp(kt_mlp_params(a), kt_mlp_params(b), n * 4) == 0);
    cr_expect(memcmp(kt_mlp_params(a), kt_mlp_params(d), n * 4) != 0);
    static float w[64 * 32], bias[64];
    for (int l = 0; l < 3; l++) {
        int in, out;
        kt_mlp_layer_shape(a, l, &in, &out);
        cr_assert_eq(kt_mlp_get_layer(a, l, w, bias), KT_OK);
        float bound = 1.0f / sqrtf((float)in);
        double sum = 0, mx = 0;
        for (int i = 0; i < in * out; i++) {
            cr_expect(fabsf(w[i]) <= bound);
            sum += w[i];
            mx = fabs(w[i]) > mx ? fabs(w[i]) : mx;
        }
        for (int o = 0; o < out; o++) {
            cr_expect(fabsf(bias[o]) <= bound);
        }
        cr_expect(fabs(sum / (in * out)) < 0.2 * bound, "layer %d mean", l);
        cr_expect(mx > 0.8 * bound, "layer %d spans the range", l);
    }
    kt_mlp_free(a), kt_mlp_free(b), kt_mlp_free(d);
}

Test(mlp, layers_round_trip_in_pytorch_layout)
{
    kt_mlp *m = make(cfg_of(3, 2, 0, KT_ACT_RELU, 0.0), 5);
    float w[6] = {1, 2, 3, 4, 5, 6}, b[2] = {7, 8}, w2[6], b2[2];
    cr_assert_eq(kt_mlp_set_layer(m, 0, w, b), KT_OK);
    cr_assert_eq(kt_mlp_get_layer(m, 0, w2, b2), KT_OK);
    cr_expect(memcmp(w, w2, sizeof(w)) == 0 && memcmp(b, b2, sizeof(b)) == 0);
    // Row o of PyTorch's weight is output o: x = e_0 gives w[o][0] + b[o].
    float x[3] = {1, 0, 0}, logits[3];
    float hw[6] = {0}, hb[3] = {0};
    hw[0] = 1;         // logit 0 = hidden 0
    hw[2 * 1 + 1] = 1; // logit 1 = hidden 1
    cr_assert_eq(kt_mlp_set_layer(m, 1, hw, hb), KT_OK);
    kt_mlp_logits(m, x, logits);
    cr_expect_float_eq(logits[0], 1 + 7, 1e-6);
    cr_expect_float_eq(logits[1], 4 + 8, 1e-6);
    cr_expect_float_eq(logits[2], 0, 1e-6);
    cr_expect_eq(kt_mlp_get_layer(m, 2, w2, b2), KT_EINVAL);
    cr_expect_eq(kt_mlp_set_layer(m, -1, w, b), KT_EINVAL);
    kt_mlp_free(m);
}

// ---- double-precision reference network ----

typedef struct ref_net {
    int nl, in[4], out[4];
    double w[4][64 * 64], b[4][64]; // w[l][o * in + i]
    kt_activation act;
} ref_net;

static void
ref_load(ref_net *r, const kt_mlp *m)
{
    static float w[64 * 64], b[64];
    r->nl = kt_mlp_n_layers(m);
    r->act = kt_mlp_cfg_of(m)->activation;
    for (int l = 0; l < r->nl; l++) {
        kt_mlp_layer_shape(m, l, &r->in[l], &r->out[l]);
        cr_assert_eq(kt_mlp_get_layer(m, l, w, b), KT_OK);
        for (int i = 0; i < r->in[l] * r->out[l]; i++) {
            r->w[l][i] = w[i];
        }
        for (int o = 0; o < r->out[l]; o++) {
            r->b[l][o] = b[o];
        }
    }
}

// Logits of one row; mask (may be NULL) holds per-layer dropout factors.
static void
ref_forward(const ref_net *r, const float *x, const float *const *mask,
            double z[3])
{
    double a[64], y[64];
    int n = r->in[0];
    for (int i = 0; i < n; i++) {
        a[i] = x[i];
    }
    for (int l = 0; l < r->nl; l++) {
        for (int o = 0; o < r->out[l]; o++) {
            double s = r->b[l][o];
            for (int i = 0; i < r->in[l]; i++) {
                s += r->w[l][o * r->in[l] + i] * a[i];
            }
            y[o] = s;
        }
        for (int o = 0; o < r->out[l]; o++) {
            if (l < r->nl - 1) {
                y[o] =
                    r->act == KT_ACT_TANH ? tanh(y[o]) : (y[o] > 0 ? y[o] : 0);
                y[o] *= mask ? mask[l][o] : 1.0;
            }
            a[o] = y[o];
        }
    }
    for (int c = 0; c < 3; c++) {
        z[c] = a[c];
    }
}

Test(mlp, predict_is_the_softmax_of_the_reference_logits)
{
    kt_mlp_cfg cs[2] = {cfg_of(12, 64, 32, KT_ACT_RELU, 0.2),
                        cfg_of(6, 17, 0, KT_ACT_TANH, 0.0)};
    for (int k = 0; k < 2; k++) {
        kt_mlp *m = make(cs[k], 9 + (uint64_t)k);
        static ref_net r;
        ref_load(&r, m);
        kt_mlp_work *w;
        cr_assert_eq(kt_mlp_work_alloc(m, 8, &w), KT_OK);
        float x[8 * 12], batch_z[8 * 3];
        for (int i = 0; i < 8 * 12; i++) {
            x[i] = (float)((i * 37 % 101) / 101.0);
        }
        kt_mlp_forward(m, w, x, 8, NULL, batch_z);
        int in = cs[k].n_inputs;
        for (int row = 0; row < 8; row++) {
            float p[3], z[3];
            double rz[3], mx, s = 0;
            kt_mlp_predict(m, x + row * in, p);
            kt_mlp_logits(m, x + row * in, z);
            cr_expect(memcmp(z, batch_z + row * 3, sizeof(z)) == 0,
                      "single-row and batched logits agree bit for bit");
            ref_forward(&r, x + row * in, NULL, rz);
            mx = fmax(rz[0], fmax(rz[1], rz[2]));
            for (int c = 0; c < 3; c++) {
                s += exp(rz[c] - mx);
            }
            cr_expect_float_eq(p[0] + p[1] + p[2], 1.0f, 1e-6);
            for (int c = 0; c < 3; c++) {
                cr_expect(fabs(z[c] - rz[c]) < 1e-5);
                cr_expect(fabs(p[c] - exp(rz[c] - mx) / s) < 1e-6);
            }
        }
        kt_mlp_work_free(w);
        kt_mlp_free(m);
    }
}

Test(mlp, argmax_takes_the_first_of_ties)
{
    float a[3] = {1, 3, 3}, b[3] = {2, 2, 2}, c[3] = {0, -1, 0.5f};
    cr_expect_eq(kt_mlp_argmax(a), 1);
    cr_expect_eq(kt_mlp_argmax(b), 0);
    cr_expect_eq(kt_mlp_argmax(c), 2);
}

Test(mlp, work_alloc_refuses_empty_batches)
{
    kt_mlp *m = make(cfg_of(4, 3, 0, KT_ACT_RELU, 0.0), 1);
    kt_mlp_work *w = NULL;
    cr_expect_eq(kt_mlp_work_alloc(m, 0, &w), KT_EINVAL);
    cr_expect_null(w);
    kt_mlp_free(m);
    kt_mlp_free(NULL);
    kt_mlp_work_free(NULL);
}

Test(mlp, clone_is_deep)
{
    kt_mlp *m = make(cfg_of(4, 3, 0, KT_ACT_RELU, 0.0), 1), *c;
    cr_assert_eq(kt_mlp_clone(m, &c), KT_OK);
    size_t n = kt_mlp_n_params(m);
    cr_expect(memcmp(kt_mlp_params(m), kt_mlp_params_const(c), n * 4) == 0);
    kt_mlp_params(m)[0] += 1.0f;
    cr_expect(kt_mlp_params(m)[0] != kt_mlp_params(c)[0]);
    kt_mlp_free(m), kt_mlp_free(c);
}

// Rebuilds the masks kt_mlp_forward draws (the documented rule: per hidden
// layer, n x width elements row-major, two per 64-bit draw, kept when the
// 32-bit half is >= p * 2^32, scaled by 1 / (1 - p)).
static void
ref_masks(kt_rng rng, double p, const ref_net *r, int n, float *masks)
{
    uint64_t thresh = (uint64_t)(p * 4294967296.0);
    float keep = (float)(1.0 / (1.0 - p));
    for (int l = 0; l < r->nl - 1; l++) {
        size_t sz = (size_t)n * (size_t)r->out[l];
        for (size_t i = 0; i < sz; i += 2) {
            uint64_t v = kt_rng_next(&rng);
            masks[i] = (v & 0xffffffffu) >= thresh ? keep : 0.0f;
            if (i + 1 < sz) {
                masks[i + 1] = (v >> 32) >= thresh ? keep : 0.0f;
            }
        }
        masks += sz;
    }
}

enum { GB = 6 }; // rows in the gradient-check batch

static double
ref_loss(const ref_net *r, const float *x, const float *masks, const float *dz)
{
    double loss = 0;
    for (int row = 0; row < GB; row++) {
        const float *mk[3] = {NULL, NULL, NULL};
        const float *p = masks;
        for (int l = 0; masks && l < r->nl - 1; l++) {
            mk[l] = p + row * r->out[l];
            p += GB * r->out[l];
        }
        double z[3];
        ref_forward(r, x + row * r->in[0], masks ? mk : NULL, z);
        for (int c = 0; c < 3; c++) {
            loss += dz[row * 3 + c] * z[c];
        }
    }
    return loss;
}

// Central differences in double against kt_mlp_backward's float gradient.
static void
grad_check(kt_mlp_cfg c, int with_dropout)
{
    kt_mlp *m = make(c, 77);
    static ref_net r;
    ref_load(&r, m);
    kt_mlp_work *w;
    cr_assert_eq(kt_mlp_work_alloc(m, GB, &w), KT_OK);
    float x[GB * 16], dz[GB * 3], z[GB * 3], masks[GB * 64];
    for (int i = 0; i < GB * c.n_inputs; i++) {
        x[i] = (float)sin(i * 1.7) * 2.0f;
    }
    for (int i = 0; i < GB * 3; i++) {
        dz[i] = (float)cos(i * 0.9);
    }
    kt_rng rng;
    kt_rng_seed(&rng, 5);
    ref_masks(rng, c.dropout, &r, GB, masks);
    kt_mlp_forward(m, w, x, GB, with_dropout ? &rng : NULL, z);
    size_t np = kt_mlp_n_params(m);
    float *g = malloc(np * sizeof(float));
    cr_assert_not_null(g);
    kt_mlp_backward(m, w, dz, g);
    size_t off = 0;
    const float *mk = with_dropout ? masks : NULL;
    for (int l = 0; l < r.nl; l++) {
        int in = r.in[l], out = r.out[l];
        for (int e = 0; e < in * out + out; e++) {
            double *v = e < in * out ? &r.w[l][e] : &r.b[l][e - in * out];
            // internal layout: W^T [in][out] then bias
            size_t gi = e < in * out ? off + (size_t)(e % in) * out + e / in
                                     : off + (size_t)e;
            double h = 1e-6, v0 = *v;
            *v = v0 + h;
            double lp = ref_loss(&r, x, mk, dz);
            *v = v0 - h;
            double lm = ref_loss(&r, x, mk, dz);
            *v = v0;
            double fd = (lp - lm) / (2 * h);
            cr_expect(fabs(g[gi] - fd) <= 1e-4 + 1e-3 * fabs(fd),
                      "layer %d elem %d: backward %g, finite diff %g", l, e,
                      g[gi], fd);
        }
        off += (size_t)in * out + out;
    }
    cr_expect_eq(off, np);
    free(g);
    kt_mlp_work_free(w);
    kt_mlp_free(m);
}

Test(mlp, backward_matches_finite_differences_relu)
{
    grad_check(cfg_of(5, 9, 4, KT_ACT_RELU, 0.0), 0);
}

Test(mlp, backward_matches_finite_differences_tanh)
{
    grad_check(cfg_of(16, 11, 8, KT_ACT_TANH, 0.0), 0);
}

Test(mlp, backward_matches_finite_differences_with_dropout)
{
    grad_check(cfg_of(5, 20, 9, KT_ACT_RELU, 0.3), 1);
    grad_check(cfg_of(7, 13, 0, KT_ACT_TANH, 0.5), 1);
}

Test(mlp, dropout_drops_the_configured_fraction_and_only_when_training)
{
    kt_mlp *m = make(cfg_of(8, 64, 0, KT_ACT_TANH, 0.25), 3);
    kt_mlp_work *w;
    cr_assert_eq(kt_mlp_work_alloc(m, 256, &w), KT_OK);
    static float x[256 * 8], z1[256 * 3], z2[256 * 3], z3[256 * 3];
    for (int i = 0; i < 256 * 8; i++) {
        x[i] = (float)((i % 13) - 6) / 6.0f;
    }
    kt_rng rng, before;
    kt_rng_seed(&rng, 11);
    before = rng;
    kt_mlp_forward(m, w, x, 256, NULL, z1);
    cr_expect(memcmp(&rng, &before, sizeof(rng)) == 0, "eval draws nothing");
    kt_mlp_forward(m, w, x, 256, &rng, z2);
    cr_expect(memcmp(&rng, &before, sizeof(rng)) != 0);
    cr_expect(memcmp(z1, z2, sizeof(z1)) != 0);
    // The drop rate over 256 x 64 masks, from the reference rule.
    static ref_net r;
    ref_load(&r, m);
    static float masks[256 * 64];
    ref_masks(before, 0.25, &r, 256, masks);
    int zeros = 0;
    for (int i = 0; i < 256 * 64; i++) {
        zeros += masks[i] == 0.0f;
    }
    cr_expect(fabs(zeros / (256.0 * 64) - 0.25) < 0.02, "drop rate %g",
              zeros / (256.0 * 64));
    // Same seed, same draws.
    kt_rng again = before;
    kt_mlp_forward(m, w, x, 256, &again, z3);
    cr_expect(memcmp(z2, z3, sizeof(z2)) == 0);
    kt_mlp_work_free(w);
    kt_mlp_free(m);
    // dropout 0 draws nothing even in training mode
    m = make(cfg_of(8, 4, 0, KT_ACT_RELU, 0.0), 3);
    cr_assert_eq(kt_mlp_work_alloc(m, 4, &w), KT_OK);
    before = rng;
    kt_mlp_forward(m, w, x, 4, &rng, z1);
    cr_expect(memcmp(&rng, &before, sizeof(rng)) == 0);
    kt_mlp_work_free(w);
    kt_mlp_free(m);
}
