// mlp.h: the strategy's neural network (reference §1.7): for each hidden
// layer Linear -> activation (relu | tanh) -> dropout, then a Linear to 3
// logits (KT_BUY, KT_HOLD, KT_SELL); softmax only at inference. float32
// weights, PyTorch default initialisation from the caller's kt_rng.
//
// Thread context: a kt_mlp is a plain object without locks. The const
// functions (kt_mlp_predict, kt_mlp_logits, getters) never write to it, so any
// number of threads may call them on one model at the same time.
#ifndef KT_DOMAIN_MLP_H
#define KT_DOMAIN_MLP_H

#include <stddef.h>
#include <stdint.h>

#include <kt/err.h>

#include "domain/rng.h"
#include "domain/types.h"

#ifdef __cplusplus
extern "C" {
#endif

// Widest layer the network accepts (inputs or hidden); keeps inference
// allocation-free with stack scratch.
#define KT_MLP_MAX_WIDTH 1024

typedef struct kt_mlp kt_mlp;

// kt_mlp_cfg_check validates an architecture: 1 <= n_inputs <= MAX_WIDTH,
// 0 <= n_hidden <= KT_MLP_MAX_LAYERS, each width in [1, MAX_WIDTH],
// activation relu|tanh, 0 <= dropout < 1. KT_EINVAL with a message in err
// (may be NULL when errlen is 0).
KT_NODISCARD KT_API kt_err kt_mlp_cfg_check(const kt_mlp_cfg *cfg, char *err,
                                            size_t errlen);

// kt_mlp_alloc creates a network with every parameter 0 (load weights with
// kt_mlp_set_layer or initialise with kt_mlp_init). The cfg is copied.
// Errors: KT_EINVAL (cfg fails kt_mlp_cfg_check), KT_ENOMEM; *out untouched.
KT_NODISCARD KT_API kt_err kt_mlp_alloc(const kt_mlp_cfg *cfg, kt_mlp **out);

// kt_mlp_clone makes an independent deep copy. Errors: KT_ENOMEM.
KT_NODISCARD KT_API kt_err kt_mlp_clone(const kt_mlp *m, kt_mlp **out);

// kt_mlp_free releases m; NULL is a no-op.
KT_API void kt_mlp_free(kt_mlp *m);

// kt_mlp_init draws every parameter as PyTorch's nn.Linear default does:
// weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), layer by layer,
// weight in PyTorch order ([out][in], row-major) then bias.
KT_API void kt_mlp_init(kt_mlp *m, kt_rng *rng);

// kt_mlp_cfg_of returns the architecture (owned by m).
KT_API const kt_mlp_cfg *kt_mlp_cfg_of(const kt_mlp *m);

// Layers are numbered 0 .. n_hidden (the last one is the 3-logit head).
KT_API int kt_mlp_n_layers(const kt_mlp *m);
// kt_mlp_layer_shape gives the layer's fan-in and fan-out.
KT_API void kt_mlp_layer_shape(const kt_mlp *m, int layer, int *in, int *out);

// kt_mlp_get_layer copies layer `layer`'s weight, in PyTorch's nn.Linear
// layout (w[o * in + i], out*in floats), and bias (out floats) into caller
// storage. kt_mlp_set_layer loads them. KT_EINVAL for a bad layer index.
KT_NODISCARD KT_API kt_err kt_mlp_get_layer(const kt_mlp *m, int layer,
                                            float *w, float *b);
KT_NODISCARD KT_API kt_err kt_mlp_set_layer(kt_mlp *m, int layer,
                                            const float *w, const float *b);

// kt_mlp_logits computes the 3 raw outputs for one row x (n_inputs floats),
// in inference mode (no dropout). Allocation-free, reentrant.
KT_API void kt_mlp_logits(const kt_mlp *m, const float *x,
                          float logits[KT_NCLASSES]);

// kt_mlp_predict is kt_mlp_logits followed by a softmax: probs[c] in [0, 1],
// summing to 1 (within float rounding). Allocation-free, reentrant; the
// backtest's per-bar call.
KT_API void kt_mlp_predict(const kt_mlp *m, const float *x,
                           float probs[KT_NCLASSES]);

// kt_mlp_argmax returns the index of the largest of the 3 values (the first
// one on ties, like torch.argmax).
KT_API int kt_mlp_argmax(const float v[KT_NCLASSES]);

// ---- Training interface (used by trainer.c and the tests) ----
//
// All parameters live in one flat float vector of kt_mlp_n_params floats:
// for each layer, its weight stored transposed ([in][out], row-major: the
// layout the forward kernel wants) followed by its bias [out]. Gradients
// and optimiser moments use the same layout.

KT_API size_t kt_mlp_n_params(const kt_mlp *m);
KT_API float *kt_mlp_params(kt_mlp *m);
KT_API const float *kt_mlp_params_const(const kt_mlp *m);

// Scratch for batched forward/backward of up to max_batch rows.
typedef struct kt_mlp_work kt_mlp_work;

// kt_mlp_work_alloc sizes scratch for m's architecture. Errors: KT_EINVAL
// (max_batch 0), KT_ENOMEM.
KT_NODISCARD KT_API kt_err kt_mlp_work_alloc(const kt_mlp *m, size_t max_batch,
                                             kt_mlp_work **out);
KT_API void kt_mlp_work_free(kt_mlp_work *w);

// kt_mlp_forward runs n (<= max_batch) rows x (n * n_inputs floats,
// row-major) and writes n * 3 logits. With rng != NULL it is the training
// forward: each hidden activation is kept with probability 1 - dropout and
// scaled by 1 / (1 - dropout) (inverted dropout, as torch); layer by layer,
// each 64-bit draw decides two consecutive elements of the layer's n x width
// row-major output (32 bits each). w remembers what backward needs.
// With rng == NULL it is the inference forward (no dropout).
KT_API void kt_mlp_forward(const kt_mlp *m, kt_mlp_work *w, const float *x,
                           size_t n, kt_rng *rng, float *logits);

// kt_mlp_backward back-propagates dlogits (n * 3, dLoss/dlogit) through the
// last kt_mlp_forward on w and writes the full gradient into grad
// (kt_mlp_n_params floats, overwritten, same layout as the parameters).
KT_API void kt_mlp_backward(const kt_mlp *m, kt_mlp_work *w,
                            const float *dlogits, float *grad);

#ifdef __cplusplus
}
#endif

#endif // KT_DOMAIN_MLP_H
