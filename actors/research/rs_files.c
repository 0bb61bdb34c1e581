// rs_files.c: durable small files for the research actors: atomic
// replace (temp file, fsync, rename, directory fsync) and whole reads.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "research/rs_int.h"

kt_err
kt__rs_mkdirs(const char *dir)
{
    char buf[RS_PATH_MAX];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof(buf)) {
        return KT_EINVAL;
    }
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return (kt_err)(KT_ESYSERR | errno);
            }
            buf[i] = c;
        }
    }
    return KT_OK;
}

static kt_err
rs_sync_dir(const char *path)
{
    char dir[RS_PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd;

    if (slash == NULL) {
        (void)snprintf(dir, sizeof(dir), ".");
    } else {
        (void)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    }
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) < 0) {
        return (kt_err)(KT_ESYSERR | errno);
    }
    (void)fsync(fd);
    (void)close(fd);
    return KT_OK;
}

static kt_err
rs_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return (kt_err)(KT_ESYSERR | errno);
        }
        data += w;
        len -= (size_t)w;
    }
    return KT_OK;
}

kt_err
kt__rs_write_atomic(const char *path, const char *data, size_t len)
{
    char tmp[RS_PATH_MAX + 16], dir[RS_PATH_MAX];
    const char *slash = strrchr(path, '/');
    kt_err rv;
    int fd;

    if (slash != NULL) {
        (void)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
        if ((rv = kt__rs_mkdirs(dir)) != KT_OK) {
            return rv;
        }
    }
    (void)snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        return (kt_err)(KT_ESYSERR | errno);
    }
    if ((rv = rs_write_all(fd, data, len)) == KT_OK && fsync(fd) != 0) {
        rv = (kt_err)(KT_ESYSERR | errno);
    }
    if (close(fd) != 0 && rv == KT_OK) {
        rv = (kt_err)(KT_ESYSERR | errno);
    }
    if (rv == KT_OK && rename(tmp, path) != 0) {
        rv = (kt_err)(KT_ESYSERR | errno);
    }
    if (rv != KT_OK) {
        (void)unlink(tmp);
        return rv;
    }
    return rs_sync_dir(path);
}

kt_err
kt__rs_read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (f == NULL) {
        return errno == ENOENT ? KT_ENOENT : (kt_err)(KT_ESYSERR | errno);
    }
    for (;;) {
        if (n + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap = (cap + 4096) * 2);
            if (nb == NULL) {
                free(buf);
                (void)fclose(f);
                return KT_ENOMEM;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r < 4096) {
            break;
        }
    }
    (void)fclose(f);
    buf[n] = '\0';
    *out = buf;
    if (len != NULL) {
        *len = n;
    }
    return KT_OK;
}
