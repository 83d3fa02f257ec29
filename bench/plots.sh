#!/usr/bin/env bash
# bench/plots.sh: the kernel sweep behind docs/reproduction.md: runs `wafersim bench gemv` and `bench gemm`
# (--timing-only --json) over mesh sides, then draws cycles vs mesh side per kernel family (gnuplot, PNG) and writes
# the tables as markdown. Installs nothing: needs gnuplot (Debian: apt-get install -y gnuplot-nox) and python3.
#
#   bench/plots.sh [BUILD_DIR]        (after a build; BUILD_DIR defaults to build)
#
# Environment (all optional; a series set to " " is skipped and its figure not drawn):
#   OUT          directory of the JSON results and tables.md (default BUILD_DIR/sweep); results already there are
#                reused, so a rerun only draws
#   IMG          directory of the PNGs (default docs/img)
#   GEMV_WEAK    mesh sides of the GEMV weak-scaling series, 32x32 blocks: K = N = 32P (default "8 16 32 64 128 256 512")
#   GEMV_16K     mesh sides of the GEMV 16K series, K = N = 16384 (default "128 256 360 512")
#   RING_MAX     largest mesh side for the ring GEMV (slow: 2(P-1) steps; default 360)
#   GEMM_MESHES  mesh sides of the GEMM series, 4x4 blocks: M = K = N = 4P (default "4 8 16 32 64 128 256")
#   GEMM1_MESHES mesh sides of the GEMM series with 1x1 blocks: M = K = N = P (default "4 8 16 32 64 128 256")
# The big points take minutes each (512x512 GEMV, 256x256 GEMM); they run one at a time.
set -euo pipefail
build=${1:-build}
exe=$build/wafersim
[[ -x $exe ]] || { echo "plots.sh: $exe not found: build first (cmake --build $build --target wafersim)" >&2; exit 2; }
command -v gnuplot > /dev/null || { echo "plots.sh: gnuplot not found (apt-get install -y gnuplot-nox)" >&2; exit 2; }
out=${OUT:-$build/sweep}
img=${IMG:-docs/img}
mkdir -p "$out" "$img"
gemv_weak=${GEMV_WEAK:-8 16 32 64 128 256 512}
gemv_16k=${GEMV_16K:-128 256 360 512}
ring_max=${RING_MAX:-360}
gemm_meshes=${GEMM_MESHES:-4 8 16 32 64 128 256}
gemm1_meshes=${GEMM1_MESHES:-4 8 16 32 64 128 256}

# bench KIND ALGO P K(size) -> runs once, JSON at $out/KIND_ALGO_P_K.json
bench() {
  local kind=$1 algo=$2 P=$3 S=$4
  local json=$out/${kind}_${algo}_${P}_${S}.json
  [[ -s $json ]] && return
  echo "plots.sh: bench $kind --algo $algo --mesh ${P}x${P} size $S" >&2
  if [[ $kind == gemv ]]; then
    "$exe" bench gemv --algo "$algo" --mesh "${P}x${P}" --k "$S" --n "$S" --timing-only --quiet --json "$json" > /dev/null
  else
    "$exe" bench gemm --algo "$algo" --mesh "${P}x${P}" --m "$S" --k "$S" --n "$S" --timing-only --quiet \
      --json "$json" > /dev/null
  fi
}

for P in $gemv_weak; do
  for algo in mesh pipeline ring; do
    (( P > ring_max )) && [[ $algo == ring ]] && continue
    bench gemv "$algo" "$P" $((32 * P))
  done
done
for P in $gemv_16k; do
  for algo in mesh pipeline ring; do
    (( P > ring_max )) && [[ $algo == ring ]] && continue
    bench gemv "$algo" "$P" 16384
  done
done
for P in $gemm1_meshes; do
  for algo in mesh cannon summa; do bench gemm "$algo" "$P" "$P"; done
done
for P in $gemm_meshes; do
  for algo in mesh cannon summa; do bench gemm "$algo" "$P" $((4 * P)); done
done

# Data files (one per series: P cycles) and the markdown tables.
python3 - "$out" "$gemv_weak" "$gemv_16k" "$gemm_meshes" "$gemm1_meshes" <<'EOF'
import json, os, sys
out, weak, k16, gemm, gemm1 = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4].split(), sys.argv[5].split()
def load(kind, algo, P, S):
    f = f"{out}/{kind}_{algo}_{P}_{S}.json"
    return json.load(open(f)) if os.path.exists(f) else None
md = []
def series(name, kind, algos, meshes, size, base):
    md.append(f"### {name}\n")
    md.append("| P | size | " + " | ".join(f"{a} cycles (us, eff., comm)" for a in algos) + " | " +
              " | ".join(f"{a} / {base}" for a in algos if a != base) + " |")
    md.append("|---|---|" + "---|" * (2 * len(algos) - 1))
    for P in meshes:
        S = size(int(P))
        rows = {a: load(kind, a, P, S) for a in algos}
        cells = []
        for a in algos:
            j = rows[a]
            cells.append("-" if j is None else f'{j["simulated_cycles"]} ({j["simulated_microseconds"]:.2f}, '
                         f'{j["compute_efficiency"]:.3f}, {j["comm_share"]:.2f})')
        ratios = []
        for a in algos:
            if a == base: continue
            ratios.append("-" if rows[a] is None or rows[base] is None
                          else f'{rows[a]["simulated_cycles"] / rows[base]["simulated_cycles"]:.2f}x')
        md.append(f"| {P} | {S} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
        for a in algos:
            with open(f"{out}/{name.split()[0]}_{a}.dat", "a") as d:
                if rows[a] is not None: d.write(f'{P} {rows[a]["simulated_cycles"]}\n')
    md.append("")
for f in os.listdir(out):
    if f.endswith(".dat"): os.remove(f"{out}/{f}")
series("gemv-weak (K = N = 32P, 32x32 blocks)", "gemv", ["mesh", "pipeline", "ring"], weak, lambda P: 32 * P, "mesh")
series("gemv-16k (K = N = 16384)", "gemv", ["mesh", "pipeline", "ring"], k16, lambda P: 16384, "mesh")
series("gemm (M = K = N = 4P, 4x4 blocks)", "gemm", ["mesh", "cannon", "summa"], gemm, lambda P: 4 * P, "mesh")
series("gemm1 (M = K = N = P, 1x1 blocks)", "gemm", ["mesh", "cannon", "summa"], gemm1, lambda P: P, "mesh")
md.append("Host seconds and peak RSS per run:\n")
md.append("| run | host s | peak RSS MiB |")
md.append("|---|---|---|")
for f in sorted(os.listdir(out)):
    if f.endswith(".json"):
        j = json.load(open(f"{out}/{f}"))
        md.append(f'| {f[:-5]} | {j["host_seconds"]:.1f} | {j["peak_rss_bytes"] / 2**20:.0f} |')
open(f"{out}/tables.md", "w").write("\n".join(md) + "\n")
EOF

plot() {  # PNG TITLE SERIES ALGOS...
  local png=$1 title=$2 series=$3
  shift 3
  local cmd="" sep=""
  for a in "$@"; do
    [[ -s $out/${series}_$a.dat ]] || continue
    cmd+="$sep'$out/${series}_$a.dat' using 1:2 with linespoints lw 2 pt 7 title '$a'"
    sep=", "
  done
  [[ -z $cmd ]] && { echo "plots.sh: no data for $png (series not run)" >&2; return; }
  [[ -n ${PAPER_LINE:-} ]] && cmd+="$sep$PAPER_LINE"
  gnuplot <<EOF
set terminal pngcairo size 900,520 font 'DejaVu Sans,11'
set output '$png'
set title '$title'
set xlabel 'mesh side P (P x P PEs)'
set ylabel 'cycles'
set logscale x 2
set logscale y 10
set offsets graph 0.05, graph 0.05, 0, 0
set grid xtics ytics mytics
set key outside right top
plot $cmd
EOF
  echo "plots.sh: wrote $png" >&2
}
PAPER_LINE="1320 with lines dt 2 lc rgb 'black' title 'paper MeshGEMV 16K (1320 cycles)'" \
  plot "$img/gemv-16k.png" "GEMV y = x W, K = N = 16384 (WSE-2 preset)" gemv-16k mesh pipeline ring
plot "$img/gemv-weak.png" "GEMV, 32x32 blocks per PE (K = N = 32P)" gemv-weak mesh pipeline ring
plot "$img/gemm.png" "GEMM C = A B, 4x4 blocks per PE (M = K = N = 4P)" gemm mesh cannon summa
plot "$img/gemm-1x1.png" "GEMM C = A B, 1x1 blocks per PE (M = K = N = P)" gemm1 mesh cannon summa
echo "plots.sh: tables in $out/tables.md" >&2
