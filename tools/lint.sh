#!/usr/bin/env bash
# tools/lint.sh [BUILD_DIR]: clang-format check and every public header
# compiled alone (STYLE.md 3.2, 3.11).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
cd "$top"
git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror
for h in runtime/include/kt/*.h; do
    echo "#include <kt/$(basename "$h")>" |
        cc -std=c11 -Wall -Wextra -Werror -Iruntime/include -fsyntax-only -x c -
done
echo "lint: ok"
