#!/usr/bin/env bash
# Fresh Debian 12 machine -> installed packages, a build, and the main job on its built-in default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bash tools/build.sh
exec ./build/wafersim demo "$@"
