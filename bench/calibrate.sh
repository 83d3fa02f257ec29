#!/usr/bin/env bash
# bench/calibrate.sh: fit the WSE-2 timing parameters the evidence leaves open (docs/timing-evidence.md) to the
# WaferLLM paper's MeshGEMV pair (Table 6: [1,16K]x[16K,16K] 1.2 us, [1,32K]x[32K,32K] 2.03 us at 1.1 GHz), by
# simulation: `wafersim bench gemv --algo mesh --timing-only` with --set overrides. docs/reproduction.md explains the
# choice of parameters and records the result.
#
#   bench/calibrate.sh [BUILD_DIR]        (after a build; BUILD_DIR defaults to build)
#
# Environment (all optional):
#   MESHES  mesh sides P to try (default "64 128 256 512", the paper benchmark's sweep)
#   HOPS    cycles per router hop to try (default "2 1": the SDK simulator's 2 and the hardware-side 1)
#   ISSUE   pe.dsd_issue_cycles values of the grid (default: auto, see 2.)
#   OUT     directory of the JSON results (default BUILD_DIR/calibrate); a result already there is reused
#   SETS    extra --set overrides for every run, e.g. "pe.bank_conflicts=false"
#
# 1. Bound: per P and hop latency, both shapes with pe.dsd_issue_cycles=0 (the cheapest op issue). A (P, hop) whose
#    bound is already slower than the paper on either shape cannot reproduce it and is left out (a shape whose blocks
#    do not fit the SRAM is reported and left out too).
# 2. Grid: the remaining (P, hop) cells over ISSUE; score = root mean square of the two relative errors. ISSUE=auto
#    starts below the least-squares value of a line through the bound (every row of a PE's W block is one DSD op, so
#    the cycles grow by about ceil(K/P) per issue cycle), then walks up while the error falls.
# Prints markdown tables and the best point. Nothing here runs in CI (a full run simulates 512x512 meshes: minutes).
set -euo pipefail
build=${1:-build}
exe=$build/wafersim
[[ -x $exe ]] || { echo "calibrate.sh: $exe not found: build first (cmake --build $build --target wafersim)" >&2; exit 2; }
out=${OUT:-$build/calibrate}
mkdir -p "$out"
meshes=${MESHES:-64 128 256 512}
hops=${HOPS:-2 1}
issues=${ISSUE:-auto}
read -r -a extra <<< "${SETS:-}"
paper16=1320   # 1.2 us at 1.1 GHz
paper32=2233   # 2.03 us at 1.1 GHz

# run P K HOP ISSUE -> prints the JSON path, or "nofit" when the shape does not fit the SRAM
run() {
  local P=$1 K=$2 hop=$3 issue=$4
  local tag="gemv_P${P}_K${K}_hop${hop}_issue${issue}${SETS:+_$(echo "$SETS" | tr ' =/' '_-_')}"
  local json=$out/$tag.json
  if [[ ! -s $json ]]; then
    local sets=(--set "router.router_latency=$((hop - 1))" --set "router.link_latency=1"
                --set "pe.dsd_issue_cycles=$issue")
    for s in "${extra[@]}"; do sets+=(--set "$s"); done
    if ! "$exe" bench gemv --algo mesh --mesh "${P}x${P}" --k "$K" --n "$K" --timing-only --quiet "${sets[@]}" \
        --json "$json" > "$out/$tag.log" 2>&1; then
      if grep -q "SRAM\|does not fit\|CapacityError" "$out/$tag.log"; then echo nofit; return; fi
      cat "$out/$tag.log" >&2; exit 1
    fi
  fi
  echo "$json"
}
# Least-squares issue cost of the line bound + ceil(K/P) * issue through both shapes, less one (python3 -c).
fit_start='
import math, sys
P, b16, b32, p16, p32 = (float(v) for v in sys.argv[1:])
pts = [(b16 / p16, math.ceil(16384 / P) / p16), (b32 / p32, math.ceil(32768 / P) / p32)]
i = -sum(s * (b - 1) for b, s in pts) / sum(s * s for b, s in pts)
print(max(0, round(i) - 1))'
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

echo "## 1. Bound: pe.dsd_issue_cycles=0 (cycles; paper 16K $paper16, 32K $paper32)"
echo
echo "| P | cycles/hop | 16K cycles | 32K cycles | can reproduce |"
echo "|---|---|---|---|---|"
cells=()
declare -A bound
for P in $meshes; do
  for hop in $hops; do
    row="| $P | $hop |"
    ok=yes
    for K in 16384 32768; do
      j=$(run "$P" "$K" "$hop" 0)
      if [[ $j == nofit ]]; then row+=" does not fit SRAM |"; ok="no (SRAM)"; continue; fi
      c=$(field "$j" simulated_cycles)
      bound[$P:$hop:$K]=$c
      row+=" $c |"
      paper=$([[ $K == 16384 ]] && echo $paper16 || echo $paper32)
      if [[ $ok == yes ]] && (( c > paper )); then ok="no (bound > paper)"; fi
    done
    echo "$row $ok |"
    [[ $ok == yes ]] && cells+=("$P:$hop")
  done
done
echo
if (( ${#cells[@]} == 0 )); then echo "no (P, hop) can reproduce the paper's pair"; exit 1; fi

echo "## 2. Grid over pe.dsd_issue_cycles (cycles, relative error vs the paper)"
echo
echo "| P | cycles/hop | dsd_issue_cycles | 16K cycles (us) | err | 32K cycles (us) | err | RMS err |"
echo "|---|---|---|---|---|---|---|---|"
best=""
for cell in "${cells[@]}"; do
  P=${cell%%:*}
  hop=${cell##*:}
  grid=$issues
  if [[ $grid == auto ]]; then
    grid=$(seq "$(python3 -c "$fit_start" "$P" "${bound[$P:$hop:16384]}" "${bound[$P:$hop:32768]}" "$paper16" "$paper32")" 1000)
  fi
  for issue in $grid; do
    j16=$(run "$P" 16384 "$hop" "$issue")
    j32=$(run "$P" 32768 "$hop" "$issue")
    line=$(python3 - "$j16" "$j32" "$paper16" "$paper32" <<'EOF'
import json, math, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
p16, p32 = float(sys.argv[3]), float(sys.argv[4])
e16 = a["simulated_cycles"] / p16 - 1
e32 = b["simulated_cycles"] / p32 - 1
rms = math.sqrt((e16 * e16 + e32 * e32) / 2)
print(f'{a["simulated_cycles"]} ({a["simulated_microseconds"]:.3f}) | {e16:+.1%} | '
      f'{b["simulated_cycles"]} ({b["simulated_microseconds"]:.3f}) | {e32:+.1%} | {rms:.1%}\t{rms}')
EOF
)
    echo "| $P | $hop | $issue | ${line%%$'\t'*} |"
    rms=${line##*$'\t'}
    if [[ -z $best ]] || python3 -c "import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))" "$rms" "${best%% *}"
    then best="$rms P=$P cycles/hop=$hop pe.dsd_issue_cycles=$issue"; fi
    # Past the minimum (cycles grow with the issue cost): stop this cell once the error grows again.
    if [[ -n ${prev_rms:-} ]] && python3 -c "import sys; sys.exit(not float(sys.argv[1]) > float(sys.argv[2]))" \
        "$rms" "$prev_rms"; then prev_rms=""; break; fi
    prev_rms=$rms
  done
  prev_rms=""
done
echo
echo "best: ${best#* } (RMS relative error $(python3 -c "import sys; print(f'{float(sys.argv[1]):.1%}')" "${best%% *}"))"
echo "hop latency H is set as router.router_latency=H-1 with router.link_latency=1; results in $out"
