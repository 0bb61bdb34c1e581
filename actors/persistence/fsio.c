// fsio.c: durable file-system primitives (write+fsync, rename, directory
// fsync, recursive delete) with a fault-injection hook in front of each.
#define _XOPEN_SOURCE 700 // nftw
#define _GNU_SOURCE       // sync_file_range
#include "persistence/fsio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static kt_err
fsio_fault(const kt__fsio *f, kt_persist_fault_op op, const char *path)
{
    int e;

    if (f == NULL || f->fault == NULL) {
        return KT_OK;
    }
    e = f->fault(f->arg, op, path);
    return e == 0 ? KT_OK : (kt_err)(KT_ESYSERR | e);
}

static kt_err
fsio_errno(void)
{
    return (kt_err)(KT_ESYSERR | errno);
}

kt_err
kt__fsio_mkdir(const kt__fsio *f, const char *path)
{
    kt_err rv;

    if ((rv = fsio_fault(f, KT_PERSIST_OP_MKDIR, path)) != KT_OK) {
        return rv;
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        return fsio_errno();
    }
    return KT_OK;
}

#define FSIO_CHUNK (4u << 20) // write-back is started every 4 MiB

// fsio_write_all writes p[len], starting the write-back of each chunk as
// soon as it is in the page cache (a hint: its failure is ignored, the
// fsync that follows is what makes the bytes durable).
static kt_err
fsio_write_all(const kt__fsio *f, int fd, const char *path, const uint8_t *p,
               size_t len)
{
    off_t off = 0, synced = 0;
    kt_err rv;

    if ((rv = fsio_fault(f, KT_PERSIST_OP_WRITE, path)) != KT_OK) {
        return rv;
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len < FSIO_CHUNK ? len : FSIO_CHUNK);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fsio_errno();
        }
        p += n;
        len -= (size_t)n;
        off += n;
        if (off - synced >= (off_t)FSIO_CHUNK || len == 0) {
#ifdef SYNC_FILE_RANGE_WRITE
            (void)sync_file_range(fd, synced, off - synced,
                                  SYNC_FILE_RANGE_WRITE);
#endif
            synced = off;
        }
    }
    return KT_OK;
}

kt_err
kt__fsio_create(const kt__fsio *f, const char *path, const void *data,
                size_t len, int *fdp)
{
    kt_err rv;
    int fd;

    if ((rv = fsio_fault(f, KT_PERSIST_OP_OPEN, path)) != KT_OK) {
        return rv;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        return fsio_errno();
    }
    if ((rv = fsio_write_all(f, fd, path, data, len)) != KT_OK) {
        (void)close(fd);
        (void)unlink(path);
        return rv;
    }
    *fdp = fd;
    return KT_OK;
}

kt_err
kt__fsio_fsync_close(const kt__fsio *f, const char *path, int fd)
{
    kt_err rv;

    if ((rv = fsio_fault(f, KT_PERSIST_OP_FSYNC, path)) != KT_OK) {
        (void)close(fd);
        return rv;
    }
    if (fsync(fd) != 0) {
        rv = fsio_errno();
        (void)close(fd);
        return rv;
    }
    return close(fd) != 0 ? fsio_errno() : KT_OK;
}

kt_err
kt__fsio_write_file(const kt__fsio *f, const char *path, const void *data,
                    size_t len)
{
    kt_err rv;
    int fd;

    if ((rv = kt__fsio_create(f, path, data, len, &fd)) != KT_OK) {
        return rv;
    }
    if ((rv = kt__fsio_fsync_close(f, path, fd)) != KT_OK) {
        (void)unlink(path);
    }
    return rv;
}

kt_err
kt__fsio_sync_dir(const kt__fsio *f, const char *path)
{
    kt_err rv = KT_OK;
    int fd;

    if ((rv = fsio_fault(f, KT_PERSIST_OP_DIRSYNC, path)) != KT_OK) {
        return rv;
    }
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return fsio_errno();
    }
    if (fsync(fd) != 0) {
        rv = fsio_errno();
    }
    (void)close(fd);
    return rv;
}

kt_err
kt__fsio_rename(const kt__fsio *f, const char *from, const char *to)
{
    kt_err rv;

    if ((rv = fsio_fault(f, KT_PERSIST_OP_RENAME, to)) != KT_OK) {
        return rv;
    }
    if (rename(from, to) != 0) {
        return fsio_errno();
    }
    return KT_OK;
}

static int
fsio_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP || flag == FTW_D) {
        return rmdir(path) != 0 && errno != ENOENT ? errno : 0;
    }
    return unlink(path) != 0 && errno != ENOENT ? errno : 0;
}

kt_err
kt__fsio_rm_rf(const kt__fsio *f, const char *path)
{
    kt_err rv;
    struct stat st;
    int e;

    if ((rv = fsio_fault(f, KT_PERSIST_OP_UNLINK, path)) != KT_OK) {
        return rv;
    }
    if (lstat(path, &st) != 0) {
        return errno == ENOENT ? KT_OK : fsio_errno();
    }
    e = nftw(path, fsio_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    if (e < 0) {
        return fsio_errno();
    }
    return e == 0 ? KT_OK : (kt_err)(KT_ESYSERR | e);
}

kt_err
kt__fsio_read_file(const char *path, size_t max, uint8_t **datap, size_t *lenp)
{
    struct stat st;
    uint8_t *buf;
    size_t got = 0;
    kt_err rv;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return errno == ENOENT ? KT_ENOENT : fsio_errno();
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > max) {
        (void)close(fd);
        return KT_ECORRUPT;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        (void)close(fd);
        return KT_ENOMEM;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rv = n < 0 ? fsio_errno() : KT_ECORRUPT; // shrank under us
            free(buf);
            (void)close(fd);
            return rv;
        }
        got += (size_t)n;
    }
    (void)close(fd);
    *datap = buf;
    *lenp = got;
    return KT_OK;
}
