// sup_intent.c: restart intents. Between recording an operation as failed
// and resuming it (the backoff) the only trace of "restart pending" would
// be the supervisor's memory; a backend crash then would leave the
// operation failed for good. So the supervisor first writes an empty file
// DIR/supervisor/<op id>.restart (fsynced), removes it once the operation
// runs again or the policy gives up, and at start restarts the failed
// operations whose file is still there.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kt/log.h>

#include "supervisor/sup_int.h"
#include "workers/wk_msg.h"

#define SUP_INTENT_EXT ".restart"

static void
intent_dirsync(const supervisor *s)
{
    int fd = open(s->intents, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        if (fsync(fd) != 0) {
            kt_log(KT_LOG_WARN, "supervisor", "event=dirsync_failed errno=%d",
                   errno);
        }
        close(fd);
    }
}

static bool
intent_path(const supervisor *s, const char *op_id, char *buf, size_t n)
{
    if (s->intents[0] == '\0' || op_id[0] == '\0' ||
        strchr(op_id, '/') != NULL || op_id[0] == '.') {
        return false;
    }
    return (size_t)snprintf(buf, n, "%s/%s%s", s->intents, op_id,
                            SUP_INTENT_EXT) < n;
}

void
kt__sup_intent_init(supervisor *s, const char *data_dir)
{
    s->intents[0] = '\0';
    if (data_dir == NULL || data_dir[0] == '\0' ||
        (size_t)snprintf(s->intents, sizeof(s->intents), "%s/supervisor",
                         data_dir) >= sizeof(s->intents) ||
        (mkdir(s->intents, 0755) != 0 && errno != EEXIST)) {
        if (data_dir != NULL) {
            kt_log(KT_LOG_ERR, "supervisor",
                   "event=intents_disabled dir=%s errno=%d", s->intents, errno);
        }
        s->intents[0] = '\0';
    }
}

void
kt__sup_intent_set(supervisor *s, const char *op_id)
{
    char path[1200];
    int fd;

    if (!intent_path(s, op_id, path, sizeof(path))) {
        return;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || fsync(fd) != 0) {
        kt_log(KT_LOG_ERR, "supervisor", "event=intent_failed op=%s errno=%d",
               op_id, errno);
    }
    if (fd >= 0) {
        close(fd);
    }
    intent_dirsync(s);
}

void
kt__sup_intent_clear(supervisor *s, const char *op_id)
{
    char path[1200];

    if (intent_path(s, op_id, path, sizeof(path)) && unlink(path) == 0) {
        intent_dirsync(s);
        kt_log(KT_LOG_INFO, "supervisor", "event=intent_done op=%s", op_id);
    }
}

void
kt__sup_intent_scan(supervisor *s, void (*fn)(supervisor *s, const char *op_id))
{
    size_t ext = strlen(SUP_INTENT_EXT);
    struct dirent *e;
    char id[128];
    DIR *d;

    if (s->intents[0] == '\0' || (d = opendir(s->intents)) == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n <= ext || n - ext >= sizeof(id) ||
            strcmp(e->d_name + n - ext, SUP_INTENT_EXT) != 0) {
            continue;
        }
        memcpy(id, e->d_name, n - ext);
        id[n - ext] = '\0';
        fn(s, id);
    }
    closedir(d);
}
