#!/usr/bin/env bash
# tools/bench/run persistence: durable checkpoint save latency (store and
# actor) for 4 KiB / 1 MiB / 16 MiB of artifacts vs the raw file protocol of
# the same bytes, fsync alone, and sustained events/s. JSON lines on stdout;
# the table goes to docs/bench/persistence.md.
set -euo pipefail
bin="$KT_BUILD/tools/bench/persistence/kt-bench-persist"
dir=$(mktemp -d "${TMPDIR:-/tmp}/kt_bench_persist.XXXXXX")
trap 'rm -rf "$dir"' EXIT
out="$dir/results.jsonl"
"$bin" "$dir/data" "${KT_BENCH_SCALE:-1}" | tee "$out"
/usr/bin/python3 - "$out" "$KT_TOP/docs/bench/persistence.md" "$dir" <<'PY'
import json, sys, subprocess
rows = [json.loads(l) for l in open(sys.argv[1])]
v = {(r["case"], r["metric"]): r for r in rows}
fs = subprocess.run(["df", "-h", sys.argv[3]], capture_output=True, text=True).stdout.splitlines()[-1].split()
out = ["## persistence", "",
       "Durable checkpoint saves (artifacts written and fsynced in a temp dir, dir fsynced,",
       "renamed, parent fsynced, then the SQLite row committed in WAL mode with",
       "`synchronous=FULL`, then pruning to the newest 2), measured through the store",
       "API and through the persistence actor (`kt_runtime_ask` round trip), against",
       "the raw file protocol of the same bytes (write+fsync, fsync dir, rename, fsync",
       "parent) in the same run, and a single write+fsync. Latencies in µs; lower is",
       "better; ratio = raw / ours. Disk: `%s` (%s)." % (fs[0], fs[-1]), "",
       "| size | store p50 | store p99 | actor p50 | actor p99 | raw p50 | raw p99 | write+fsync p50 | p99 |",
       "|---|---|---|---|---|---|---|---|---|"]
for size in ("4KiB", "1MiB", "16MiB"):
    c = "save_" + size
    g = lambda m: "%.0f" % v[(c, m)]["value"]
    out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        size, g("store_p50"), g("store_p99"), g("actor_p50"), g("actor_p99"),
        g("raw_protocol_p50"), g("raw_protocol_p99"), g("write_fsync_p50"),
        g("write_fsync_p99")))
s = v[("sustained_4KiB", "events_per_s")]
out += ["", "Sustained 4 KiB checkpoint events through the actor: **%.0f events/s** "
        "(raw file protocol alone, same bytes: %.0f/s)." % (s["value"], s["baseline"]), ""]
r4 = v[("save_4KiB", "actor_p99")]["value"]
r1 = v[("save_1MiB", "actor_p50")]["value"] / v[("save_1MiB", "raw_protocol_p50")]["value"]
r16 = v[("save_16MiB", "actor_p50")]["value"] / v[("save_16MiB", "raw_protocol_p50")]["value"]
out += ["Targets: p99 ≤ 1 ms for 4 KiB (measured %.2f ms); ≤ 1.5× raw for 1 MiB "
        "(%.2f×) and 16 MiB (%.2f×), actor p50 vs raw p50." % (r4 / 1000, r1, r16), ""]
out += ["Why the targets are missed on this machine (honest reading):", "",
        "- The disk is a shared virtual block device: one write+fsync of 4 KiB costs "
        "%.0f µs at p50 and %.0f µs at p99 in this very run, so four ordered syncs "
        "(file, temp dir, parent dir, WAL commit) cannot fit 1 ms at p99; the raw file "
        "protocol alone (three of those syncs) has p99 %.0f µs." % (
            v[("save_4KiB", "write_fsync_p50")]["value"],
            v[("save_4KiB", "write_fsync_p99")]["value"],
            v[("save_4KiB", "raw_protocol_p99")]["value"]),
        "- Over the raw protocol a save adds the SQLite commit (one more fsync of the "
        "WAL), SHA-256 of every artifact (x86 SHA extensions, ~1.2 GB/s; portable "
        "code ~0.2 GB/s) and, through the actor, two copies of the bytes (the "
        "runtime's message delivery and protobuf-c's unpack).",
        "- Next steps that would close the gap: store artifacts below ~64 KiB inline "
        "in the SQLite row (one fsync instead of four for small checkpoints); let the "
        "writer send the hash so the save does not recompute it (load still "
        "verifies); decode the event without copying the artifact bytes.", ""]
open(sys.argv[2], "w").write("\n".join(out))
PY
