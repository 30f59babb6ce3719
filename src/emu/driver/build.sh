#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds the emulated libcuda / libcublas / libcudnn (tests only) into $1; skips libraries newer than their sources.
set -eu
out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
inc=${CUDA_HOME:-/usr/local/cuda}/include
if ! command -v gcc >/dev/null 2>&1; then echo "emu driver: gcc not found, emulated CUDA tests will be skipped"; exit 0; fi
if [ ! -f "$inc/cuda.h" ]; then echo "emu driver: $inc/cuda.h not found, emulated CUDA tests will be skipped"; exit 0; fi
mkdir -p "$out"
build() {  # name source extra-flags
  lib="$out/libddpm4j_emu_$1.so"
  if [ -f "$lib" ] && [ "$lib" -nt "$here/$2" ] && [ "$lib" -nt "$here/build.sh" ]; then return 0; fi
  gcc -std=c11 -O2 -g -fPIC -shared -fvisibility=hidden -Wall -Wextra -Werror -Wno-format-truncation -I"$inc" -o "$lib.tmp" "$here/$2" $3
  mv "$lib.tmp" "$lib"
  echo "emu driver: built $lib"
}
build cuda emu_cuda.c "-ldl -lpthread"
build cublas emu_cublas.c ""
build cudnn emu_cudnn.c ""
