// Internal allocator: every runtime allocation goes through it so tests can
// assert that nothing is left live after kt_runtime_stop, and inject faults.
#ifndef KT_BASE_ALLOC_H
#define KT_BASE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

// kt__alloc returns n bytes (uninitialised), or NULL when out of memory or
// when an injected failure is due. kt__zalloc zeroes them.
void *kt__alloc(size_t n);
void *kt__zalloc(size_t n);
// kt__free releases p (NULL is a no-op); n is the size given at allocation.
void kt__free(void *p, size_t n);
// kt__strdup copies s (NULL on failure); release with kt__strfree.
char *kt__strdup(const char *s);
void kt__strfree(char *s);

// kt__alloc_live is the number of allocations not yet freed.
int64_t kt__alloc_live(void);
// kt__alloc_fail_after makes the n-th next allocation (0 = the next one)
// and every later one fail; a negative n turns injection off.
void kt__alloc_fail_after(int64_t n);

// kt__leak_on_purpose: p is left allocated on purpose (an object NNG may
// still use after a close we gave up on, guard.h); LeakSanitizer is told
// not to report it, nor what it points to. A no-op without ASan.
void kt__leak_on_purpose(const void *p);

#endif // KT_BASE_ALLOC_H
