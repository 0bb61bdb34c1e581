#!/usr/bin/env bash
# tools/bench/run recovery: how fast a crashed worker is noticed and its
# operation is running again from its checkpoint, how fast a hung worker is
# noticed, and how fast workers re-register after the backend is SIGKILLed
# and restarted. Real processes and signals (tools/bench/recovery/
# bench_recovery.c); p50/p99 over many trials. JSON lines on stdout, table
# in docs/bench/recovery.md. KTRDR's own numbers are the baseline.
set -euo pipefail
top=${KT_TOP:?} build=${KT_BUILD:?}
drv=$(find "$build" -name kt-bench-recovery -type f -perm -u+x | head -1)
be=$(find "$build" -name kt-sup-backend -type f -perm -u+x | head -1)
ktrdr=$(find "$build" -name ktrdr -type f -perm -u+x | head -1)
[ -n "$drv" ] && [ -n "$be" ] && [ -n "$ktrdr" ] ||
    { echo "recovery: drivers not built in $build" >&2; exit 1; }
trials=${KT_BENCH_TRIALS:-40}
out=$(mktemp); trap 'rm -f "$out"' EXIT
KTRDR_LOG_LEVEL=err "$drv" "$ktrdr" "$be" "$trials" >"$out" 2>/dev/null

# pct KIND FIELD P: the P-th percentile (nearest rank) of FIELD of KIND lines.
pct() {
    awk -v k="$1" -v f="$2" '$1 == k { print $f }' "$out" | sort -g |
        awk -v p="$3" '{ v[NR] = $1 } END {
            if (NR == 0) { print "null"; exit }
            i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
            printf "%.3f", v[i] }'
}
count() { awk -v k="$1" '$1 == k' "$out" | wc -l; }

# case kind field metric baseline_ms target
rows=""
emit() {
    local case=$1 kind=$2 field=$3 metric=$4 base=$5 target=$6
    for p in 50 99; do
        v=$(pct "$kind" "$field" "$p")
        if [ "$base" = null ]; then ratio=null; else
            ratio=$(awk -v b="$base" -v v="$v" 'BEGIN{printf "%.0f", b / (v > 0.001 ? v : 0.001)}')
        fi
        printf '{"bench":"recovery","case":"%s","metric":"%s_p%s","value":%s,"unit":"ms","baseline":%s,"ratio":%s}\n' \
            "$case" "$metric" "$p" "$v" "$base" "$ratio"
    done
    rows+="| $case | $metric | $(count "$kind") | $(pct "$kind" "$field" 50) | $(pct "$kind" "$field" 99) | $target | $base |"$'\n'
}
emit worker_sigkill kill 2 detection 60000 "< 100"
emit worker_sigkill kill 3 recovery 60000 "< 500 + reload"
emit worker_sigkill kill 4 reload_and_first_epoch null "reported"
emit worker_hung hang 2 detection 30000 "heartbeat timeout (300)"
emit backend_sigkill rereg 2 reregistration 30000 "< 2000"
fails=$(count rereg_fail)

cat >"$top/docs/bench/recovery.md" <<MD
## recovery

Crash recovery with real processes and real signals
(\`tools/bench/recovery/bench_recovery.c\`, $trials SIGKILL trials): a backend
with two local \`ktrdr worker\` processes runs a long training operation
(checkpoint every epoch); each trial waits for a new checkpoint and for both
workers to be up (a respawned one included: back-to-back kills of one slot
would measure the respawn back-off, the crash-loop protection), SIGKILLs the
worker running the operation and times **detection** (kill → the registry
declares the worker lost: pidfd of the child, read by the pool's reaper
thread), **recovery** (kill → the operation runs again on a worker, resumed
from its last checkpoint: failure recorded, restart policy, resume claim,
dispatch, operation actor started) and, separately, **reload + first epoch**
(resumed → its first new checkpoint: checkpoint and data reload plus one
epoch). Hung workers are SIGSTOPped: they are found by missed heartbeats
(100 ms × 3). For **re-registration** the backend itself (\`kt-sup-backend\`)
is SIGKILLed and started again; the time runs from the new backend's ready
line until the old worker is registered again with its running operation.
Percentiles are nearest-rank over the trials; the machine is shared, so p99
includes scheduling noise. Re-registrations that did not happen within 20 s
in this run: $fails (a worker that is late gets its operation restarted on
another worker by the reclaim grace, and is fenced). Workers reach the backend
over the runtime's wire (docs/adr/0004-peer-wire.md): a lost connection is
dialed again after 10 ms, then 20, 40 ... up to 1 s between attempts.

Baselines are KTRDR's (\`reference/ktrdr-checkpoint-system.md\` §1.11, §5):
a dead worker's operation is failed by the orphan detector after 60 s at the
earliest (60–75 s; ~6 min while the dead worker still claims it), never
restarted automatically; a hung worker becomes TEMPORARILY_UNAVAILABLE after
3 failed 10 s health checks (30 s); workers re-register within 30 s after a
backend restart (the guide's figure). \`ratio\` = baseline / our value.

| case | metric | trials | p50 ms | p99 ms | target ms | KTRDR ms |
|---|---|---|---|---|---|---|
$rows
MD
