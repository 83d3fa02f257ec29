#!/usr/bin/env bash
# Builds wafersim with AddressSanitizer + UndefinedBehaviorSanitizer (-DWAFERSIM_SANITIZE=ON) into ./build-sanitize
# and runs the tests there under a fresh TMPDIR (tools/run-tests.sh); a sanitizer finding fails its test.
# Extra arguments go to ctest. See docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWAFERSIM_SANITIZE=ON >/dev/null
cmake --build build-sanitize -j"$(nproc)"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"  # where, not just what
bash tools/run-tests.sh build-sanitize "$@"
