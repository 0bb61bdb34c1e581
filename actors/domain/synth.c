// synth.c: deterministic synthetic OHLCV (see synth.h): a daily regime
// walk from 1990-01-01, a 1-minute Brownian bridge inside each day, and
// aggregation into bars.
#include "domain/synth.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "domain/errbuf.h"
#include "domain/rng.h"

#define MAX_MIN 1440 // minutes in the longest session (forex)

// Per-symbol constants, drawn once from the seed.
typedef struct market {
    bool fx;
    int n_min;        // minutes per session: 390 (stocks) or 1440 (forex)
    int64_t sess_off; // session start, seconds after 00:00 UTC
    double logp0;     // long-run log price level at 1990-01-01
    double sigma_d;   // daily volatility in the normal regime
    double drift_d;   // long-run log drift per trading day
    double gap_frac;  // overnight gap sd as a fraction of sigma_d
    double ticks;     // price grid: ticks per unit (100 = cents)
    double vol_base;  // volume per day
} market;

// The daily walk: regimes and the last close.
typedef struct skel {
    kt_rng rng;
    int64_t n_days; // trading days walked
    double logc;    // last close (log)
    double anchor;  // slow EMA of logc: the range regime's target
    int trend;      // -1 down, 0 range (mean-reverting), +1 up
    int vol;        // 0 calm, 1 normal, 2 stormy
} skel;

// One trading day: log open/close, its sigma, its minute path and volumes.
typedef struct day {
    double logo, logc, sigma;
    double lp[MAX_MIN + 1]; // lp[0] = open ... lp[n_min] = close
    double v[MAX_MIN];      // volume of minute k
} day;

// A bar being built.
typedef struct acc {
    int64_t t;
    double o, h, l, c, v;
    bool open;
} acc;

uint64_t
kt_synth_default_seed(const char *symbol)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)symbol; *p; p++) {
        h = (h ^ *p) * 0x100000001b3ULL;
    }
    return h;
}

bool
kt_synth_is_fx(const char *symbol)
{
    static const char ccy[] = "USD EUR GBP JPY CHF AUD NZD CAD SEK NOK "
                              "DKK SGD HKD MXN ZAR TRY PLN CNH";
    char a[4] = {0}, b[4] = {0};

    if (strlen(symbol) != 6) {
        return false;
    }
    memcpy(a, symbol, 3);
    memcpy(b, symbol + 3, 3);
    return strcmp(a, b) != 0 && strstr(ccy, a) != NULL &&
           strstr(ccy, b) != NULL && isupper((unsigned char)a[0]) &&
           isupper((unsigned char)b[0]);
}

static uint64_t
mix(uint64_t a, uint64_t b)
{
    uint64_t z = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// gauss: a standard normal draw (Box-Muller, one value per call).
static double
gauss(kt_rng *r)
{
    double u1 = kt_rng_uniform(r), u2 = kt_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

static void
market_init(market *m, const char *symbol, uint64_t seed)
{
    kt_rng r;
    kt_rng_seed(&r, mix(seed, 1));
    m->fx = kt_synth_is_fx(symbol);
    if (m->fx) {
        bool jpy = strcmp(symbol + 3, "JPY") == 0;
        m->n_min = 1440;
        m->sess_off = 0;
        m->logp0 = jpy ? log(90 + 70 * kt_rng_uniform(&r))
                       : log(0.6 + 1.2 * kt_rng_uniform(&r));
        m->sigma_d = 0.004 + 0.004 * kt_rng_uniform(&r);
        m->drift_d = 0;
        m->gap_frac = 0;
        m->ticks = jpy ? 1e3 : 1e5;
        m->vol_base = 50000 * (1 + 2 * kt_rng_uniform(&r));
    } else {
        m->n_min = 390;
        m->sess_off = 14 * 3600 + 30 * 60;
        m->logp0 = log(20 + 380 * kt_rng_uniform(&r));
        m->sigma_d = 0.01 + 0.01 * kt_rng_uniform(&r);
        m->drift_d = 0.07 / 252;
        m->gap_frac = 0.4;
        m->ticks = 100;
        m->vol_base = 1e6 * exp(2.3 * kt_rng_uniform(&r) - 0.7);
    }
}

// skel_step walks one trading day: regime switches, then the day's open
// (after an overnight gap), close and sigma.
static void
skel_step(skel *k, const market *m, day *d)
{
    static const double vol_mult[3] = {0.6, 1.0, 1.8};
    double sig, level, mu, e, gap;

    if (kt_rng_uniform(&k->rng) < 1.0 / 25) { // trends last ~25 days
        k->trend = (k->trend + 2 + (int)kt_rng_below(&k->rng, 2)) % 3 - 1;
    }
    if (kt_rng_uniform(&k->rng) < 1.0 / 40) { // volatility ~40 days
        k->vol = (k->vol + 1 + (int)kt_rng_below(&k->rng, 2)) % 3;
    }
    sig = m->sigma_d * vol_mult[k->vol];
    level = m->logp0 + m->drift_d * (double)k->n_days;
    mu = k->trend * 0.12 * sig - (k->logc - level) / 500;
    if (k->trend == 0) {
        mu -= 0.15 * (k->logc - k->anchor);
    }
    e = gauss(&k->rng);
    if (kt_rng_uniform(&k->rng) < 0.03) {
        e *= 3; // fat tails
    }
    gap = m->gap_frac * sig * gauss(&k->rng);
    d->logo = k->logc + gap;
    d->logc = fmin(fmax(d->logo + mu + sig * e, level - 3), level + 3);
    d->sigma = sig;
    k->logc = d->logc;
    k->anchor += (d->logc - k->anchor) / 20;
    k->n_days++;
}

// shape is the intraday activity profile: U-shaped for stocks, busier
// 07:00-17:00 UTC for forex.
static double
shape(const market *m, int k)
{
    if (m->fx) {
        int hour = k / 60;
        return hour >= 7 && hour < 17 ? 1.3 : 0.7;
    }
    double x = 2.0 * (k + 0.5) / m->n_min - 1.0;
    return 0.7 + 1.2 * x * x;
}

// day_path fills d->lp with a Brownian bridge (variance time by shape) from
// the open to the close, and d->v with minute volumes.
static void
day_path(const market *m, uint64_t seed, int64_t dayno, day *d)
{
    kt_rng r;
    int n = m->n_min;
    double w = 0, var = 0, total = 0, s0 = d->sigma / sqrt(n);

    kt_rng_seed(&r, mix(seed, 0x100000000ULL + (uint64_t)dayno));
    for (int k = 0; k < n; k++) {
        total += s0 * s0 * shape(m, k);
    }
    d->lp[0] = 0;
    for (int k = 0; k < n; k++) {
        double s = s0 * sqrt(shape(m, k)), e = s * gauss(&r);
        w += e;
        d->lp[k + 1] = w;
        d->v[k] = m->vol_base / n * shape(m, k) * exp(0.35 * gauss(&r)) *
                  (1 + 0.5 * fabs(e) / s);
    }
    for (int k = 0; k <= n; k++) { // pin the walk to open and close
        double f = var / total;
        d->lp[k] = d->logo + d->lp[k] - f * w + f * (d->logc - d->logo);
        if (k < n) {
            var += s0 * s0 * shape(m, k);
        }
    }
}

static void
acc_add(acc *a, int64_t t, const day *d, int from, int to)
{
    if (!a->open) {
        a->t = t;
        a->o = a->h = a->l = exp(d->lp[from]);
        a->v = 0;
        a->open = true;
    }
    for (int k = from; k < to; k++) {
        double x = exp(d->lp[k + 1]);
        a->h = fmax(a->h, x);
        a->l = fmin(a->l, x);
        a->v += d->v[k];
    }
    a->c = exp(d->lp[to]);
}

static kt_err
acc_emit(acc *a, const market *m, const kt_synth_cfg *cfg, kt_ohlcv *b)
{
    double o, h, l, c, tk = m->ticks;
    if (!a->open) {
        return KT_OK;
    }
    a->open = false;
    if (a->t < cfg->start || a->t >= cfg->end) {
        return KT_OK;
    }
    // Rounding to the tick is monotonic, so low <= open, close <= high
    // hold; k / ticks is the double nearest the decimal the CSV holds, so
    // bars read back from the file are bit-identical.
    o = round(a->o * tk) / tk;
    h = round(a->h * tk) / tk;
    l = fmax(round(a->l * tk), 1.0) / tk;
    c = round(a->c * tk) / tk;
    return kt_ohlcv_push(b, a->t, fmax(o, l), h, l, fmax(c, l), round(a->v));
}

// emit_day aggregates one day's path into bars of tf_min minutes (1440: a
// daily bar, 10080: weekly).
static kt_err
emit_day(const market *m, const kt_synth_cfg *cfg, int64_t dayno, int dow,
         const day *d, int tf_min, acc *a, kt_ohlcv *b)
{
    kt_err rv = KT_OK;
    if (tf_min == 10080) { // the week's Monday 00:00, emitted on Friday
        acc_add(a, (dayno - (dow - 1)) * 86400, d, 0, m->n_min);
        return dow == 5 ? acc_emit(a, m, cfg, b) : KT_OK;
    }
    if (tf_min == 1440) {
        acc_add(a, dayno * 86400, d, 0, m->n_min);
        return acc_emit(a, m, cfg, b);
    }
    for (int k = 0; rv == KT_OK && k < m->n_min; k += tf_min) {
        int to = k + tf_min < m->n_min ? k + tf_min : m->n_min;
        acc_add(a, dayno * 86400 + m->sess_off + (int64_t)k * 60, d, k, to);
        rv = acc_emit(a, m, cfg, b);
    }
    return rv;
}

static kt_err
check_cfg(const kt_synth_cfg *cfg, char *err, size_t errlen)
{
    int64_t lo = kt_days_from_civil(KT_SYNTH_MIN_YEAR, 1, 1) * 86400;
    int64_t hi = kt_days_from_civil(KT_SYNTH_MAX_YEAR, 1, 1) * 86400;
    size_t len = cfg->symbol != NULL ? strlen(cfg->symbol) : 0;

    if (len == 0 || len > 31) {
        kt__errf(err, errlen, "symbol must have 1 to 31 characters");
        return KT_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = cfg->symbol[i];
        if (!isalnum((unsigned char)ch) && ch != '.' && ch != '-') {
            kt__errf(err, errlen,
                     "symbol '%s': only letters, digits, '.' "
                     "and '-' are allowed",
                     cfg->symbol);
            return KT_EINVAL;
        }
    }
    if (kt_timeframe_seconds(cfg->timeframe) == 0) {
        kt__errf(err, errlen,
                 "unknown timeframe '%s' (1m, 5m, 15m, 30m, 1h, "
                 "4h, 1d, 1w)",
                 cfg->timeframe ? cfg->timeframe : "");
        return KT_EINVAL;
    }
    if (cfg->start >= cfg->end || cfg->start < lo || cfg->end > hi) {
        kt__errf(err, errlen,
                 "the range must be non-empty and within "
                 "%d-01-01 .. %d-01-01",
                 KT_SYNTH_MIN_YEAR, KT_SYNTH_MAX_YEAR);
        return KT_EINVAL;
    }
    return KT_OK;
}

// walk runs the daily walk from 1990-01-01 to the last needed day and
// emits the bars of the days from `first` on.
static kt_err
walk(const market *m, const kt_synth_cfg *cfg, uint64_t seed, int tf_min,
     day *d, kt_ohlcv *b)
{
    int64_t day0 = kt_days_from_civil(KT_SYNTH_MIN_YEAR, 1, 1);
    int64_t first = cfg->start / 86400, last = (cfg->end - 1) / 86400;
    skel k = {.logc = m->logp0, .anchor = m->logp0, .vol = 1};
    acc a = {0};
    kt_err rv = KT_OK;

    if (tf_min == 10080) { // whole weeks: back to Monday, on to Friday
        first -= ((first + 4) % 7 + 6) % 7;
        last += (5 - (last + 4) % 7 + 7) % 7;
    }
    kt_rng_seed(&k.rng, mix(seed, 2));
    for (int64_t dd = day0; rv == KT_OK && dd <= last; dd++) {
        int dow = (int)((dd + 4) % 7); // 0 = Sunday
        if (dow == 0 || dow == 6) {
            continue;
        }
        skel_step(&k, m, d);
        if (dd >= first) {
            day_path(m, seed, dd, d);
            rv = emit_day(m, cfg, dd, dow, d, tf_min, &a, b);
        }
    }
    return rv;
}

kt_err
kt_synth_generate(const kt_synth_cfg *cfg, kt_ohlcv **out, char *err,
                  size_t errlen)
{
    market m;
    day *d;
    kt_ohlcv *b;
    uint64_t seed;
    int tf_min;
    kt_err rv;

    if ((rv = check_cfg(cfg, err, errlen)) != KT_OK) {
        return rv;
    }
    seed = cfg->has_seed ? cfg->seed : kt_synth_default_seed(cfg->symbol);
    tf_min = (int)(kt_timeframe_seconds(cfg->timeframe) / 60);
    market_init(&m, cfg->symbol, seed);
    if ((d = malloc(sizeof(*d))) == NULL) {
        return KT_ENOMEM;
    }
    if ((rv = kt_ohlcv_alloc(0, &b)) != KT_OK) {
        free(d);
        return rv;
    }
    rv = walk(&m, cfg, seed, tf_min, d, b);
    free(d);
    if (rv != KT_OK) {
        kt_ohlcv_free(b);
        return rv;
    }
    kt__fmt(b->symbol, sizeof(b->symbol), "%s", cfg->symbol);
    kt__fmt(b->timeframe, sizeof(b->timeframe), "%s", cfg->timeframe);
    *out = b;
    return KT_OK;
}
