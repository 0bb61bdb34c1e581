// bench_persist.c: checkpoint save latency p50/p99 for 4 KiB, 1 MiB and
// 16 MiB of artifacts through the store and through the persistence actor,
// against the raw file protocol (write+fsync, fsync dir, rename, fsync
// parent) of the same bytes in the same run; fsync alone; sustained
// checkpoint events/s through the actor. Actor saves are timed twice: the
// writer sending the artifact's sha256 (its hashing time reported apart)
// and not (the store hashes). Prints JSON lines.
// Usage: kt-bench-persist DIR [scale]   (scale divides the iteration counts)
#include <fcntl.h>
#include <ktpb/v1/persist.pb-c.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <kt/kt.h>
#include <kt/sha256.h>

#include "persistence/persistence.h"
#include "persistence/store.h"

#define S(x) ((char *)(uintptr_t)(x))

static double
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

static void
must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "bench_persist: %s failed\n", what);
        exit(1);
    }
}

static void
sync_dir(const char *d)
{
    int fd = open(d, O_RDONLY | O_DIRECTORY);
    must(fd >= 0 && fsync(fd) == 0, "fsync dir");
    close(fd);
}

// raw_protocol: the same file steps as a checkpoint, no database.
static void
raw_protocol(const char *root, int i, const uint8_t *buf, size_t len)
{
    char tmp[512], f[600], fin[512];
    snprintf(tmp, sizeof(tmp), "%s/raw.tmp.%d", root, i);
    snprintf(fin, sizeof(fin), "%s/raw/%d", root, i);
    snprintf(f, sizeof(f), "%s/a.bin", tmp);
    must(mkdir(tmp, 0755) == 0, "mkdir");
    int fd = open(f, O_WRONLY | O_CREAT | O_EXCL, 0644);
    must(fd >= 0, "open");
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, buf + off, len - off);
        must(n > 0, "write");
        off += (size_t)n;
    }
    must(fsync(fd) == 0, "fsync");
    close(fd);
    sync_dir(tmp);
    must(rename(tmp, fin) == 0, "rename");
    snprintf(f, sizeof(f), "%s/raw", root);
    sync_dir(f);
}

static void
fsync_only(const char *root, int i, const uint8_t *buf, size_t len)
{
    char f[512];
    snprintf(f, sizeof(f), "%s/fs.%d", root, i);
    int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    must(fd >= 0 && write(fd, buf, len) == (ssize_t)len, "write");
    must(fsync(fd) == 0, "fsync");
    close(fd);
    unlink(f);
}

// event_msg packs a CheckpointEvent; sha (32 bytes or NULL) is the hash
// the writer sends.
static kt_msg *
event_msg(const char *op, uint64_t seq, const uint8_t *buf, size_t len,
          const uint8_t *sha)
{
    Ktpb__V1__CheckpointEvent e;
    Ktpb__V1__Artifact a, *pa[1] = {&a};
    kt_msg *m;
    ktpb__v1__checkpoint_event__init(&e);
    ktpb__v1__artifact__init(&a);
    a.name = S("model.bin");
    a.data.data = (uint8_t *)(uintptr_t)buf;
    a.data.len = len;
    if (sha != NULL) {
        a.sha256.data = (uint8_t *)(uintptr_t)sha;
        a.sha256.len = 32;
    }
    e.op_id = S(op);
    e.attempt = 1;
    e.seq = seq;
    e.type = KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_PERIODIC;
    e.unit = S("epoch");
    e.unit_value = (int64_t)seq;
    e.state.data = (uint8_t *)(uintptr_t) "state";
    e.state.len = 5;
    e.format_version = 1;
    e.n_artifacts = 1;
    e.artifacts = pa;
    must(kt_msg_alloc(&m, KT_PERSIST_CKPT_SAVE,
                      ktpb__v1__checkpoint_event__get_packed_size(&e)) == KT_OK,
         "alloc");
    ktpb__v1__checkpoint_event__pack(&e, kt_msg_body(m));
    return m;
}

static int
reply_status(kt_msg *rep)
{
    Ktpb__V1__ReplyHead *h =
        ktpb__v1__reply_head__unpack(NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    int st = h != NULL ? h->status : -1;
    ktpb__v1__reply_head__free_unpacked(h, NULL);
    kt_msg_free(rep);
    return st;
}

static void
emit(const char *cs, const char *metric, double v, const char *unit,
     double base)
{
    printf("{\"bench\":\"persistence\",\"case\":\"%s\",\"metric\":\"%s\","
           "\"value\":%.1f,\"unit\":\"%s\",\"baseline\":%.1f,\"ratio\":%.3f}"
           "\n",
           cs, metric, v, unit, base, v > 0 ? base / v : 0.0);
}

typedef struct bench_ctx {
    const char *root;
    kt__store *store;
    kt_runtime *rt;
    kt_aid pa;
    uint64_t seq;
} bench_ctx;

static void
bench_open(bench_ctx *b)
{
    char d[512];
    kt_persist_cfg c = {0};
    kt_runtime_cfg rc = {.threads = 1};
    kt_spawn_opts o = {.name = KT_PERSIST_NAME, .dedicated = true};
    kt_op_new n = {.id = "op_bench_store", .type = "training"};
    kt_op_change ch = {.id = "op_bench_store", .to = KT_OP_RUNNING};

    (void)mkdir(b->root, 0755);
    snprintf(d, sizeof(d), "%s/store", b->root);
    c.data_dir = d;
    must(kt__store_open(&b->store, &c, NULL, 0) == KT_OK, "store open");
    must(kt__store_op_create(b->store, &n) == KT_OK &&
             kt__store_op_change(b->store, &ch) == KT_OK,
         "store op");
    snprintf(d, sizeof(d), "%s/actor", b->root);
    must(kt_runtime_start(&b->rt, &rc) == KT_OK, "runtime");
    must(kt_spawn(b->rt, &persistence_ops, &c, &o, &b->pa) == KT_OK, "spawn");
    Ktpb__V1__OpCreateRequest cr;
    ktpb__v1__op_create_request__init(&cr);
    cr.id = S("op_bench_actor");
    cr.type = S("training");
    kt_msg *m, *rep;
    must(kt_msg_alloc(&m, KT_PERSIST_OP_CREATE,
                      ktpb__v1__op_create_request__get_packed_size(&cr)) ==
             KT_OK,
         "alloc");
    ktpb__v1__op_create_request__pack(&cr, kt_msg_body(m));
    must(kt_runtime_ask(b->rt, b->pa, m, 10000, &rep) == KT_OK &&
             reply_status(rep) == 0,
         "actor op");
}

typedef struct samples {
    double *raw, *fs, *st, *ac, *acn, *wh;
} samples;

// actor_save times one save through the actor; with_hash: the writer sends
// the artifact's sha256 (hashed before, outside the timed part, like the
// packing; its cost goes to *whp).
static double
actor_save(bench_ctx *b, uint64_t seq, const uint8_t *buf, size_t len,
           bool with_hash, double *whp)
{
    uint8_t sha[32];
    double t = now_us();
    kt_msg *m, *rep;

    if (with_hash) {
        kt_sha256(buf, len, sha);
        *whp = now_us() - t;
    }
    m = event_msg("op_bench_actor", seq, buf, len, with_hash ? sha : NULL);
    t = now_us();
    must(kt_runtime_ask(b->rt, b->pa, m, 60000, &rep) == KT_OK &&
             reply_status(rep) == 0,
         "actor save");
    return now_us() - t;
}

// bench_one times the five ways once, in an order rotated per iteration:
// on this disk an fsync costs more right after another job's (the journal
// commit it joins), so a fixed order would favour whatever comes second.
static void
bench_one(bench_ctx *b, samples *sm, int i, const uint8_t *buf, size_t len)
{
    kt_ckpt_artifact a = {.name = "model.bin", .data = buf, .len = len};
    kt_ckpt_event e = {.op_id = "op_bench_store",
                       .attempt = 1,
                       .type = KT_CKPT_PERIODIC,
                       .unit = "epoch",
                       .state = (const uint8_t *)"state",
                       .state_len = 5,
                       .artifacts = &a,
                       .nartifacts = 1,
                       .format_version = 1};
    double t;

    for (int k = 0; k < 5; k++) {
        switch ((k + i) % 5) {
        case 0:
            t = now_us();
            raw_protocol(b->root, (int)++b->seq, buf, len);
            sm->raw[i] = now_us() - t;
            break;
        case 1:
            t = now_us();
            fsync_only(b->root, i, buf, len);
            sm->fs[i] = now_us() - t;
            break;
        case 2:
            e.seq = ++b->seq;
            t = now_us();
            must(kt__store_ckpt_save(b->store, &e) == KT_OK, "store save");
            sm->st[i] = now_us() - t;
            kt__store_ckpt_finish(b->store); // as the actor does after its ack
            break;
        case 3:
            sm->ac[i] = actor_save(b, ++b->seq, buf, len, true, &sm->wh[i]);
            break;
        default:
            sm->acn[i] = actor_save(b, ++b->seq, buf, len, false, NULL);
            break;
        }
    }
}

static void
bench_size(bench_ctx *b, const char *name, size_t len, int n)
{
    samples sm = {
        .raw = calloc((size_t)n, sizeof(double)),
        .fs = calloc((size_t)n, sizeof(double)),
        .st = calloc((size_t)n, sizeof(double)),
        .ac = calloc((size_t)n, sizeof(double)),
        .acn = calloc((size_t)n, sizeof(double)),
        .wh = calloc((size_t)n, sizeof(double)),
    };
    uint8_t *buf = malloc(len);
    char d[512], cs[64];

    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(i * 2654435761u >> 13);
    }
    snprintf(d, sizeof(d), "%s/raw", b->root);
    mkdir(d, 0755);
    for (int i = 0; i < n; i++) {
        bench_one(b, &sm, i, buf, len);
    }
    double rp50 = pct(sm.raw, n, .5), rp99 = pct(sm.raw, n, .99);
    snprintf(cs, sizeof(cs), "save_%s", name);
    emit(cs, "store_p50", pct(sm.st, n, .5), "us", rp50);
    emit(cs, "store_p99", pct(sm.st, n, .99), "us", rp99);
    emit(cs, "actor_p50", pct(sm.ac, n, .5), "us", rp50);
    emit(cs, "actor_p99", pct(sm.ac, n, .99), "us", rp99);
    emit(cs, "actor_nohash_p50", pct(sm.acn, n, .5), "us", rp50);
    emit(cs, "actor_nohash_p99", pct(sm.acn, n, .99), "us", rp99);
    double wh = pct(sm.wh, n, .5);
    emit(cs, "writer_sha256_p50", wh, "us", wh);
    emit(cs, "raw_protocol_p50", rp50, "us", rp50);
    emit(cs, "raw_protocol_p99", rp99, "us", rp99);
    emit(cs, "write_fsync_p50", pct(sm.fs, n, .5), "us", pct(sm.fs, n, .5));
    emit(cs, "write_fsync_p99", pct(sm.fs, n, .99), "us", pct(sm.fs, n, .99));
    free(sm.raw);
    free(sm.fs);
    free(sm.st);
    free(sm.ac);
    free(sm.acn);
    free(sm.wh);
    free(buf);
}

// bench_sustained: n events sent back to back (no waiting per event), then
// one ask that queues behind them; events/s over the whole batch.
static void
bench_sustained(bench_ctx *b, int n, size_t len)
{
    uint8_t *buf = calloc(1, len);
    double t = now_us(), raw_t;
    kt_msg *m, *rep;

    for (int i = 0; i < n; i++) {
        m = event_msg("op_bench_actor", ++b->seq, buf, len, NULL);
        must(kt_send(NULL, b->pa, m) == KT_OK, "send");
    }
    must(kt_msg_alloc(&m, KT_PERSIST_CKPT_STATS, 0) == KT_OK, "alloc");
    must(kt_runtime_ask(b->rt, b->pa, m, 120000, &rep) == KT_OK, "drain");
    kt_msg_free(rep);
    double secs = (now_us() - t) / 1e6;
    raw_t = now_us();
    for (int i = 0; i < n; i++) {
        raw_protocol(b->root, (int)b->seq + 100000 + i, buf, len);
    }
    double raw_secs = (now_us() - raw_t) / 1e6;
    // ratio = ours / raw for a rate (bigger is better)
    printf("{\"bench\":\"persistence\",\"case\":\"sustained_4KiB\","
           "\"metric\":\"events_per_s\",\"value\":%.1f,\"unit\":\"1/s\","
           "\"baseline\":%.1f,\"ratio\":%.3f}\n",
           n / secs, n / raw_secs, (n / secs) / (n / raw_secs));
    free(buf);
}

int
main(int argc, char **argv)
{
    bench_ctx b = {0};
    int scale = argc > 2 ? atoi(argv[2]) : 1;

    kt_process_tune(); // as ktrdr does (cli/main.c)
    if (argc < 2) {
        fprintf(stderr, "usage: kt-bench-persist DIR [scale]\n");
        return 2;
    }
    if (scale < 1) {
        scale = 1;
    }
    b.root = argv[1];
    kt_log_set_level(KT_LOG_ERR);
    bench_open(&b);
    bench_size(&b, "4KiB", 4096, 400 / scale);
    bench_size(&b, "1MiB", 1 << 20, 200 / scale);
    bench_size(&b, "16MiB", 16 << 20, 40 / scale);
    bench_sustained(&b, 400 / scale, 4096);
    kt_runtime_stop(b.rt);
    kt__store_close(b.store);
    return 0;
}
