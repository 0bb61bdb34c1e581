// kt_data.h: shared pieces of the kt-data tool.
#ifndef KT_TOOLS_KT_DATA_H
#define KT_TOOLS_KT_DATA_H

#include <stdio.h>

enum { EXIT_OKAY = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

// Options common to the subcommands; NULL when not given.
typedef struct kt_data_opts {
    const char *start;
    const char *end;
    const char *seed;
    const char *data_dir;
    const char *out;
    const char *pos[4]; // positional arguments
    int n_pos;
} kt_data_opts;

// kt_data_features runs `kt-data features`; returns an exit code.
int kt_data_features(const kt_data_opts *o);

// kt_data_usage_error prints "kt-data: <message>" and a hint to stderr and
// returns EXIT_USAGE.
int kt_data_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

// kt_data_dir is --data-dir, else $KTRDR_DATA_DIR, else "./data".
const char *kt_data_dir(const kt_data_opts *o);

#endif // KT_TOOLS_KT_DATA_H
