// follow_int.h: an operation followed live, shared by cli_follow.c (the
// follower actor, its queue, Ctrl+C) and follow_draw.c (drawing it).
#ifndef KT_CLI_FOLLOW_INT_H
#define KT_CLI_FOLLOW_INT_H

#include <ktpb/v1/ops.pb-c.h>
#include <stdbool.h>
#include <stdint.h>

// One progress event as the main thread sees it.
typedef struct fevent {
    double percent, train_loss, val_loss, equity;
    uint32_t epoch, total_epochs;
    uint64_t bar, total_bars;
    Ktpb__V1__OpStatus status;
    bool final;
    bool subscribed; // the subscription took: nothing to draw
    int err;         // subscription failed (kt_err)
    char step[64];
    char error[256];
} fevent;

// What has been drawn so far.
typedef struct view {
    bool tty;
    int64_t t0;
    double p0;
    uint32_t last_epoch;
    int last_decile;
    int64_t last_line_ms; // plain mode: at most a line a second
} view;

// cli_follow_draw draws e: a bar on a terminal, else a log line when due.
void cli_follow_draw(view *v, const fevent *e);
// cli_follow_draw_json prints e as one JSON line for operation id, when
// due.
void cli_follow_draw_json(view *v, const fevent *e, const char *id);

#endif // KT_CLI_FOLLOW_INT_H
