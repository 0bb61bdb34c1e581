// backtest_state.c: the engine's complete state as a ktpb.v1.BacktestState
// and back. Export appends a CRC-32 as the last field; import checks the
// bytes, then the version, then that the state belongs to this data and
// config and is internally consistent, and only then replaces the state.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "domain/backtest_int.h"

// Field 100, wire type 5 (fixed32) as a varint: 805 = 0xA5 0x06.
#define BT_CRC_TAG0 0xA5
#define BT_CRC_TAG1 0x06
#define BT_CRC_LEN  6 // tag + 4 bytes

uint32_t
kt__bt_crc32(const uint8_t *buf, size_t len)
{
    uint32_t table[256], crc = 0xFFFFFFFFu;

    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        table[i] = c;
    }
    for (size_t i = 0; i < len; i++) {
        crc = table[(crc ^ buf[i]) & 0xFF] ^ (crc >> 8);
    }
    return crc ^ 0xFFFFFFFFu;
}

// bt_hash_bytes folds len bytes into h as FNV-1a over 64-bit little-endian
// words (the tail zero-padded): fast enough for hundreds of MB at open.
static uint64_t
bt_hash_bytes(uint64_t h, const void *p, size_t len)
{
    const uint8_t *b = p;
    uint64_t w;

    for (; len >= 8; len -= 8, b += 8) {
        memcpy(&w, b, 8);
        h = (h ^ w) * 0x100000001b3ull;
    }
    if (len > 0) {
        w = 0;
        memcpy(&w, b, len);
        h = (h ^ w) * 0x100000001b3ull;
    }
    return h;
}

uint64_t
kt__bt_data_hash(const kt_bt_data *d)
{
    uint64_t h = 0xcbf29ce484222325ull;

    h = bt_hash_bytes(h, d->time, d->n_bars * sizeof(int64_t));
    h = bt_hash_bytes(h, d->open, d->n_bars * sizeof(double));
    h = bt_hash_bytes(h, d->close, d->n_bars * sizeof(double));
    h = bt_hash_bytes(h, d->x, d->n_bars * d->n_features * sizeof(float));
    return h;
}

static void
bt_position_to_pb(const kt_position *q, Ktpb__V1__BacktestPosition *p)
{
    p->side = (Ktpb__V1__PositionSide)q->side;
    p->quantity = q->quantity;
    p->entry_bar = q->entry_bar;
    p->entry_time = q->entry_time;
    p->entry_price = q->entry_price;
    p->entry_commission = q->entry_commission;
    p->entry_slippage = q->entry_slippage;
    p->mfe = q->mfe;
    p->mae = q->mae;
    p->entry_confidence = q->entry_confidence;
}

kt_err
kt_backtest_export(const kt_backtest *bt, uint8_t **buf, size_t *len)
{
    Ktpb__V1__BacktestState s = KTPB__V1__BACKTEST_STATE__INIT;
    Ktpb__V1__BacktestConfig c;
    Ktpb__V1__BacktestPosition p = KTPB__V1__BACKTEST_POSITION__INIT;
    Ktpb__V1__BacktestTrade *msgs, **ptrs;
    const kt_bt_data *d = &bt->data;
    uint32_t crc;
    uint8_t *b;
    size_t n;

    if (kt__bt_trades_pb(bt->book.trades, bt->book.n_trades, &msgs, &ptrs) !=
        KT_OK) {
        return KT_ENOMEM;
    }
    ktpb__v1__backtest_config__init(&c); // its INIT macro casts away const
    kt__bt_config_to_pb(&bt->cfg, &c);
    bt_position_to_pb(&bt->book.pos, &p);
    s.version = KT_BACKTEST_STATE_VERSION;
    s.n_bars = d->n_bars;
    s.first_time = d->time[0];
    s.last_time = d->time[d->n_bars - 1];
    s.n_features = (uint32_t)d->n_features;
    s.data_hash = bt->data_hash;
    s.config = &c;
    s.next_bar = bt->next_bar;
    s.cash = bt->book.cash;
    s.position = &p;
    s.n_trades = bt->book.n_trades;
    s.trades = ptrs;
    s.next_trade_id = bt->book.next_id;
    s.pending_signal = bt->pending;
    s.pending_confidence = bt->pending_conf;
    s.has_last_trade = bt->has_last_trade;
    s.last_trade_time = bt->last_trade_time;
    s.n_equity = bt->n_equity;
    s.equity = bt->equity;
    s.finished = bt->finished;
    s.crc32 = 0; // proto3 omits it: appended by hand below, as the last field
    n = ktpb__v1__backtest_state__get_packed_size(&s);
    if ((b = malloc(n + BT_CRC_LEN)) != NULL) {
        (void)ktpb__v1__backtest_state__pack(&s, b);
        crc = kt__bt_crc32(b, n);
        b[n] = BT_CRC_TAG0;
        b[n + 1] = BT_CRC_TAG1;
        for (int i = 0; i < 4; i++) {
            b[n + 2 + i] = (uint8_t)(crc >> (8 * i));
        }
        *buf = b;
        *len = n + BT_CRC_LEN;
    }
    free(ptrs);
    free(msgs);
    return b != NULL ? KT_OK : KT_ENOMEM;
}

// bt_unpack checks the trailer and checksum, then decodes. A state that
// decodes without a valid trailer but names another version is reported as
// a version mismatch (a future format may end differently).
static kt_err
bt_unpack(const uint8_t *buf, size_t len, Ktpb__V1__BacktestState **out,
          char *err, size_t errlen)
{
    Ktpb__V1__BacktestState *s;
    uint32_t want = 0;
    bool ok = buf != NULL && len >= BT_CRC_LEN &&
              buf[len - BT_CRC_LEN] == BT_CRC_TAG0 &&
              buf[len - BT_CRC_LEN + 1] == BT_CRC_TAG1;

    for (int i = 0; ok && i < 4; i++) {
        want |= (uint32_t)buf[len - 4 + i] << (8 * i);
    }
    ok = ok && kt__bt_crc32(buf, len - BT_CRC_LEN) == want;
    s = buf != NULL ? ktpb__v1__backtest_state__unpack(NULL, len, buf) : NULL;
    if (s != NULL && s->version != KT_BACKTEST_STATE_VERSION &&
        s->version != 0) {
        kt__bt_errf(err, errlen,
                    "backtest state: format version %u, this build reads "
                    "version %d",
                    s->version, KT_BACKTEST_STATE_VERSION);
        ktpb__v1__backtest_state__free_unpacked(s, NULL);
        return KT_EVERSION;
    }
    if (!ok || s == NULL || s->version == 0) {
        kt__bt_errf(err, errlen,
                    "backtest state: %zu bytes are truncated or corrupt "
                    "(%s)",
                    len, !ok ? "checksum" : "undecodable");
        if (s != NULL) {
            ktpb__v1__backtest_state__free_unpacked(s, NULL);
        }
        return KT_ECORRUPT;
    }
    *out = s;
    return KT_OK;
}

// bt_match_data refuses a state taken over other bars or features.
static kt_err
bt_match_data(const kt_backtest *bt, const Ktpb__V1__BacktestState *s,
              char *err, size_t errlen)
{
    const kt_bt_data *d = &bt->data;
    char a[32], b[32];

    if (s->n_bars == d->n_bars && s->first_time == d->time[0] &&
        s->last_time == d->time[d->n_bars - 1] &&
        s->n_features == d->n_features && s->data_hash == bt->data_hash) {
        return KT_OK;
    }
    kt_time_format(s->first_time, a, sizeof(a));
    kt_time_format(d->time[0], b, sizeof(b));
    kt__bt_errf(err, errlen,
                "backtest state belongs to other data: %llu bars x %u "
                "features from %s (hash %016llx), this run has %zu bars x "
                "%zu features from %s (hash %016llx)",
                (unsigned long long)s->n_bars, s->n_features, a,
                (unsigned long long)s->data_hash, d->n_bars, d->n_features, b,
                (unsigned long long)bt->data_hash);
    return KT_EINVAL;
}

// bt_match_config refuses a state taken with other simulation settings
// (the labels -- names and model path -- may differ).
static kt_err
bt_match_config(const kt_backtest *bt, const Ktpb__V1__BacktestConfig *p,
                char *err, size_t errlen)
{
    const kt_bt_config *c = &bt->cfg;
    kt_bt_config s;

    if (p == NULL) {
        kt__bt_errf(err, errlen, "backtest state: no config");
        return KT_ECORRUPT;
    }
    kt__bt_config_from_pb(p, &s);
    if (s.initial_capital == c->initial_capital &&
        s.commission == c->commission && s.slippage == c->slippage &&
        s.position_fraction == c->position_fraction &&
        s.warmup_bars == c->warmup_bars &&
        s.confidence_threshold == c->confidence_threshold &&
        s.min_signal_separation_hours == c->min_signal_separation_hours &&
        s.position_awareness == c->position_awareness &&
        s.allow_short_from_flat == c->allow_short_from_flat &&
        s.periods_per_year == c->periods_per_year) {
        return KT_OK;
    }
    kt__bt_errf(err, errlen,
                "backtest state was taken with another config (capital %g "
                "commission %g slippage %g fraction %g warmup %u confidence "
                "%g separation %gh awareness %d short %d periods %g)",
                s.initial_capital, s.commission, s.slippage,
                s.position_fraction, s.warmup_bars, s.confidence_threshold,
                s.min_signal_separation_hours, s.position_awareness,
                s.allow_short_from_flat, s.periods_per_year);
    return KT_EINVAL;
}

static bool
bt_all_finite(const double *v, size_t n)
{
    double acc = 0;

    for (size_t i = 0; i < n; i++) {
        acc += v[i] * 0.0; // NaN or inf anywhere makes acc NaN
    }
    return acc == 0.0;
}

static bool
bt_trade_ok(const Ktpb__V1__BacktestTrade *t, size_t i, uint64_t w,
            uint64_t next)
{
    double v[] = {
        t->entry_price, t->exit_price,       t->gross_pnl,      t->commission,
        t->slippage,    t->net_pnl,          t->holding_hours,  t->mfe,
        t->mae,         t->entry_confidence, t->exit_confidence};

    return t->id == i + 1 &&
           (t->side == KTPB__V1__POSITION_SIDE__POSITION_SIDE_LONG ||
            t->side == KTPB__V1__POSITION_SIDE__POSITION_SIDE_SHORT) &&
           t->quantity > 0 && t->entry_bar >= (int64_t)w &&
           t->entry_bar <= t->exit_bar && t->exit_bar < (int64_t)next &&
           bt_all_finite(v, sizeof(v) / sizeof(v[0]));
}

static bool
bt_position_ok(const Ktpb__V1__BacktestPosition *p, uint64_t w, uint64_t next)
{
    double v[] = {
        p->entry_price, p->entry_commission, p->entry_slippage, p->mfe,
        p->mae,         p->entry_confidence};

    if (p->side == KTPB__V1__POSITION_SIDE__POSITION_SIDE_FLAT) {
        return p->quantity == 0;
    }
    return (p->side == KTPB__V1__POSITION_SIDE__POSITION_SIDE_LONG ||
            p->side == KTPB__V1__POSITION_SIDE__POSITION_SIDE_SHORT) &&
           p->quantity > 0 && p->entry_bar >= (int64_t)w &&
           p->entry_bar < (int64_t)next && p->entry_price > 0 &&
           bt_all_finite(v, sizeof(v) / sizeof(v[0]));
}

// bt_consistent checks the invariants the loop maintains, so a state that
// decodes but was tampered with or built wrongly is refused, not run.
static const char *
bt_consistent(const kt_backtest *bt, const Ktpb__V1__BacktestState *s)
{
    uint64_t w = bt->cfg.warmup_bars, n = bt->data.n_bars;
    uint64_t next = s->next_bar;
    double scal[] = {s->cash, s->pending_confidence};

    if (next < w || next > n) {
        return "next_bar out of range";
    }
    if (s->n_equity != next - w || !bt_all_finite(s->equity, s->n_equity)) {
        return "equity curve does not match next_bar";
    }
    if (s->finished != (next == n)) {
        return "finished flag does not match next_bar";
    }
    if (s->position == NULL || !bt_position_ok(s->position, w, next) ||
        (s->finished &&
         s->position->side != KTPB__V1__POSITION_SIDE__POSITION_SIDE_FLAT)) {
        return "bad position";
    }
    if (s->pending_signal < KT_BUY || s->pending_signal > KT_SELL ||
        (s->finished && s->pending_signal != KT_HOLD) ||
        !bt_all_finite(scal, 2)) {
        return "bad pending signal or cash";
    }
    if (s->n_trades > next - w || s->next_trade_id != s->n_trades + 1) {
        return "trade count does not match";
    }
    for (size_t i = 0; i < s->n_trades; i++) {
        if (!bt_trade_ok(s->trades[i], i, w, next)) {
            return "bad trade";
        }
    }
    return NULL;
}

static void
bt_apply(kt_backtest *bt, const Ktpb__V1__BacktestState *s, kt_trade *trades)
{
    const Ktpb__V1__BacktestPosition *p = s->position;
    kt_position *q = &bt->book.pos;

    for (size_t i = 0; i < s->n_trades; i++) {
        kt__bt_trade_from_pb(s->trades[i], &trades[i]);
    }
    free(bt->book.trades);
    bt->book.trades = trades;
    bt->book.n_trades = s->n_trades;
    bt->book.cap_trades = s->n_trades + 1;
    bt->book.next_id = s->next_trade_id;
    bt->book.cash = s->cash;
    memset(q, 0, sizeof(*q));
    q->side = (kt_pos_side)p->side;
    q->quantity = p->quantity;
    q->entry_bar = p->entry_bar;
    q->entry_time = p->entry_time;
    q->entry_price = p->entry_price;
    q->entry_commission = p->entry_commission;
    q->entry_slippage = p->entry_slippage;
    q->mfe = p->mfe;
    q->mae = p->mae;
    q->entry_confidence = p->entry_confidence;
    bt->next_bar = s->next_bar;
    bt->pending = s->pending_signal;
    bt->pending_conf = s->pending_confidence;
    bt->has_last_trade = s->has_last_trade;
    bt->last_trade_time = s->last_trade_time;
    if (s->n_equity > 0) { // equity is NULL when empty
        memcpy(bt->equity, s->equity, s->n_equity * sizeof(double));
    }
    bt->n_equity = s->n_equity;
    bt->finished = s->finished;
    bt->block_len = 0;
}

kt_err
kt_backtest_import(kt_backtest *bt, const uint8_t *buf, size_t len, char *err,
                   size_t errlen)
{
    Ktpb__V1__BacktestState *s = NULL;
    kt_trade *trades;
    const char *why;
    kt_err rv;

    if ((rv = bt_unpack(buf, len, &s, err, errlen)) != KT_OK) {
        return rv;
    }
    if ((rv = bt_match_data(bt, s, err, errlen)) != KT_OK ||
        (rv = bt_match_config(bt, s->config, err, errlen)) != KT_OK) {
        goto out;
    }
    if ((why = bt_consistent(bt, s)) != NULL) {
        kt__bt_errf(err, errlen, "backtest state is inconsistent: %s", why);
        rv = KT_ECORRUPT;
        goto out;
    }
    // Room for one more trade, as the loop reserves before every bar.
    if ((trades = malloc((s->n_trades + 1) * sizeof(*trades))) == NULL) {
        kt__bt_errf(err, errlen, "backtest state: out of memory");
        rv = KT_ENOMEM;
        goto out;
    }
    bt_apply(bt, s, trades);
out:
    ktpb__v1__backtest_state__free_unpacked(s, NULL);
    return rv;
}
