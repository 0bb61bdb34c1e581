// The crash campaign: a seeded storm of at least 200 SIGKILLs of worker
// processes and of the backend itself, at millisecond-scale random
// intervals, across concurrent training and backtest operations; after it
// every operation completes with weights / trades identical to
// uninterrupted runs. The seed is printed; KT_CAMPAIGN_SEED=N replays a
// run (KT_CAMPAIGN_KILLS=N changes the number of kills).
#include <dirent.h>
#include <inttypes.h>

#include "sup_fixture.h"

#define N_TRAIN 4
#define N_BT    2

static sf t;
static uint64_t seed;

static void
setup(void)
{
    sf_prepare(&t);
}

// Worker processes of this test's backends (ours and orphans), from /proc.
static size_t
worker_pids(pid_t *pids, size_t max)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    size_t n = 0;

    while (d != NULL && (e = readdir(d)) != NULL && n < max) {
        char path[300], buf[4096];
        FILE *fp;
        size_t len;
        if (atoi(e->d_name) <= 0) {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
        if ((fp = fopen(path, "r")) == NULL) {
            continue;
        }
        len = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        for (size_t i = 0; i < len; i++) {
            buf[i] = buf[i] == '\0' ? ' ' : buf[i];
        }
        buf[len] = '\0';
        if (strstr(buf, t.url) != NULL && strstr(buf, " worker ") != NULL) {
            pids[n++] = atoi(e->d_name);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

static void
teardown(void)
{
    pid_t pids[64];
    size_t n;

    sf_close(&t);
    // Orphaned workers of killed backends (they would drain and exit).
    n = worker_pids(pids, 64);
    for (size_t i = 0; i < n; i++) {
        (void)kill(pids[i], SIGKILL);
    }
}

TestSuite(crash_campaign, .init = setup, .fini = teardown, .timeout = 240.0);

static uint64_t
rnd(void)
{
    uint64_t z = (seed += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static const char *const args[] = {
    "--hb-ms",        "100", "--grace-ms",  "1000",
    "--backoff-ms",   "2",   "--window-ms", "50",
    "--max-restarts", "64",  NULL};

static void
sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};

    nanosleep(&ts, NULL);
}

// started: op id has a checkpoint (or is already done).
static bool
started(const char *id)
{
    int64_t end = sf_ms() + 20000;

    while (sf_ms() < end) {
        Ktpb__V1__OpsReply *keep;
        Ktpb__V1__OperationRecord *op = sf_record(&t, id, &keep);
        bool ok = op->checkpoint_seq > 0 ||
                  op->status == KTPB__V1__OP_STATUS__OP_COMPLETED;
        ktpb__v1__ops_reply__free_unpacked(keep, NULL);
        if (ok) {
            return true;
        }
        usleep(2000);
    }
    return false;
}

Test(crash_campaign, storm_of_sigkills_leaves_results_identical)
{
    const char *env = getenv("KT_CAMPAIGN_SEED");
    const char *kenv = getenv("KT_CAMPAIGN_KILLS");
    int kills = kenv != NULL ? atoi(kenv) : 200;
    char *model, *ref, *bref, *tr[N_TRAIN], *bt[N_BT];
    int nworker = 0, nbackend = 0;

    seed = env != NULL ? strtoull(env, NULL, 10)
                       : (uint64_t)time(NULL) ^ (uint64_t)getpid();
    fprintf(stderr,
            "crash campaign seed=%" PRIu64 " (replay with "
            "KT_CAMPAIGN_SEED=%" PRIu64 ")\n",
            seed, seed);
    uint64_t seed0 = seed;
    setenv("KTRDR_TEST_STEP_MS", "8", 1);
    sf_backend_start(&t, 3, args);
    sf_connect(&t);
    cr_assert(sf_wait_workers(&t, 3, 10000));
    // Uninterrupted references.
    model = sf_model(&t, 12);
    ref = fx_train_ok(&t.f, 30, 1, -1);
    bref = sf_backtest_ok(&t, model, 50);
    cr_assert(
        sf_wait_status(&t, ref, KTPB__V1__OP_STATUS__OP_COMPLETED, 30000));
    cr_assert(
        sf_wait_status(&t, bref, KTPB__V1__OP_STATUS__OP_COMPLETED, 30000));
    for (int i = 0; i < N_TRAIN; i++) {
        tr[i] = fx_train_ok(&t.f, 30, 1, -1);
    }
    for (int i = 0; i < N_BT; i++) {
        bt[i] = sf_backtest_ok(&t, model, 50);
    }
    // An operation killed before its first checkpoint has nothing to
    // resume from (it stays failed, as the guide says): start the storm
    // once each has one.
    for (int i = 0; i < N_TRAIN; i++) {
        cr_assert(started(tr[i]), "%s never checkpointed", tr[i]);
    }
    for (int i = 0; i < N_BT; i++) {
        cr_assert(started(bt[i]), "%s never checkpointed", bt[i]);
    }
    // The storm.
    while (nworker + nbackend < kills) {
        pid_t pids[64];
        size_t n;
        sleep_ms(3 + rnd() % 30);
        if (rnd() % 100 < 10) {
            sf_backend_kill(&t);
            sf_backend_start(&t, 3, args);
            nbackend++;
        } else if ((n = worker_pids(pids, 64)) > 0 &&
                   kill(pids[rnd() % n], SIGKILL) == 0) {
            nworker++;
        }
    }
    fprintf(stderr,
            "crash campaign seed=%" PRIu64 ": %d worker and %d "
            "backend SIGKILLs\n",
            seed0, nworker, nbackend);
    for (int i = 0; i < N_TRAIN; i++) {
        cr_assert(
            sf_wait_status(&t, tr[i], KTPB__V1__OP_STATUS__OP_COMPLETED, 90000),
            "seed %" PRIu64 ": training %s did not complete", seed0, tr[i]);
    }
    for (int i = 0; i < N_BT; i++) {
        cr_assert(
            sf_wait_status(&t, bt[i], KTPB__V1__OP_STATUS__OP_COMPLETED, 90000),
            "seed %" PRIu64 ": backtest %s did not complete", seed0, bt[i]);
    }
    for (int i = 0; i < N_TRAIN; i++) {
        sf_same_weights(&t, tr[i], ref);
        free(tr[i]);
    }
    for (int i = 0; i < N_BT; i++) {
        sf_same_trades(&t, bt[i], bref);
        free(bt[i]);
    }
    cr_assert_geq(nworker + nbackend, 200 < kills ? 200 : kills);
    free(model);
    free(ref);
    free(bref);
}
