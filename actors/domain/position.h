// position.h: the backtest's book: cash, at most one open position (long or
// short, integer quantity) and the closed round-trip trades, with KTRDR's
// execution model (reference §4.3): fills at a given price moved by
// slippage, commission as a fraction of notional, a fixed fraction of cash
// per position. Pure arithmetic, no I/O; docs/backtest.md lists where it
// deliberately differs from KTRDR.
#ifndef KT_DOMAIN_POSITION_H
#define KT_DOMAIN_POSITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kt/err.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kt_pos_side {
    KT_POS_FLAT = 0,
    KT_POS_LONG = 1,
    KT_POS_SHORT = 2,
} kt_pos_side;

// One closed round trip. Prices are execution prices (slippage included);
// bars are absolute indexes into the data; times are Unix seconds.
typedef struct kt_trade {
    uint32_t id;      // 1, 2, ... in opening order
    kt_pos_side side; // KT_POS_LONG or KT_POS_SHORT
    int64_t quantity; // units, > 0
    int64_t entry_bar;
    int64_t exit_bar;
    int64_t entry_time;
    int64_t exit_time;
    double entry_price;
    double exit_price;
    double gross_pnl;     // price move x quantity at execution prices
    double commission;    // entry + exit commission
    double slippage;      // entry + exit slippage cost (vs. the raw price)
    double net_pnl;       // gross_pnl - commission: the trade's equity change
    double holding_hours; // (exit_time - entry_time) / 3600
    double mfe;           // max favourable unrealized P&L seen at closes, >= 0
    double mae;           // max adverse unrealized P&L seen at closes, <= 0
    double entry_confidence; // model confidence of the opening signal
    double exit_confidence;  // of the closing signal (0 when forced)
    bool forced;             // closed by the end-of-data force close
} kt_trade;

// The open position; side == KT_POS_FLAT means none (other fields 0).
typedef struct kt_position {
    kt_pos_side side;
    int64_t quantity;
    int64_t entry_bar;
    int64_t entry_time;
    double entry_price; // execution price
    double entry_commission;
    double entry_slippage;
    double mfe;
    double mae;
    double entry_confidence;
} kt_position;

// Cost and sizing parameters (KTRDR defaults in brackets).
typedef struct kt_book_cfg {
    double commission; // fraction of notional per fill [0.001]
    double slippage;   // fraction of price per fill [0.0005]
    double fraction;   // fraction of cash put in a new position [0.25]
} kt_book_cfg;

// The book. Caller-provided storage (kt_book_init / kt_book_fini).
typedef struct kt_book {
    kt_book_cfg cfg;
    double cash;
    kt_position pos;
    kt_trade *trades; // closed trades, in closing order
    size_t n_trades;
    size_t cap_trades;
    uint32_t next_id;
} kt_book;

// kt_book_init sets an empty, flat book holding `capital` in cash.
void kt_book_init(kt_book *b, const kt_book_cfg *cfg, double capital);

// kt_book_fini releases the trade list; the book may be re-initialised.
void kt_book_fini(kt_book *b);

// kt_book_execute applies signal (KT_BUY / KT_SELL from types.h) at the raw
// price `price` of bar `bar` (time t). BUY opens a long from flat or closes
// a short; SELL closes a long, or opens a short from flat when allow_short;
// anything else (BUY while long, SELL while short or flat without
// allow_short, HOLD, a quantity of 0, a non-positive or non-finite price)
// does nothing. *traded says whether a fill happened. Errors: KT_ENOMEM
// (the trade list could not grow; the book is unchanged).
KT_NODISCARD kt_err kt_book_execute(kt_book *b, int signal, double price,
                                    int64_t bar, int64_t t, double confidence,
                                    bool allow_short, bool forced,
                                    bool *traded);

// kt_book_close closes any open position at raw price (force close); a
// flat book is left alone. Errors: KT_ENOMEM (book unchanged).
KT_NODISCARD kt_err kt_book_close(kt_book *b, double price, int64_t bar,
                                  int64_t t, bool *traded);

// kt_book_mark records the unrealized P&L at price `close` into the open
// position's MFE / MAE.
void kt_book_mark(kt_book *b, double close);

// kt_book_unrealized is the open position's P&L at `price` (0 when flat).
double kt_book_unrealized(const kt_book *b, double price);

// kt_book_equity is the portfolio value at `price`: cash plus the long
// position's market value, or cash plus the short's reserved entry value
// plus its unrealized P&L.
double kt_book_equity(const kt_book *b, double price);

// kt_book_reserve makes room for n more closed trades. Errors: KT_ENOMEM.
KT_NODISCARD kt_err kt_book_reserve(kt_book *b, size_t n);

#ifdef __cplusplus
}
#endif

#endif // KT_DOMAIN_POSITION_H
