// fsio.h: the file-system steps of the checkpoint commit protocol, each
// routed through the fault-injection hook so tests can fail any of them.
#ifndef KT_PERSISTENCE_FSIO_H
#define KT_PERSISTENCE_FSIO_H

#include <stddef.h>
#include <stdint.h>

#include <kt/err.h>

#include "persistence/persistence.h"

typedef struct kt__fsio {
    kt_persist_fault_fn fault; // NULL: no injection
    void *arg;
} kt__fsio;

// Each returns KT_OK or KT_ESYSERR|errno (the injected errno when the hook
// asks for a failure). Paths are borrowed.
KT_NODISCARD kt_err kt__fsio_mkdir(const kt__fsio *f, const char *path);
// kt__fsio_write_file creates path (it must not exist), writes len bytes
// and fsyncs it. On failure the partial file is removed.
KT_NODISCARD kt_err kt__fsio_write_file(const kt__fsio *f, const char *path,
                                        const void *data, size_t len);
// kt__fsio_create creates path (it must not exist), writes len bytes and
// starts their write-back without waiting (sync_file_range), so the disk
// works while the caller does something else; *fdp stays open for
// kt__fsio_fsync_close. On failure the partial file is removed.
KT_NODISCARD kt_err kt__fsio_create(const kt__fsio *f, const char *path,
                                    const void *data, size_t len, int *fdp);
// kt__fsio_fsync_close fsyncs and closes fd (path names it for the hook);
// fd is closed whatever happens. The caller removes the file on failure.
KT_NODISCARD kt_err kt__fsio_fsync_close(const kt__fsio *f, const char *path,
                                         int fd);
KT_NODISCARD kt_err kt__fsio_sync_dir(const kt__fsio *f, const char *path);
KT_NODISCARD kt_err kt__fsio_rename(const kt__fsio *f, const char *from,
                                    const char *to);
// kt__fsio_rm_rf removes path and everything below it (missing is OK).
// Callers that only tidy up may ignore the result (an orphan is swept by
// cleanup later), hence no KT_NODISCARD.
kt_err kt__fsio_rm_rf(const kt__fsio *f, const char *path);
// kt__fsio_read_file reads a whole regular file of at most max bytes into
// a malloc'd buffer (*datap, caller frees; non-NULL even when empty).
// Errors: KT_ENOENT (missing), KT_ECORRUPT (not a file, too big), ESYSERR.
KT_NODISCARD kt_err kt__fsio_read_file(const char *path, size_t max,
                                       uint8_t **datap, size_t *lenp);

#endif // KT_PERSISTENCE_FSIO_H
