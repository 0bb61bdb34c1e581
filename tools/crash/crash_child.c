// crash_child.c: the victim of the crash-injection test. Usage:
//   kt_crash_child DATA_DIR ACK_FD START_SEQ
// Saves checkpoints seq = START_SEQ, START_SEQ+1, ... of operation
// "op_crash" through the persistence actor (artifacts whose bytes are a
// function of seq, see crash_pattern: small ones kept inline in the row,
// every third seq one over 64 KiB, so artifact files) and writes each
// acknowledged seq as a uint64 to ACK_FD. Runs until killed; exits 3 on a
// failed save.
#include <errno.h>
#include <ktpb/v1/persist.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kt/kt.h>

#include "persistence/persistence.h"

#define S(x) ((char *)(uintptr_t)(x))

#define CRASH_BIG 66000 // a.bin of every third seq: over the inline limit

// The artifact bytes the verifier expects: name i of seq.
static size_t
crash_pattern(uint64_t seq, int i, uint8_t *buf)
{
    size_t len =
        i == 0 ? (seq % 3 == 0 ? CRASH_BIG : 16) + seq % 200 : 32 + seq % 57;
    for (size_t j = 0; j < len; j++) {
        buf[j] = (uint8_t)(seq * 131 + (uint64_t)i * 17 + j);
    }
    return len;
}

static int
ask_status(kt_runtime *rt, kt_aid to, uint32_t type, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    kt_msg *req, *rep = NULL;
    Ktpb__V1__ReplyHead *r; // every reply starts with status, message
    int st;

    if (kt_msg_alloc(&req, type, n) != KT_OK) {
        return -1;
    }
    (void)protobuf_c_message_pack(m, kt_msg_body(req));
    if (kt_runtime_ask(rt, to, req, 30000, &rep) != KT_OK) {
        kt_msg_free(req);
        return -1;
    }
    r = ktpb__v1__reply_head__unpack(NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    st = r != NULL ? r->status : -1;
    if (r != NULL && st != 0 && type == KT_PERSIST_CKPT_SAVE) {
        fprintf(stderr, "crash_child: save failed: %s\n", r->message);
    }
    ktpb__v1__reply_head__free_unpacked(r, NULL);
    kt_msg_free(rep);
    return st;
}

static void
crash_start_op(kt_runtime *rt, kt_aid pa)
{
    Ktpb__V1__OpCreateRequest c;
    Ktpb__V1__OpTransitionRequest t;

    ktpb__v1__op_create_request__init(&c);
    c.id = S("op_crash");
    c.type = S("training");
    (void)ask_status(rt, pa, KT_PERSIST_OP_CREATE, &c.base); // may exist
    ktpb__v1__op_transition_request__init(&t);
    t.id = c.id;
    t.to = KTPB__V1__OP_STATUS__OP_RUNNING;
    (void)ask_status(rt, pa, KT_PERSIST_OP_TRANSITION, &t.base);
}

static int
crash_save(kt_runtime *rt, kt_aid pa, uint64_t seq)
{
    static uint8_t b0[CRASH_BIG + 256], b1[128];
    char state[32];
    Ktpb__V1__CheckpointEvent e;
    Ktpb__V1__Artifact a[2], *pa2[2] = {&a[0], &a[1]};

    ktpb__v1__checkpoint_event__init(&e);
    for (int i = 0; i < 2; i++) {
        ktpb__v1__artifact__init(&a[i]);
        a[i].name = S(i == 0 ? "a.bin" : "b.bin");
        a[i].data.data = i == 0 ? b0 : b1;
        a[i].data.len = crash_pattern(seq, i, i == 0 ? b0 : b1);
    }
    (void)snprintf(state, sizeof(state), "seq=%llu", (unsigned long long)seq);
    e.op_id = S("op_crash");
    e.attempt = 1;
    e.seq = seq;
    e.type = KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_PERIODIC;
    e.unit = S("epoch");
    e.unit_value = (int64_t)seq;
    e.state.data = (uint8_t *)state;
    e.state.len = strlen(state);
    e.n_artifacts = 2;
    e.artifacts = pa2;
    e.format_version = 1;
    return ask_status(rt, pa, KT_PERSIST_CKPT_SAVE, &e.base);
}

int
main(int argc, char **argv)
{
    kt_runtime_cfg rc = {.threads = 1};
    kt_spawn_opts o = {.name = KT_PERSIST_NAME, .dedicated = true};
    kt_persist_cfg pc = {.cleanup_interval_ms = 20};
    kt_runtime *rt;
    kt_aid pa;
    uint64_t seq;
    int fd;

    if (argc != 4) {
        fprintf(stderr, "usage: kt_crash_child DATA_DIR ACK_FD START_SEQ\n");
        return 2;
    }
    pc.data_dir = argv[1];
    fd = atoi(argv[2]);
    seq = strtoull(argv[3], NULL, 10);
    if (kt_runtime_start(&rt, &rc) != KT_OK ||
        kt_spawn(rt, &persistence_ops, &pc, &o, &pa) != KT_OK) {
        fprintf(stderr, "crash_child: cannot start\n");
        return 3;
    }
    crash_start_op(rt, pa);
    for (;; seq++) {
        if (crash_save(rt, pa, seq) != 0) {
            return 3;
        }
        if (write(fd, &seq, sizeof(seq)) != (ssize_t)sizeof(seq)) {
            return 4;
        }
    }
}
