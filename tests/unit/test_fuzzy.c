// test_fuzzy.c: membership functions at and around every edge (reference
// §1.4), NaN input, degenerate shoulders, and parameter validation.
#include <math.h>
#include <string.h>

#include <criterion/criterion.h>

#include "domain/fuzzy.h"

#define EPS 1e-12

static kt_mf
mf3(kt_mf_type t, double a, double b, double c, double d)
{
    kt_mf m = {.type = t,
               .n_params = t == KT_MF_TRIANGULAR ? 3
                           : t == KT_MF_GAUSSIAN ? 2
                                                 : 4,
               .p = {a, b, c, d}};
    return m;
}

Test(fuzzy, triangular_ramps_peak_and_outside)
{
    kt_mf m = mf3(KT_MF_TRIANGULAR, 20, 30, 40, 0);
    cr_expect_float_eq(kt_mf_eval(&m, 30), 1.0, EPS);
    cr_expect_float_eq(kt_mf_eval(&m, 25), 0.5, EPS);
    cr_expect_float_eq(kt_mf_eval(&m, 37.5), 0.25, EPS);
    cr_expect_eq(kt_mf_eval(&m, 20), 0.0); // x <= a
    cr_expect_eq(kt_mf_eval(&m, 40), 0.0); // x >= c
    cr_expect_eq(kt_mf_eval(&m, -1e9), 0.0);
    cr_expect_eq(kt_mf_eval(&m, INFINITY), 0.0);
    cr_expect(isnan(kt_mf_eval(&m, NAN)));
}

Test(fuzzy, triangular_shoulders_follow_ktrdr)
{
    kt_mf left = mf3(KT_MF_TRIANGULAR, 0, 0, 30, 0);
    kt_mf right = mf3(KT_MF_TRIANGULAR, 60, 70, 100, 0);
    kt_mf right_peak = mf3(KT_MF_TRIANGULAR, 60, 100, 100, 0);
    kt_mf spike = mf3(KT_MF_TRIANGULAR, 5, 5, 5, 0);

    cr_expect_eq(kt_mf_eval(&left, 0), 1.0); // x == b wins over x <= a
    cr_expect_float_eq(kt_mf_eval(&left, 15), 0.5, EPS);
    cr_expect_eq(kt_mf_eval(&right, 100), 0.0); // x >= c: 0 at exactly c
    cr_expect_float_eq(kt_mf_eval(&right, 99), 1.0 / 30, EPS);
    cr_expect_eq(kt_mf_eval(&right_peak, 100), 1.0);
    cr_expect_float_eq(kt_mf_eval(&right_peak, 80), 0.5, EPS);
    cr_expect_eq(kt_mf_eval(&spike, 5), 1.0);
    cr_expect_eq(kt_mf_eval(&spike, 5.0000001), 0.0);
}

Test(fuzzy, trapezoidal_plateau_ramps_and_shoulders)
{
    kt_mf m = mf3(KT_MF_TRAPEZOIDAL, 0, 10, 20, 40);
    kt_mf left = mf3(KT_MF_TRAPEZOIDAL, 0, 0, 10, 20);
    kt_mf right = mf3(KT_MF_TRAPEZOIDAL, 70, 90, 100, 100);

    cr_expect_float_eq(kt_mf_eval(&m, 5), 0.5, EPS);
    cr_expect_eq(kt_mf_eval(&m, 10), 1.0);
    cr_expect_eq(kt_mf_eval(&m, 20), 1.0);
    cr_expect_float_eq(kt_mf_eval(&m, 35), 0.25, EPS);
    cr_expect_eq(kt_mf_eval(&m, 0), 0.0);
    cr_expect_eq(kt_mf_eval(&m, 40), 0.0);
    cr_expect(isnan(kt_mf_eval(&m, NAN)));
    // The plateau is tested first: shoulders are 1 at their end points
    // (KTRDR gives 0 there; see docs/domain.md).
    cr_expect_eq(kt_mf_eval(&left, 0), 1.0);
    cr_expect_eq(kt_mf_eval(&right, 100), 1.0);
    cr_expect_float_eq(kt_mf_eval(&right, 80), 0.5, EPS);
}

Test(fuzzy, gaussian_values)
{
    kt_mf m = mf3(KT_MF_GAUSSIAN, 50, 10, 0, 0);
    cr_expect_eq(kt_mf_eval(&m, 50), 1.0);
    cr_expect_float_eq(kt_mf_eval(&m, 60), exp(-0.5), EPS);
    cr_expect_float_eq(kt_mf_eval(&m, 30), exp(-2.0), EPS);
    cr_expect(isnan(kt_mf_eval(&m, NAN)));
}

Test(fuzzy, series_evaluation)
{
    kt_mf m = mf3(KT_MF_TRIANGULAR, 0, 1, 2, 0);
    double x[] = {NAN, 0.5, 1, 3}, out[4];
    kt_mf_eval_series(&m, x, 4, out);
    cr_expect(isnan(out[0]));
    cr_expect_float_eq(out[1], 0.5, EPS);
    cr_expect_eq(out[2], 1.0);
    cr_expect_eq(out[3], 0.0);
}

Test(fuzzy, parameter_checks)
{
    char why[256];
    kt_mf bad_order = mf3(KT_MF_TRIANGULAR, 30, 20, 40, 0);
    kt_mf bad_trap = mf3(KT_MF_TRAPEZOIDAL, 0, 20, 10, 30);
    kt_mf bad_sigma = mf3(KT_MF_GAUSSIAN, 0, 0, 0, 0);
    kt_mf bad_count = mf3(KT_MF_GAUSSIAN, 0, 1, 0, 0);
    kt_mf inf = mf3(KT_MF_TRIANGULAR, 0, 1, INFINITY, 0);
    kt_mf ok = mf3(KT_MF_TRAPEZOIDAL, 0, 0, 0, 0);

    cr_expect_eq(kt_mf_check(&bad_order, why, sizeof(why)), KT_EINVAL);
    cr_expect(strstr(why, "a <= b <= c"), "%s", why);
    cr_expect_eq(kt_mf_check(&bad_trap, why, sizeof(why)), KT_EINVAL);
    cr_expect(strstr(why, "a <= b <= c <= d"), "%s", why);
    cr_expect_eq(kt_mf_check(&bad_sigma, why, sizeof(why)), KT_EINVAL);
    cr_expect(strstr(why, "sigma must be > 0"), "%s", why);
    bad_count.n_params = 3;
    cr_expect_eq(kt_mf_check(&bad_count, why, sizeof(why)), KT_EINVAL);
    cr_expect(strstr(why, "gaussian needs 2 parameters, got 3"), "%s", why);
    cr_expect_eq(kt_mf_check(&inf, why, sizeof(why)), KT_EINVAL);
    cr_expect(strstr(why, "finite"), "%s", why);
    cr_expect_eq(kt_mf_check(&ok, why, sizeof(why)), KT_OK);
}
