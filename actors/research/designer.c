// designer.c: the offline designer (reference §5.6 (a)): a seeded
// template that composes a valid v3 strategy from the indicator and fuzzy
// catalogue below, guided by keywords of the brief. It reports simulated
// token counts so the budget works as with a model.
#include <ctype.h> // isprint
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "research/rs_int.h"

typedef struct rs_cat {
    const char *key;       // fuzzy-set / indicator stem
    const char *words;     // brief keywords, space separated
    const char *type;      // indicator type
    const char *param;     // its period parameter
    const int periods[3];  // seeded choice
    const char *fuzzy;     // fuzzy set body (indicator id = key_%d)
    const char *input_ref; // output of a multi-output indicator ("" = none)
} rs_cat;

static const rs_cat rs_catalogue[] = {
    {"rsi",
     "reversion reversal oversold overbought rsi range",
     "rsi",
     "period",
     {7, 14, 21},
     "    oversold: [0, 25, 45]\n    neutral: [35, 50, 65]\n"
     "    overbought: [55, 75, 100]\n",
     ""},
    {"roc",
     "momentum roc breakout change",
     "roc",
     "period",
     {5, 10, 20},
     "    falling: [-3, -1, 0]\n    flat: [-0.5, 0, 0.5]\n"
     "    rising: [0, 1, 3]\n",
     ""},
    {"adx",
     "trend adx strength directional",
     "adx",
     "period",
     {10, 14, 20},
     "    weak: [0, 12, 25]\n    strong: [20, 35, 60]\n",
     ".adx"},
    {"stoch",
     "stochastic oscillator reversion oversold",
     "stochastic",
     "k_period",
     {9, 14, 21},
     "    low: [0, 20, 40]\n    high: [60, 80, 100]\n",
     ".k"},
    {"bbw",
     "volatility squeeze bollinger bands width",
     "bollingerbandwidth",
     "period",
     {14, 20, 30},
     "    narrow: [0, 0.01, 0.03]\n    wide: [0.02, 0.05, 0.2]\n",
     ""},
};
#define RS_NCAT (sizeof(rs_catalogue) / sizeof(rs_catalogue[0]))

static uint64_t
rs_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL); // splitmix64
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t
kt__rs_seed(const char *op_id)
{
    uint64_t h = 1469598103934665603ULL; // FNV-1a 64

    for (const char *p = op_id; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    }
    return h;
}

// rs_has_word: whether one of the space-separated words is in brief.
static bool
rs_has_word(const char *brief_lc, const char *words)
{
    char w[32];

    while (*words != '\0') {
        size_t n = strcspn(words, " ");
        if (n > 0 && n < sizeof(w)) {
            memcpy(w, words, n);
            w[n] = '\0';
            if (strstr(brief_lc, w) != NULL) {
                return true;
            }
        }
        words += n;
        words += *words == ' ';
    }
    return false;
}

// rs_pick chooses 2-3 catalogue entries: keyword matches first, then a
// seeded fill. pick[i] = chosen; returns how many.
static int
rs_pick(const char *brief, uint64_t *seed, bool pick[RS_NCAT])
{
    char lc[1024];
    int n = 0, want = 2 + (int)(rs_next(seed) % 2);
    size_t i;

    for (i = 0; i + 1 < sizeof(lc) && brief[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)brief[i];
        lc[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch);
    }
    lc[i] = '\0';
    memset(pick, 0, RS_NCAT * sizeof(bool));
    for (i = 0; i < RS_NCAT && n < 3; i++) {
        if (rs_has_word(lc, rs_catalogue[i].words)) {
            pick[i] = true;
            n++;
        }
    }
    while (n < want) {
        size_t k = (size_t)(rs_next(seed) % RS_NCAT);
        if (!pick[k]) {
            pick[k] = true;
            n++;
        }
    }
    return n;
}

static void rs_cat_append(char *y, size_t cap, const char *fmt, ...)
    KT_PRINTF(3, 4);

static void
rs_cat_append(char *y, size_t cap, const char *fmt, ...)
{
    size_t used = strlen(y);
    va_list ap;

    if (used >= cap) {
        return;
    }
    va_start(ap, fmt);
    (void)vsnprintf(y + used, cap - used, fmt, ap);
    va_end(ap);
}

static void
rs_compose(const Ktpb__V1__DesignRequest *in, uint64_t seed, char *y,
           size_t cap, char *name, size_t namelen)
{
    static const int hidden[][2] = {{32, 16}, {16, 8}, {64, 32}};
    bool pick[RS_NCAT];
    int period[RS_NCAT], h = (int)(rs_next(&seed) % 3);
    double zz = (rs_next(&seed) % 2) ? 0.02 : 0.01;
    char brief[201];
    size_t k;

    for (k = 0; k + 1 < sizeof(brief) && in->brief[k] != '\0'; k++) {
        brief[k] = isprint((unsigned char)in->brief[k]) ? in->brief[k] : ' ';
    }
    brief[k] = '\0';

    (void)rs_pick(in->brief, &seed, pick);
    (void)snprintf(name, namelen, "research_%06llx",
                   (unsigned long long)(rs_next(&seed) & 0xffffff));
    y[0] = '\0';
    rs_cat_append(y, cap,
                  "# Designed offline (seeded template) for: %s\n"
                  "name: %s\nversion: \"3.0\"\n"
                  "training_data:\n  symbols: {mode: single, symbol: %s}\n"
                  "  timeframes: {mode: single, timeframe: %s}\n"
                  "indicators:\n",
                  brief, name, in->symbol, in->timeframe);
    for (size_t i = 0; i < RS_NCAT; i++) {
        if (pick[i]) {
            period[i] = rs_catalogue[i].periods[rs_next(&seed) % 3];
            rs_cat_append(y, cap, "  %s_%d: ", rs_catalogue[i].key, period[i]);
            rs_cat_append(y, cap, "{type: %s, %s: %d}\n", rs_catalogue[i].type,
                          rs_catalogue[i].param, period[i]);
        }
    }
    rs_cat_append(y, cap, "fuzzy_sets:\n");
    for (size_t i = 0; i < RS_NCAT; i++) {
        if (pick[i]) {
            rs_cat_append(y, cap, "  %s_zone:\n    indicator: %s_%d%s\n%s",
                          rs_catalogue[i].key, rs_catalogue[i].key, period[i],
                          rs_catalogue[i].input_ref, rs_catalogue[i].fuzzy);
        }
    }
    rs_cat_append(y, cap, "nn_inputs:\n");
    for (size_t i = 0; i < RS_NCAT; i++) {
        if (pick[i]) {
            rs_cat_append(y, cap, "  - fuzzy_set: %s_zone\n",
                          rs_catalogue[i].key);
        }
    }
    rs_cat_append(y, cap,
                  "model:\n  type: mlp\n  architecture:\n"
                  "    hidden_layers: [%d, %d]\n    activation: relu\n"
                  "    dropout: 0.2\n"
                  "decisions:\n  confidence_threshold: 0.4\n"
                  "  filters: {min_signal_separation: 0}\n"
                  "training:\n  labels: {source: zigzag, zigzag_threshold: "
                  "%.2f}\n  epochs: 10\n  batch_size: 32\n"
                  "  learning_rate: 0.005\n  seed: %llu\n",
                  hidden[h][0], hidden[h][1], zz,
                  (unsigned long long)(seed % 100000));
}

static void
rs_offline_design(void *arg, const Ktpb__V1__DesignRequest *in, int cancel_fd,
                  Ktpb__V1__DesignResult *out)
{
    char y[4096], name[64];

    (void)arg;
    (void)cancel_fd;
    rs_compose(in, in->seed + in->attempt, y, sizeof(y), name, sizeof(name));
    out->yaml = strdup(y);
    out->name = strdup(name);
    out->tokens_in =
        1500 +
        (strlen(in->brief) + strlen(in->memory) + strlen(in->feedback)) / 4;
    out->tokens_out = 300 + strlen(y) / 4;
    out->cost_usd = kt__rs_cost(in->model[0] ? in->model : "offline",
                                out->tokens_in, out->tokens_out);
    out->transcript = strdup("offline template designer");
    if (out->yaml == NULL || out->name == NULL || out->transcript == NULL) {
        out->status = KT_ENOMEM;
        out->message = strdup("out of memory");
    }
}

const kt_rs_designer kt_rs_offline_designer = {
    .name = "offline",
    .design = rs_offline_design,
    .arg = NULL,
};
