// test_position.c: the backtest book: sizing, fills with slippage and
// commission, long and short P&L, MFE/MAE, refusals. Expected numbers are
// worked out by hand in the comments.
#include <math.h>

#include <criterion/criterion.h>

#include "domain/position.h"
#include "domain/types.h"

#define EPS 1e-6

static kt_book
book_new(double commission, double slippage, double fraction)
{
    kt_book b;
    kt_book_cfg c = {commission, slippage, fraction};

    kt_book_init(&b, &c, 100000.0);
    return b;
}

Test(position, long_round_trip_pays_both_commissions_and_slippage)
{
    kt_book b = book_new(0.001, 0.0005, 0.25);
    bool traded;

    // q = floor(0.25 * 100000 / 1.001 / 100) = floor(249.75) = 249
    // fill 100 * 1.0005 = 100.05; value 24912.45; commission 24.91245
    cr_assert_eq(kt_book_execute(&b, KT_BUY, 100.0, 10, 36000, 0.7, false,
                                 false, &traded),
                 KT_OK);
    cr_assert(traded);
    cr_assert_eq(b.pos.side, KT_POS_LONG);
    cr_assert_eq(b.pos.quantity, 249);
    cr_assert_float_eq(b.pos.entry_price, 100.05, EPS);
    cr_assert_float_eq(b.cash, 100000 - 24912.45 - 24.91245, EPS);
    // equity at 110 = cash + 249 * 110
    cr_assert_float_eq(kt_book_equity(&b, 110.0),
                       100000 - 24912.45 - 24.91245 + 27390.0, EPS);
    kt_book_mark(&b, 110.0); // unrealized (110 - 100.05) * 249 = 2477.55
    kt_book_mark(&b, 95.0);  // (95 - 100.05) * 249 = -1257.45
    kt_book_mark(&b, 101.0);
    cr_assert_float_eq(b.pos.mfe, 2477.55, EPS);
    cr_assert_float_eq(b.pos.mae, -1257.45, EPS);

    // exit 105 * 0.9995 = 104.9475; value 26131.9275; commission 26.1319275
    cr_assert_eq(kt_book_execute(&b, KT_SELL, 105.0, 14, 36000 + 4 * 3600, 0.9,
                                 false, false, &traded),
                 KT_OK);
    cr_assert(traded);
    cr_assert_eq(b.pos.side, KT_POS_FLAT);
    cr_assert_eq(b.n_trades, 1);
    kt_trade *t = &b.trades[0];
    cr_assert_eq(t->id, 1);
    cr_assert_eq(t->side, KT_POS_LONG);
    cr_assert_eq(t->entry_bar, 10);
    cr_assert_eq(t->exit_bar, 14);
    cr_assert_float_eq(t->exit_price, 104.9475, EPS);
    cr_assert_float_eq(t->gross_pnl, 26131.9275 - 24912.45, EPS);
    cr_assert_float_eq(t->commission, 24.91245 + 26.1319275, EPS);
    cr_assert_float_eq(t->slippage, 249 * 0.05 + 249 * 0.0525, EPS);
    cr_assert_float_eq(t->net_pnl, 1219.4775 - 51.0443775, EPS);
    cr_assert_float_eq(t->holding_hours, 4.0, EPS);
    cr_assert_float_eq(t->mfe, 2477.55, EPS);
    cr_assert_float_eq(t->mae, -1257.45, EPS);
    cr_assert_float_eq(t->entry_confidence, 0.7, EPS);
    cr_assert_float_eq(t->exit_confidence, 0.9, EPS);
    cr_assert_not(t->forced);
    // Cash moved by exactly the trade's net P&L.
    cr_assert_float_eq(b.cash, 100000 + t->net_pnl, EPS);
    kt_book_fini(&b);
}

Test(position, short_round_trip_profits_from_a_fall)
{
    kt_book b = book_new(0.001, 0.0005, 0.25);
    bool traded;

    // fill 100 * 0.9995 = 99.95, q 249, entry value 24887.55, comm 24.88755
    cr_assert_eq(
        kt_book_execute(&b, KT_SELL, 100.0, 0, 0, 0.6, true, false, &traded),
        KT_OK);
    cr_assert(traded);
    cr_assert_eq(b.pos.side, KT_POS_SHORT);
    cr_assert_eq(b.pos.quantity, 249);
    cr_assert_float_eq(b.cash, 100000 - 24887.55 - 24.88755, EPS);
    // equity at 90: cash + margin back + (99.95 - 90) * 249
    cr_assert_float_eq(kt_book_equity(&b, 90.0), 100000 - 24.88755 + 2477.55,
                       EPS);
    cr_assert_float_eq(kt_book_unrealized(&b, 90.0), 2477.55, EPS);
    // cover at 90 * 1.0005 = 90.045: value 22421.205, comm 22.421205
    cr_assert_eq(
        kt_book_execute(&b, KT_BUY, 90.0, 5, 7200, 0.6, true, false, &traded),
        KT_OK);
    cr_assert(traded);
    cr_assert_eq(b.n_trades, 1);
    cr_assert_eq(b.trades[0].side, KT_POS_SHORT);
    cr_assert_float_eq(b.trades[0].gross_pnl, 2466.345, EPS);
    cr_assert_float_eq(b.trades[0].net_pnl, 2466.345 - 24.88755 - 22.421205,
                       EPS);
    cr_assert_float_eq(b.cash, 100000 + b.trades[0].net_pnl, EPS);
    cr_assert_float_eq(b.trades[0].holding_hours, 2.0, EPS);
    kt_book_fini(&b);
}

Test(position, refuses_pyramiding_unallowed_shorts_and_bad_prices)
{
    kt_book b = book_new(0.001, 0.0005, 0.25);
    bool traded = true;

    cr_assert_eq(
        kt_book_execute(&b, KT_SELL, 100, 0, 0, 1, false, false, &traded),
        KT_OK);
    cr_assert_not(traded, "SELL from flat without allow_short");
    cr_assert_eq(
        kt_book_execute(&b, KT_HOLD, 100, 0, 0, 1, true, false, &traded),
        KT_OK);
    cr_assert_not(traded);
    cr_assert_eq(
        kt_book_execute(&b, KT_BUY, NAN, 0, 0, 1, true, false, &traded), KT_OK);
    cr_assert_not(traded);
    cr_assert_eq(
        kt_book_execute(&b, KT_BUY, 0.0, 0, 0, 1, true, false, &traded), KT_OK);
    cr_assert_not(traded);
    cr_assert_eq(
        kt_book_execute(&b, KT_BUY, 1e6, 0, 0, 1, true, false, &traded), KT_OK);
    cr_assert_not(traded, "25%% of cash cannot buy one unit at 1e6");
    cr_assert_float_eq(b.cash, 100000.0, EPS);

    cr_assert_eq(kt_book_execute(&b, KT_BUY, 50, 1, 0, 1, true, false, &traded),
                 KT_OK);
    cr_assert(traded);
    double cash = b.cash;
    cr_assert_eq(kt_book_execute(&b, KT_BUY, 50, 2, 0, 1, true, false, &traded),
                 KT_OK);
    cr_assert_not(traded, "BUY while long adds nothing");
    cr_assert_eq(b.cash, cash);
    cr_assert_eq(b.n_trades, 0);
    kt_book_fini(&b);
}

Test(position, all_in_sizing_is_capped_by_the_slipped_cost)
{
    kt_book b = book_new(0.001, 0.01, 1.0);
    bool traded;

    // floor(100000 / 1.001 / 100) = 999 would cost 999 * 101 * 1.001 >
    // 100000, so it drops to floor(100000 / 1.001 / 101) = 989.
    cr_assert_eq(
        kt_book_execute(&b, KT_BUY, 100, 0, 0, 1, false, false, &traded),
        KT_OK);
    cr_assert(traded);
    cr_assert_eq(b.pos.quantity, 989);
    cr_assert_geq(b.cash, 0.0);
    kt_book_fini(&b);
}

Test(position, force_close_marks_the_trade_and_ignores_a_flat_book)
{
    kt_book b = book_new(0.0, 0.0, 0.5);
    bool traded = true;

    cr_assert_eq(kt_book_close(&b, 10, 0, 0, &traded), KT_OK);
    cr_assert_not(traded);
    cr_assert_eq(
        kt_book_execute(&b, KT_SELL, 10, 0, 0, 0.8, true, false, &traded),
        KT_OK);
    cr_assert_eq(b.pos.quantity, 5000); // 0.5 * 100000 / 10, no costs
    cr_assert_eq(kt_book_close(&b, 12, 3, 3 * 3600, &traded), KT_OK);
    cr_assert(traded);
    cr_assert(b.trades[0].forced);
    cr_assert_eq(b.trades[0].exit_confidence, 0.0);
    cr_assert_float_eq(b.trades[0].net_pnl, -10000.0, EPS); // (10-12)*5000
    cr_assert_float_eq(b.cash, 90000.0, EPS);
    cr_assert_eq(b.next_id, 2);
    kt_book_fini(&b);
}

Test(position, trade_ids_grow_and_the_list_grows_past_its_capacity)
{
    kt_book b = book_new(0.0, 0.0, 0.1);
    bool traded;

    for (int i = 0; i < 40; i++) {
        cr_assert_eq(
            kt_book_execute(&b, KT_BUY, 10, 2 * i, 0, 1, false, false, &traded),
            KT_OK);
        cr_assert_eq(kt_book_execute(&b, KT_SELL, 10, 2 * i + 1, 0, 1, false,
                                     false, &traded),
                     KT_OK);
    }
    cr_assert_eq(b.n_trades, 40);
    for (int i = 0; i < 40; i++) {
        cr_assert_eq(b.trades[i].id, (uint32_t)i + 1);
        cr_assert_eq(b.trades[i].exit_bar, 2 * i + 1);
    }
    cr_assert_float_eq(b.cash, 100000.0, EPS);
    kt_book_fini(&b);
}
