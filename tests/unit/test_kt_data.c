// test_kt_data.c: the kt-data tool end to end (exit codes 0/1/2, messages,
// generate -> byte-identical files, features CSV shape, check).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

static char dir[256];
static char out[16384];

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/kt_data_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(kt_data, .init = setup, .fini = teardown, .timeout = 60.0);

// run executes "kt-data ARGS" (stderr folded into stdout, captured in out)
// and returns its exit status.
static int
run(const char *args)
{
    char cmd[2048];
    FILE *p;
    size_t n;
    int st;

    snprintf(cmd, sizeof(cmd), "%s/tools/data/kt-data %s 2>&1", KT_BINARY_DIR,
             args);
    cr_assert_eq(access(KT_BINARY_DIR "/tools/data/kt-data", X_OK), 0,
                 "kt-data is not built");
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(kt_data, usage_and_exit_codes)
{
    char a[512];
    cr_expect_eq(run("--help"), 0);
    cr_expect(strstr(out, "usage: kt-data COMMAND"), "%s", out);
    cr_expect_eq(run("generate --help"), 0);
    cr_expect_eq(run(""), 2);
    cr_expect_eq(run("frobnicate"), 2);
    cr_expect(strstr(out, "unknown command 'frobnicate'"), "%s", out);
    cr_expect_eq(run("generate AAPL 1h --start 2024-01-01"), 2);
    cr_expect(strstr(out, "generate needs --start and --end"), "%s", out);
    cr_expect_eq(run("generate AAPL 1h --start 2024-01-01 --end 2024-01-02 "
                     "--seed -3"),
                 2);
    cr_expect_eq(run("generate AAPL 1h --bogus 1"), 2);
    cr_expect(strstr(out, "unknown option '--bogus'"), "%s", out);
    snprintf(a, sizeof(a),
             "generate AAPL 2h --start 2024-01-01 --end 2024-01-02 "
             "--data-dir %s",
             dir);
    cr_expect_eq(run(a), 1);
    cr_expect(strstr(out, "unknown timeframe '2h'"), "%s", out);
}

Test(kt_data, generate_is_reproducible_and_checkable)
{
    char a[1024];
    snprintf(a, sizeof(a),
             "generate AAPL 1h --start 2024-01-01 --end 2024-01-31 "
             "--data-dir %s/x",
             dir);
    cr_assert_eq(run(a), 0, "%s", out);
    cr_expect(strstr(out, "wrote 161 bars to"), "%s", out); // 23 days x 7
    snprintf(a, sizeof(a), "cp %s/x/AAPL_1h.csv %s/first.csv", dir, dir);
    cr_assert_eq(system(a), 0);
    snprintf(a, sizeof(a),
             "generate AAPL 1h --start 2024-01-01 --end 2024-01-31 "
             "--data-dir %s/x",
             dir);
    cr_assert_eq(run(a), 0);
    snprintf(a, sizeof(a), "cmp -s %s/x/AAPL_1h.csv %s/first.csv", dir, dir);
    cr_expect_eq(system(a), 0, "the second file differs");
    snprintf(a, sizeof(a), "check %s/x/AAPL_1h.csv", dir);
    cr_expect_eq(run(a), 0);
    cr_expect(strstr(out, "161 bars, 2024-01-01T14:30:00Z .. "
                          "2024-01-31T20:30:00Z"),
              "%s", out);
    snprintf(a, sizeof(a), "check %s/tests/data/ohlcv_high_below_low.csv",
             KT_SOURCE_DIR);
    cr_expect_eq(run(a), 1);
    cr_expect(strstr(out, "ohlcv_high_below_low.csv:3: high < low"), "%s", out);
}

Test(kt_data, features_export)
{
    char a[1024];
    FILE *f;
    char line[4096];
    int rows = 0;

    snprintf(a, sizeof(a),
             "features %s/strategies/neuro_mean_reversion.yaml AAPL 1h "
             "--data-dir %s",
             KT_SOURCE_DIR, dir);
    cr_expect_eq(run(a), 1);
    cr_expect(strstr(out, "AAPL_1h.csv does not exist; create it with: "
                          "kt-data generate AAPL 1h"),
              "%s", out);
    snprintf(a, sizeof(a),
             "generate AAPL 1h --start 2024-01-01 --end 2024-03-31 "
             "--data-dir %s",
             dir);
    cr_assert_eq(run(a), 0, "%s", out);
    snprintf(a, sizeof(a),
             "features %s/strategies/neuro_mean_reversion.yaml AAPL 4h "
             "--data-dir %s",
             KT_SOURCE_DIR, dir);
    cr_expect_eq(run(a), 1);
    cr_expect(strstr(out, "is built on 1h bars"), "%s", out);
    snprintf(a, sizeof(a),
             "features %s/strategies/neuro_mean_reversion.yaml AAPL 1h "
             "--start 2024-02-01 --end 2024-02-29 --data-dir %s --out %s/f.csv",
             KT_SOURCE_DIR, dir, dir);
    cr_assert_eq(run(a), 0, "%s", out);
    cr_expect(strstr(out, "wrote 147 rows x 9 features"), "%s", out);
    snprintf(a, sizeof(a), "%s/f.csv", dir);
    f = fopen(a, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof(line), f));
    cr_expect(strncmp(line,
                      "timestamp,rsi_14,stoch_14.k,stoch_14.d,bbw_20,"
                      "1h_rsi_zone_oversold,",
                      66) == 0,
              "%s", line);
    cr_expect(strstr(line, ",1h_band_width_wide,label\n"), "%s", line);
    while (fgets(line, sizeof(line), f) != NULL) {
        rows++;
    }
    cr_expect_eq(fclose(f), 0);
    cr_expect_eq(rows, 147); // 21 trading days x 7 bars
}
