#!/usr/bin/env bash
# tools/data/fetch_sp500.sh [--data-dir DIR] [--symbol NAME]
#
# Real daily S&P 500 index bars (^GSPC, 2000-01-03 .. 2020-04-17, 5,105 rows,
# open/high/low/close/volume) from the npm package vega-datasets
# (data/sp500-2000.csv), converted to the KTRDR layout as DIR/SPX_1d.csv.
# Needs npm and network access to the npm registry; nothing is installed:
# `npm pack` downloads the tarball into a temporary directory. The CSV's
# checksum is pinned, so every run writes the same file. Tests never call
# this script (CI stays offline); use it by hand.
set -euo pipefail

version=${VEGA_DATASETS_VERSION:-3.2.1}
sha256=9409e9342d0657c747324e4cfabce8a8c7f663bc485b95a3378f36b0a160f8c8
data_dir=${KTRDR_DATA_DIR:-./data}
symbol=SPX

while [ $# -gt 0 ]; do
    case "$1" in
    --data-dir) data_dir=${2:?--data-dir needs a value}; shift 2 ;;
    --symbol) symbol=${2:?--symbol needs a value}; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fetch_sp500.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
command -v npm >/dev/null || { echo "fetch_sp500.sh: npm not found" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching vega-datasets@$version from the npm registry ..."
(cd "$tmp" && npm pack "vega-datasets@$version" --silent >/dev/null)
tar -xzf "$tmp"/vega-datasets-*.tgz -C "$tmp" package/data/sp500-2000.csv
src=$tmp/package/data/sp500-2000.csv
got=$(sha256sum "$src" | cut -d' ' -f1)
if [ "$got" != "$sha256" ] && [ "$version" = 3.2.1 ]; then
    echo "fetch_sp500.sh: checksum mismatch for sp500-2000.csv ($got)" >&2
    exit 1
fi

# date,open,high,low,close,adjclose,volume -> timestamp,open,...,volume.
# adjclose equals close for this index series and is dropped.
mkdir -p "$data_dir"
out=$data_dir/${symbol}_1d.csv
awk -F, 'NR == 1 {
        if ($1 != "date" || $5 != "close" || $7 != "volume") {
            print "unexpected header: " $0 > "/dev/stderr"; exit 1
        }
        print "timestamp,open,high,low,close,volume"; next
    }
    NF == 7 { printf "%sT00:00:00Z,%s,%s,%s,%s,%s\n", $1, $2, $3, $4, $5, $7 }
' "$src" > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $(($(wc -l < "$out") - 1)) daily bars to $out"

# Validate with kt-data when it has been built.
top=$(cd "$(dirname "$0")/../.." && pwd)
for kt in "$top"/build*/tools/data/kt-data; do
    if [ -x "$kt" ]; then
        "$kt" check "$out"
        break
    fi
done
