#!/usr/bin/env bash
# tools/test.sh [BUILD_DIR]: set up (tools/setup.sh), build, run every test.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
"$top/tools/setup.sh" "$build"
cd "$build"
# KT_CTEST_EXCLUDE: a ctest -E regex of tests to leave out (none by default).
exclude=()
[ -n "${KT_CTEST_EXCLUDE:-}" ] && exclude=(-E "$KT_CTEST_EXCLUDE")
ctest --output-on-failure -j"$(nproc)" --timeout 600 "${exclude[@]}"
