// fuzzy.h: membership functions of reference §1.4 (triangular,
// trapezoidal, gaussian) with KTRDR's scalar edge rules.
#ifndef KT_DOMAIN_FUZZY_H
#define KT_DOMAIN_FUZZY_H

#include <stddef.h>

#include <kt/err.h>

#include "domain/strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

// kt_mf_eval returns the membership of x in [0, 1]; NaN when x is NaN.
//  triangular [a,b,c]: x == b -> 1; x <= a or x >= c -> 0; rising
//    (x-a)/(b-a); falling (c-x)/(c-b) (denominators floored at DBL_EPSILON).
//    So [0,0,30] gives 1 at 0 and [60,70,100] gives 0 at 100, as KTRDR.
//  trapezoidal [a,b,c,d]: b <= x <= c -> 1; x <= a or x >= d -> 0; ramps
//    otherwise (the plateau is tested first, so [0,0,10,20] gives 1 at 0).
//  gaussian [mu,sigma]: exp(-((x-mu)/sigma)^2 / 2).
double kt_mf_eval(const kt_mf *mf, double x);

// kt_mf_eval_series applies kt_mf_eval to x[0..n) into out.
void kt_mf_eval_series(const kt_mf *mf, const double *x, size_t n, double *out);

// kt_mf_type_name: "triangular", "trapezoidal" or "gaussian".
const char *kt_mf_type_name(kt_mf_type t);

// kt_mf_check validates the parameter count and ordering of mf (a<=b<=c,
// a<=b<=c<=d, sigma > 0, all finite). KT_EINVAL with the reason in why.
KT_NODISCARD kt_err kt_mf_check(const kt_mf *mf, char *why, size_t whylen);

#ifdef __cplusplus
}
#endif

#endif // KT_DOMAIN_FUZZY_H
