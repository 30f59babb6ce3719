#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Compiles every src/cuda/*.cu into OUT_DIR/<name>.fatbin (SASS sm_80 + sm_90, PTX compute_75 for the driver's JIT)
# and fails if ptxas reports a register spill. Usage: build-cuda.sh OUT_DIR [REPORT_FILE]. Without nvcc: skips, exit 0.
set -euo pipefail
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:?usage: build-cuda.sh OUT_DIR [REPORT_FILE]}"
REPORT="${2:-$OUT/ptxas/report.txt}"
LOGS="$(dirname "$REPORT")"   # per-file ptxas -v logs beside the report, kept out of OUT (the jar)
NVCC="${NVCC:-}"
if [ -z "$NVCC" ]; then
  if command -v nvcc >/dev/null 2>&1; then NVCC=nvcc; elif [ -x /usr/local/cuda/bin/nvcc ]; then NVCC=/usr/local/cuda/bin/nvcc; fi
fi
if [ -z "$NVCC" ]; then
  echo "build-cuda: nvcc not found; CUDA kernels are not built (the CUDA backend will say so)"
  exit 0
fi

ARCH=(-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_75,code=compute_75)
mkdir -p "$OUT" "$LOGS"
built=0
for cu in "$SRC"/cuda/*.cu; do
  name=$(basename "$cu" .cu)
  fatbin="$OUT/$name.fatbin"
  log="$LOGS/$name.ptxas.log"
  if [ -f "$fatbin" ] && [ -f "$log" ] && [ "$fatbin" -nt "$cu" ] && [ "$fatbin" -nt "$SRC/cuda/common.cuh" ] \
     && [ "$fatbin" -nt "${BASH_SOURCE[0]}" ]; then
    continue
  fi
  extra=()
  # Philox normals must match the Java stream bit for bit: never contract a*b+c (the source also uses __f*_rn).
  [ "$name" = philox ] && extra=(-fmad=false)
  if ! "$NVCC" -std=c++17 -O3 "${ARCH[@]}" "${extra[@]}" -Xptxas -v -I "$SRC/cuda" -fatbin -o "$fatbin.tmp" "$cu" \
       > "$log" 2>&1; then
    cat "$log" >&2
    rm -f "$fatbin.tmp"
    echo "build-cuda: nvcc failed on $cu" >&2
    exit 1
  fi
  if grep -E 'bytes spill (stores|loads)' "$log" | grep -vqE '\b0 bytes spill stores, 0 bytes spill loads'; then
    grep -E "Compiling entry|spill" "$log" >&2
    rm -f "$fatbin.tmp"
    echo "build-cuda: ptxas reports register spills in $cu (see above); the build refuses spilling kernels" >&2
    exit 1
  fi
  mv -f "$fatbin.tmp" "$fatbin"
  built=$((built + 1))
done
# One summary: registers, shared memory and spills per kernel and target, from the ptxas logs.
for log in "$LOGS"/*.ptxas.log; do
  awk '/Compiling entry function/ { match($0, /_?[a-z0-9_]+'"'"' for '"'"'sm_[0-9]+/); fn = substr($0, RSTART, RLENGTH); gsub("'"'"'", "", fn) }
       /spill stores/ { sp = $0; sub(/.*: /, "", sp) }
       /Used [0-9]+ registers/ { r = $0; sub(/.*: /, "", r); print fn ": " r " | " sp }' "$log"
done > "$REPORT"
echo "build-cuda: $built fatbin(s) rebuilt in $OUT; ptxas summary in $REPORT"
