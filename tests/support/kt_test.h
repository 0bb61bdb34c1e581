// Test helpers for the runtime: waiting on conditions with a deadline, log
// capture, and small actors (echo, counter) shared by the suites.
#ifndef KT_TEST_KT_TEST_H
#define KT_TEST_KT_TEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <kt/kt.h>

// run_until polls cond(arg) until it holds or deadline_ms passes.
bool run_until(bool (*cond)(void *arg), void *arg, int deadline_ms);
// wait_atomic waits until *v >= want (deadline_ms), returning the truth.
bool wait_atomic(atomic_long *v, long want, int deadline_ms);

// Log capture: every line goes to a buffer; log_seen looks for a substring.
void log_capture_start(void);
void log_capture_stop(void);
bool log_seen(const char *needle);
bool log_wait(const char *needle, int deadline_ms);

// A runtime for one test; stop_checked stops it and asserts that no
// runtime allocation is left.
kt_runtime *start_rt(int threads, size_t mailbox_limit);
void stop_checked(kt_runtime *rt);

// echo: replies to every request with a copy (type and body); counts.
// counter: adds 1 to the atomic_long its cfg points at for every message,
// fails its handler with the error in the body if type == FAIL_TYPE.
enum { T_PING = 100, T_FAIL = 101, T_EXIT = 102 };
extern const kt_actor_ops echo_ops;
extern const kt_actor_ops counter_ops;
kt_msg *msg_new(uint32_t type, const void *body, size_t len);
kt_aid spawn_ok(kt_runtime *rt, const kt_actor_ops *ops, const void *cfg,
                const char *name);

#endif // KT_TEST_KT_TEST_H
