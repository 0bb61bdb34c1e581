// errbuf.h: error-message formatting and strdup for the domain modules
// (internal).
#ifndef KT_DOMAIN_ERRBUF_H
#define KT_DOMAIN_ERRBUF_H

#include <stddef.h>

#include <kt/err.h>

// kt__errf formats into err (when err != NULL and errlen > 0).
void kt__errf(char *err, size_t errlen, const char *fmt, ...) KT_PRINTF(3, 4);

// kt__fmt is snprintf into dst[cap] for text that may be cut (paths in
// messages); truncation is fine there.
void kt__fmt(char *dst, size_t cap, const char *fmt, ...) KT_PRINTF(3, 4);

// kt__dom_strdup is strdup that returns NULL on allocation failure.
char *kt__dom_strdup(const char *s);

#endif // KT_DOMAIN_ERRBUF_H
