#!/usr/bin/env bash
# Builds (if needed) and runs the whole test suite, one process per test case.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bash tools/build.sh
[ -x tools/fetch-test-data.sh ] && bash tools/fetch-test-data.sh || true
cd build && ctest --output-on-failure -j"$(nproc)" "$@"
