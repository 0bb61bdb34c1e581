// test_cli_follow.c: `--follow --json` streams (JSON lines: progress
// objects, then the operation's final record as `operations status ID
// --json` prints it) for models train, operations status and resume, with
// Ctrl+C and bad input; the real `ktrdr` against a real backend.
#include <jansson.h>

#include "cli_harness.h"

static void
setup(void)
{
    h_setup();
}

TestSuite(cli_follow, .init = setup, .fini = h_teardown, .timeout = 60.0);

// lines splits text into its lines, each parsed as one JSON object (the
// test fails on a line that is not); returns how many.
static size_t
lines(const char *text, json_t **out, size_t max)
{
    static char buf[65536];
    size_t n = 0;
    char *save = NULL;

    snprintf(buf, sizeof(buf), "%s", text);
    for (char *l = strtok_r(buf, "\n", &save); l != NULL;
         l = strtok_r(NULL, "\n", &save)) {
        json_error_t e;
        cr_assert_lt(n, max, "too many lines: %s", text);
        out[n] = json_loads(l, 0, &e);
        cr_assert(json_is_object(out[n]), "not a JSON object line: '%s' (%s)",
                  l, e.text);
        n++;
    }
    return n;
}

// last_line: where the last line of text starts.
static const char *
last_line(const char *text)
{
    size_t n = strlen(text);

    while (n > 0 && text[n - 1] == '\n') {
        n--;
    }
    while (n > 0 && text[n - 1] != '\n') {
        n--;
    }
    return text + n;
}

static void
free_lines(json_t **j, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(j[i]);
    }
}

static const char *
str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

// status_json is `operations status ID --json`, parsed.
static json_t *
status_json(const char *id)
{
    h_out r;
    json_t *j;

    h_run(&r, "operations", "status", id, "--json");
    cr_assert_eq(r.code, 0, "%s %s", r.out, r.err);
    j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "%s", r.out);
    return j;
}

Test(cli_follow, train_follow_json_streams_progress_then_the_final_record)
{
    json_t *l[256], *st;
    h_out r;
    size_t n;

    h_serve(NULL);
    h_run(&r, "models", "train", MINIMAL, "EURUSD", "1h", "--start-date",
          "2024-01-01", "--end-date", "2024-03-01", "--epochs", "6", "--follow",
          "--json");
    cr_assert_eq(r.code, 0, "%s %s", r.out, r.err);
    n = lines(r.out, l, 256);
    cr_assert_geq(n, 1, "%s", r.out);
    // Every line but the last is a progress object of this operation.
    const char *id = str(l[n - 1], "operation_id");
    cr_assert_neq(id[0], '\0', "%s", r.out);
    for (size_t i = 0; i + 1 < n; i++) {
        cr_expect_str_eq(str(l[i], "event"), "progress", "line %zu", i);
        cr_expect_str_eq(str(l[i], "operation_id"), id, "line %zu", i);
        cr_expect(json_is_number(json_object_get(l[i], "percent")));
        cr_expect_eq(json_integer_value(json_object_get(l[i], "total_epochs")),
                     6, "line %zu", i);
    }
    // The last is the final record, exactly what status --json prints.
    cr_expect_null(json_object_get(l[n - 1], "event"));
    cr_expect_str_eq(str(l[n - 1], "status"), "completed");
    st = status_json(id);
    cr_expect(json_equal(l[n - 1], st), "final line differs from status");
    json_decref(st);
    h_golden("follow_json_final.txt", last_line(r.out));
    free_lines(l, n);
    h_stop();
}

Test(cli_follow, follow_json_of_an_ended_operation_prints_only_its_record)
{
    char id[128];
    json_t *l[8], *st;
    h_out r;

    h_serve(NULL);
    h_run(&r, "models", "train", MINIMAL, "EURUSD", "1h", "--start-date",
          "2024-01-01", "--end-date", "2024-03-01", "--epochs", "2",
          "--follow");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(h_op_id(r.out, id, sizeof(id)));
    h_run(&r, "operations", "status", id, "--follow", "--json");
    cr_assert_eq(r.code, 0, "%s %s", r.out, r.err);
    // No wait for the status poll: the record is read once subscribed.
    cr_expect_lt(r.ms, 1500.0, "took %.0f ms", r.ms);
    cr_assert_eq(lines(r.out, l, 8), 1, "%s", r.out);
    st = status_json(id);
    cr_expect(json_equal(l[0], st), "%s", r.out);
    json_decref(st);
    json_decref(l[0]);
    h_stop();
}

Test(cli_follow, follow_json_errors_are_one_line_objects)
{
    char id[128];
    json_t *l[8];
    h_out r;

    // No backend.
    h_run(&r, "operations", "status", "op_training_20990101_000000_ffffff",
          "--follow", "--json");
    cr_expect_eq(r.code, 1);
    cr_assert_eq(lines(r.out, l, 8), 1, "%s", r.out);
    cr_expect_str_eq(str(l[0], "status"), "error");
    json_decref(l[0]);

    h_serve(NULL);
    h_run(&r, "operations", "status", "op_training_20990101_000000_ffffff",
          "--follow", "--json");
    cr_expect_eq(r.code, 1);
    cr_assert_eq(lines(r.out, l, 8), 1, "%s", r.out);
    cr_expect_str_eq(str(l[0], "status"), "error");
    cr_expect_not_null(strstr(str(l[0], "message"), "not found"), "%s", r.out);
    json_decref(l[0]);

    // A completed operation cannot be resumed.
    h_run(&r, "models", "train", MINIMAL, "EURUSD", "1h", "--start-date",
          "2024-01-01", "--end-date", "2024-03-01", "--epochs", "2",
          "--follow");
    cr_assert(h_op_id(r.out, id, sizeof(id)));
    h_run(&r, "operations", "resume", id, "--follow", "--json");
    cr_expect_eq(r.code, 1);
    cr_assert_eq(lines(r.out, l, 8), 1, "%s", r.out);
    cr_expect_str_eq(str(l[0], "status"), "error");
    json_decref(l[0]);

    // A training that fails to start (no data for the symbol).
    h_run(&r, "models", "train", MINIMAL, "GBPJPY", "1h", "--start-date",
          "2024-01-01", "--end-date", "2024-03-01", "--follow", "--json");
    cr_expect_eq(r.code, 1, "%s", r.out);
    cr_assert_eq(lines(r.out, l, 8), 1, "%s", r.out);
    cr_expect_str_eq(str(l[0], "status"), "error");
    cr_expect_not_null(strstr(str(l[0], "message"), "ktrdr data generate"));
    json_decref(l[0]);

    // Usage errors stay usage errors.
    h_run(&r, "operations", "status", "--follow", "--json");
    cr_expect_eq(r.code, 2);
    h_run(&r, "operations", "status", id, "--follow=yes", "--json");
    cr_expect_eq(r.code, 2);
    h_stop();
}

Test(cli_follow, ctrl_c_during_follow_json_ends_with_the_cancelled_record)
{
    char *argv[12];
    char out[128], err[128], text[65536] = "";
    double end = h_now_ms() + 30000;
    json_t *l[256];
    size_t n;
    pid_t pid;

    h_serve(NULL);
    snprintf(out, sizeof(out), "%s/follow.out", h_dir);
    snprintf(err, sizeof(err), "%s/follow.err", h_dir);
    h_long_train_argv(argv, true);
    pid = h_spawn(argv, NULL, out, err);
    do {
        cr_assert_lt(h_now_ms(), end, "no progress line: %s", text);
        h_poll_pause();
        h_slurp(out, text, sizeof(text));
    } while (strstr(text, "\"event\":\"progress\"") == NULL);
    kill(pid, SIGINT);
    cr_expect_eq(h_wait(pid, 30000), 1);
    h_slurp(out, text, sizeof(text));
    n = lines(text, l, 256);
    cr_assert_geq(n, 2, "%s", text);
    cr_expect_str_eq(str(l[n - 1], "status"), "cancelled", "%s", text);
    cr_expect(json_is_true(json_object_get(l[n - 1], "resumable")), "%s", text);
    cr_expect_str_eq(str(l[n - 1], "checkpoint_type"), "cancellation", "%s",
                     text);
    h_slurp(err, text, sizeof(text));
    cr_expect_not_null(strstr(text, "Interrupted: cancelling"), "%s", text);
    free_lines(l, n);
    h_stop();
}
