#!/bin/bash
# Interleaved timing of `wafersim bench fabric` on the four issue-2 configurations: a baseline executable (built
# from an older commit, with that commit's configs/wse2.yaml) against this build on all host threads and on one.
# Runs alternate, so minute-to-minute load changes on a shared machine hit all three alike; prints min and median.
#   bench/compare-fabric.sh BASELINE_EXE BASELINE_WSE2_YAML [ROUNDS] [NEW_EXE]
set -euo pipefail
base=$1 base_arch=$2 rounds=${3:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
new=${4:-$here/build/wafersim}
host_seconds() { "$@" | awk '/host time/ {print $3}'; }
summary() { sort -g | awk '{a[NR] = $1} END {printf "min %.3f s  median %.3f s", a[1], a[int((NR + 1) / 2)]}'; }
date -u; uptime
for cfg in "--mesh 64x64 --pattern uniform --cycles 2000" "--mesh 64x64 --pattern row-broadcast --cycles 2000" \
           "--mesh 256x256 --pattern uniform --cycles 500" "--mesh 256x256 --pattern row-broadcast --cycles 500"; do
  b=() n=() one=()
  for ((r = 0; r < rounds; ++r)); do
    # shellcheck disable=SC2086
    b+=("$(host_seconds "$base" bench fabric $cfg --arch "$base_arch")")
    # shellcheck disable=SC2086
    n+=("$(host_seconds "$new" bench fabric $cfg --arch "$here/configs/wse2.yaml")")
    # shellcheck disable=SC2086
    one+=("$(host_seconds "$new" bench fabric $cfg --arch "$here/configs/wse2.yaml" --set simulation.host_threads=1)")
  done
  echo "$cfg"
  echo "  baseline:            $(printf '%s\n' "${b[@]}" | summary)"
  echo "  this build:          $(printf '%s\n' "${n[@]}" | summary)"
  echo "  this build, 1 thread: $(printf '%s\n' "${one[@]}" | summary)"
done
