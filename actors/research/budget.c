// budget.c: the daily budget of the designer's and assessor's reported
// costs, one JSON file per UTC day (reference §5.4), shared by every
// research of a backend under one lock.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "research/rs_int.h"

static pthread_mutex_t rs_budget_mu = PTHREAD_MUTEX_INITIALIZER;

static void
rs_budget_path(const char *data_dir, char *path, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;

    (void)gmtime_r(&now, &tm);
    (void)snprintf(path, n, "%s/budget/%04d-%02d-%02d.json", data_dir,
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

// rs_budget_load: today's document (a new one when there is none).
static json_t *
rs_budget_load(const char *path)
{
    json_t *j = json_load_file(path, 0, NULL);

    if (j == NULL || !json_is_object(j) ||
        !json_is_array(json_object_get(j, "spend"))) {
        json_decref(j);
        j = json_pack("{s:f, s:[], s:f}", "limit", 0.0, "spend", "total_spend",
                      0.0);
    }
    return j;
}

kt_err
kt__rs_budget_spent(const char *data_dir, double *spent)
{
    char path[RS_PATH_MAX];
    json_t *j;

    rs_budget_path(data_dir, path, sizeof(path));
    pthread_mutex_lock(&rs_budget_mu);
    j = rs_budget_load(path);
    pthread_mutex_unlock(&rs_budget_mu);
    if (j == NULL) {
        return KT_ENOMEM;
    }
    *spent = json_number_value(json_object_get(j, "total_spend"));
    json_decref(j);
    return KT_OK;
}

kt_err
kt__rs_budget_check(const char *data_dir, double limit, char *why, size_t n)
{
    double spent = 0;
    kt_err rv;

    if (limit <= 0) {
        return KT_OK;
    }
    if ((rv = kt__rs_budget_spent(data_dir, &spent)) != KT_OK) {
        (void)snprintf(why, n, "cannot read the budget: %s", kt_strerror(rv));
        return rv;
    }
    if (spent >= limit) {
        (void)snprintf(why, n,
                       "Daily budget exhausted: $%.4f of $%.2f spent today "
                       "(resets at 00:00 UTC)",
                       spent, limit);
        return KT_ESTATE;
    }
    return KT_OK;
}

kt_err
kt__rs_budget_add(const char *data_dir, double limit, double amount,
                  const char *op_id)
{
    char path[RS_PATH_MAX], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    json_t *j, *e;
    char *text;
    kt_err rv;

    if (amount <= 0) {
        return KT_OK;
    }
    (void)gmtime_r(&now, &tm);
    (void)strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    rs_budget_path(data_dir, path, sizeof(path));
    pthread_mutex_lock(&rs_budget_mu);
    j = rs_budget_load(path);
    e = json_pack("{s:f, s:s, s:s}", "amount", amount, "operation_id", op_id,
                  "timestamp", stamp);
    if (j == NULL || e == NULL) {
        json_decref(e);
        rv = KT_ENOMEM;
        goto out;
    }
    (void)json_array_append_new(json_object_get(j, "spend"), e);
    (void)json_object_set_new(j, "limit", json_real(limit > 0 ? limit : 0));
    (void)json_object_set_new(
        j, "total_spend",
        json_real(json_number_value(json_object_get(j, "total_spend")) +
                  amount));
    if ((text = json_dumps(j, JSON_INDENT(2))) == NULL) {
        rv = KT_ENOMEM;
        goto out;
    }
    rv = kt__rs_write_atomic(path, text, strlen(text));
    free(text);
out:
    json_decref(j);
    pthread_mutex_unlock(&rs_budget_mu);
    return rv;
}

// USD per million tokens (input, output); unknown models cost as sonnet.
static const struct {
    const char *prefix;
    double in, out;
} rs_prices[] = {
    {"offline", 3.0, 15.0},
    {"claude-opus", 15.0, 75.0},
    {"claude-sonnet", 3.0, 15.0},
    {"claude-haiku", 0.8, 4.0},
};

double
kt__rs_cost(const char *model, uint64_t tokens_in, uint64_t tokens_out)
{
    double in = 3.0, out = 15.0;

    for (size_t i = 0; i < sizeof(rs_prices) / sizeof(rs_prices[0]); i++) {
        if (model != NULL && strncmp(model, rs_prices[i].prefix,
                                     strlen(rs_prices[i].prefix)) == 0) {
            in = rs_prices[i].in;
            out = rs_prices[i].out;
        }
    }
    return ((double)tokens_in * in + (double)tokens_out * out) / 1e6;
}
