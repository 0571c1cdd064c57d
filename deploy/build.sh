#!/usr/bin/env bash
# Configures and builds thrum into a build directory.
#   deploy/build.sh [BUILD_DIR] [extra cmake args...]
# BUILD_DIR defaults to build/release. Example sanitizer build:
#   deploy/build.sh build/asan -DTHRUM_SANITIZE=address -DCMAKE_BUILD_TYPE=Debug
# THRUM_BUILD_TARGETS (space-separated) builds only those targets.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build/release}"
shift || true
cmake -S . -B "$dir" -G Ninja -DTHRUM_WERROR=ON "$@" >/dev/null
# shellcheck disable=SC2086  # a list of target names
ninja -C "$dir" ${THRUM_BUILD_TARGETS:-}
