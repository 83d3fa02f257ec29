#!/usr/bin/env bash
# Builds (if needed) and runs the whole test suite in ./build, one process per test case, under a fresh TMPDIR
# (tools/run-tests.sh). Extra arguments go to ctest, e.g. `-R LlamaConfig`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bash tools/build.sh
[ -x tools/fetch-test-data.sh ] && bash tools/fetch-test-data.sh || true
bash tools/run-tests.sh build "$@"
