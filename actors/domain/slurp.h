// slurp.h: reading a whole text file into memory (internal to the domain
// library: CSV market data and strategy files).
#ifndef KT_DOMAIN_SLURP_H
#define KT_DOMAIN_SLURP_H

#include <stddef.h>

#include <kt/err.h>

// kt__slurp reads path into a new NUL-terminated buffer (*out, freed with
// free()) of *len bytes. Errors, with "<path>: <why>" in err: KT_ENOENT (no
// such file), KT_ESYSERR|errno (cannot open or read), KT_EINVAL (larger
// than max bytes), KT_ENOMEM.
kt_err kt__slurp(const char *path, size_t max, char **out, size_t *len,
                 char *err, size_t errlen);

#endif // KT_DOMAIN_SLURP_H
