// test_cli.c: the real `ktrdr` binary against a real backend process on a
// temporary data directory: every command's text (goldens) and --json,
// exit codes, the guide's train / cancel / list / show / resume / delete
// walk, Ctrl+C during a followed training, and a missing backend.
#include <jansson.h>

#include "cli_harness.h"

static void
setup(void)
{
    h_setup();
}

TestSuite(cli, .init = setup, .fini = h_teardown, .timeout = 60.0);

// wait_out runs `ktrdr ARGS` until its stdout contains want (deadline).
static void
wait_out(const char *want, const char *const *args)
{
    h_out r;
    double end = h_now_ms() + 30000;

    for (;;) {
        h_runv(&r, NULL, args);
        if (strstr(r.out, want) != NULL) {
            return;
        }
        cr_assert_lt(h_now_ms(), end, "never saw '%s'; last: %s %s", want,
                     r.out, r.err);
        h_poll_pause();
    }
}

// start_long starts a long training (no terminal: it does not follow) and
// waits until it has a periodic checkpoint.
static void
start_long(char *id, size_t len)
{
    h_out r;

    h_run(&r, "models", "train", MINIMAL, "EURUSD", "1h", "--start-date",
          "2024-01-01", "--end-date", "2024-03-01", "--epochs", "100000",
          "--checkpoint-frequency", "2");
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(h_op_id(r.out, id, len), "%s", r.out);
    h_golden("train_started.txt", r.out);
    wait_out("(periodic)",
             (const char *const[]){"operations", "status", id, NULL});
}

Test(cli, help_lists_every_command_and_each_command_has_help)
{
    static const char *const cmds[][3] = {
        {"operations", NULL}, {"operations", "list"}, {"checkpoints", NULL},
        {"models", "train"},  {"backtest", "run"},    {"data", NULL},
        {"serve", NULL},      {"workers", NULL}};
    h_out r;

    h_run(&r, "--help");
    cr_assert_eq(r.code, 0);
    // Other commands join the top-level help over time: check ours are
    // listed, and hold the exact text of our own commands' help.
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        cr_expect_not_null(strstr(r.out, cmds[i][0]), "%s", cmds[i][0]);
    }
    h_run(&r, "operations", "--help");
    h_golden("operations_help.txt", r.out);
    h_run(&r, "checkpoints", "--help");
    h_golden("checkpoints_help.txt", r.out);
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (cmds[i][1] != NULL) {
            h_run(&r, cmds[i][0], cmds[i][1], "--help");
        } else {
            h_run(&r, cmds[i][0], "--help");
        }
        cr_expect_eq(r.code, 0, "%s --help", cmds[i][0]);
        cr_expect_not_null(strstr(r.out, "usage: ktrdr"), "%s", cmds[i][0]);
    }
}

Test(cli, usage_errors_exit_2_with_a_message)
{
    static const char *const bad[][6] = {
        {"frobnicate", NULL},
        {"operations", "list", "--status", "sleeping", NULL},
        {"operations", "list", "--limit", "ten", NULL},
        {"operations", "list", "--bogus", NULL},
        {"operations", "status", NULL},
        {"checkpoints", "show", NULL},
        {"models", "train", MINIMAL, "EURUSD", NULL},
        {"data", "generate", "EURUSD", "1h", "--start-date", NULL},
    };
    h_out r;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        h_runv(&r, NULL, bad[i]);
        cr_expect_eq(r.code, 2, "case %zu: %s", i, r.err);
        cr_expect_not_null(strstr(r.err, "Error: "), "case %zu", i);
    }
}

Test(cli, backend_down_is_one_clear_line_and_fast)
{
    h_out r;

    h_run(&r, "operations", "list");
    cr_assert_eq(r.code, 1);
    cr_expect_lt(r.ms, 1000.0, "took %.0f ms", r.ms);
    cr_expect_not_null(strstr(r.err, "ktrdr serve"), "%s", r.err);
    cr_expect_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "%s", r.err);
    h_golden("backend_down.txt", r.err);
    h_run(&r, "operations", "list", "--json");
    cr_assert_eq(r.code, 1);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "%s", r.out);
    cr_expect_str_eq(json_string_value(json_object_get(j, "status")), "error");
    json_decref(j);
}

Test(cli, a_second_backend_on_the_same_directory_is_refused)
{
    h_out r;

    h_serve(NULL);
    h_run(&r, "serve", "--http", "127.0.0.1:0");
    cr_expect_eq(r.code, 1);
    cr_expect_not_null(strstr(r.err, "already using the data directory"), "%s",
                       r.err);
    h_stop();
}

Test(cli, missing_data_names_the_file_and_the_command)
{
    h_out r;

    h_serve(NULL);
    h_run(&r, "models", "train", MINIMAL, "GBPUSD", "1h", "--start-date",
          "2024-01-01", "--end-date", "2024-02-01");
    cr_expect_eq(r.code, 1);
    cr_expect_not_null(strstr(r.err, "GBPUSD_1h.csv is missing"), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "ktrdr data generate GBPUSD 1h"), "%s",
                       r.err);
    h_run(&r, "data", "show", "GBPUSD", "1h");
    cr_expect_eq(r.code, 1);
    cr_expect_not_null(strstr(r.err, "ktrdr data generate GBPUSD 1h"));
    h_run(&r, "data", "show", "EURUSD", "1h", "--rows", "2");
    cr_expect_eq(r.code, 0);
    h_golden("data_show.txt", r.out);
    h_stop();
}

Test(cli, guide_walk_train_cancel_list_show_resume_delete)
{
    char id[128];
    h_out r;

    h_serve(NULL);
    start_long(id, sizeof(id));
    h_run(&r, "operations", "cancel", id);
    cr_assert_eq(r.code, 0, "%s", r.err);
    h_golden("cancel.txt", r.out);

    h_run(&r, "operations", "list", "--status", "cancelled");
    cr_assert_eq(r.code, 0, "%s", r.err);
    h_golden("list_cancelled.txt", r.out);
    h_run(&r, "operations", "list", "--resumable");
    cr_assert_eq(r.code, 0);
    cr_expect_not_null(strstr(r.out, "(1 resumable)"), "%s", r.out);
    // Columns line up under the header, as in the guide.
    char *row = strstr(r.out, "\nop_");
    cr_assert_not_null(row);
    cr_expect_eq(strstr(row, "CANCELLED") - row - 1,
                 strstr(r.out, "STATUS") - r.out);

    h_run(&r, "checkpoints", "show", id);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_not_null(strstr(r.out, " / 100000\n"), "%s", r.out);
    h_golden("checkpoint_show.txt", r.out);

    h_run(&r, "operations", "resume", id);
    cr_assert_eq(r.code, 0, "%s", r.err);
    h_golden("resume.txt", r.out);
    h_run(&r, "operations", "resume", id);
    cr_expect_eq(r.code, 1, "resuming a running operation");

    h_run(&r, "operations", "cancel", id);
    cr_assert_eq(r.code, 0, "%s", r.err);
    h_run(&r, "checkpoints", "delete", id);
    cr_expect_eq(r.code, 1, "no terminal, no --force");
    cr_expect_not_null(strstr(r.err, "--force"), "%s", r.err);
    h_runv(&r, "n\n", (const char *const[]){"checkpoints", "delete", id, NULL});
    cr_expect_eq(r.code, 1);
    h_run(&r, "checkpoints", "delete", id, "--force");
    cr_assert_eq(r.code, 0, "%s", r.err);
    h_golden("delete.txt", r.out);
    h_run(&r, "checkpoints", "show", id);
    cr_expect_eq(r.code, 1);
    cr_expect_not_null(strstr(r.err, "No checkpoint found for operation"));
    h_stop();
}

Test(cli, json_output_of_list_status_show)
{
    char id[128];
    h_out r;
    json_t *j;

    h_serve(NULL);
    start_long(id, sizeof(id));
    h_run(&r, "operations", "cancel", id, "--json");
    cr_assert_eq(r.code, 0);
    j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "%s", r.out);
    cr_expect_str_eq(json_string_value(json_object_get(j, "status")),
                     "cancelled");
    cr_expect(json_is_true(json_object_get(j, "resumable")));
    json_decref(j);

    h_run(&r, "operations", "list", "--json");
    j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "%s", r.out);
    cr_expect_eq(json_integer_value(json_object_get(j, "total")), 1);
    cr_expect_eq(json_integer_value(json_object_get(j, "resumable")), 1);
    json_t *op = json_array_get(json_object_get(j, "operations"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(op, "operation_id")),
                     id);
    json_decref(j);

    h_run(&r, "checkpoints", "show", id, "--json");
    j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "%s", r.out);
    cr_expect_str_eq(json_string_value(json_object_get(j, "checkpoint_type")),
                     "cancellation");
    cr_expect_eq(json_integer_value(
                     json_object_get(json_object_get(j, "state"), "total")),
                 100000);
    json_decref(j);
    h_run(&r, "workers", "--json");
    j = json_loads(r.out, 0, NULL);
    cr_expect(json_is_array(json_object_get(j, "workers")), "%s", r.out);
    json_decref(j);
    h_stop();
}

Test(cli, follow_prints_plain_lines_until_completion)
{
    char id[128];
    h_out r;

    h_serve(NULL);
    h_run(&r, "models", "train", MINIMAL, "EURUSD", "1h", "--start-date",
          "2024-01-01", "--end-date", "2024-03-01", "--epochs", "4",
          "--follow");
    cr_assert_eq(r.code, 0, "%s %s", r.out, r.err);
    cr_expect_not_null(strstr(r.out, "epoch 4/4"), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "Operation completed successfully"));
    cr_expect_null(strchr(r.out, '\r'), "no progress bar without a terminal");
    cr_assert(h_op_id(r.out, id, sizeof(id)), "%s", r.out);
    h_run(&r, "operations", "list", "--status", "completed");
    cr_expect_not_null(strstr(r.out, "COMPLETED  100%"), "%s", r.out);
    // What it produced: the model and its metrics, as text and JSON.
    h_run(&r, "operations", "results", id);
    cr_expect_eq(r.code, 0, "%s %s", r.out, r.err);
    cr_expect_not_null(strstr(r.out, "Model:     "), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "4 epochs"), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "Test:      accuracy"), "%s", r.out);
    h_run(&r, "--json", "operations", "results", id);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "%s", r.out);
    cr_expect_not_null(
        json_string_value(json_object_get(
            json_object_get(json_object_get(j, "results"), "training"),
            "model_path")),
        "%s", r.out);
    json_decref(j);
    h_run(&r, "operations", "results", "op_training_20990101_000000_ffffff");
    cr_expect_eq(r.code, 1, "unknown id: %s", r.err);
    h_stop();
}

Test(cli, ctrl_c_during_a_followed_training_cancels_with_a_checkpoint)
{
    char *argv[12];
    char out[128], err[128], text[65536] = "", id[128];
    double end = h_now_ms() + 30000;
    pid_t pid;

    h_serve(NULL);
    snprintf(out, sizeof(out), "%s/follow.out", h_dir);
    snprintf(err, sizeof(err), "%s/follow.err", h_dir);
    h_long_train_argv(argv, false);
    pid = h_spawn(argv, NULL, out, err);
    do {
        cr_assert_lt(h_now_ms(), end, "no progress line: %s", text);
        h_poll_pause();
        h_slurp(out, text, sizeof(text));
    } while (strstr(text, "/100000  loss") == NULL);
    kill(pid, SIGINT);
    cr_expect_eq(h_wait(pid, 30000), 1);
    h_slurp(out, text, sizeof(text));
    cr_assert(h_op_id(text, id, sizeof(id)));
    cr_expect_not_null(strstr(text, "checkpoint saved"), "%s", text);
    cr_expect_not_null(strstr(text, "To resume: ktrdr operations resume op_"),
                       "%s", text);
    h_out r;
    h_run(&r, "operations", "status", id);
    cr_expect_not_null(strstr(r.out, "CANCELLED"), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "(cancellation)"), "%s", r.out);
    h_stop();
}
