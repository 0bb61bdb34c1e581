// mlp.c: the strategy MLP: parameters in one flat vector, batched
// forward/backward for training on kt/vec.h kernels, and the
// allocation-free single-row inference the backtest calls per bar.
#include "domain/mlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kt/vec.h>

#define MLP_MAX_L (KT_MLP_MAX_LAYERS + 1)

struct kt_mlp {
    kt_mlp_cfg cfg;
    int n_layers;       // n_hidden + 1
    int in[MLP_MAX_L];  // fan-in per layer
    int out[MLP_MAX_L]; // fan-out per layer
    size_t w_off[MLP_MAX_L];
    size_t b_off[MLP_MAX_L];
    size_t n_params;
    int max_width;
    float *p;
};

struct kt_mlp_work {
    size_t max_batch;
    size_t n;               // rows of the last forward
    int dropped;            // the last forward applied dropout
    float *x;               // n * n_inputs: copy of the input rows
    float *h[MLP_MAX_L];    // hidden outputs after the activation
    float *d[MLP_MAX_L];    // ... after dropout (only when dropped)
    float *mask[MLP_MAX_L]; // 0 or 1 / (1 - p)
    float *g0, *g1;         // n * max_width gradient ping-pong
    float *wt;              // a transposed weight matrix
    float *mem;
};

kt_err
kt_mlp_cfg_check(const kt_mlp_cfg *c, char *err, size_t errlen)
{
    const char *why = NULL;
    if (c->n_inputs < 1 || c->n_inputs > KT_MLP_MAX_WIDTH) {
        why = "n_inputs must be in [1, 1024]";
    } else if (c->n_hidden < 0 || c->n_hidden > KT_MLP_MAX_LAYERS) {
        why = "at most 8 hidden layers";
    } else if (c->activation != KT_ACT_RELU && c->activation != KT_ACT_TANH) {
        why = "activation must be relu or tanh";
    } else if (!(c->dropout >= 0.0 && c->dropout < 1.0)) {
        why = "dropout must be in [0, 1)";
    }
    for (int i = 0; why == NULL && i < c->n_hidden; i++) {
        if (c->hidden[i] < 1 || c->hidden[i] > KT_MLP_MAX_WIDTH) {
            why = "hidden layer widths must be in [1, 1024]";
        }
    }
    if (why != NULL) {
        if (errlen > 0) {
            snprintf(err, errlen, "mlp: %s", why);
        }
        return KT_EINVAL;
    }
    return KT_OK;
}

kt_err
kt_mlp_alloc(const kt_mlp_cfg *cfg, kt_mlp **out)
{
    if (kt_mlp_cfg_check(cfg, NULL, 0) != KT_OK) {
        return KT_EINVAL;
    }
    kt_mlp *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return KT_ENOMEM;
    }
    m->cfg = *cfg;
    m->n_layers = cfg->n_hidden + 1;
    int prev = cfg->n_inputs;
    m->max_width = prev;
    size_t off = 0;
    for (int l = 0; l < m->n_layers; l++) {
        int w = l < cfg->n_hidden ? cfg->hidden[l] : KT_NCLASSES;
        m->in[l] = prev;
        m->out[l] = w;
        m->w_off[l] = off;
        off += (size_t)prev * (size_t)w;
        m->b_off[l] = off;
        off += (size_t)w;
        m->max_width = w > m->max_width ? w : m->max_width;
        prev = w;
    }
    m->n_params = off;
    m->p = calloc(off, sizeof(float));
    if (m->p == NULL) {
        free(m);
        return KT_ENOMEM;
    }
    *out = m;
    return KT_OK;
}

kt_err
kt_mlp_clone(const kt_mlp *m, kt_mlp **out)
{
    kt_mlp *c;
    kt_err rv = kt_mlp_alloc(&m->cfg, &c);
    if (rv != KT_OK) {
        return rv;
    }
    memcpy(c->p, m->p, m->n_params * sizeof(float));
    *out = c;
    return KT_OK;
}

void
kt_mlp_free(kt_mlp *m)
{
    if (m != NULL) {
        free(m->p);
        free(m);
    }
}

void
kt_mlp_init(kt_mlp *m, kt_rng *rng)
{
    for (int l = 0; l < m->n_layers; l++) {
        int in = m->in[l], out = m->out[l];
        double bound = 1.0 / sqrt((double)in);
        float *w = m->p + m->w_off[l];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                double u = kt_rng_uniform(rng);
                w[(size_t)i * (size_t)out + (size_t)o] =
                    (float)((2.0 * u - 1.0) * bound);
            }
        }
        float *b = m->p + m->b_off[l];
        for (int o = 0; o < out; o++) {
            b[o] = (float)((2.0 * kt_rng_uniform(rng) - 1.0) * bound);
        }
    }
}

const kt_mlp_cfg *
kt_mlp_cfg_of(const kt_mlp *m)
{
    return &m->cfg;
}

int
kt_mlp_n_layers(const kt_mlp *m)
{
    return m->n_layers;
}

void
kt_mlp_layer_shape(const kt_mlp *m, int layer, int *in, int *out)
{
    int ok = layer >= 0 && layer < m->n_layers;
    *in = ok ? m->in[layer] : 0;
    *out = ok ? m->out[layer] : 0;
}

kt_err
kt_mlp_get_layer(const kt_mlp *m, int layer, float *w, float *b)
{
    if (layer < 0 || layer >= m->n_layers) {
        return KT_EINVAL;
    }
    size_t in = (size_t)m->in[layer], out = (size_t)m->out[layer];
    const float *wt = m->p + m->w_off[layer];
    for (size_t o = 0; o < out; o++) {
        for (size_t i = 0; i < in; i++) {
            w[o * in + i] = wt[i * out + o];
        }
    }
    memcpy(b, m->p + m->b_off[layer], out * sizeof(float));
    return KT_OK;
}

kt_err
kt_mlp_set_layer(kt_mlp *m, int layer, const float *w, const float *b)
{
    if (layer < 0 || layer >= m->n_layers) {
        return KT_EINVAL;
    }
    size_t in = (size_t)m->in[layer], out = (size_t)m->out[layer];
    float *wt = m->p + m->w_off[layer];
    for (size_t o = 0; o < out; o++) {
        for (size_t i = 0; i < in; i++) {
            wt[i * out + o] = w[o * in + i];
        }
    }
    memcpy(m->p + m->b_off[layer], b, out * sizeof(float));
    return KT_OK;
}

size_t
kt_mlp_n_params(const kt_mlp *m)
{
    return m->n_params;
}

float *
kt_mlp_params(kt_mlp *m)
{
    return m->p;
}

const float *
kt_mlp_params_const(const kt_mlp *m)
{
    return m->p;
}

// Rows of y (n x out) = bias, then += x (n x in) * W ([in][out]).
static void
mlp_linear(const kt_mlp *m, int l, const float *x, size_t n, float *y)
{
    size_t in = (size_t)m->in[l], out = (size_t)m->out[l];
    const float *b = m->p + m->b_off[l];
    for (size_t r = 0; r < n; r++) {
        memcpy(y + r * out, b, out * sizeof(float));
    }
    kt_vec_gemm(n, out, in, x, in, 1, m->p + m->w_off[l], out, y, out, 1);
}

static void
mlp_activate(const kt_mlp *m, float *y, size_t n)
{
    if (m->cfg.activation == KT_ACT_TANH) {
        kt_vec_tanh(y, n);
    } else {
        kt_vec_relu(y, n);
    }
}

void
kt_mlp_logits(const kt_mlp *m, const float *x, float logits[KT_NCLASSES])
{
    float buf[2][KT_MLP_MAX_WIDTH];
    const float *cur = x;
    int l = 0;
    for (; l < m->n_layers - 1; l++) {
        float *y = buf[l & 1];
        mlp_linear(m, l, cur, 1, y);
        mlp_activate(m, y, (size_t)m->out[l]);
        cur = y;
    }
    // The 3-wide head: three independent dot products over the fan-in.
    size_t in = (size_t)m->in[l];
    const float *w = m->p + m->w_off[l];
    const float *b = m->p + m->b_off[l];
    // Same order as kt_vec_gemm's narrow tail: bias first, then ascending
    // fan-in, so these logits equal the batched eval forward bit for bit.
    float s0 = b[0], s1 = b[1], s2 = b[2];
    for (size_t i = 0; i < in; i++) {
        s0 += cur[i] * w[i * 3];
        s1 += cur[i] * w[i * 3 + 1];
        s2 += cur[i] * w[i * 3 + 2];
    }
    logits[0] = s0;
    logits[1] = s1;
    logits[2] = s2;
}

void
kt_mlp_predict(const kt_mlp *m, const float *x, float probs[KT_NCLASSES])
{
    float z[KT_NCLASSES];
    kt_mlp_logits(m, x, z);
    float mx = z[0] > z[1] ? z[0] : z[1];
    mx = mx > z[2] ? mx : z[2];
    float e0 = expf(z[0] - mx), e1 = expf(z[1] - mx), e2 = expf(z[2] - mx);
    float s = e0 + e1 + e2;
    probs[0] = e0 / s;
    probs[1] = e1 / s;
    probs[2] = e2 / s;
}

int
kt_mlp_argmax(const float v[KT_NCLASSES])
{
    int best = 0;
    for (int c = 1; c < KT_NCLASSES; c++) {
        if (v[c] > v[best]) {
            best = c;
        }
    }
    return best;
}

kt_err
kt_mlp_work_alloc(const kt_mlp *m, size_t max_batch, kt_mlp_work **out)
{
    if (max_batch == 0 || max_batch > ((size_t)1 << 24)) {
        return KT_EINVAL;
    }
    kt_mlp_work *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return KT_ENOMEM;
    }
    size_t nb = max_batch, total = nb * (size_t)m->cfg.n_inputs;
    for (int l = 0; l < m->n_layers - 1; l++) {
        total += 3 * nb * (size_t)m->out[l];
    }
    total += 2 * nb * (size_t)m->max_width;
    size_t wt = 0;
    for (int l = 0; l < m->n_layers; l++) {
        size_t sz = (size_t)m->in[l] * (size_t)m->out[l];
        wt = sz > wt ? sz : wt;
    }
    total += wt;
    w->mem = calloc(total, sizeof(float));
    if (w->mem == NULL) {
        free(w);
        return KT_ENOMEM;
    }
    float *p = w->mem;
    w->x = p;
    p += nb * (size_t)m->cfg.n_inputs;
    for (int l = 0; l < m->n_layers - 1; l++) {
        size_t sz = nb * (size_t)m->out[l];
        w->h[l] = p;
        w->d[l] = p + sz;
        w->mask[l] = p + 2 * sz;
        p += 3 * sz;
    }
    w->g0 = p;
    w->g1 = p + nb * (size_t)m->max_width;
    w->wt = p + 2 * nb * (size_t)m->max_width;
    w->max_batch = max_batch;
    *out = w;
    return KT_OK;
}

void
kt_mlp_work_free(kt_mlp_work *w)
{
    if (w != NULL) {
        free(w->mem);
        free(w);
    }
}

// Inverted dropout mask: each 64-bit draw decides two elements.
static void
mlp_dropout_mask(kt_rng *rng, double p, float *mask, size_t n)
{
    uint64_t thresh = (uint64_t)(p * 4294967296.0);
    float keep = (float)(1.0 / (1.0 - p));
    for (size_t i = 0; i < n; i += 2) {
        uint64_t r = kt_rng_next(rng);
        mask[i] = (r & 0xffffffffu) >= thresh ? keep : 0.0f;
        if (i + 1 < n) {
            mask[i + 1] = (r >> 32) >= thresh ? keep : 0.0f;
        }
    }
}

void
kt_mlp_forward(const kt_mlp *m, kt_mlp_work *w, const float *x, size_t n,
               kt_rng *rng, float *logits)
{
    memcpy(w->x, x, n * (size_t)m->cfg.n_inputs * sizeof(float));
    w->n = n;
    w->dropped = rng != NULL && m->cfg.dropout > 0.0;
    const float *cur = w->x;
    int l = 0;
    for (; l < m->n_layers - 1; l++) {
        size_t sz = n * (size_t)m->out[l];
        mlp_linear(m, l, cur, n, w->h[l]);
        mlp_activate(m, w->h[l], sz);
        cur = w->h[l];
        if (w->dropped) {
            mlp_dropout_mask(rng, m->cfg.dropout, w->mask[l], sz);
            memcpy(w->d[l], w->h[l], sz * sizeof(float));
            kt_vec_mul(w->d[l], w->mask[l], sz);
            cur = w->d[l];
        }
    }
    mlp_linear(m, l, cur, n, logits);
}

// The input of layer l as seen by the last forward.
static const float *
mlp_layer_input(const kt_mlp_work *w, int l)
{
    if (l == 0) {
        return w->x;
    }
    return w->dropped ? w->d[l - 1] : w->h[l - 1];
}

void
kt_mlp_backward(const kt_mlp *m, kt_mlp_work *w, const float *dlogits,
                float *grad)
{
    size_t n = w->n;
    const float *dy = dlogits;
    for (int l = m->n_layers - 1; l >= 0; l--) {
        size_t in = (size_t)m->in[l], out = (size_t)m->out[l];
        const float *a = mlp_layer_input(w, l);
        // dW[in][out] = A^T * dY; db = column sums of dY.
        kt_vec_gemm(in, out, n, a, 1, in, dy, out, grad + m->w_off[l], out, 0);
        kt_vec_colsum(n, out, dy, out, grad + m->b_off[l]);
        if (l == 0) {
            break;
        }
        // dA = dY * W^T, with W^T materialised as [out][in].
        const float *wl = m->p + m->w_off[l];
        for (size_t i = 0; i < in; i++) {
            for (size_t o = 0; o < out; o++) {
                w->wt[o * in + i] = wl[i * out + o];
            }
        }
        float *da = dy == w->g0 ? w->g1 : w->g0;
        kt_vec_gemm(n, in, out, dy, out, 1, w->wt, in, da, in, 0);
        size_t sz = n * in;
        if (w->dropped) {
            kt_vec_mul(da, w->mask[l - 1], sz);
        }
        if (m->cfg.activation == KT_ACT_TANH) {
            kt_vec_tanh_bwd(w->h[l - 1], da, sz);
        } else {
            kt_vec_relu_bwd(w->h[l - 1], da, sz);
        }
        dy = da;
    }
}
