#!/usr/bin/env bash
# Runs the built test suite of BUILD_DIR with ctest, one process per test case, under a fresh, empty TMPDIR that
# is removed afterwards: every test makes its scratch directory there (sc_tests/test_dir.hpp), so nothing left by
# an earlier run or by another program can be mistaken for a test's output.
#   tools/run-tests.sh BUILD_DIR [ctest args...]
set -euo pipefail
build="$(cd "$1" && pwd)"
shift
tmp="$(mktemp -d "${TMPDIR:-/tmp}/wafersim-tests.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cd "$build"
TMPDIR="$tmp" ctest --output-on-failure -j"$(nproc)" "$@"
