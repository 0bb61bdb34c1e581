// kt_bench_runtime: the runtime against raw NNG on the same transports.
#ifndef KT_BENCH_RUNTIME_H
#define KT_BENCH_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

// One-way: messages per second for n messages of len bytes.
// Round trip: n latencies in microseconds written to lat[].
double raw_oneway(const char *url, size_t len, int n);
void raw_rtt(const char *url, size_t len, int n, double *lat);
// raw_stream_rtt: len bytes echoed on a bare NNG byte stream (ipc, tcp).
void raw_stream_rtt(const char *url, size_t len, int n, double *lat);
// url NULL = inproc between scheduler threads of one runtime, else two
// runtimes connected over url. from: who produces (for url != NULL an
// actor always shares the proxy's thread, i.e. FROM_SAME_THREAD).
enum {
    FROM_EXTERNAL = 0,     // a plain thread calling kt_runtime_send
    FROM_OTHER_THREAD = 1, // an actor on another scheduler thread
    FROM_SAME_THREAD = 2,  // an actor on the receiver's thread (no socket)
};
double kt_oneway(const char *url, size_t len, int n, int from);
void kt_rtt(const char *url, size_t len, int n, int same_thread, double *lat);

double bench_now_us(void);

#endif // KT_BENCH_RUNTIME_H
