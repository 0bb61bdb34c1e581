// kt_test_peer URL: a second runtime in its own process for the remote
// tests and benchmarks. Registers an "echo" actor, listens at URL, writes
// "r" to stdout when ready and stops when stdin closes.
#include <stdio.h>
#include <unistd.h>

#include <kt/kt.h>

static kt_err
echo_handle(void *state, kt_actor *self, kt_msg *msg)
{
    (void)state;
    if (kt_reply(self, msg, msg) != KT_OK) {
        kt_msg_free(msg);
    }
    return KT_OK;
}

static const kt_actor_ops peer_echo_ops = {.name = "echo",
                                           .handle = echo_handle};

int
main(int argc, char **argv)
{
    kt_runtime_cfg cfg = {.threads = 1};
    kt_spawn_opts o = {.name = "echo"};
    kt_runtime *rt = NULL;
    kt_aid e;
    char b;
    int rc = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: kt_test_peer URL\n");
        return 2;
    }
    if (kt_runtime_start(&rt, &cfg) == KT_OK &&
        kt_spawn(rt, &peer_echo_ops, NULL, &o, &e) == KT_OK &&
        kt_runtime_listen(rt, argv[1]) == KT_OK &&
        write(STDOUT_FILENO, "r", 1) == 1) {
        while (read(STDIN_FILENO, &b, 1) > 0) {
        }
        rc = 0;
    }
    kt_runtime_stop(rt);
    return rc;
}
