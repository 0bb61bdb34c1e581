// position.c: cash, one position and the closed trades of a backtest
// (reference §4.3, with the deviations listed in docs/backtest.md).
#include "domain/position.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "domain/types.h"

// Largest quantity we trade: every integer up to 2^53 is exact in a double.
#define BOOK_MAX_QTY 9007199254740992.0

void
kt_book_init(kt_book *b, const kt_book_cfg *cfg, double capital)
{
    memset(b, 0, sizeof(*b));
    b->cfg = *cfg;
    b->cash = capital;
    b->next_id = 1;
}

void
kt_book_fini(kt_book *b)
{
    free(b->trades);
    b->trades = NULL;
    b->n_trades = 0;
    b->cap_trades = 0;
}

kt_err
kt_book_reserve(kt_book *b, size_t n)
{
    size_t cap;
    kt_trade *t;

    if (n <= b->cap_trades - b->n_trades) {
        return KT_OK;
    }
    if (n > SIZE_MAX / sizeof(kt_trade) / 2 - b->n_trades) {
        return KT_ENOMEM;
    }
    cap = b->cap_trades ? b->cap_trades * 2 : 16;
    if (cap < b->n_trades + n) {
        cap = b->n_trades + n;
    }
    t = realloc(b->trades, cap * sizeof(*t));
    if (t == NULL) {
        return KT_ENOMEM;
    }
    b->trades = t;
    b->cap_trades = cap;
    return KT_OK;
}

// book_quantity sizes a new position: `fraction` of cash, commission
// included, at the raw price (as KTRDR), then reduced if the slipped cost
// would exceed the cash. 0 means "cannot afford one unit".
static int64_t
book_quantity(const kt_book *b, double price, double exec)
{
    double c = b->cfg.commission;
    double q;

    if (!(b->cash > 0)) {
        return 0;
    }
    q = floor(b->cfg.fraction * b->cash / (1 + c) / price);
    if (q * exec * (1 + c) > b->cash) {
        q = floor(b->cash / (1 + c) / exec);
    }
    if (!(q >= 1)) {
        return 0;
    }
    return (int64_t)(q > BOOK_MAX_QTY ? BOOK_MAX_QTY : q);
}

static void
book_open(kt_book *b, kt_pos_side side, double price, int64_t bar, int64_t t,
          double confidence, bool *traded)
{
    double s = b->cfg.slippage;
    double exec = side == KT_POS_LONG ? price * (1 + s) : price * (1 - s);
    int64_t q = book_quantity(b, price, exec);
    double value;
    kt_position *p = &b->pos;

    if (q <= 0) {
        return;
    }
    value = exec * (double)q;
    memset(p, 0, sizeof(*p));
    p->side = side;
    p->quantity = q;
    p->entry_bar = bar;
    p->entry_time = t;
    p->entry_price = exec;
    p->entry_commission = value * b->cfg.commission;
    p->entry_slippage = fabs(exec - price) * (double)q;
    p->entry_confidence = confidence;
    // A long pays for the units; a short reserves their value as margin.
    b->cash -= value + p->entry_commission;
    *traded = true;
}

// book_settle closes the open position at raw price; capacity for one more
// trade has been reserved by the caller.
static void
book_settle(kt_book *b, double price, int64_t bar, int64_t t, double confidence,
            bool forced)
{
    kt_position *p = &b->pos;
    double s = b->cfg.slippage;
    double q = (double)p->quantity;
    double entry_value = p->entry_price * q;
    bool is_long = p->side == KT_POS_LONG;
    double exec = is_long ? price * (1 - s) : price * (1 + s);
    double exit_value = exec * q;
    double exit_comm = exit_value * b->cfg.commission;
    kt_trade *tr = &b->trades[b->n_trades++];

    memset(tr, 0, sizeof(*tr));
    tr->gross_pnl =
        is_long ? exit_value - entry_value : entry_value - exit_value;
    // Long: receive the proceeds. Short: get the margin back plus the move.
    b->cash += is_long ? exit_value - exit_comm
                       : entry_value + tr->gross_pnl - exit_comm;
    tr->id = b->next_id++;
    tr->side = p->side;
    tr->quantity = p->quantity;
    tr->entry_bar = p->entry_bar;
    tr->exit_bar = bar;
    tr->entry_time = p->entry_time;
    tr->exit_time = t;
    tr->entry_price = p->entry_price;
    tr->exit_price = exec;
    tr->commission = p->entry_commission + exit_comm;
    tr->slippage = p->entry_slippage + fabs(exec - price) * q;
    tr->net_pnl = tr->gross_pnl - tr->commission;
    tr->holding_hours = (double)(t - p->entry_time) / 3600.0;
    tr->mfe = p->mfe;
    tr->mae = p->mae;
    tr->entry_confidence = p->entry_confidence;
    tr->exit_confidence = forced ? 0.0 : confidence;
    tr->forced = forced;
    memset(p, 0, sizeof(*p));
}

kt_err
kt_book_execute(kt_book *b, int signal, double price, int64_t bar, int64_t t,
                double confidence, bool allow_short, bool forced, bool *traded)
{
    kt_pos_side side = b->pos.side;
    kt_err rv;

    *traded = false;
    if (!(price > 0) || !isfinite(price)) {
        return KT_OK;
    }
    if ((signal == KT_BUY && side == KT_POS_SHORT) ||
        (signal == KT_SELL && side == KT_POS_LONG)) {
        if ((rv = kt_book_reserve(b, 1)) != KT_OK) {
            return rv;
        }
        book_settle(b, price, bar, t, confidence, forced);
        *traded = true;
    } else if (signal == KT_BUY && side == KT_POS_FLAT) {
        book_open(b, KT_POS_LONG, price, bar, t, confidence, traded);
    } else if (signal == KT_SELL && side == KT_POS_FLAT && allow_short) {
        book_open(b, KT_POS_SHORT, price, bar, t, confidence, traded);
    }
    return KT_OK;
}

kt_err
kt_book_close(kt_book *b, double price, int64_t bar, int64_t t, bool *traded)
{
    int signal;

    switch (b->pos.side) {
    case KT_POS_LONG:
        signal = KT_SELL;
        break;
    case KT_POS_SHORT:
        signal = KT_BUY;
        break;
    default:
        *traded = false;
        return KT_OK;
    }
    return kt_book_execute(b, signal, price, bar, t, 0.0, false, true, traded);
}

double
kt_book_unrealized(const kt_book *b, double price)
{
    const kt_position *p = &b->pos;
    double q = (double)p->quantity;

    switch (p->side) {
    case KT_POS_LONG:
        return (price - p->entry_price) * q;
    case KT_POS_SHORT:
        return (p->entry_price - price) * q;
    default:
        return 0.0;
    }
}

void
kt_book_mark(kt_book *b, double close)
{
    double u;

    if (b->pos.side == KT_POS_FLAT) {
        return;
    }
    u = kt_book_unrealized(b, close);
    if (u > b->pos.mfe) {
        b->pos.mfe = u;
    }
    if (u < b->pos.mae) {
        b->pos.mae = u;
    }
}

double
kt_book_equity(const kt_book *b, double price)
{
    const kt_position *p = &b->pos;
    double q = (double)p->quantity;

    switch (p->side) {
    case KT_POS_LONG:
        return b->cash + price * q;
    case KT_POS_SHORT:
        return b->cash + p->entry_price * q + (p->entry_price - price) * q;
    default:
        return b->cash;
    }
}
