// labels.h: 3-class training labels (KT_BUY / KT_HOLD / KT_SELL) per bar:
// ZigZag segments and triple barrier (reference §1.6). Labels look into the
// future by design; they are never model inputs.
#ifndef KT_DOMAIN_LABELS_H
#define KT_DOMAIN_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include <kt/err.h>

#include "domain/ohlcv.h"
#include "domain/strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

// kt_labels_build writes one label per bar into out (bars->n bytes, caller's
// storage) with the method of cfg, and sets *n_valid to the number of
// leading bars whose label is defined: bars->n for zigzag, bars->n -
// max_holding_period for triple barrier (bars after that have no complete
// look-ahead window; their out[] is KT_HOLD and the trainer must drop them,
// as KTRDR does). Per symbol: call it once per kt_ohlcv (the reference's
// "label only the first symbol" quirk is not reproduced).
// Errors: KT_EINVAL (bad cfg, message in err); on failure out is undefined.
KT_NODISCARD kt_err kt_labels_build(const kt_label_cfg *cfg,
                                    const kt_ohlcv *bars, uint8_t *out,
                                    size_t *n_valid, char *err, size_t errlen);

// kt_zigzag_extremes finds ZigZag pivots on x[0..n) with relative threshold
// t (> 0): writes their indexes, ascending, into idx (caller storage of n)
// and returns how many. Bar 0 is always the first pivot.
size_t kt_zigzag_extremes(const double *x, size_t n, double t, size_t *idx);

// kt_labels_zigzag: every bar strictly between two consecutive pivots gets
// KT_BUY when the next pivot is higher, KT_SELL when lower; pivots and bars
// after the last pivot get KT_HOLD. Returns KT_ENOMEM or KT_OK.
KT_NODISCARD kt_err kt_labels_zigzag(const double *close, size_t n,
                                     double threshold, uint8_t *out);

// kt_labels_triple_barrier: see kt_labels_build; returns the number of
// labelled bars (n_valid).
size_t kt_labels_triple_barrier(const kt_ohlcv *bars, double pt_mult,
                                double sl_mult, int max_hold, int vol_span,
                                uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif // KT_DOMAIN_LABELS_H
