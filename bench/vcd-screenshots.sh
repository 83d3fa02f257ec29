#!/usr/bin/env bash
# bench/vcd-screenshots.sh: the two waveforms of docs/reproduction.md ("What a VCD shows"): a 4x4 MeshGEMM (one
# row of PEs, one compute-shift step in view) and a K-tree allreduce along a 9-PE row, written with `--vcd`, opened in
# GTKWave under Xvfb with a compact save file beside each VCD (E, W and RAMP output ports: valid and colour), and
# captured as PNGs in docs/img/.
# Installs nothing: needs gtkwave, xvfb-run and ImageMagick's import (Debian: apt-get install -y gtkwave xvfb
# imagemagick). Not for CI.
#
#   bench/vcd-screenshots.sh [BUILD_DIR]        (after a build; BUILD_DIR defaults to build)
#
# Environment: OUT (VCDs and save files; default BUILD_DIR/vcd), IMG (PNGs; default docs/img).
set -euo pipefail
build=${1:-build}
exe=$build/wafersim
[[ -x $exe ]] || { echo "vcd-screenshots.sh: $exe not found: build first" >&2; exit 2; }
for tool in gtkwave xvfb-run import; do
  command -v $tool > /dev/null || { echo "vcd-screenshots.sh: $tool not found (apt-get install -y gtkwave xvfb imagemagick)" >&2; exit 2; }
done
out=$(realpath -m "${OUT:-$build/vcd}")
img=${IMG:-docs/img}
mkdir -p "$out" "$img"

"$exe" bench gemm --algo mesh --mesh 4x4 --m 16 --k 16 --n 16 --quiet \
  --vcd "$out/meshgemm-4x4.vcd" --trace-region 0,0,3,0 --json "$out/meshgemm-4x4.json" > /dev/null
"$exe" bench allreduce --algo ktree --axis x --mesh 9x1 --levels 2 --groups 3 --len 8 --quiet \
  --vcd "$out/ktree-9x1.vcd" --trace-region 0,0,8,0 --json "$out/ktree-9x1.json" > /dev/null

# view VCD PES T0_CYCLE T1_CYCLE -> VCD's -view.gtkw: per PE of the row, the W, E and RAMP output ports (valid and
# colour), zoomed to [T0, T1] (a 1600-pixel GTKWave window spans about 5 * 2^-zoom time units; the VCD counts in ps, a cycle is
# 1e12 / clock_hz ps).
view() {
  python3 - "$@" <<'EOF'
import math, os, sys
vcd, pes, t0, t1 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
ps = 1e12 / 1.1e9
lines = [f'[dumpfile] "{os.path.basename(vcd)}"', f"[timestart] {int(t0 * ps)}", "[size] 1600 1600", "[sst_width] 1", "[signals_width] 260",
         f"*{-math.log2((t1 - t0) * ps / 5):.4f} 0 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1"]
for x in range(pes):
    lines += ["@200", f"-PE ({x},0)"]
    for port in ("W", "E", "RAMP"):
        lines += ["@28", f"+{{{port} valid}} SystemC.pe_{x}_0.{port}.valid",
                  "@24", f"+{{{port} colour}} SystemC.pe_{x}_0.{port}.color[4:0]"]
open(vcd[:-4] + "-view.gtkw", "w").write("\n".join(lines) + "\n")
EOF
}
# MeshGEMM: the first step and the start of the second (steps are ~140 cycles; the blocks leave at cycle ~20).
# K-tree: the whole allreduce.
view "$out/meshgemm-4x4.vcd" 4 0 185
end=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['simulated_cycles'])" "$out/ktree-9x1.json")
view "$out/ktree-9x1.vcd" 9 0 $((end + 5))

# GTKWave runs in the VCD's directory on relative names, so its window title names the file, not this checkout's path.
shot() {  # VCD PNG HEIGHT (rows of the screen kept; PNG absolute or relative to the current directory)
  local vcd=$1 png=$2 height=$3
  xvfb-run -a -s "-screen 0 1600x1600x24" bash -c "
    cd '$(dirname "$vcd")'
    gtkwave -a '$(basename "${vcd%.vcd}")-view.gtkw' '$(basename "$vcd")' > /dev/null 2>&1 &
    pid=\$!
    sleep 6
    import -window root -crop 1600x$height+0+0 +repage '$(realpath -m "$png")'
    kill \$pid"
  echo "vcd-screenshots.sh: wrote $png" >&2
}
shot "$out/meshgemm-4x4.vcd" "$img/gtkwave-meshgemm-4x4.png" 820
shot "$out/ktree-9x1.vcd" "$img/gtkwave-ktree-9x1.png" 1600
