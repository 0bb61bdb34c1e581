// ohlcv_write.c: writes bars in the KTRDR CSV layout.
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "domain/errbuf.h"
#include "domain/ohlcv.h"

enum { COL_O, COL_H, COL_L, COL_C, COL_V, NCOLS };

// fmt_num prints v with up to 6 decimals, trailing zeros trimmed.
static void
fmt_num(char *buf, size_t len, double v)
{
    char *p;
    if (v == 0) {
        v = 0; // no "-0"
    }
    (void)snprintf(buf, len, "%.6f", v);
    p = buf + strlen(buf) - 1;
    while (*p == '0') {
        *p-- = '\0';
    }
    if (*p == '.') {
        *p = '\0';
    }
}

kt_err
kt_ohlcv_write(const kt_ohlcv *b, const char *path, char *err, size_t errlen)
{
    char tmp[4096], ts[32], f[NCOLS][48];
    FILE *fp;
    int e = 0;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        kt__errf(err, errlen, "%s: path too long", path);
        return KT_EINVAL;
    }
    if ((fp = fopen(tmp, "w")) == NULL) {
        e = errno;
        kt__errf(err, errlen, "%s: %s", tmp, strerror(e));
        return (kt_err)(KT_ESYSERR | e);
    }
    (void)fputs("timestamp,open,high,low,close,volume\n", fp);
    for (size_t i = 0; i < b->n; i++) {
        kt_time_format(b->time[i], ts, sizeof(ts));
        fmt_num(f[COL_O], sizeof(f[0]), b->open[i]);
        fmt_num(f[COL_H], sizeof(f[0]), b->high[i]);
        fmt_num(f[COL_L], sizeof(f[0]), b->low[i]);
        fmt_num(f[COL_C], sizeof(f[0]), b->close[i]);
        fmt_num(f[COL_V], sizeof(f[0]), b->volume[i]);
        (void)fprintf(fp, "%s,%s,%s,%s,%s,%s\n", ts, f[COL_O], f[COL_H],
                      f[COL_L], f[COL_C], f[COL_V]);
    }
    if (ferror(fp)) {
        e = errno != 0 ? errno : EIO;
    }
    if (fclose(fp) != 0 && e == 0) {
        e = errno;
    }
    if (e == 0 && rename(tmp, path) != 0) {
        e = errno;
    }
    if (e != 0) {
        (void)remove(tmp);
        kt__errf(err, errlen, "%s: %s", path, strerror(e));
        return (kt_err)(KT_ESYSERR | e);
    }
    return KT_OK;
}
