// cli_fmt.c: how the CLI writes statuses, ages, times, checkpoint summaries
// and operations as JSON.
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "http/http.h"

static const char *const status_names[] = {
    "unknown", "pending",   "running",  "completed",
    "failed",  "cancelled", "resuming",
};
static const char *const status_upper[] = {
    "UNKNOWN", "PENDING",   "RUNNING",  "COMPLETED",
    "FAILED",  "CANCELLED", "RESUMING",
};

const char *
cli_status_name(Ktpb__V1__OpStatus s)
{
    return (unsigned)s < 7 ? status_names[s] : "unknown";
}

const char *
cli_status_upper(Ktpb__V1__OpStatus s)
{
    return (unsigned)s < 7 ? status_upper[s] : "UNKNOWN";
}

int
cli_status_parse(const char *s, Ktpb__V1__OpStatus *out)
{
    for (int i = 1; i < 7; i++) {
        if (strcasecmp(s, status_names[i]) == 0) {
            *out = (Ktpb__V1__OpStatus)i;
            return CLI_OK;
        }
    }
    return CLI_USAGE;
}

const char *
cli_ckpt_type_name(Ktpb__V1__CheckpointType t)
{
    static const char *const names[] = {"unknown", "periodic", "cancellation",
                                        "failure", "shutdown"};
    return (unsigned)t < 5 ? names[t] : "unknown";
}

bool
cli_op_resumable(const Ktpb__V1__OperationRecord *op)
{
    return op->checkpoint_seq > 0 &&
           (op->status == KTPB__V1__OP_STATUS__OP_CANCELLED ||
            op->status == KTPB__V1__OP_STATUS__OP_FAILED);
}

int64_t
cli_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
cli_age_short(int64_t ms, char *buf, size_t len)
{
    int64_t s = ms < 0 ? 0 : ms / 1000;

    if (s < 60) {
        snprintf(buf, len, "%" PRId64 "s", s);
    } else if (s < 3600) {
        snprintf(buf, len, "%" PRId64 "m", s / 60);
    } else if (s < 86400) {
        snprintf(buf, len, "%" PRId64 "h", s / 3600);
    } else {
        snprintf(buf, len, "%" PRId64 "d", s / 86400);
    }
}

void
cli_age_long(int64_t ms, char *buf, size_t len)
{
    static const struct {
        int64_t secs;
        const char *unit;
    } units[] = {{86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}};
    int64_t s = ms < 0 ? 0 : ms / 1000;

    for (size_t i = 0; i < 4; i++) {
        if (s >= units[i].secs || i == 3) {
            int64_t v = s / units[i].secs;
            snprintf(buf, len, "%" PRId64 " %s%s", v, units[i].unit,
                     v == 1 ? "" : "s");
            return;
        }
    }
}

void
cli_iso_utc(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
cli_ckpt_summary(const Ktpb__V1__OperationRecord *op, char *buf, size_t len)
{
    if (op->checkpoint_seq == 0) {
        snprintf(buf, len, "-");
    } else if (op->checkpoint_unit != NULL && op->checkpoint_unit[0] != '\0') {
        snprintf(buf, len, "%s %" PRId64, op->checkpoint_unit,
                 op->checkpoint_unit_value);
    } else {
        snprintf(buf, len, "saved");
    }
}

json_t *
cli_op_json(const Ktpb__V1__OperationRecord *op)
{
    return kt_http_op_json(op); // one JSON shape for the CLI and HTTP
}

// --follow --json writes JSON lines: every document, errors included, on
// one line of its own.
static bool json_lines;

void
cli_json_lines(bool on)
{
    json_lines = on;
}

int
cli_json_print(json_t *j)
{
    if (j != NULL) {
        json_dumpf(j, stdout,
                   (json_lines ? JSON_COMPACT : JSON_INDENT(2)) |
                       JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(j);
    }
    return CLI_OK;
}
