// The persistence actor through the real runtime (persist_fx.h): the
// operation lifecycle, every checkpoint request, error replies for bad
// input (malformed, unknown, oversized), fault injection and the fallback
// log line (cleanup, stats, workers and completion: test_persistence_admin.c).
#include "persist_fx.h"

Test(persistence, operation_lifecycle_through_messages)
{
    char msg[256];
    spawn_persist(0, 0);
    create_running("op_a");
    Ktpb__V1__OpCreateRequest c;
    ktpb__v1__op_create_request__init(&c);
    c.id = S("op_a");
    c.type = S("training");
    cr_expect_eq(op_call(KT_PERSIST_OP_CREATE, &c.base, msg, sizeof(msg)),
                 KT_ESTATE);
    cr_expect_str_eq(msg, "Operation ID already exists: op_a");

    Ktpb__V1__OpProgressRequest pr;
    ktpb__v1__op_progress_request__init(&pr);
    pr.id = S("op_a");
    pr.percent = 45;
    cr_expect_eq(op_call(KT_PERSIST_OP_PROGRESS, &pr.base, NULL, 0), KT_OK);

    Ktpb__V1__OpGetRequest g;
    ktpb__v1__op_get_request__init(&g);
    g.id = S("op_a");
    kt_msg *rep = ask(KT_PERSIST_OP_GET, &g.base);
    Ktpb__V1__OpReply *r =
        ktpb__v1__op_reply__unpack(NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    cr_assert_not_null(r);
    cr_assert_not_null(r->op);
    cr_expect_eq(r->op->status, KTPB__V1__OP_STATUS__OP_RUNNING);
    cr_expect_float_eq(r->op->progress_percent, 45.0, 1e-9);
    ktpb__v1__op_reply__free_unpacked(r, NULL);
    kt_msg_free(rep);

    g.id = S("op_none");
    cr_expect_eq(op_call(KT_PERSIST_OP_GET, &g.base, msg, sizeof(msg)),
                 KT_ENOENT);
    cr_expect_str_eq(msg, "Operation not found: op_none");

    Ktpb__V1__OpTransitionRequest t;
    ktpb__v1__op_transition_request__init(&t);
    t.id = S("op_a");
    t.to = KTPB__V1__OP_STATUS__OP_RESUMING;
    cr_expect_eq(op_call(KT_PERSIST_OP_TRANSITION, &t.base, msg, sizeof(msg)),
                 KT_ESTATE);
    cr_expect(strstr(msg, "Operation is not in a resumable state") != NULL);
}

Test(persistence, list_filters_resumable)
{
    spawn_persist(0, 0);
    create_running("op_1");
    create_running("op_2");
    cr_assert_eq(save_status("op_1", 1, 1, "w"), KT_OK);
    Ktpb__V1__OpTransitionRequest t;
    ktpb__v1__op_transition_request__init(&t);
    t.to = KTPB__V1__OP_STATUS__OP_CANCELLED;
    t.id = S("op_1");
    cr_assert_eq(op_call(KT_PERSIST_OP_TRANSITION, &t.base, NULL, 0), KT_OK);
    t.id = S("op_2");
    cr_assert_eq(op_call(KT_PERSIST_OP_TRANSITION, &t.base, NULL, 0), KT_OK);
    Ktpb__V1__OpListRequest l;
    ktpb__v1__op_list_request__init(&l);
    l.resumable = true;
    kt_msg *rep = ask(KT_PERSIST_OP_LIST, &l.base);
    cr_assert_eq(kt_msg_type(rep), KT_PERSIST_OP_LIST_REPLY);
    Ktpb__V1__OpListReply *r = ktpb__v1__op_list_reply__unpack(
        NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    cr_assert_not_null(r);
    cr_assert_eq(r->n_ops, 1);
    cr_expect_str_eq(r->ops[0]->id, "op_1");
    cr_expect_eq(r->ops[0]->checkpoint_seq, 1);
    cr_expect_str_eq(r->ops[0]->checkpoint_unit, "epoch");
    ktpb__v1__op_list_reply__free_unpacked(r, NULL);
    kt_msg_free(rep);
}

Test(persistence, save_load_roundtrip_with_verified_artifact)
{
    spawn_persist(0, 0);
    create_running("op_s");
    cr_assert_eq(save_status("op_s", 1, 1, "weights-1"), KT_OK);
    cr_assert_eq(save_status("op_s", 1, 2, "weights-2"), KT_OK);
    Ktpb__V1__CheckpointLoadReply *r = load("op_s", 1);
    cr_assert_eq(r->status, KT_OK, "%s", r->message);
    cr_assert_not_null(r->checkpoint);
    cr_expect_eq(r->checkpoint->seq, 2);
    cr_expect_eq(r->fell_back, false);
    cr_assert_eq(r->checkpoint->n_artifacts, 1);
    cr_expect_eq(r->checkpoint->artifacts[0]->data.len, 9);
    cr_expect_arr_eq(r->checkpoint->artifacts[0]->data.data, "weights-2", 9);
    uint8_t h[32];
    kt_sha256("weights-2", 9, h);
    cr_expect_arr_eq(r->checkpoint->artifacts[0]->sha256.data, h, 32);
    cr_expect_eq(strlen(r->checkpoint->created_at), 20);
    cr_expect_eq(r->checkpoint->created_at[19], 'Z');
    ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
}

Test(persistence, load_errors_use_the_guides_messages)
{
    spawn_persist(0, 0);
    Ktpb__V1__CheckpointLoadReply *r = load("op_x", 1);
    cr_expect_eq(r->status, KT_ENOENT);
    cr_expect_str_eq(r->message, "No checkpoint found for operation op_x");
    cr_expect_null(r->checkpoint);
    ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
    create_running("op_v");
    cr_assert_eq(save_status("op_v", 1, 1, NULL), KT_OK);
    r = load("op_v", 2);
    cr_expect_eq(r->status, KT_EVERSION);
    cr_expect(strncmp(r->message, "Checkpoint version mismatch", 27) == 0);
    ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
}

Test(persistence, fallback_is_reported_and_logged)
{
    char p[512];
    inline_max = -1; // artifact files (test_persistence_inline: in rows)
    spawn_persist(0, 0);
    log_capture_start();
    create_running("op_f");
    cr_assert_eq(save_status("op_f", 1, 1, "good"), KT_OK);
    cr_assert_eq(save_status("op_f", 1, 2, "newer"), KT_OK);
    snprintf(p, sizeof(p), "%s/checkpoints/op_f/2/model.bin", dir);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs("NEWER", f);
    fclose(f);
    Ktpb__V1__CheckpointLoadReply *r = load("op_f", 1);
    cr_assert_eq(r->status, KT_OK);
    cr_expect(r->fell_back);
    cr_expect_eq(r->checkpoint->seq, 1);
    cr_expect(strstr(r->message, "fell back") != NULL, "%s", r->message);
    ktpb__v1__checkpoint_load_reply__free_unpacked(r, NULL);
    cr_expect(log_wait("event=checkpoint_fallback op=op_f", 5000));
    log_capture_stop();
}

Test(persistence, stale_attempt_gets_an_error_ack)
{
    spawn_persist(0, 0);
    create_running("op_z");
    cr_assert_eq(save_status("op_z", 2, 1, "a"), KT_OK);
    Ktpb__V1__CheckpointAck *ack = save("op_z", 1, 2, "zombie");
    cr_expect_eq(ack->status, KT_ESTATE);
    cr_expect(strstr(ack->message, "stale") != NULL, "%s", ack->message);
    ktpb__v1__checkpoint_ack__free_unpacked(ack, NULL);
}

Test(persistence, failed_save_is_loud_and_recorded_on_the_operation)
{
    char msg[256];
    spawn_persist(0, 0);
    create_running("op_e");
    cr_assert_eq(save_status("op_e", 1, 1, "ok"), KT_OK);
    fail_op = KT_PERSIST_OP_DB_COMMIT; // the step inline and file saves share
    fail_err = ENOSPC;
    Ktpb__V1__CheckpointAck *ack = save("op_e", 1, 2, "lost");
    cr_expect_eq(ack->status, (int)(KT_ESYSERR | ENOSPC));
    cr_expect(strstr(ack->message, "not saved") != NULL, "%s", ack->message);
    ktpb__v1__checkpoint_ack__free_unpacked(ack, NULL);
    fail_op = -1;
    Ktpb__V1__OpGetRequest g;
    ktpb__v1__op_get_request__init(&g);
    g.id = S("op_e");
    kt_msg *rep = ask(KT_PERSIST_OP_GET, &g.base);
    Ktpb__V1__OpReply *r =
        ktpb__v1__op_reply__unpack(NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    cr_assert_not_null(r);
    cr_expect(strstr(r->op->error, "Checkpoint save failed") != NULL, "%s",
              r->op->error);
    cr_expect_eq(r->op->checkpoint_seq, 1, "previous checkpoint kept");
    ktpb__v1__op_reply__free_unpacked(r, NULL);
    kt_msg_free(rep);
    (void)msg;
}

Test(persistence, malformed_unknown_and_oversized_requests_get_error_replies)
{
    spawn_persist(0, 4096);
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12};
    const uint32_t types[] = {KT_PERSIST_OP_CREATE, KT_PERSIST_CKPT_SAVE,
                              KT_PERSIST_CKPT_LOAD, KT_PERSIST_OP_LIST,
                              KT_PERSIST_CKPT_DELETE};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        kt_msg *req = msg_new(types[i], junk, sizeof(junk)), *rep = NULL;
        cr_assert_eq(kt_runtime_ask(rt, pa, req, 10000, &rep), KT_OK);
        Ktpb__V1__ReplyHead *e = ktpb__v1__reply_head__unpack(
            NULL, kt_msg_len(rep), kt_msg_cbody(rep));
        cr_assert_not_null(e, "type %u", types[i]);
        cr_expect_eq(e->status, KT_EPROTO, "type %u", types[i]);
        cr_expect(strstr(e->message, "malformed") != NULL);
        ktpb__v1__reply_head__free_unpacked(e, NULL);
        kt_msg_free(rep);
    }
    kt_msg *req = msg_new(298, NULL, 0), *rep = NULL;
    cr_assert_eq(kt_runtime_ask(rt, pa, req, 10000, &rep), KT_OK);
    cr_expect_eq(kt_msg_type(rep), KT_PERSIST_ERROR_REPLY);
    Ktpb__V1__ErrorReply *e =
        ktpb__v1__error_reply__unpack(NULL, kt_msg_len(rep), kt_msg_cbody(rep));
    cr_assert_not_null(e);
    cr_expect_eq(e->status, KT_EPROTO);
    cr_expect_eq(e->request_type, 298);
    ktpb__v1__error_reply__free_unpacked(e, NULL);
    kt_msg_free(rep);
    // Oversized: a valid event bigger than max_request_bytes.
    char *big = malloc(8192);
    memset(big, 'x', 8191);
    big[8191] = '\0';
    create_running("op_big");
    Ktpb__V1__CheckpointAck *ack = save("op_big", 1, 1, big);
    cr_expect_eq(ack->status, KT_EINVAL);
    cr_expect(strstr(ack->message, "exceeds") != NULL, "%s", ack->message);
    ktpb__v1__checkpoint_ack__free_unpacked(ack, NULL);
    free(big);
    // Still alive and well.
    cr_expect_eq(save_status("op_big", 1, 1, "small"), KT_OK);
}
