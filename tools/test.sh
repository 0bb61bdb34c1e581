#!/usr/bin/env bash
# tools/test.sh [BUILD_DIR]: set up (tools/setup.sh), build, run every test.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
"$top/tools/setup.sh" "$build"
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 600
