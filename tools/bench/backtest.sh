#!/usr/bin/env bash
# tools/bench/backtest.sh: bars per second of the backtest bar loop (MLP
# [64,32] on 12 features, real kt_mlp with random weights, filters, book,
# equity, 100-bar slices) on 35,000 and 372,000 synthetic 5-minute bars,
# against the Python reference loop (torch forward per bar, same model and
# data) timed in the same run on a 5,000-bar subset. Run through
# tools/bench/run backtest (KT_TOP, KT_BUILD exported, build done).
set -euo pipefail
top=${KT_TOP:?run through tools/bench/run}
bin="$KT_BUILD/tools/bench/backtest/kt-bench-backtest"
ref="$top/tools/bench/backtest/reference.py"
py=/usr/bin/python3
subset=5050 # bars the Python loop runs (50 warm-up + 5,000 simulated)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! "$py" -c 'import torch' 2>/dev/null; then
    apt-get install -y python3-torch >&2
fi
[ -x "$bin" ] || { echo "backtest.sh: $bin not built" >&2; exit 1; }

# kv LINE KEY: the value of KEY in a "k=v k=v" line.
kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

rows=()
for n in 35000 372000; do
    c=$("$bin" "$n" --dump "$tmp/d.bin" --reps 3)
    p=$("$py" "$ref" "$tmp/d.bin" "$subset")
    cs=$("$bin" "$subset" --reps 1) # same seed: the same first bars and model
    cb=$(kv "$c" batched_bars_per_s)
    cr=$(kv "$c" row_bars_per_s)
    pb=$(kv "$p" bars_per_s)
    agree=no
    if [ "$(kv "$cs" trades)" = "$(kv "$p" trades)" ] &&
        [ "$(kv "$cs" final_equity)" = "$(kv "$p" final_equity)" ]; then
        agree=yes
    fi
    rb=$(awk -v a="$cb" -v b="$pb" 'BEGIN{printf "%.1f", a/b}')
    rr=$(awk -v a="$cr" -v b="$pb" 'BEGIN{printf "%.1f", a/b}')
    echo "{\"bench\":\"backtest\",\"case\":\"${n}_bars_batched\",\"metric\":\"bars_per_s\",\"value\":$cb,\"unit\":\"bars/s\",\"baseline\":$pb,\"ratio\":$rb}"
    echo "{\"bench\":\"backtest\",\"case\":\"${n}_bars_per_row\",\"metric\":\"bars_per_s\",\"value\":$cr,\"unit\":\"bars/s\",\"baseline\":$pb,\"ratio\":$rr}"
    echo "{\"bench\":\"backtest\",\"case\":\"${n}_bars_state\",\"metric\":\"export_ms\",\"value\":$(kv "$c" export_ms),\"unit\":\"ms\",\"baseline\":null,\"ratio\":null}"
    echo "{\"bench\":\"backtest\",\"case\":\"${n}_bars_state\",\"metric\":\"state_bytes\",\"value\":$(kv "$c" state_bytes),\"unit\":\"bytes\",\"baseline\":null,\"ratio\":null}"
    rows+=("| $n | $(kv "$c" bars) | $cb | $cr | $pb | ${rb}x | $(kv "$c" trades) | $(kv "$c" state_bytes) | $(kv "$c" export_ms) / $(kv "$c" import_ms) | $agree ($(kv "$p" trades) trades) |")
    vec=$(kv "$c" vec)
done

{
    echo "## backtest"
    echo
    echo "Bar loop of the backtest engine (\`kt_backtest_step\` in 100-bar slices:"
    echo "MLP 12 -> [64, 32] -> 3 inference, softmax, filters, fills, mark to"
    echo "market, equity point) on seeded synthetic 5-minute bars, single thread,"
    echo "kernels at level \`$vec\`. *Batched* asks the model for 256 bar-aligned rows"
    echo "at a time (what \`kt_backtest_open\` wires); *per row* calls \`kt_mlp_logits\`"
    echo "per bar. Best of 3 runs. Python: \`tools/bench/backtest/reference.py\`, the"
    echo "KTRDR-style loop (torch forward per bar under \`no_grad\`, numpy softmax,"
    echo "same filters and book) with Debian's python3-torch, 1 thread, timed on the"
    echo "first 5,000 simulated bars of the same data and model. *Agree*: C and"
    echo "Python give the same trade count and final equity (6 decimals) on those"
    echo "5,000 bars. State: size of the exported \`BacktestState\` at the end of the"
    echo "run (full equity curve included) and export / import time."
    echo
    echo "| bars | simulated | C batched (bars/s) | C per row (bars/s) | Python (bars/s) | ratio | trades | state (bytes) | export / import (ms) | agree |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} > "$top/docs/bench/backtest.md"
