// Leveled logging: one key=value line per event, replaceable sink,
// threshold from $KTRDR_LOG_LEVEL (STYLE 3.8).
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <kt/log.h>

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;
static atomic_int log_level = KT_LOG_NOTICE;
static kt_log_sink log_sink;
static void *log_arg;

static const char *
log_level_name(kt_log_level lvl)
{
    switch (lvl) {
    case KT_LOG_ERR:
        return "err";
    case KT_LOG_WARN:
        return "warn";
    case KT_LOG_NOTICE:
        return "notice";
    case KT_LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

static void
log_init_env(void)
{
    const char *v = getenv("KTRDR_LOG_LEVEL");

    if (v == NULL) {
        return;
    }
    for (int l = KT_LOG_ERR; l <= KT_LOG_DEBUG; l++) {
        if (strcasecmp(v, log_level_name((kt_log_level)l)) == 0) {
            atomic_store(&log_level, l);
        }
    }
}

static void
log_stderr(void *arg, kt_log_level lvl, const char *module, const char *line)
{
    struct timespec ts;
    struct tm tm;
    char when[32];

    (void)arg;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    // One fprintf per line keeps lines whole across threads (stdio locks).
    fprintf(stderr, "%s.%03ldZ level=%s module=%s %s\n", when,
            ts.tv_nsec / 1000000, log_level_name(lvl), module, line);
}

bool
kt_log_enabled(kt_log_level lvl)
{
    pthread_once(&log_once, log_init_env);
    return (int)lvl <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void
kt_log_set_level(kt_log_level lvl)
{
    pthread_once(&log_once, log_init_env);
    atomic_store(&log_level, (int)lvl);
}

void
kt_log_set_sink(kt_log_sink sink, void *arg)
{
    pthread_mutex_lock(&log_mtx);
    log_sink = sink;
    log_arg = arg;
    pthread_mutex_unlock(&log_mtx);
}

void
kt_log(kt_log_level lvl, const char *module, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    kt_log_sink sink;
    void *arg;

    if (!kt_log_enabled(lvl)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap); // truncation is acceptable
    va_end(ap);
    pthread_mutex_lock(&log_mtx);
    sink = log_sink;
    arg = log_arg;
    pthread_mutex_unlock(&log_mtx);
    if (sink == NULL) {
        sink = log_stderr;
    }
    sink(arg, lvl, module != NULL ? module : "-", line);
}
