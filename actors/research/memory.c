// memory.c: KTRDR's research memory: one experiment record per research
// ($DATA/memory/experiments/<op>.yaml) and the shared hypotheses file
// ($DATA/memory/hypotheses.yaml), each replaced atomically. Strings are
// written as double-quoted YAML scalars, so any text round-trips.
#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "research/rs_int.h"

#define RS_DOC_MAX 32768

static pthread_mutex_t rs_memory_mu = PTHREAD_MUTEX_INITIALIZER;

void
kt__rs_yaml_quote(char *buf, size_t n, const char *s)
{
    size_t used = strlen(buf);

    if (used + 1 >= n) {
        return;
    }
    buf[used++] = '"';
    for (; s != NULL && *s != '\0' && used + 8 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[used++] = '\\';
            buf[used++] = (char)c;
        } else if (c == '\n') {
            buf[used++] = '\\';
            buf[used++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            used += (size_t)snprintf(buf + used, n - used, "\\x%02x", c);
        } else {
            buf[used++] = (char)c;
        }
    }
    buf[used++] = '"';
    buf[used] = '\0';
}

static void rs_put(char *d, const char *fmt, ...) KT_PRINTF(2, 3);

static void
rs_put(char *d, const char *fmt, ...)
{
    size_t used = strlen(d);
    va_list ap;

    if (used + 1 >= RS_DOC_MAX) {
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(d + used, RS_DOC_MAX - used, fmt, ap);
    va_end(ap);
}

static void
rs_put_kv(char *d, const char *indent, const char *key, const char *val)
{
    rs_put(d, "%s%s: ", indent, key);
    kt__rs_yaml_quote(d, RS_DOC_MAX, val);
    rs_put(d, "\n");
}

static void
rs_put_list(char *d, const char *key, char **items, size_t n)
{
    rs_put(d, "  %s:%s\n", key, n == 0 ? " []" : "");
    for (size_t i = 0; i < n; i++) {
        rs_put(d, "    - ");
        kt__rs_yaml_quote(d, RS_DOC_MAX, items[i]);
        rs_put(d, "\n");
    }
}

static void
rs_now(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;

    (void)gmtime_r(&now, &tm);
    (void)strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *
rs_exp_status(const Ktpb__V1__ResearchState *st)
{
    if (st->gate_reason[0] == '\0') {
        return "completed";
    }
    return strncmp(st->gate_reason, "Training", 8) == 0
               ? "gate_rejected_training"
               : "gate_rejected_backtest";
}

static void
rs_put_results(char *d, const Ktpb__V1__ResearchState *st)
{
    const Ktpb__V1__TestMetrics *t = st->training ? st->training->test : NULL;
    const Ktpb__V1__BacktestMetrics *m =
        st->backtest ? st->backtest->metrics : NULL;

    rs_put(d, "results:\n");
    if (t != NULL) {
        rs_put(d,
               "  training: {test_accuracy: %.6g, test_loss: %.6g, "
               "epochs: %u}\n",
               t->accuracy, t->loss, st->training->epochs);
    }
    if (m != NULL) {
        rs_put(d,
               "  backtest: {sharpe_ratio: %.6g, win_rate: %.6g, "
               "max_drawdown_pct: %.6g, total_return_pct: %.6g, "
               "total_trades: %llu}\n",
               m->sharpe_ratio, m->win_rate, m->max_drawdown_pct,
               m->total_return_pct, (unsigned long long)m->total_trades);
    }
    if (t == NULL && m == NULL) {
        rs_put(d, "  {}\n");
    }
}

static kt_err
rs_hypotheses_append(const char *data_dir, const char *op_id,
                     const Ktpb__V1__AssessResult *a)
{
    char path[RS_PATH_MAX], stamp[32], *old = NULL, *doc;
    size_t oldlen = 0, n = 0;
    kt_err rv;

    (void)snprintf(path, sizeof(path), "%s/memory/hypotheses.yaml", data_dir);
    rv = kt__rs_read_file(path, &old, &oldlen);
    if (rv != KT_OK && rv != KT_ENOENT) {
        return rv;
    }
    if ((doc = calloc(1, RS_DOC_MAX + oldlen)) == NULL) {
        free(old);
        return KT_ENOMEM;
    }
    if (old != NULL && strstr(old, "hypotheses:") != NULL) {
        memcpy(doc, old, oldlen);
        for (const char *p = old; (p = strstr(p, "  - id: ")) != NULL; p++) {
            n++;
        }
    } else {
        rs_put(doc, "# Research hypotheses (KTRDR memory format)\n"
                    "hypotheses:\n");
    }
    free(old);
    rs_now(stamp, sizeof(stamp));
    for (size_t i = 0; i < a->n_hypotheses; i++) {
        size_t used = strlen(doc);
        char item[RS_DOC_MAX] = "";
        rs_put(item, "  - id: H_%03zu\n", n + i + 1);
        rs_put_kv(item, "    ", "text", a->hypotheses[i]->text);
        rs_put_kv(item, "    ", "rationale", a->hypotheses[i]->rationale);
        rs_put_kv(item, "    ", "source_experiment", op_id);
        rs_put(item, "    status: untested\n    created: \"%s\"\n", stamp);
        (void)snprintf(doc + used, RS_DOC_MAX + oldlen - used, "%s", item);
    }
    rv = kt__rs_write_atomic(path, doc, strlen(doc));
    free(doc);
    return rv;
}

kt_err
kt__rs_memory_record(const char *data_dir, const char *op_id,
                     const Ktpb__V1__ResearchState *st,
                     const Ktpb__V1__AssessResult *a, char *path,
                     size_t pathlen)
{
    char *d = calloc(1, RS_DOC_MAX), stamp[32];
    const Ktpb__V1__ResearchTriggerRequest *rq = st->request;
    kt_err rv;

    if (d == NULL) {
        return KT_ENOMEM;
    }
    rs_now(stamp, sizeof(stamp));
    rs_put(d, "# Research experiment record (KTRDR memory format)\n");
    rs_put_kv(d, "", "id", op_id);
    rs_put_kv(d, "", "timestamp", stamp);
    rs_put_kv(d, "", "strategy_name", st->strategy_name);
    rs_put_kv(d, "", "strategy_path", st->strategy_path);
    rs_put(d, "context:\n");
    rs_put_kv(d, "  ", "brief", rq != NULL ? rq->brief : "");
    rs_put_kv(d, "  ", "symbol", st->symbol);
    rs_put_kv(d, "  ", "timeframe", st->timeframe);
    rs_put_results(d, st);
    rs_put(d, "assessment:\n");
    rs_put_kv(d, "  ", "verdict", a->verdict);
    rs_put_list(d, "strengths", a->strengths, a->n_strengths);
    rs_put_list(d, "weaknesses", a->weaknesses, a->n_weaknesses);
    rs_put_list(d, "suggestions", a->suggestions, a->n_suggestions);
    rs_put(d, "status: %s\n", rs_exp_status(st));
    rs_put_kv(d, "", "gate_rejection_reason", st->gate_reason);
    (void)snprintf(path, pathlen, "%s/memory/experiments/%s.yaml", data_dir,
                   op_id);
    pthread_mutex_lock(&rs_memory_mu);
    rv = kt__rs_write_atomic(path, d, strlen(d));
    if (rv == KT_OK) {
        rv = rs_hypotheses_append(data_dir, op_id, a);
    }
    pthread_mutex_unlock(&rs_memory_mu);
    free(d);
    return rv;
}

char *
kt__rs_memory_summary(const char *data_dir)
{
    char path[RS_PATH_MAX], *hyp = NULL, *out = calloc(1, 2048);
    size_t n = 0, shown = 0;
    struct dirent *e;
    DIR *dir;

    if (out == NULL) {
        return NULL;
    }
    (void)snprintf(path, sizeof(path), "%s/memory/experiments", data_dir);
    if ((dir = opendir(path)) != NULL) {
        while ((e = readdir(dir)) != NULL) {
            n += strstr(e->d_name, ".yaml") != NULL;
        }
        (void)closedir(dir);
    }
    (void)snprintf(out, 2048, "%zu earlier experiments.", n);
    (void)snprintf(path, sizeof(path), "%s/memory/hypotheses.yaml", data_dir);
    if (kt__rs_read_file(path, &hyp, NULL) == KT_OK) {
        for (char *p = hyp; (p = strstr(p, "    text: ")) != NULL && shown < 5;
             p++, shown++) {
            size_t len = strcspn(p + 10, "\n"), used = strlen(out);
            (void)snprintf(out + used, 2048 - used, "\nHypothesis: %.*s",
                           (int)(len < 200 ? len : 200), p + 10);
        }
        free(hyp);
    }
    return out;
}
