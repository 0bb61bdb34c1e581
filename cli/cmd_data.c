// cmd_data.c: `ktrdr data generate|fetch|show`: market data files in
// DATA_DIR/SYMBOL_TIMEFRAME.csv (the KTRDR CSV layout, where training and
// backtests read them). Local only:
// no backend needed.
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "domain/ohlcv.h"
#include "domain/synth.h"

#ifndef KT_SOURCE_DIR
#define KT_SOURCE_DIR "."
#endif

static const char help[] =
    "usage: ktrdr data COMMAND [ARGS] [--json]\n"
    "\n"
    "commands:\n"
    "  generate SYMBOL TIMEFRAME --start-date D --end-date D [--seed N]\n"
    "      write seeded synthetic bars to DATA_DIR/SYMBOL_TIMEFRAME.csv\n"
    "  fetch [ARGS]\n"
    "      download real S&P 500 daily bars (tools/data/fetch_sp500.sh)\n"
    "  show SYMBOL TIMEFRAME [--rows N]\n"
    "      summary and last rows of a data file\n"
    "\n"
    "TIMEFRAME: 1m 5m 15m 30m 1h 4h 1d 1w.\n";

static int
mkdirs(const char *dir)
{
    char buf[PATH_MAX];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, dir, n + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static int
data_generate(cli_ctx *c, int argc, char **argv)
{
    const char *pos[2], *start = NULL, *end = NULL, *seed = NULL;
    const cli_opt opts[] = {{"--start-date", &start, NULL},
                            {"--end-date", &end, NULL},
                            {"--seed", &seed, NULL},
                            {NULL, NULL, NULL}};
    char dir[PATH_MAX], path[PATH_MAX + 64], err[512];
    kt_synth_cfg sc = {0};
    kt_ohlcv *b;
    uint32_t s32 = 0;
    int npos, rv;

    if ((rv = cli_parse(argc, argv, opts, pos, 2, &npos, "data generate")) !=
            0 ||
        (rv = cli_u32("--seed", seed, &s32)) != 0) {
        return rv;
    }
    if (npos != 2 || start == NULL || end == NULL) {
        return cli_usage("data generate",
                         "needs SYMBOL TIMEFRAME --start-date --end-date");
    }
    if (kt_date_range_parse(start, end, &sc.start, &sc.end) != KT_OK) {
        return cli_usage("data generate", "bad --start-date/--end-date "
                                          "(YYYY-MM-DD, start <= end)");
    }
    sc.symbol = pos[0], sc.timeframe = pos[1];
    sc.has_seed = seed != NULL, sc.seed = s32;
    snprintf(dir, sizeof(dir), "%s", c->data_dir);
    if (kt_ohlcv_path(path, sizeof(path), dir, pos[0], pos[1]) != KT_OK) {
        return cli_usage("data generate", "bad SYMBOL or TIMEFRAME");
    }
    if (kt_synth_generate(&sc, &b, err, sizeof(err)) != KT_OK) {
        return cli_error(c, "%s", err);
    }
    if (mkdirs(dir) != 0) {
        kt_ohlcv_free(b);
        return cli_error(c, "cannot create %s: %s", dir, strerror(errno));
    }
    if (kt_ohlcv_write(b, path, err, sizeof(err)) != KT_OK) {
        kt_ohlcv_free(b);
        return cli_error(c, "%s", err);
    }
    if (c->json) {
        cli_json_print(json_pack("{s:s,s:I,s:b}", "path", path, "bars",
                                 (json_int_t)b->n, "synthetic", 1));
    } else {
        printf("Wrote %zu synthetic %s %s bars to %s\n", b->n, pos[0], pos[1],
               path);
    }
    kt_ohlcv_free(b);
    return CLI_OK;
}

static int
data_show(cli_ctx *c, int argc, char **argv)
{
    const char *pos[2], *rows = NULL;
    const cli_opt opts[] = {{"--rows", &rows, NULL}, {NULL, NULL, NULL}};
    char dir[PATH_MAX], err[512], t0[32], t1[32];
    uint32_t nrows = 5;
    kt_ohlcv *b;
    kt_err e;
    int npos, rv;

    if ((rv = cli_parse(argc, argv, opts, pos, 2, &npos, "data show")) != 0 ||
        (rv = cli_u32("--rows", rows, &nrows)) != 0) {
        return rv;
    }
    if (npos != 2) {
        return cli_usage("data show", "needs SYMBOL TIMEFRAME");
    }
    snprintf(dir, sizeof(dir), "%s", c->data_dir);
    if ((e = kt_ohlcv_load(dir, pos[0], pos[1], INT64_MIN, INT64_MAX, &b, err,
                           sizeof(err))) != KT_OK) {
        if (e == KT_ENOENT) {
            return cli_error(c,
                             "market data file %s/%s_%s.csv is missing; "
                             "create it with: ktrdr data generate %s %s "
                             "--start-date YYYY-MM-DD --end-date YYYY-MM-DD",
                             dir, pos[0], pos[1], pos[0], pos[1]);
        }
        return cli_error(c, "%s", err);
    }
    kt_time_format(b->n > 0 ? b->time[0] : 0, t0, sizeof(t0));
    kt_time_format(b->n > 0 ? b->time[b->n - 1] : 0, t1, sizeof(t1));
    if (c->json) {
        cli_json_print(json_pack("{s:s,s:s,s:I,s:s,s:s}", "symbol", pos[0],
                                 "timeframe", pos[1], "bars", (json_int_t)b->n,
                                 "first", t0, "last", t1));
        kt_ohlcv_free(b);
        return CLI_OK;
    }
    printf("%s %s: %zu bars, %s .. %s\n", pos[0], pos[1], b->n, t0, t1);
    printf("\n%-22s%12s%12s%12s%12s%14s\n", "TIMESTAMP", "OPEN", "HIGH", "LOW",
           "CLOSE", "VOLUME");
    for (size_t i = b->n > nrows ? b->n - nrows : 0; i < b->n; i++) {
        kt_time_format(b->time[i], t0, sizeof(t0));
        printf("%-22s%12.4f%12.4f%12.4f%12.4f%14.0f\n", t0, b->open[i],
               b->high[i], b->low[i], b->close[i], b->volume[i]);
    }
    kt_ohlcv_free(b);
    return CLI_OK;
}

// data_fetch runs the fetch script with the data directory in its
// environment; its own output says what it fetched.
static int
data_fetch(cli_ctx *c, int argc, char **argv)
{
    char script[PATH_MAX], dir[PATH_MAX];
    const char *src = getenv("KTRDR_SOURCE_DIR");
    char *args[64];
    int st, n = 0;
    pid_t pid;

    snprintf(script, sizeof(script), "%s/tools/data/fetch_sp500.sh",
             src != NULL ? src : KT_SOURCE_DIR);
    snprintf(dir, sizeof(dir), "%s", c->data_dir);
    if (access(script, R_OK) != 0) {
        return cli_error(c, "fetch script %s not found", script);
    }
    args[n++] = CLI_STR("bash");
    args[n++] = script;
    for (int i = 0; i < argc && n < 62; i++) {
        args[n++] = argv[i];
    }
    args[n] = NULL;
    fflush(stdout);
    if ((pid = fork()) == 0) {
        setenv("KTRDR_DATA_DIR", dir, 1);
        execvp("bash", args);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) < 0) {
        return cli_error(c, "cannot run %s", script);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        return cli_error(c, "fetch failed (%s exited with %d)", script,
                         WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    return CLI_OK;
}

int
cmd_data(cli_ctx *c, int argc, char **argv)
{
    if (c->help || argc < 1) {
        fputs(help, c->help ? stdout : stderr);
        return c->help ? CLI_OK : CLI_USAGE;
    }
    if (strcmp(argv[0], "generate") == 0) {
        return data_generate(c, argc - 1, argv + 1);
    }
    if (strcmp(argv[0], "show") == 0) {
        return data_show(c, argc - 1, argv + 1);
    }
    if (strcmp(argv[0], "fetch") == 0) {
        return data_fetch(c, argc - 1, argv + 1);
    }
    return cli_usage("data", "unknown command '%s'", argv[0]);
}
