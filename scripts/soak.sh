#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Soak run (issue 7, not in CI): trains, samples and checkpoints a small U-Net for N minutes while logging resident
# memory (VmRSS), JVM native memory (NMT) and live tensor bytes to <out>/soak.csv, then prints growth after warm-up.
#   scripts/soak.sh --minutes 10 [--out soak-run] [--device cpu] [--data-dir DIR] [--every-seconds 10] [--threads 2]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
threads=2
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    -h|--help) sed -n '3,5p' "$0"; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done
"$ROOT/ddpm" --version >/dev/null   # builds diffusion/target/ddpm.jar if sources changed
# A fixed, pre-touched heap (Xms = Xmx, AlwaysPreTouch) keeps heap growth out of the RSS curve; NMT summary costs ~1% and gives the native figure.
exec "$JAVA_HOME/bin/java" $DDPM4J_JVM_FLAGS -Xms512m -Xmx512m -XX:+AlwaysPreTouch -XX:NativeMemoryTracking=summary \
  -Dddpm4j.threads="$threads" -cp "$ROOT/diffusion/target/ddpm.jar" ddpm4j.diffusion.Soak "${args[@]}"
