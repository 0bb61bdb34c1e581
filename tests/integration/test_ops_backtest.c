// Backtest operations end to end: a model trained by a training operation
// is backtested uninterrupted, then stopped and resumed once and twice; the
// trades, metrics and equity curve must be identical, and each bar slice
// must run exactly once (the resumes continue at the saved bar).
#include "ops_fixture.h"

static fx f;
static char model[512];

static void
setup(void)
{
    Ktpb__V1__OpsResultsReply *r;
    char *id;

    fx_setup(&f);
    id = fx_train_ok(&f, 12, 0, -1);
    cr_assert(fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED,
                             FX_TIMEOUT_MS));
    r = fx_results(&f, id, false, false);
    cr_assert_eq(r->status, 0, "%s", r->message);
    snprintf(model, sizeof(model), "%s", r->training->model_path);
    ktpb__v1__ops_results_reply__free_unpacked(r, NULL);
    free(id);
}

static void
teardown(void)
{
    fx_teardown(&f);
}

TestSuite(ops_backtest, .init = setup, .fini = teardown, .timeout = 60.0);

static char *
backtest_ok(uint32_t freq)
{
    Ktpb__V1__StartBacktestRequest rq;
    Ktpb__V1__OpsReply *r;
    char *id;

    ktpb__v1__start_backtest_request__init(&rq);
    rq.strategy_path = f.strat;
    rq.model_path = model;
    rq.symbol = FX_S("AAPL");
    rq.timeframe = FX_S("1h");
    rq.start_date = FX_S("2024-01-01");
    rq.end_date = FX_S("2024-04-30");
    rq.checkpoint_frequency = freq;
    rq.opt_initial_capital_case =
        KTPB__V1__START_BACKTEST_REQUEST__OPT_INITIAL_CAPITAL_INITIAL_CAPITAL;
    rq.initial_capital = 50000;
    r = fx_ask_op(&f, KT_OPS_START_BACKTEST, &rq.base);
    cr_assert_eq(r->status, 0, "%s", r->message);
    cr_assert(strncmp(r->op->id, "op_backtesting_", 15) == 0, "%s", r->op->id);
    id = strdup(r->op->id);
    ktpb__v1__ops_reply__free_unpacked(r, NULL);
    return id;
}

typedef struct run {
    uint8_t *trades, *metrics, *equity;
    size_t nt, nm, ne;
    uint64_t n_trades;
    int slices;
} run;

static uint8_t *
pack(const ProtobufCMessage *m, size_t *n)
{
    uint8_t *b;

    *n = protobuf_c_message_get_packed_size(m);
    b = malloc(*n + 1);
    protobuf_c_message_pack(m, b);
    return b;
}

// run_bt backtests with a cancel at each bar in stops[] and a resume.
static run
run_bt(const int64_t *stops, int nstops)
{
    Ktpb__V1__OpsResultsReply *r;
    Ktpb__V1__OpsReply *rr;
    run out = {0};
    char *id;

    fx_gate_set(&f, "bar", nstops > 0 ? stops[0] : -1, false);
    f.g.calls = 0;
    id = backtest_ok(100);
    for (int i = 0; i < nstops; i++) {
        fx_cancel_held(&f, id);
        cr_assert(fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_CANCELLED,
                                 FX_TIMEOUT_MS));
        fx_gate_set(&f, "bar", i + 1 < nstops ? stops[i + 1] : -1, false);
        rr = fx_resume(&f, id);
        cr_assert_eq(rr->status, 0, "%s", rr->message);
        ktpb__v1__ops_reply__free_unpacked(rr, NULL);
    }
    cr_assert(fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_COMPLETED,
                             FX_TIMEOUT_MS));
    out.slices = f.g.calls;
    r = fx_results(&f, id, true, true);
    cr_assert_eq(r->status, 0, "%s", r->message);
    cr_assert(r->backtest && r->trades && r->equity && r->backtest->metrics);
    cr_expect(r->backtest->finished);
    cr_expect_float_eq(r->backtest->metrics->initial_capital, 50000, 1e-9);
    out.n_trades = r->trades->n_trades;
    out.trades = pack(&r->trades->base, &out.nt);
    out.metrics = pack(&r->backtest->metrics->base, &out.nm);
    out.equity = pack(&r->equity->base, &out.ne);
    ktpb__v1__ops_results_reply__free_unpacked(r, NULL);
    free(id);
    return out;
}

static void
expect_same(const run *a, const run *b, const char *what)
{
    cr_expect_eq(a->slices, b->slices, "%s: %d vs %d slices", what, a->slices,
                 b->slices);
    cr_expect(a->nt == b->nt && memcmp(a->trades, b->trades, a->nt) == 0,
              "%s: trades differ", what);
    cr_expect(a->nm == b->nm && memcmp(a->metrics, b->metrics, a->nm) == 0,
              "%s: metrics differ", what);
    cr_expect(a->ne == b->ne && memcmp(a->equity, b->equity, a->ne) == 0,
              "%s: equity curves differ", what);
}

static void
run_free(run *r)
{
    free(r->trades);
    free(r->metrics);
    free(r->equity);
}

Test(ops_backtest, resumed_once_and_twice_matches_uninterrupted)
{
    const int64_t once[] = {230};
    const int64_t twice[] = {150, 390};
    run a = run_bt(NULL, 0);
    run b = run_bt(once, 1);
    run c = run_bt(twice, 2);

    cr_expect(a.n_trades > 0, "the model should trade");
    cr_expect(a.slices > 10);
    expect_same(&a, &b, "one resume");
    expect_same(&a, &c, "two resumes");
    run_free(&a);
    run_free(&b);
    run_free(&c);
}

Test(ops_backtest, cancel_saves_bar_checkpoint_shown_by_show)
{
    Ktpb__V1__CheckpointShowRequest q;
    Ktpb__V1__CheckpointShowReply *s;
    kt_msg *rep;
    char *id;

    fx_gate_set(&f, "bar", 170, false);
    id = backtest_ok(0);
    fx_cancel_held(&f, id);
    cr_assert(fx_wait_status(&f, id, KTPB__V1__OP_STATUS__OP_CANCELLED,
                             FX_TIMEOUT_MS));
    ktpb__v1__checkpoint_show_request__init(&q);
    q.op_id = id;
    rep = fx_ask(&f, KT_OPS_CKPT_SHOW, &q.base);
    s = ktpb__v1__checkpoint_show_reply__unpack(NULL, kt_msg_len(rep),
                                                kt_msg_body(rep));
    kt_msg_free(rep);
    cr_assert_not_null(s);
    cr_assert_eq(s->status, 0, "%s", s->message);
    cr_expect_str_eq(s->op_type, "backtesting");
    cr_expect_str_eq(s->unit, "bar");
    cr_expect_eq(s->type, KTPB__V1__CHECKPOINT_TYPE__CHECKPOINT_CANCELLATION);
    cr_expect(s->unit_value >= 170 && s->unit_value < s->unit_total,
              "bar %lld of %lld", (long long)s->unit_value,
              (long long)s->unit_total);
    cr_expect(s->equity > 0);
    ktpb__v1__checkpoint_show_reply__free_unpacked(s, NULL);
    free(id);
}
