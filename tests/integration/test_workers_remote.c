// Workers on another machine: `ktrdr worker --connect tcp://HOST:PORT`
// joins a backend over TCP, runs an operation, and when it is SIGKILLed
// (no process watch: the backend sees its connection close, or else its
// heartbeats stop) the operation resumes on another remote worker. Over
// loopback always; from a separate network namespace (its own veth link) when
// root and ip(8) allow, otherwise that case is skipped.
#include <stdarg.h>
#include <sys/stat.h>

#include "sup_fixture.h"

static sf t;
static char ns[64], veth[64];
static int subnet;

static void
setup(void)
{
    sf_prepare(&t);
    ns[0] = veth[0] = '\0';
}

static void sh(const char *fmt, ...) KT_PRINTF(1, 2);

static void
sh(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (system(cmd) != 0) {
        cr_log_warn("command failed: %s", cmd);
    }
}

static void
teardown(void)
{
    sf_close(&t);
    if (veth[0] != '\0') {
        sh("ip link del %s 2>/dev/null", veth);
    }
    if (ns[0] != '\0') {
        sh("ip netns del %s 2>/dev/null", ns);
    }
}

TestSuite(workers_remote, .init = setup, .fini = teardown, .timeout = 60.0);

// A namespace with a veth link to ours: 10.213.S.1 here, .2 there.
static bool
netns_up(void)
{
    char cmd[2048];
    const char *ip = access("/usr/sbin/ip", X_OK) == 0 ? "/usr/sbin/ip"
                     : access("/sbin/ip", X_OK) == 0   ? "/sbin/ip"
                                                       : NULL;

    if (geteuid() != 0 || ip == NULL) {
        return false;
    }
    subnet = 1 + getpid() % 250;
    snprintf(ns, sizeof(ns), "ktw%d", (int)getpid());
    snprintf(veth, sizeof(veth), "ktw%da", (int)getpid());
    int n =
        snprintf(cmd, sizeof(cmd),
                 "%s netns add %s && %s link add %s type veth peer name ktw%db "
                 "&& %s link set ktw%db netns %s && %s addr add 10.213.%d.1/30 "
                 "dev %s && %s link set %s up && %s netns exec %s %s addr add "
                 "10.213.%d.2/30 dev ktw%db && %s netns exec %s %s link set "
                 "ktw%db up && %s netns exec %s %s link set lo up",
                 ip, ns, ip, veth, (int)getpid(), ip, (int)getpid(), ns, ip,
                 subnet, veth, ip, veth, ip, ns, ip, subnet, (int)getpid(), ip,
                 ns, ip, (int)getpid(), ip, ns, ip);
    return (size_t)n < sizeof(cmd) && system(cmd) == 0;
}

static void
listen_tcp(const char *host, char *url, size_t len)
{
    for (int port = 21000 + getpid() % 20000, i = 0; i < 50; i++, port++) {
        snprintf(url, len, "tcp://%s:%d", host, port);
        if (kt_runtime_listen(t.f.rt, url) == KT_OK) {
            return;
        }
    }
    cr_assert_fail("no free tcp port");
}

static pid_t
worker_in(const char *url, const char *id, bool in_ns)
{
    char *netns[] = {FX_S("/usr/sbin/ip"),
                     FX_S("netns"),
                     FX_S("exec"),
                     ns,
                     FX_S(SF_KTRDR),
                     FX_S("worker"),
                     FX_S("--connect"),
                     FX_S(url),
                     FX_S("--id"),
                     FX_S(id),
                     NULL};

    if (!in_ns) {
        return sf_worker(url, id);
    }
    if (access("/usr/sbin/ip", X_OK) != 0) {
        netns[0] = FX_S("/sbin/ip");
    }
    return sf_spawn(netns);
}

static void
remote_run(const char *host, bool in_ns)
{
    kt_restart_policy p = {.max_restarts = 2,
                           .window_ms = 60000,
                           .backoff_base_ms = 10,
                           .backoff_max_ms = 200};
    Ktpb__V1__OpsReply *keep;
    Ktpb__V1__OperationRecord *op;
    char url[96], *id;
    pid_t w1, w2;

    setenv("KTRDR_TEST_STEP_MS", "30", 1);
    sf_open(&t, 0, &p, 100);
    listen_tcp(host, url, sizeof(url));
    w1 = worker_in(url, "remote-1", in_ns);
    cr_assert(sf_wait_workers(&t, 1, 10000), "remote worker never joined");
    id = fx_train_ok(&t.f, 16, 2, -1);
    cr_assert(sf_wait_ckpt(&t, id, 4, 20000));
    op = sf_record(&t, id, &keep);
    cr_expect_str_eq(op->worker_id, "remote-1");
    ktpb__v1__ops_reply__free_unpacked(keep, NULL);
    cr_assert_eq(kill(w1, SIGKILL), 0);
    (void)sf_reap(w1, 5000);
    w2 = worker_in(url, "remote-2", in_ns);
    cr_assert(
        fx_wait_status(&t.f, id, KTPB__V1__OP_STATUS__OP_COMPLETED, 30000));
    op = sf_record(&t, id, &keep);
    cr_expect_str_eq(op->worker_id, "remote-2", "resumed on another worker");
    cr_expect_eq(op->restart_count, 1);
    cr_expect(strstr(op->error, "connection lost") != NULL ||
                  strstr(op->error, "no heartbeat") != NULL ||
                  op->error[0] == 0,
              "%s", op->error);
    ktpb__v1__ops_reply__free_unpacked(keep, NULL);
    cr_assert_eq(kill(w2, SIGTERM), 0);
    cr_assert_neq(sf_reap(w2, 10000), -1);
    free(id);
}

Test(workers_remote, tcp_worker_over_loopback)
{
    remote_run("127.0.0.1", false);
}

Test(workers_remote, tcp_worker_in_its_own_network_namespace)
{
    char host[32];

    if (!netns_up()) {
        cr_skip_test("needs root and ip(8) to make a network namespace");
    }
    snprintf(host, sizeof(host), "10.213.%d.1", subnet);
    remote_run(host, true);
}

// With heartbeats 2 s apart (3 misses: 6 s), only the closed connection
// reveals a SIGKILLed worker within a little over one interval.
Test(workers_remote, killed_remote_worker_is_found_by_its_closed_connection)
{
    kt_restart_policy p = {.max_restarts = 0, .window_ms = 60000};
    Ktpb__V1__OpsReply *keep;
    Ktpb__V1__OperationRecord *op;
    char url[96], *id;
    int64_t t0;
    pid_t w1;

    setenv("KTRDR_TEST_STEP_MS", "40", 1);
    sf_open(&t, 0, &p, 2000);
    listen_tcp("127.0.0.1", url, sizeof(url));
    w1 = worker_in(url, "remote-1", false);
    cr_assert(sf_wait_workers(&t, 1, 10000), "remote worker never joined");
    id = fx_train_ok(&t.f, 40, 2, -1);
    cr_assert(sf_wait_ckpt(&t, id, 2, 20000));
    t0 = sf_ms();
    cr_assert_eq(kill(w1, SIGKILL), 0);
    (void)sf_reap(w1, 5000);
    cr_assert(fx_wait_status(&t.f, id, KTPB__V1__OP_STATUS__OP_FAILED, 5000),
              "the loss was not detected");
    cr_expect_lt(sf_ms() - t0, 4500, "detected after %lld ms",
                 (long long)(sf_ms() - t0));
    op = sf_record(&t, id, &keep);
    cr_expect(strstr(op->error, "Worker remote-1 lost: connection lost") !=
                  NULL,
              "%s", op->error);
    ktpb__v1__ops_reply__free_unpacked(keep, NULL);
    free(id);
}
