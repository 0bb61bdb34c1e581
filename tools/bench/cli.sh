#!/usr/bin/env bash
# tools/bench/cli.sh: the CLI round trip, whole process: `ktrdr operations
# list` against a running backend holding a few operations (runtime start,
# NNG ipc dial, ask, print, exit). Target: <= 5 ms. hyperfine when
# installed, otherwise a timed loop (bash $EPOCHREALTIME, no extra fork).
set -euo pipefail
ktrdr=$KT_BUILD/cli/ktrdr
runs=${KT_BENCH_RUNS:-300}
data=$(mktemp -d /tmp/kt-bench-cli-XXXXXX)
export KTRDR_DATA_DIR=$data
"$ktrdr" data generate EURUSD 1h --start-date 2024-01-01 --end-date 2024-03-01 >/dev/null
"$ktrdr" serve --no-http >"$data/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 200); do [ -S "$data/ktrdr.sock" ] && break; sleep 0.05; done
for _ in 1 2 3; do
    "$ktrdr" models train "$KT_TOP/strategies/minimal.yaml" EURUSD 1h \
        --start-date 2024-01-01 --end-date 2024-03-01 --epochs 2 --follow >/dev/null
done
"$ktrdr" operations list >/dev/null

times=$(mktemp)
for _ in $(seq 1 "$runs"); do
    t0=$EPOCHREALTIME
    "$ktrdr" operations list >/dev/null
    t1=$EPOCHREALTIME
    echo "$t0 $t1" | awk '{printf "%.4f\n", ($2 - $1) * 1000}' >>"$times"
done
read -r mean p50 p99 < <(sort -n "$times" | awk '{a[NR]=$1; s+=$1}
    END {printf "%.3f %.3f %.3f\n", s/NR, a[int(NR*0.5)+1], a[int(NR*0.99)]}')
rm -f "$times"
target=5
ratio=$(awk -v t=$target -v m="$mean" 'BEGIN {printf "%.2f", t/m}')
echo "{\"bench\":\"cli\",\"case\":\"operations_list\",\"metric\":\"mean_ms\",\"value\":$mean,\"unit\":\"ms\",\"baseline\":$target,\"ratio\":$ratio}"
echo "{\"bench\":\"cli\",\"case\":\"operations_list\",\"metric\":\"p99_ms\",\"value\":$p99,\"unit\":\"ms\",\"baseline\":$target,\"ratio\":$(awk -v t=$target -v m="$p99" 'BEGIN {printf "%.2f", t/m}')}"
cat >"$KT_TOP/docs/bench/cli.md" <<MD
## cli

\`ktrdr operations list\` as a whole process (exec, runtime start, NNG ipc
dial to the backend, one ask to the operations actor, table printed, exit)
against a local backend holding 3 operations; $runs runs timed with bash's
\$EPOCHREALTIME around each one. Baseline: the 5 ms target of issue 8.

| case | mean | p50 | p99 | target | ratio (target / mean) |
|---|---|---|---|---|---|
| operations list | $mean ms | $p50 ms | $p99 ms | $target ms | $ratio |
MD
