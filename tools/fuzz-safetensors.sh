#!/bin/sh
# Builds and runs the libFuzzer target for the safetensors header parser (clang from Debian, ASan + UBSan).
#   tools/fuzz-safetensors.sh [SECONDS]      default 600; extra libFuzzer flags via FUZZ_FLAGS
# Work corpus: build-fuzz/corpus (seeded from models/fuzz/corpus, which stays small: add a file there only when
# it reproduces a finding). Crash inputs land in build-fuzz/ as crash-*.
set -eu
cd "$(dirname "$0")/.."
seconds="${1:-600}"
out=build-fuzz
mkdir -p "$out/corpus"
CXX="${CXX:-clang++}"
"$CXX" -std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I. models/fuzz/safetensors_fuzz.cpp models/safetensors.cpp -o "$out/safetensors_fuzz"
cp -n models/fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
cd "$out"
exec nice -n 10 ./safetensors_fuzz -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -dict=../models/fuzz/safetensors.dict -print_final_stats=1 ${FUZZ_FLAGS:-} corpus
