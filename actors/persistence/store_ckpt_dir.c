// store_ckpt_dir.c: the file half of the checkpoint commit protocol, for
// checkpoints too big to keep inline. The artifacts go to a fresh temp dir:
// all files are written first (each one's write-back started at once), the
// hashes the writer did not send are computed while the disk works, then
// every file is fsynced, the temp dir is fsynced, renamed to
// checkpoints/<op>/<seq> and the parent fsynced. Nothing is visible as a
// checkpoint before its row is committed (store_ckpt.c), so batching the
// fsyncs after all the writes is as crash-safe as one file at a time.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persistence/store.h"
#include "persistence/store_int.h"

#define DIR_BATCH 64 // files open at once

typedef char dir_path[KT_STORE_PATH_MAX + KT_STORE_ID_MAX + 2];

// dir_write_batch writes artifacts [from, to) into tmp, hashes those in
// need of it while their write-back runs, then fsyncs them.
static kt_err
dir_write_batch(kt__store *s, const kt_ckpt_event *e, const char *tmp,
                size_t from, size_t to, uint8_t (*hashes)[32],
                const bool *need_hash)
{
    int fds[DIR_BATCH];
    dir_path path;
    size_t open_n = 0;
    kt_err rv = KT_OK;

    for (size_t i = from; i < to && rv == KT_OK; i++, open_n++) {
        kt__store_fmt(path, sizeof(path), "%s/%s", tmp, e->artifacts[i].name);
        rv = kt__fsio_create(&s->fs, path, e->artifacts[i].data,
                             e->artifacts[i].len, &fds[i - from]);
    }
    if (rv != KT_OK) {
        open_n--; // the failed one is closed and removed already
    }
    for (size_t i = from; rv == KT_OK && i < to; i++) {
        if (need_hash[i]) {
            kt_sha256(e->artifacts[i].data, e->artifacts[i].len, hashes[i]);
        }
    }
    for (size_t k = 0; k < open_n; k++) {
        kt_err r2;
        if (rv != KT_OK) {
            (void)close(fds[k]);
            continue;
        }
        kt__store_fmt(path, sizeof(path), "%s/%s", tmp,
                      e->artifacts[from + k].name);
        if ((r2 = kt__fsio_fsync_close(&s->fs, path, fds[k])) != KT_OK) {
            rv = r2; // the remaining fds are closed above; tmp goes later
        }
    }
    return rv;
}

static kt_err
dir_write_files(kt__store *s, const kt_ckpt_event *e, const char *tmp,
                uint8_t (*hashes)[32], const bool *need_hash)
{
    kt_err rv;

    if ((rv = kt__fsio_rm_rf(&s->fs, tmp)) != KT_OK ||
        (rv = kt__fsio_mkdir(&s->fs, tmp)) != KT_OK) {
        return rv;
    }
    for (size_t i = 0; i < e->nartifacts; i += DIR_BATCH) {
        size_t to =
            i + DIR_BATCH < e->nartifacts ? i + DIR_BATCH : e->nartifacts;
        if ((rv = dir_write_batch(s, e, tmp, i, to, hashes, need_hash)) !=
            KT_OK) {
            return rv;
        }
    }
    return kt__fsio_sync_dir(&s->fs, tmp);
}

kt_err
kt__store_ckpt_write_dir(kt__store *s, const kt_ckpt_event *e,
                         const char *final, uint8_t (*hashes)[32],
                         const bool *need_hash)
{
    char tmp[KT_STORE_PATH_MAX], opdir[KT_STORE_PATH_MAX];
    struct stat sb;
    kt_err rv;

    kt__store_fmt(tmp, sizeof(tmp), "%s/%s.%llu.%llx", s->tmpdir, e->op_id,
                  (unsigned long long)e->seq, (unsigned long long)++s->nonce);
    kt__store_copy(s->inflight, sizeof(s->inflight), tmp);
    kt__store_op_dir(s, e->op_id, opdir);
    if ((rv = dir_write_files(s, e, tmp, hashes, need_hash)) != KT_OK) {
        goto fail;
    }
    if (stat(opdir, &sb) != 0 &&
        ((rv = kt__fsio_mkdir(&s->fs, opdir)) != KT_OK ||
         (rv = kt__fsio_sync_dir(&s->fs, s->ckdir)) != KT_OK)) {
        goto fail;
    }
    // A directory without a row is the leftover of a crash before commit.
    if ((rv = kt__fsio_rm_rf(&s->fs, final)) != KT_OK ||
        (rv = kt__fsio_rename(&s->fs, tmp, final)) != KT_OK) {
        goto fail;
    }
    if ((rv = kt__fsio_sync_dir(&s->fs, opdir)) != KT_OK) {
        (void)kt__fsio_rm_rf(NULL, final);
        goto fail;
    }
    s->inflight[0] = '\0';
    return KT_OK;
fail:
    (void)kt__fsio_rm_rf(NULL, tmp);
    s->inflight[0] = '\0';
    return kt__store_fail(s, rv, "checkpoint %llu of %s not saved: %s",
                          (unsigned long long)e->seq, e->op_id,
                          kt_strerror(rv));
}
