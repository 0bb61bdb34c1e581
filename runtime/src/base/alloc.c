// Allocation accounting and fault injection for the runtime (STYLE 3.9).
#include "base/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define KT_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/lsan_interface.h>
#define KT_HAVE_LSAN 1
#endif
#endif

#include <kt/actor.h>

static atomic_int_least64_t alloc_live;
static atomic_int_least64_t alloc_budget = -1; // < 0: no injection

static int
alloc_should_fail(void)
{
    int64_t b = atomic_load_explicit(&alloc_budget, memory_order_relaxed);

    if (b < 0) {
        return 0;
    }
    if (b == 0) {
        return 1;
    }
    // Several threads may race here; the budget is a test aid, not exact.
    atomic_fetch_sub_explicit(&alloc_budget, 1, memory_order_relaxed);
    return 0;
}

void *
kt__alloc(size_t n)
{
    void *p;

    if (alloc_should_fail()) {
        return NULL;
    }
    if ((p = malloc(n == 0 ? 1 : n)) != NULL) {
        atomic_fetch_add_explicit(&alloc_live, 1, memory_order_relaxed);
    }
    return p;
}

void *
kt__zalloc(size_t n)
{
    void *p = kt__alloc(n);

    if (p != NULL) {
        memset(p, 0, n);
    }
    return p;
}

void
kt__free(void *p, size_t n)
{
    (void)n;
    if (p != NULL) {
        atomic_fetch_sub_explicit(&alloc_live, 1, memory_order_relaxed);
        free(p);
    }
}

char *
kt__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = kt__alloc(n);

    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

void
kt__strfree(char *s)
{
    if (s != NULL) {
        kt__free(s, strlen(s) + 1);
    }
}

int64_t
kt__alloc_live(void)
{
    return atomic_load(&alloc_live);
}

void
kt__alloc_fail_after(int64_t n)
{
    atomic_store(&alloc_budget, n < 0 ? -1 : n);
}

void
kt_process_tune(void)
{
#ifdef __GLIBC__
    (void)mallopt(M_MMAP_THRESHOLD, 64 << 20);  // buffers below: from the heap
    (void)mallopt(M_TRIM_THRESHOLD, 256 << 20); // keep freed memory for reuse
#endif
}

void
kt__leak_on_purpose(const void *p)
{
#ifdef KT_HAVE_LSAN
    if (p != NULL) {
        __lsan_ignore_object(p);
    }
#else
    (void)p;
#endif
}
