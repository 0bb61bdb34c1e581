// kt_data.c: the kt-data tool: `generate` writes seeded synthetic bars in
// the KTRDR CSV layout, `check` validates a CSV file, `features` (in
// kt_data_features.c) exports indicators, memberships and labels.
#include "kt_data.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "domain/ohlcv.h"
#include "domain/synth.h"

static const char usage[] =
    "usage: kt-data COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  generate SYMBOL TIMEFRAME --start YYYY-MM-DD --end YYYY-MM-DD\n"
    "           [--seed N] [--data-dir DIR]\n"
    "      Write seeded synthetic bars to DIR/SYMBOL_TIMEFRAME.csv. The same\n"
    "      symbol, seed and range always give the same file; the default\n"
    "      seed is derived from the symbol. --end is inclusive (whole day).\n"
    "  features STRATEGY.yaml SYMBOL TIMEFRAME [--start D] [--end D]\n"
    "           [--data-dir DIR] [--out FILE.csv]\n"
    "      Compute the strategy's indicators, fuzzy memberships (the model\n"
    "      inputs, in model order) and labels over DIR/SYMBOL_TIMEFRAME.csv\n"
    "      and write them as CSV (stdout unless --out).\n"
    "  check FILE.csv\n"
    "      Validate a market data file; report the first bad row.\n"
    "\n"
    "TIMEFRAME: 1m 5m 15m 30m 1h 4h 1d 1w. DIR: --data-dir, else\n"
    "$KTRDR_DATA_DIR, else ./data.\n"
    "Exit status: 0 success, 1 failure (missing or bad data, bad strategy),\n"
    "2 usage error.\n";

const char *
kt_data_dir(const kt_data_opts *o)
{
    const char *env = getenv("KTRDR_DATA_DIR");
    if (o->data_dir != NULL) {
        return o->data_dir;
    }
    return env != NULL && *env != '\0' ? env : "./data";
}

int
kt_data_usage_error(const char *fmt, ...)
{
    va_list ap;
    (void)fputs("kt-data: ", stderr);
    va_start(ap, fmt);
    (void)vfprintf(stderr, fmt, ap);
    va_end(ap);
    (void)fputs("\n(see kt-data --help)\n", stderr);
    return EXIT_USAGE;
}

// parse_opts reads "--name value" options and positional arguments.
static int
parse_opts(int argc, char **argv, kt_data_opts *o)
{
    static const char *const names[] = {"--start", "--end", "--seed",
                                        "--data-dir", "--out"};
    for (int i = 0; i < argc; i++) {
        const char **slot[] = {&o->start, &o->end, &o->seed, &o->data_dir,
                               &o->out};
        int k = 0;
        while (k < 5 && strcmp(argv[i], names[k]) != 0) {
            k++;
        }
        if (k < 5) {
            if (i + 1 >= argc) {
                return kt_data_usage_error("%s needs a value", argv[i]);
            }
            *slot[k] = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return kt_data_usage_error("unknown option '%s'", argv[i]);
        } else if (o->n_pos == 4) {
            return kt_data_usage_error("unexpected argument '%s'", argv[i]);
        } else {
            o->pos[o->n_pos++] = argv[i];
        }
    }
    return EXIT_OKAY;
}

// mkdirs creates dir and its parents (mkdir -p).
static int
mkdirs(const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, dir, n + 1);
    for (char *p = buf + 1; *p; p++) {
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
parse_seed(const char *s, kt_synth_cfg *c)
{
    char *end;
    if (s == NULL) {
        return 0;
    }
    errno = 0;
    c->seed = strtoull(s, &end, 10);
    c->has_seed = true;
    return *s == '-' || end == s || *end != '\0' || errno != 0 ? -1 : 0;
}

static int
cmd_generate(const kt_data_opts *o)
{
    char err[512], path[4096];
    const char *dir = kt_data_dir(o);
    kt_synth_cfg c = {0};
    kt_ohlcv *b;

    if (o->n_pos != 2) {
        return kt_data_usage_error("generate needs SYMBOL TIMEFRAME");
    }
    if (o->start == NULL || o->end == NULL) {
        return kt_data_usage_error("generate needs --start and --end");
    }
    if (kt_date_range_parse(o->start, o->end, &c.start, &c.end) != KT_OK) {
        return kt_data_usage_error(
            "bad --start/--end (YYYY-MM-DD, start <= end)");
    }
    if (parse_seed(o->seed, &c) != 0) {
        return kt_data_usage_error("bad --seed '%s' (an unsigned integer)",
                                   o->seed);
    }
    c.symbol = o->pos[0];
    c.timeframe = o->pos[1];
    if (kt_synth_generate(&c, &b, err, sizeof(err)) != KT_OK) {
        (void)fprintf(stderr, "kt-data generate: %s\n", err);
        return EXIT_FAIL;
    }
    if (kt_ohlcv_path(path, sizeof(path), dir, c.symbol, c.timeframe) !=
            KT_OK ||
        mkdirs(dir) != 0) {
        (void)fprintf(stderr, "kt-data generate: cannot create %s: %s\n", dir,
                      strerror(errno));
        kt_ohlcv_free(b);
        return EXIT_FAIL;
    }
    if (kt_ohlcv_write(b, path, err, sizeof(err)) != KT_OK) {
        (void)fprintf(stderr, "kt-data generate: %s\n", err);
        kt_ohlcv_free(b);
        return EXIT_FAIL;
    }
    (void)printf("wrote %zu bars to %s\n", b->n, path);
    kt_ohlcv_free(b);
    return EXIT_OKAY;
}

static int
cmd_check(const kt_data_opts *o)
{
    char err[512], a[32], z[32];
    kt_ohlcv *b;

    if (o->n_pos != 1) {
        return kt_data_usage_error("check needs FILE.csv");
    }
    if (kt_ohlcv_read(o->pos[0], KT_TIME_MIN, KT_TIME_MAX, &b, err,
                      sizeof(err)) != KT_OK) {
        (void)fprintf(stderr, "kt-data check: %s\n", err);
        return EXIT_FAIL;
    }
    if (b->n > 0) {
        kt_time_format(b->time[0], a, sizeof(a));
        kt_time_format(b->time[b->n - 1], z, sizeof(z));
        (void)printf("%s: %zu bars, %s .. %s\n", o->pos[0], b->n, a, z);
    } else {
        (void)printf("%s: no bars\n", o->pos[0]);
    }
    kt_ohlcv_free(b);
    return EXIT_OKAY;
}

int
main(int argc, char **argv)
{
    kt_data_opts o = {0};
    int rc;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        (void)fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OKAY;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            (void)fputs(usage, stdout);
            return EXIT_OKAY;
        }
    }
    if ((rc = parse_opts(argc - 2, argv + 2, &o)) != EXIT_OKAY) {
        return rc;
    }
    if (strcmp(argv[1], "generate") == 0) {
        return cmd_generate(&o);
    }
    if (strcmp(argv[1], "features") == 0) {
        return kt_data_features(&o);
    }
    if (strcmp(argv[1], "check") == 0) {
        return cmd_check(&o);
    }
    return kt_data_usage_error("unknown command '%s'", argv[1]);
}
