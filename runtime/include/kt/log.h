// kt/log.h: leveled logging with a replaceable sink (STYLE.md 3.8).
// One line per event, key=value pairs. Thread-safe.
#ifndef KT_LOG_H
#define KT_LOG_H

#include <stdbool.h>

#include <kt/err.h>

#ifdef __cplusplus
extern "C" {
#endif

// Syslog numbers, as nng uses.
typedef enum kt_log_level {
    KT_LOG_ERR = 3,
    KT_LOG_WARN = 4,
    KT_LOG_NOTICE = 5,
    KT_LOG_INFO = 6,
    KT_LOG_DEBUG = 7,
} kt_log_level;

// A sink receives one formatted line (no trailing newline). It may be called
// from any thread, concurrently; it must copy anything it keeps.
typedef void (*kt_log_sink)(void *arg, kt_log_level lvl, const char *module,
                            const char *line);

// kt_log formats and delivers one line when lvl <= the current level.
KT_API void kt_log(kt_log_level lvl, const char *module, const char *fmt, ...)
    KT_PRINTF(3, 4);

// kt_log_set_sink replaces the sink (NULL restores the default: stderr with
// an ISO-8601 UTC timestamp). kt_log_set_level sets the threshold (default
// KT_LOG_NOTICE, or $KTRDR_LOG_LEVEL = err|warn|notice|info|debug).
KT_API void kt_log_set_sink(kt_log_sink sink, void *arg);
KT_API void kt_log_set_level(kt_log_level lvl);
KT_API bool kt_log_enabled(kt_log_level lvl);

#ifdef __cplusplus
}
#endif

#endif // KT_LOG_H
