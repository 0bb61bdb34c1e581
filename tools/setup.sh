#!/usr/bin/env bash
# tools/setup.sh [BUILD_DIR]: installs the Debian packages the build needs
# (only those missing), then configures and builds into BUILD_DIR (default
# build/). Environment: KT_SANITIZE (e.g. address,undefined), KT_BUILD_TYPE.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}

pkgs=(build-essential cmake ninja-build pkg-config git ca-certificates
      libevent-dev libnng-dev libprotobuf-c-dev protobuf-c-compiler
      libsqlite3-dev libsimde-dev libcriterion-dev libyaml-dev libjansson-dev
      clang-format curl)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S "$top" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE="${KT_BUILD_TYPE:-RelWithDebInfo}" \
    -DKT_SANITIZE="${KT_SANITIZE:-}" >/dev/null
cmake --build "$build" -j"$(nproc)"
ln -sf "$build/compile_commands.json" "$top/compile_commands.json" 2>/dev/null || true
# The guide's commands say `ktrdr ...`: put the default build on PATH when we
# may (root, or a writable /usr/local/bin); KT_NO_LINK=1 skips it.
if [ -z "${1:-}" ] && [ -z "${KT_NO_LINK:-}" ] && [ -x "$build/cli/ktrdr" ] &&
    [ -w /usr/local/bin ]; then
    ln -sf "$build/cli/ktrdr" /usr/local/bin/ktrdr
    echo "setup: ktrdr -> /usr/local/bin/ktrdr"
fi
