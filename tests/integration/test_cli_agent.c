// test_cli_agent.c: `ktrdr agent research --follow` against a real
// backend: nested progress lines, then the research's final block (text
// and --json), and its bad input.
#include <jansson.h>

#include "cli_harness.h"

static void
setup(void)
{
    h_setup();
    // 5 ms per epoch in the workers: the training phase lasts long enough
    // (>= 0.6 s for 120 epochs) for progress to show on any machine.
    setenv("KTRDR_TEST_STEP_MS", "5", 1);
}

TestSuite(cli_agent, .init = setup, .fini = h_teardown, .timeout = 60.0);

#define RESEARCH                                                         \
    "agent", "research", "--strategy", MINIMAL, "--symbol", "EURUSD",    \
        "--timeframe", "1h", "--start-date", "2024-01-01", "--end-date", \
        "2024-03-01"

Test(cli_agent, research_follow_prints_progress_then_the_final_block)
{
    char id[128];
    h_out r;

    h_serve(NULL);
    h_run(&r, RESEARCH, "--epochs", "120", "--follow");
    cr_assert_eq(r.code, 0, "%s %s", r.out, r.err);
    cr_assert(h_op_id(r.out, id, sizeof(id)), "%s", r.out);
    cr_expect_eq(strncmp(r.out, "Started research op_agent_research_", 35), 0,
                 "%s", r.out);
    // A progress line of the training phase, then the end.
    cr_expect_not_null(strstr(r.out, "[training   ]"), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "[completed  ] 100%"), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "  phase:    completed"), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "training     COMPLETED  100%"), "%s",
                       r.out);
    // The final block is the last thing printed, once.
    const char *end = strstr(r.out, "  phase:    completed");
    cr_expect_null(strstr(end + 1, "  phase:"), "%s", r.out);
    h_stop();
}

// --follow --json: JSON lines, progress objects and then the research's
// final document as the last line.
Test(cli_agent, research_follow_json_streams_progress_then_the_final_research)
{
    char *line, *save = NULL, *last = NULL;
    int progress = 0, lines = 0;
    h_out r;

    h_serve(NULL);
    h_run(&r, RESEARCH, "--epochs", "120", "--follow", "--json");
    cr_assert_eq(r.code, 0, "%s %s", r.out, r.err);
    for (line = strtok_r(r.out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        cr_assert_not_null(j, "not a JSON line: %s", line);
        if (json_object_get(j, "event") != NULL) {
            cr_expect_str_eq(json_string_value(json_object_get(j, "event")),
                             "progress");
            cr_expect(json_is_string(json_object_get(j, "phase")), "%s", line);
            cr_expect(json_is_number(json_object_get(j, "percent")), "%s",
                      line);
            progress++;
        }
        json_decref(j);
        last = line;
        lines++;
    }
    cr_expect_gt(progress, 0, "no progress line");
    cr_assert_not_null(last);
    json_t *f = json_loads(last, 0, NULL);
    cr_assert_not_null(f);
    cr_expect_null(json_object_get(f, "event"), "last line: %s", last);
    cr_expect_str_eq(json_string_value(json_object_get(f, "status")),
                     "completed", "%s", last);
    cr_expect(json_is_array(json_object_get(f, "children")), "%s", last);
    json_decref(f);
    cr_expect_eq(lines, progress + 1);
    h_stop();
}

Test(cli_agent, research_follow_bad_input)
{
    h_out r;

    // No backend: one line, fast.
    h_run(&r, RESEARCH, "--follow");
    cr_expect_eq(r.code, 1, "%s", r.err);
    cr_expect_not_null(strstr(r.err, "ktrdr serve"), "%s", r.err);
    h_serve(NULL);
    h_run(&r, "agent", "research", "--follow");
    cr_expect_eq(r.code, 2, "neither BRIEF nor --strategy: %s", r.err);
    h_run(&r, "agent", "research", "a brief", "--strategy", MINIMAL,
          "--follow");
    cr_expect_eq(r.code, 2, "both: %s", r.err);
    h_run(&r, "agent", "research", "--strategy", "/nonexistent.yaml",
          "--follow");
    cr_expect_eq(r.code, 1, "%s", r.err);
    cr_expect_not_null(strstr(r.err, "strategy file not found"), "%s", r.err);
    h_run(&r, RESEARCH, "--epochs", "ten", "--follow");
    cr_expect_eq(r.code, 2, "%s", r.err);
    h_run(&r, RESEARCH, "--follow=yes");
    cr_expect_eq(r.code, 2, "%s", r.err);
    h_stop();
}
