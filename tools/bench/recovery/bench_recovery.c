// kt-bench-recovery: the recovery benchmark (tools/bench/recovery.sh).
//   kt-bench-recovery KTRDR_EXE KT_SUP_BACKEND_EXE TRIALS
// Prints one line per trial:
//   kill  DETECT_MS RECOVER_MS FIRST_CKPT_MS   (a SIGKILLed local worker)
//   hang  DETECT_MS                            (a SIGSTOPped one)
//   rereg REREG_MS                             (a SIGKILLed backend)
// detect: kill -> the registry declares the worker lost; recover: kill ->
// the operation runs again on a worker, resumed from its checkpoint;
// first_ckpt: resumed -> its first new checkpoint (data reload + one
// epoch); rereg: restarted backend ready -> the worker re-registered with
// its operation.
#include <inttypes.h>
#include <ktpb/v1/ops.pb-c.h>
#include <ktpb/v1/workers.pb-c.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kt/kt.h>

#include "domain/ohlcv.h"
#include "domain/synth.h"
#include "operations/backend.h"
#include "supervisor/pool.h"
#include "supervisor/supervisor.h"

#define S(x) ((char *)(uintptr_t)(x))

static const char yaml[] =
    "name: bench\n"
    "training_data:\n"
    "  symbols: {mode: single, symbol: AAPL}\n"
    "  timeframes: {mode: single, timeframe: 1h}\n"
    "indicators:\n"
    "  rsi_14: {type: rsi}\n"
    "  roc_5: {type: roc, period: 5}\n"
    "fuzzy_sets:\n"
    "  rsi: {indicator: rsi_14, low: [0, 30, 50], high: [50, 70, 100]}\n"
    "  roc: {indicator: roc_5, down: [-5, -1, 0], up: [0, 1, 5]}\n"
    "nn_inputs:\n"
    "  - fuzzy_set: rsi\n"
    "  - fuzzy_set: roc\n"
    "model:\n"
    "  type: mlp\n"
    "  architecture: {hidden_layers: [16, 8], activation: relu, "
    "dropout: 0.2}\n"
    "decisions:\n"
    "  confidence_threshold: 0.4\n"
    "  filters: {min_signal_separation: 0}\n"
    "training:\n"
    "  labels: {source: zigzag, zigzag_threshold: 0.01}\n"
    "  epochs: 12\n"
    "  batch_size: 32\n"
    "  learning_rate: 0.005\n"
    "  seed: 7\n";

typedef struct bench {
    char dir[128], strat[256], url[256];
    const char *exe, *backend_exe;
    kt_runtime *rt;
    kt_aid ops, reg, sup;
    kt_backend *b;
    kt_supervision *s;
} bench;

static int64_t
mono_ms(void)
{
    return kt_mono_ns() / 1000000;
}

static void
die(const char *what)
{
    fprintf(stderr, "kt-bench-recovery: %s\n", what);
    exit(1);
}

static kt_msg *
ask(bench *b, kt_aid to, uint32_t type, const ProtobufCMessage *m, uint32_t ms)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    kt_msg *req, *rep = NULL;
    kt_err err;

    if (kt_msg_alloc(&req, type, n) != KT_OK) {
        die("out of memory");
    }
    protobuf_c_message_pack(m, kt_msg_body(req));
    if ((err = kt_runtime_ask(b->rt, to, req, ms, &rep)) != KT_OK) {
        if (err != KT_ETIMEDOUT) {
            kt_msg_free(req);
        }
        return NULL;
    }
    return rep;
}

static Ktpb__V1__OperationRecord *
get(bench *b, const char *id, Ktpb__V1__OpsReply **keep)
{
    Ktpb__V1__OpsGetRequest g;
    kt_msg *rep;

    ktpb__v1__ops_get_request__init(&g);
    g.id = S(id);
    for (int i = 0; i < 50; i++) {
        if ((rep = ask(b, b->ops, KT_OPS_GET, &g.base, 1000)) != NULL) {
            *keep = ktpb__v1__ops_reply__unpack(NULL, kt_msg_len(rep),
                                                kt_msg_body(rep));
            kt_msg_free(rep);
            if (*keep != NULL && (*keep)->op != NULL) {
                return (*keep)->op;
            }
            ktpb__v1__ops_reply__free_unpacked(*keep, NULL);
        }
    }
    die("the backend does not answer");
    return NULL;
}

static char *
train(bench *b, uint32_t epochs)
{
    Ktpb__V1__StartTrainingRequest rq;
    Ktpb__V1__OpsReply *r;
    kt_msg *rep;
    char *id;

    ktpb__v1__start_training_request__init(&rq);
    rq.strategy_path = b->strat;
    rq.symbol = S("AAPL");
    rq.timeframe = S("1h");
    rq.start_date = S("2024-01-01");
    rq.end_date = S("2024-04-30");
    rq.epochs = epochs;
    rq.checkpoint_frequency = 1;
    if ((rep = ask(b, b->ops, KT_OPS_START_TRAINING, &rq.base, 20000)) ==
            NULL ||
        (r = ktpb__v1__ops_reply__unpack(NULL, kt_msg_len(rep),
                                         kt_msg_body(rep))) == NULL ||
        r->status != 0 || r->op == NULL) {
        die("training did not start");
    }
    kt_msg_free(rep);
    id = strdup(r->op->id);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    return id;
}

// wait_ckpt: the newest checkpoint seq once it is above `after` (the op
// running); 0 on timeout.
static uint64_t
wait_ckpt(bench *b, const char *id, uint64_t after, int ms, int64_t *at_ms)
{
    int64_t end = mono_ms() + ms;

    while (mono_ms() < end) {
        Ktpb__V1__OpsReply *keep;
        Ktpb__V1__OperationRecord *op = get(b, id, &keep);
        uint64_t seq = op->checkpoint_seq;
        bool run = op->status == KTPB__V1__OP_STATUS__OP_RUNNING;
        ktpb__v1__ops_reply__free_unpacked(keep, NULL);
        if (run && seq > after) {
            *at_ms = mono_ms();
            return seq;
        }
        usleep(500);
    }
    return 0;
}

// The supervisor's view of op id: detection and resume moments (ns).
static bool
sup_times(bench *b, const char *id, int64_t *lost, int64_t *resumed)
{
    Ktpb__V1__SupervisorStatusRequest q;
    Ktpb__V1__SupervisorStatusReply *r;
    kt_msg *rep;
    bool found = false;

    ktpb__v1__supervisor_status_request__init(&q);
    if ((rep = ask(b, b->sup, KT_SUP_STATUS, &q.base, 2000)) == NULL) {
        return false;
    }
    r = ktpb__v1__supervisor_status_reply__unpack(NULL, kt_msg_len(rep),
                                                  kt_msg_body(rep));
    kt_msg_free(rep);
    for (size_t i = 0; r != NULL && i < r->n_ops; i++) {
        if (strcmp(r->ops[i]->op_id, id) == 0) {
            *lost = r->ops[i]->lost_at_ns;
            *resumed = r->ops[i]->resumed_at_ns;
            found = true;
        }
    }
    ktpb__v1__supervisor_status_reply__free_unpacked(r, NULL);
    return found;
}

// The registry's list of workers (NULL when it did not answer).
static Ktpb__V1__RegistryListReply *
workers_list(bench *b)
{
    Ktpb__V1__RegistryListRequest q;
    Ktpb__V1__RegistryListReply *r;
    kt_msg *rep;

    ktpb__v1__registry_list_request__init(&q);
    if ((rep = ask(b, b->reg, KT_WK_LIST, &q.base, 2000)) == NULL) {
        return NULL;
    }
    r = ktpb__v1__registry_list_reply__unpack(NULL, kt_msg_len(rep),
                                              kt_msg_body(rep));
    kt_msg_free(rep);
    return r;
}

// The pid of the registered worker that runs op id (0 = none).
static pid_t
runner(bench *b, const char *id)
{
    Ktpb__V1__RegistryListReply *r = workers_list(b);
    pid_t pid = 0;

    for (size_t i = 0; r != NULL && i < r->n_workers; i++) {
        for (size_t k = 0; k < r->workers[i]->n_ops; k++) {
            if (strcmp(r->workers[i]->ops[k]->op_id, id) == 0) {
                pid = (pid_t)r->workers[i]->pid;
            }
        }
    }
    ktpb__v1__registry_list_reply__free_unpacked(r, NULL);
    return pid;
}

static void
prepare(bench *b)
{
    kt_synth_cfg sc = {.symbol = "AAPL", .timeframe = "1h"};
    char path[512], err[256];
    kt_ohlcv *bars;
    FILE *fp;

    snprintf(b->dir, sizeof(b->dir), "/tmp/kt-bench-rec-XXXXXX");
    if (mkdtemp(b->dir) == NULL) {
        die("mkdtemp");
    }
    snprintf(b->strat, sizeof(b->strat), "%s/bench.yaml", b->dir);
    snprintf(b->url, sizeof(b->url), "ipc://%s/b.sock", b->dir);
    if ((fp = fopen(b->strat, "w")) == NULL) {
        die("strategy file");
    }
    fputs(yaml, fp);
    fclose(fp);
    if (kt_date_range_parse("2024-01-01", "2024-04-30", &sc.start, &sc.end) !=
            KT_OK ||
        kt_synth_generate(&sc, &bars, err, sizeof(err)) != KT_OK) {
        die("synthetic data");
    }
    snprintf(path, sizeof(path), "%s/AAPL_1h.csv", b->dir);
    if (kt_ohlcv_write(bars, path, err, sizeof(err)) != KT_OK) {
        die("data file");
    }
    kt_ohlcv_free(bars);
}

static void
open_inproc(bench *b)
{
    kt_backend_cfg bc = {.data_dir = b->dir, .threads = 2};
    kt_supervision_cfg sc = {0};
    static const char *const none[] = {NULL};

    bc.ops.use_workers = true;
    if (kt_backend_open(&bc, &b->b) != KT_OK) {
        die("backend");
    }
    b->rt = kt_backend_runtime(b->b);
    b->ops = kt_backend_ops(b->b);
    if (kt_runtime_listen(b->rt, b->url) != KT_OK) {
        die("listen");
    }
    sc.registry.heartbeat_ms = 100;
    sc.registry.heartbeat_misses = 3;
    kt_restart_policy_default(&sc.sup.policy);
    sc.sup.policy.max_restarts = 64;
    sc.sup.policy.window_ms = 1000;
    sc.sup.policy.backoff_base_ms = 0;
    sc.sup.policy_set = true;
    sc.sup.data_dir = b->dir;
    sc.sup.local_workers = 2;
    sc.sup.worker_exe = b->exe;
    sc.sup.backend_url = b->url;
    sc.sup.worker_args = none;
    if (kt_supervision_start(b->rt, &sc, &b->s) != KT_OK) {
        die("supervision");
    }
    b->reg = kt_supervision_registry(b->s);
    b->sup = kt_supervision_supervisor(b->s);
}

static int64_t
wait_resumed(bench *b, const char *id, int64_t t0, int64_t *lost)
{
    int64_t end = mono_ms() + 20000, res = 0;

    *lost = 0;
    while (mono_ms() < end) {
        if (sup_times(b, id, lost, &res) && res > t0 && *lost > t0) {
            return res;
        }
        usleep(300);
    }
    die("the operation was not restarted");
    return 0;
}

static size_t
nworkers(bench *b)
{
    Ktpb__V1__RegistryListReply *r = workers_list(b);
    size_t n = 0;

    for (size_t i = 0; r != NULL && i < r->n_workers; i++) {
        n += r->workers[i]->draining ? 0 : 1;
    }
    ktpb__v1__registry_list_reply__free_unpacked(r, NULL);
    return n;
}

static void
trial_kill(bench *b, const char *id, uint64_t *seq, int sig)
{
    int64_t at, lost, res, t0, end = mono_ms() + 20000;
    pid_t pid;

    // One kill at a time, with the spare worker up: back-to-back kills of
    // one slot would measure the respawn back-off (crash-loop protection)
    // instead of the recovery.
    while (nworkers(b) < 2 && mono_ms() < end) {
        usleep(1000);
    }

    if ((*seq = wait_ckpt(b, id, *seq, 20000, &at)) == 0 ||
        (pid = runner(b, id)) == 0) {
        die("no running operation to kill");
    }
    t0 = kt_mono_ns();
    if (kill(pid, sig) != 0) {
        die("kill");
    }
    res = wait_resumed(b, id, t0, &lost);
    if (sig == SIGSTOP) {
        printf("hang %.3f\n", (double)(lost - t0) / 1e6);
    } else {
        uint64_t s2 = wait_ckpt(b, id, *seq, 20000, &at);
        if (s2 == 0) {
            die("no checkpoint after the restart");
        }
        printf("kill %.3f %.3f %.3f\n", (double)(lost - t0) / 1e6,
               (double)(res - t0) / 1e6, (double)(at * 1000000 - res) / 1e6);
        *seq = s2;
    }
    fflush(stdout);
}

static pid_t
backend_start(bench *b)
{
    char *argv[] = {
        S(b->backend_exe), S("--data"), b->dir,     S("--url"), b->url,
        S("--workers"),    S("1"),      S("--exe"), S(b->exe),  S("--hb-ms"),
        S("100"),          NULL};
    posix_spawn_file_actions_t fa;
    extern char **environ;
    char line[64];
    int p[2];
    pid_t pid;
    FILE *fp;

    if (pipe(p) != 0) {
        die("pipe");
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
        die("cannot start kt-sup-backend");
    }
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    fp = fdopen(p[0], "r");
    if (fp == NULL || fgets(line, sizeof(line), fp) == NULL ||
        strncmp(line, "ready", 5) != 0) {
        die("kt-sup-backend did not start");
    }
    fclose(fp);
    return pid;
}

static void
phase_rereg(bench *b, int trials)
{
    kt_runtime_cfg rc = {.threads = 1};
    pid_t be, w;
    int64_t at;
    char *id;

    prepare(b);
    if (kt_runtime_start(&b->rt, &rc) != KT_OK ||
        kt_remote_connect(b->rt, b->url, KT_OPS_NAME, &b->ops) != KT_OK ||
        kt_remote_connect(b->rt, b->url, KT_WORKERS_NAME, &b->reg) != KT_OK) {
        die("client runtime");
    }
    be = backend_start(b);
    id = train(b, 100000);
    if (wait_ckpt(b, id, 0, 20000, &at) == 0 || (w = runner(b, id)) == 0) {
        die("no running operation");
    }
    for (int i = 0; i < trials; i++) {
        int64_t ready, end;
        fflush(stdout);
        kill(be, SIGKILL);
        waitpid(be, NULL, 0);
        be = backend_start(b);
        ready = kt_mono_ns();
        end = mono_ms() + 20000;
        while (runner(b, id) != w && mono_ms() <= end) {
            usleep(300);
        }
        if (runner(b, id) != w) {
            // Not back in 20 s (the backend's listener stopped accepting:
            // see docs/bench/recovery.md); the grace period restarted the
            // operation elsewhere. Counted, and the phase ends.
            printf("rereg_fail\n");
            break;
        }
        printf("rereg %.3f\n", (double)(kt_mono_ns() - ready) / 1e6);
        fflush(stdout);
    }
    kill(w, SIGKILL);
    kill(be, SIGKILL);
    waitpid(be, NULL, 0);
    kt_runtime_stop(b->rt);
    free(id);
}

int
main(int argc, char **argv)
{
    bench b = {0};
    uint64_t seq = 0;
    int trials;
    char *id;

    if (argc != 4 || (trials = atoi(argv[3])) <= 0) {
        fprintf(stderr, "usage: kt-bench-recovery KTRDR KT_SUP_BACKEND "
                        "TRIALS\n");
        return 2;
    }
    b.exe = argv[1];
    b.backend_exe = argv[2];
    setenv("KTRDR_TEST_STEP_MS", "5", 1); // epochs long enough to kill
    kt_log_set_level(KT_LOG_ERR);
    prepare(&b);
    open_inproc(&b);
    id = train(&b, 100000);
    for (int i = 0; i < trials; i++) {
        trial_kill(&b, id, &seq, SIGKILL);
    }
    for (int i = 0; i < (trials + 3) / 4; i++) {
        trial_kill(&b, id, &seq, SIGSTOP);
    }
    kt_supervision_quiesce(b.s); // supervisor.h: the stopping order
    kt_backend_close(b.b);
    kt_supervision_close(b.s, false);
    free(id);
    phase_rereg(&b, (trials + 1) / 2);
    return 0;
}
