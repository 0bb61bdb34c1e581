// fuzzy.c: membership functions (reference §1.4).
#include "domain/fuzzy.h"

#include <float.h>
#include <math.h>

#include "domain/errbuf.h"

static double
triangular(const double *p, double x)
{
    if (x == p[1]) {
        return 1.0;
    }
    if (x <= p[0] || x >= p[2]) {
        return 0.0;
    }
    if (x < p[1]) {
        return (x - p[0]) / fmax(p[1] - p[0], DBL_EPSILON);
    }
    return (p[2] - x) / fmax(p[2] - p[1], DBL_EPSILON);
}

static double
trapezoidal(const double *p, double x)
{
    if (x >= p[1] && x <= p[2]) {
        return 1.0;
    }
    if (x <= p[0] || x >= p[3]) {
        return 0.0;
    }
    if (x < p[1]) {
        return (x - p[0]) / fmax(p[1] - p[0], DBL_EPSILON);
    }
    return (p[3] - x) / fmax(p[3] - p[2], DBL_EPSILON);
}

double
kt_mf_eval(const kt_mf *mf, double x)
{
    double z;
    if (isnan(x)) {
        return NAN;
    }
    switch (mf->type) {
    case KT_MF_TRIANGULAR:
        return triangular(mf->p, x);
    case KT_MF_TRAPEZOIDAL:
        return trapezoidal(mf->p, x);
    case KT_MF_GAUSSIAN:
        z = (x - mf->p[0]) / mf->p[1];
        return exp(-0.5 * z * z);
    }
    return NAN;
}

void
kt_mf_eval_series(const kt_mf *mf, const double *x, size_t n, double *out)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = kt_mf_eval(mf, x[i]);
    }
}

const char *
kt_mf_type_name(kt_mf_type t)
{
    switch (t) {
    case KT_MF_TRIANGULAR:
        return "triangular";
    case KT_MF_TRAPEZOIDAL:
        return "trapezoidal";
    case KT_MF_GAUSSIAN:
        return "gaussian";
    }
    return "?";
}

kt_err
kt_mf_check(const kt_mf *mf, char *why, size_t whylen)
{
    static const int want[] = {3, 4, 2};
    const double *p = mf->p;

    if (mf->n_params != want[mf->type]) {
        kt__errf(why, whylen, "%s needs %d parameters, got %d",
                 kt_mf_type_name(mf->type), want[mf->type], mf->n_params);
        return KT_EINVAL;
    }
    for (int i = 0; i < mf->n_params; i++) {
        if (!isfinite(p[i])) {
            kt__errf(why, whylen, "parameter %d is not a finite number", i);
            return KT_EINVAL;
        }
    }
    if (mf->type == KT_MF_TRIANGULAR && !(p[0] <= p[1] && p[1] <= p[2])) {
        kt__errf(why, whylen,
                 "triangular parameters must satisfy a <= b <= c, got "
                 "[%g, %g, %g]",
                 p[0], p[1], p[2]);
        return KT_EINVAL;
    }
    if (mf->type == KT_MF_TRAPEZOIDAL &&
        !(p[0] <= p[1] && p[1] <= p[2] && p[2] <= p[3])) {
        kt__errf(why, whylen,
                 "trapezoidal parameters must satisfy a <= b <= c <= d, got "
                 "[%g, %g, %g, %g]",
                 p[0], p[1], p[2], p[3]);
        return KT_EINVAL;
    }
    if (mf->type == KT_MF_GAUSSIAN && !(p[1] > 0)) {
        kt__errf(why, whylen, "gaussian sigma must be > 0, got %g", p[1]);
        return KT_EINVAL;
    }
    return KT_OK;
}
