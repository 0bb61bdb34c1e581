// slurp.c: reading a whole text file into memory.
#include "domain/slurp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/errbuf.h"

static kt_err
fail(FILE *f, char *buf, kt_err rv)
{
    free(buf);
    (void)fclose(f);
    return rv;
}

kt_err
kt__slurp(const char *path, size_t max, char **out, size_t *len, char *err,
          size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, r;

    if (f == NULL) {
        int e = errno;
        kt__errf(err, errlen, "%s: %s", path, strerror(e));
        return e == ENOENT ? KT_ENOENT : (kt_err)(KT_ESYSERR | e);
    }
    do {
        if (cap - n < 4096) { // grow geometrically, keep room for the NUL
            char *q = realloc(buf, cap = cap * 2 + 65536);
            if (q == NULL) {
                return fail(f, buf, KT_ENOMEM);
            }
            buf = q;
        }
        r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (n > max) {
            kt__errf(err, errlen, "%s: file too large (more than %zu bytes)",
                     path, max);
            return fail(f, buf, KT_EINVAL);
        }
    } while (r > 0);
    if (ferror(f)) {
        int e = errno != 0 ? errno : EIO;
        kt__errf(err, errlen, "%s: read error: %s", path, strerror(e));
        return fail(f, buf, (kt_err)(KT_ESYSERR | e));
    }
    (void)fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return KT_OK;
}
