#!/usr/bin/env bash
# tools/bench/features.sh: bars per second of the strategy engine's data
# path (CSV read; indicators + fuzzy memberships -> feature matrix; labels)
# on seeded synthetic 5-minute EURUSD bars (35,000 and 372,000 = ~5 years),
# for the shipped strategies, against a numpy reference of
# neuro_mean_reversion (tools/bench/features/reference.py) timed in the same
# run, which also checks that C and Python agree. Run through
# tools/bench/run features (KT_TOP, KT_BUILD exported, build done).
set -euo pipefail
top=${KT_TOP:?run through tools/bench/run}
bin="$KT_BUILD/tools/bench/features/kt-bench-features"
ref="$top/tools/bench/features/reference.py"
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x "$bin" ] || { echo "features.sh: $bin not built" >&2; exit 1; }
"$py" -c 'import numpy' 2>/dev/null || apt-get install -y python3-numpy >&2

kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

rows=()
for n in 35000 372000; do
    for strat in neuro_mean_reversion trend_momentum_tb; do
        args=("$top/strategies/$strat.yaml" EURUSD 5m "$n" --reps 5)
        pb=null ratio=null agree=-
        if [ "$strat" = neuro_mean_reversion ]; then
            c=$("$bin" "${args[@]}" --dump "$tmp/d.bin")
            p=$("$py" "$ref" "$tmp/d.bin")
            pb=$(kv "$p" bars_per_s)
            agree="$(kv "$p" agree) (max diff $(kv "$p" max_abs_diff))"
        else
            c=$("$bin" "${args[@]}")
        fi
        tot=$(kv "$c" total_bars_per_s)
        [ "$pb" != null ] && ratio=$(awk -v a="$tot" -v b="$pb" 'BEGIN{printf "%.1f", a/b}')
        echo "{\"bench\":\"features\",\"case\":\"${strat}_${n}\",\"metric\":\"bars_per_s\",\"value\":$tot,\"unit\":\"bars/s\",\"baseline\":$pb,\"ratio\":$ratio}"
        echo "{\"bench\":\"features\",\"case\":\"csv_read_${n}\",\"metric\":\"bars_per_s\",\"value\":$(kv "$c" read_bars_per_s),\"unit\":\"bars/s\",\"baseline\":null,\"ratio\":null}"
        rows+=("| $strat | $n | $(kv "$c" features) | $(kv "$c" labels) | $(kv "$c" features_bars_per_s) | $(kv "$c" labels_bars_per_s) | $tot | ${pb/null/-} | ${ratio/null/-} | $(kv "$c" read_bars_per_s) | $(kv "$c" generate_s) | $agree |")
    done
done

{
    echo "## features"
    echo
    echo "Strategy engine data path on seeded synthetic EURUSD 5-minute bars, single"
    echo "thread, best of 5: \`kt_features_build\` (indicators of the inputs, fuzzy"
    echo "memberships, float matrix in model order) and \`kt_labels_build\`. Python:"
    echo "\`tools/bench/features/reference.py\`, numpy where KTRDR uses pandas"
    echo "vector code and a Python loop where KTRDR loops (RSI's Wilder recursion,"
    echo "ZigZag), for neuro_mean_reversion only; it is kinder to Python than KTRDR"
    echo "itself (whose RSI loop goes through \`.iloc\`). *Agree*: identical labels"
    echo "and the largest feature difference. CSV read: \`kt_ohlcv_read\` with full"
    echo "validation. Generate: \`kt_synth_generate\` for the bars (the daily walk"
    echo "starts in 1990)."
    echo
    echo "| strategy | bars | features | labels | features (bars/s) | labels (bars/s) | total (bars/s) | Python (bars/s) | ratio | CSV read (bars/s) | generate (s) | agree |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} > "$top/docs/bench/features.md"
