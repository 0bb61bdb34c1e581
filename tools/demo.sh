#!/usr/bin/env bash
# tools/demo.sh: the checkpoint & resume guide, live, in a few minutes.
# Installs and builds (tools/setup.sh), starts the backend on a fresh data
# directory (embedded SQLite), fetches real S&P 500 daily bars (generated
# bars when the network is unavailable, and it says so), trains the sample
# mean-reversion strategy with checkpoints, cancels it, lists it as
# resumable, shows its checkpoint, resumes it to completion, backtests the
# model, prints the results, and stops the backend.
# Environment: KT_BUILD (default build/), KTRDR_DEMO_DIR (default a new
# directory under /tmp), DEMO_EPOCHS (default 1500), KT_DEMO_NO_SETUP=1 (use
# an existing build as it is).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${KT_BUILD:-$top/build}
epochs=${DEMO_EPOCHS:-1500}

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '\033[36m$ %s\033[0m\n' "$*"; "$@"; }

if [ "${KT_DEMO_NO_SETUP:-}" != 1 ] || [ ! -x "$build/cli/ktrdr" ]; then
    bold "Install and build (tools/setup.sh)"
    "$top/tools/setup.sh" "$build" >/dev/null
fi
ktrdr="$build/cli/ktrdr"
PATH="$build/cli:$PATH"

data=${KTRDR_DEMO_DIR:-$(mktemp -d /tmp/ktrdr-demo-XXXXXX)}
export KTRDR_DATA_DIR=$data
mkdir -p "$data"
log=$data/serve.log
backend=""
stop_backend() {
    if [ -n "$backend" ] && kill -0 "$backend" 2>/dev/null; then
        kill -TERM "$backend"
        wait "$backend" || true
    fi
}
trap stop_backend EXIT

bold "Start the backend (data in $data)"
printf '\033[36m$ ktrdr serve --data-dir %s --http 127.0.0.1:0 &\033[0m\n' "$data"
"$ktrdr" serve --data-dir "$data" --http 127.0.0.1:0 >"$log" 2>&1 &
backend=$!
for _ in $(seq 1 200); do
    grep -q "http://" "$log" && break
    kill -0 "$backend" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.05
done
cat "$log"
port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$log" | head -1)

bold "Market data: real S&P 500 daily bars"
symbol=SPX
if run ktrdr data fetch --symbol "$symbol"; then
    echo "(real data: vega-datasets sp500-2000.csv from the npm registry)"
else
    echo "(network unavailable: falling back to GENERATED data for $symbol)"
    run ktrdr data generate "$symbol" 1d --start-date 2000-01-03 \
        --end-date 2020-04-17
fi
run ktrdr data show "$symbol" 1d --rows 3

# The sample strategy (strategies/neuro_mean_reversion.yaml, hourly AAPL)
# re-targeted at daily S&P 500 bars.
strategy=$data/sp500_mean_reversion.yaml
sed -e 's/symbol: AAPL/symbol: SPX/' -e 's/timeframe: 1h/timeframe: 1d/' \
    -e 's/^name: neuro_mean_reversion/name: sp500_mean_reversion/' \
    "$top/strategies/neuro_mean_reversion.yaml" >"$strategy"

bold "Train with a checkpoint every 5 epochs"
run ktrdr models train "$strategy" "$symbol" 1d --start-date 2005-01-01 \
    --end-date 2018-12-31 --epochs "$epochs" --checkpoint-frequency 5 \
    | tee "$data/train.out"
op=$(grep -o 'op_training_[0-9a-f_]*' "$data/train.out" | head -1)

bold "Wait for a few checkpoints, then interrupt it (cancel)"
for _ in $(seq 1 600); do
    ktrdr operations status "$op" | grep -q "Checkpoint: epoch [0-9][0-9]" && break
    ktrdr operations status "$op" | grep -q "COMPLETED" && break
    sleep 0.1
done
run ktrdr operations cancel "$op"

bold "It is resumable"
run ktrdr operations list --resumable
run ktrdr checkpoints show "$op"

bold "The checkpoint statistics, through the HTTP API"
run curl -s "http://127.0.0.1:$port/api/v1/checkpoints/stats"
echo

bold "Resume it to completion"
run ktrdr operations resume "$op" --follow
run ktrdr operations status "$op"
run ktrdr operations results "$op"
model=$(ktrdr --json operations results "$op" |
    sed -n 's/.*"model_path": *"\([^"]*\)".*/\1/p')

bold "Backtest the model on 2019-2020"
run ktrdr backtest run "$strategy" "$symbol" 1d --model "$model" \
    --start-date 2019-01-01 --end-date 2020-04-17 --follow
bt=$(ktrdr operations list --type backtesting --json |
    grep -o '"op_backtesting_[0-9a-f_]*"' | head -1 | tr -d '"')
run ktrdr operations results "$bt" --trades

bold "Stop the backend"
stop_backend
backend=""
tail -2 "$log"
echo "Data left in $data"
