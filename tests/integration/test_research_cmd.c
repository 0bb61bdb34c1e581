// Agent research with an external designer / assessor command (the seam a
// real model plugs into): a command that times out, exits non-zero or
// prints garbage fails the design phase with a clear reason (garbage after
// the bounded validator retries); a command that prints a valid strategy
// drives a full research; a bad assessor answer fails the assessment.
#include "test_research_fx.h"

static rx f;
static kt_rs_cmd dcmd, acmd;

static void
setup(void)
{
    rx_setup(&f);
}

static void
teardown(void)
{
    rx_teardown(&f);
}

TestSuite(research_cmd, .init = setup, .fini = teardown, .timeout = 60.0);

static char *
run_failing(const char *cmd, uint32_t timeout_ms)
{
    Ktpb__V1__OpsReply *r;
    char *id, *err;

    dcmd.cmd = cmd;
    dcmd.timeout_ms = timeout_ms;
    kt_rs_cmd_designer(&dcmd, &f.rc.designer);
    cr_assert_eq(rx_open(&f), KT_OK);
    id = rx_start(&f, "momentum", "", true);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_FAILED, RX_MS));
    r = rx_get(&f, id);
    err = strdup(r->op->error);
    cr_expect_gt(r->op->checkpoint_seq, 0);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    free(id);
    return err;
}

Test(research_cmd, designer_command_that_times_out_fails_the_design)
{
    char *err = run_failing("sleep 10", 200);

    cr_expect(strstr(err, "Design failed: 'sleep 10' timed out after 200 ms") !=
                  NULL,
              "%s", err);
    free(err);
}

Test(research_cmd, designer_command_exiting_non_zero_fails_the_design)
{
    char *err = run_failing("echo no model here >&2; exit 4", 2000);

    cr_expect(strstr(err, "exited with status 4: no model here") != NULL, "%s",
              err);
    free(err);
}

Test(research_cmd, designer_command_printing_garbage_is_retried_then_fails)
{
    char *err = run_failing("cat >/dev/null; echo '}}} not: [yaml'", 2000);

    cr_expect(strstr(err, "Design failed after 3 attempts:") != NULL, "%s",
              err);
    free(err);
}

Test(research_cmd, designer_command_printing_a_strategy_drives_a_research)
{
    char cmd[400];
    char *id;

    snprintf(cmd, sizeof(cmd), "cat >/dev/null; cat '%s'", f.strat);
    dcmd.cmd = cmd;
    dcmd.timeout_ms = 5000;
    kt_rs_cmd_designer(&dcmd, &f.rc.designer);
    acmd.cmd = "cat >/dev/null; echo '{\"verdict\": \"neutral\", "
               "\"hypotheses\": [{\"text\": \"h\", \"rationale\": \"r\"}], "
               "\"tokens_in\": 10, \"tokens_out\": 5}'";
    acmd.timeout_ms = 5000;
    kt_rs_cmd_assessor(&acmd, &f.rc.assessor);
    cr_assert_eq(rx_open(&f), KT_OK);
    id = rx_start(&f, "momentum", "", true);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, RX_MS));
    free(id);
}

Test(research_cmd, assessor_command_with_a_bad_verdict_fails_the_assessment)
{
    Ktpb__V1__OpsReply *r;
    char *id;

    acmd.cmd = "echo '{\"verdict\": \"amazing\"}'";
    acmd.timeout_ms = 5000;
    kt_rs_cmd_assessor(&acmd, &f.rc.assessor);
    cr_assert_eq(rx_open(&f), KT_OK);
    id = rx_start(&f, "", f.strat, true);
    cr_assert(rx_wait(&f, id, KTPB__V1__OP_STATUS__OP_FAILED, RX_MS));
    r = rx_get(&f, id);
    cr_expect(strstr(r->op->error, "Assessment failed: assessor output: "
                                   "verdict must be") != NULL,
              "%s", r->op->error);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    free(id);
}
