// kt_bench_runtime [--quick] [--only CASE-PREFIX]: one-way throughput and ask
// round trips of the runtime against raw NNG, per transport and message size.
// Prints one JSON object per line (tools/bench/run's format).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define REPS   3
#define WARMUP 200

static int port_next;
static const char *only; // --only CASE-PREFIX: run matching cases alone

static const char *from_names[] = {"external", "actor", "samethread"};

static int
wanted(char *cs, size_t n, const char *kind, const char *tr, size_t len,
       const char *how)
{
    snprintf(cs, n, "%s_%s%s%s_%zuB", kind, tr, how[0] ? "_" : "", how, len);
    return only == NULL || strncmp(cs, only, strlen(only)) == 0;
}

double
bench_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static const char *
url_for(const char *tr, char *buf, size_t n)
{
    static int seq;

    seq++;
    if (strcmp(tr, "inproc") == 0) {
        snprintf(buf, n, "inproc://bench-%d", seq);
    } else if (strcmp(tr, "ipc") == 0) {
        snprintf(buf, n, "ipc:///tmp/kt-bench-%d-%d.ipc", (int)getpid(), seq);
    } else {
        snprintf(buf, n, "tcp://127.0.0.1:%d", port_next++);
    }
    return buf;
}

static int
inproc(const char *tr)
{
    return strcmp(tr, "inproc") == 0;
}

static void
url_cleanup(const char *url)
{
    if (strncmp(url, "ipc://", 6) == 0) {
        unlink(url + 6);
    }
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double
median3(double *v)
{
    qsort(v, REPS, sizeof(*v), cmp_double);
    return v[REPS / 2];
}

static void
emit(const char *cs, const char *metric, double v, const char *unit,
     double base, double ratio)
{
    printf("{\"bench\":\"runtime\",\"case\":\"%s\",\"metric\":\"%s\","
           "\"value\":%.2f,\"unit\":\"%s\",\"baseline\":%.2f,"
           "\"ratio\":%.3f}\n",
           cs, metric, v, unit, base, ratio);
    fflush(stdout);
}

static void
oneway(const char *tr, size_t len, int n, int from)
{
    double kt[REPS], raw[REPS];
    char url[96], cs[64];

    if (!wanted(cs, sizeof(cs), "oneway", tr, len,
                inproc(tr) ? from_names[from] : "")) {
        return;
    }
    for (int r = 0; r < REPS; r++) {
        raw[r] = raw_oneway(url_for(tr, url, sizeof(url)), len, n);
        url_cleanup(url);
        url_for(tr, url, sizeof(url));
        kt[r] = kt_oneway(inproc(tr) ? NULL : url, len, n,
                          inproc(tr) ? from : FROM_SAME_THREAD);
        url_cleanup(url);
    }
    double k = median3(kt), b = median3(raw);
    emit(cs, "throughput", k, "msg/s", b, k / b);
}

static void
rtt(const char *tr, size_t len, int n, int same_thread)
{
    double p50k[REPS], p99k[REPS], p50r[REPS], p99r[REPS];
    double p50s[REPS], p99s[REPS];
    double *lat;
    char url[96], cs[64], floor_cs[80];
    int floor = !inproc(tr) && getenv("KT_BENCH_NO_RAW") == NULL;

    if (!wanted(cs, sizeof(cs), "ask", tr, len,
                same_thread ? "samethread" : "")) {
        return;
    }
    lat = malloc(sizeof(double) * (size_t)(n + WARMUP));
    for (int r = 0; r < REPS; r++) {
        if (getenv("KT_BENCH_NO_RAW") == NULL) { // profiling one side
            raw_rtt(url_for(tr, url, sizeof(url)), len, n + WARMUP, lat);
        }
        url_cleanup(url);
        qsort(lat + WARMUP, (size_t)n, sizeof(double), cmp_double);
        p50r[r] = lat[WARMUP + n / 2];
        p99r[r] = lat[WARMUP + n * 99 / 100];
        if (floor) { // the floor: no SP protocol, no runtime
            raw_stream_rtt(url_for(tr, url, sizeof(url)), len, n + WARMUP, lat);
            url_cleanup(url);
            qsort(lat + WARMUP, (size_t)n, sizeof(double), cmp_double);
            p50s[r] = lat[WARMUP + n / 2];
            p99s[r] = lat[WARMUP + n * 99 / 100];
        }
        url_for(tr, url, sizeof(url));
        if (getenv("KT_BENCH_NO_KT") == NULL) {
            kt_rtt(inproc(tr) ? NULL : url, len, n + WARMUP, same_thread, lat);
        }
        url_cleanup(url);
        qsort(lat + WARMUP, (size_t)n, sizeof(double), cmp_double);
        p50k[r] = lat[WARMUP + n / 2];
        p99k[r] = lat[WARMUP + n * 99 / 100];
    }
    double k50 = median3(p50k), b50 = median3(p50r);
    double k99 = median3(p99k), b99 = median3(p99r);
    emit(cs, "rtt_p50", k50, "us", b50, b50 / k50);
    emit(cs, "rtt_p99", k99, "us", b99, b99 / k99);
    if (floor) {
        double f50 = median3(p50s), f99 = median3(p99s);
        snprintf(floor_cs, sizeof(floor_cs), "%s_vs_bare_stream", cs);
        emit(floor_cs, "rtt_p50", k50, "us", f50, f50 / k50);
        emit(floor_cs, "rtt_p99", k99, "us", f99, f99 / k99);
    }
    free(lat);
}

int
main(int argc, char **argv)
{
    int quick = 0;
    const char *trs[] = {"inproc", "ipc", "tcp"};
    size_t sizes[] = {64, 4096};

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else {
            fprintf(stderr, "usage: kt_bench_runtime [--quick] [--only "
                            "CASE-PREFIX]\n");
            return 2;
        }
    }
    // Below Linux's ephemeral range (32768-60999), where a client
    // connection's own port could take a listener's.
    port_next = 20000 + (int)(getpid() % 500) * 24;
    for (int t = 0; t < 3; t++) {
        for (int s = 0; s < 2; s++) {
            int n = sizes[s] == 64 ? 30000 : 10000;
            n = quick ? n / 10 : n;
            for (int f = 0; f < (inproc(trs[t]) ? 3 : 1); f++) {
                oneway(trs[t], sizes[s], f == 2 ? n * 5 : n, f);
            }
            rtt(trs[t], sizes[s], quick ? 200 : 2000, 0);
            if (inproc(trs[t])) {
                rtt(trs[t], sizes[s], quick ? 200 : 2000, 1);
            }
        }
    }
    return 0;
}
