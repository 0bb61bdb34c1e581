// follow_draw.c: how a followed operation is drawn (cli_follow.c feeds
// it): a progress bar with ETA on a terminal, plain log lines otherwise,
// JSON lines with --json.
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "follow_int.h"

static void
fmt_eta(const view *v, double p, char *buf, size_t len)
{
    double el = (double)(cli_now_ms() - v->t0) / 1000.0;
    long s;

    if (p <= v->p0 + 0.01 || el < 0.5) {
        snprintf(buf, len, "--");
        return;
    }
    s = (long)(el * (100.0 - p) / (p - v->p0));
    snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
}

// log_due: the plain log and the JSON lines are a log, not an animation:
// a line for every new epoch (training) or decile (others) and the end,
// and within one decile at most one a second.
static bool
log_due(view *v, const fevent *e)
{
    int dec = (int)(e->percent / 10.0);
    int64_t now = cli_now_ms();
    bool show =
        e->total_epochs > 0 ? e->epoch != v->last_epoch : dec != v->last_decile;

    if (!show ||
        (!e->final && dec == v->last_decile && now - v->last_line_ms < 1000)) {
        return false;
    }
    v->last_epoch = e->epoch;
    v->last_decile = dec;
    v->last_line_ms = now;
    return true;
}

// draw_json: one progress object per line (docs/cli.md, "JSON lines").
void
cli_follow_draw_json(view *v, const fevent *e, const char *id)
{
    json_t *j;

    if (e->final || !log_due(v, e)) {
        return; // the final record follows instead (finish_json)
    }
    j = json_pack("{s:s,s:s,s:s,s:f,s:s}", "event", "progress", "operation_id",
                  id, "status", cli_status_name(e->status), "percent",
                  e->percent, "current_step", e->step);
    if (j == NULL) {
        return;
    }
    if (e->total_epochs > 0) {
        json_object_set_new(j, "epoch", json_integer(e->epoch));
        json_object_set_new(j, "total_epochs", json_integer(e->total_epochs));
        json_object_set_new(j, "train_loss", json_real(e->train_loss));
        json_object_set_new(j, "val_loss", json_real(e->val_loss));
    } else if (e->total_bars > 0) {
        json_object_set_new(j, "bar", json_integer((json_int_t)e->bar));
        json_object_set_new(j, "total_bars",
                            json_integer((json_int_t)e->total_bars));
        json_object_set_new(j, "equity", json_real(e->equity));
    }
    (void)cli_json_print(j);
    (void)fflush(stdout);
}

void
cli_follow_draw(view *v, const fevent *e)
{
    char eta[32], what[160];
    int fill = (int)(e->percent / 5.0);

    fmt_eta(v, e->percent, eta, sizeof(eta));
    if (e->total_epochs > 0) {
        snprintf(what, sizeof(what), "epoch %u/%u  loss %.4f  val %.4f",
                 e->epoch, e->total_epochs, e->train_loss, e->val_loss);
    } else if (e->total_bars > 0) {
        snprintf(what, sizeof(what), "bar %" PRIu64 "/%" PRIu64 "  equity %.2f",
                 e->bar, e->total_bars, e->equity);
    } else {
        snprintf(what, sizeof(what), "%s", e->step);
    }
    if (v->tty) {
        printf("\r[%-20.*s] %3d%%  %s  ETA %s\033[K", fill < 0 ? 0 : fill,
               "####################", (int)e->percent, what, eta);
    } else if (log_due(v, e)) {
        printf("%3d%%  %s  ETA %s\n", (int)e->percent, what, eta);
    }
    fflush(stdout);
}

// finish prints how the operation ended and returns the exit code.
