#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The GPU benchmark command: the JMH suite on the CUDA backend, EndToEnd's sampling runs on it and the PyTorch peer on
# the same GPU (bench/pytorch/peer.py --device cuda, PyTorch 2.x with CUDA), each ddpm4j part followed by the peer's,
# then bench/RESULTS-cuda.md and bench/ratios-cuda.png (Report --backend cuda). Needs an NVIDIA GPU with its driver,
# cuBLAS and cuDNN, and ddpm4j-kernels built where nvcc exists (the fatbins).
set -euo pipefail
usage() {
  cat <<'USAGE'
usage: bench/run-cuda.sh [--quick] [--tf32] [--no-peer] [--out-dir DIR]
  --quick        smoke run (1 short iteration each, 5 sampling steps)
  --tf32         both sides with TF32 tensor-core math for GEMM and convolutions (default: full FP32)
  --no-peer      skip PyTorch
  --out-dir DIR  write RESULTS-cuda.md and ratios-cuda.png there (default: bench/)
environment: PYTHON (a python3 whose torch sees the GPU; default python3), BENCH_CP and JAVA (a prebuilt class path
and java to use instead of building with Maven)
USAGE
}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIG_ARGS="$*"
QUICK=0; TF32=0; PEER=1; DEST="$ROOT/bench"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --tf32) TF32=1 ;;
    --no-peer) PEER=0 ;;
    --out-dir) DEST="$2"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench/run-cuda.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
OUT="$ROOT/bench/target/results-cuda"
mkdir -p "$OUT" "$DEST"
log() { echo "[bench-cuda $(date -u +%H:%M:%S)] $*" >&2; }
if [ -n "${BENCH_CP:-}" ]; then
  CP="$BENCH_CP"; JAVA="${JAVA:?BENCH_CP needs JAVA (a JDK 25 java)}"
else
  source "$ROOT/scripts/env.sh"
  log "building (mvn -pl bench -am install -DskipTests)"
  (cd "$ROOT" && mvn -B -q -pl bench -am install -DskipTests) >&2
  CP="$ROOT/bench/target/benchmarks.jar"; JAVA="$JAVA_HOME/bin/java"
fi
JFLAGS="--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC"
TFLAG=""; PEER_ARGS=(--device cuda)
if [ $TF32 = 1 ]; then TFLAG="-Dddpm4j.cuda.tf32=true"; PEER_ARGS+=(--tf32); fi
# shellcheck disable=SC2086
CUDA_DESC=$("$JAVA" $JFLAGS -cp "$CP" ddpm4j.bench.EndToEnd --probe cuda 2>/dev/null) \
  || { echo "bench/run-cuda.sh: the CUDA backend cannot run here: $CUDA_DESC" >&2; exit 1; }
PY="${PYTHON:-python3}"
if [ $PEER = 1 ] && ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  log "$PY has no PyTorch that sees a GPU: skipping the peer (set PYTHON)"; PEER=0
fi
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null || echo '?')"
  echo "cuda backend: $CUDA_DESC"
  echo "host: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; java: $("$JAVA" -version 2>&1 | head -1)"
  echo "math: $([ $TF32 = 1 ] && echo 'TF32 tensor cores for GEMM and convolutions (both sides)' || echo 'full FP32 (both sides)')"
} > "$OUT/machine.txt"

JMH=(-rf json -f 1 -p backend=cuda -jvmArgsAppend "$JFLAGS $TFLAG")
SAMPLING=(--full-sampling)
if [ $QUICK = 1 ]; then JMH+=(-wi 1 -i 1 -w 200ms -r 200ms); SAMPLING=(--quick); PEER_ARGS+=(--quick)
else JMH+=(-wi 3 -i 5 -w 500ms -r 500ms); PEER_ARGS+=(--full-sampling); fi
rm -f "$OUT"/*.json
peer() {
  [ $PEER = 1 ] || return 0
  log "PyTorch on the GPU, $1"
  PYTHONUNBUFFERED=1 "$PY" "$ROOT/bench/pytorch/peer.py" --part "$1" "${PEER_ARGS[@]}" > "$OUT/peer-$1.json" 2> "$OUT/peer-$1.log" \
    || { tail -20 "$OUT/peer-$1.log" >&2; log "peer ($1) failed; its rows have no ratios"; rm -f "$OUT/peer-$1.json"; }
}
log "JMH on cuda: kernels and layers"
"$JAVA" $JFLAGS -cp "$CP" org.openjdk.jmh.Main '(Gemm|Conv2d|GroupNorm|Attention|QSample|AncestralStep|Adam)Bench' "${JMH[@]}" \
  -rff "$OUT/jmh-ops.json" > "$OUT/jmh-ops.log" 2>&1 || { tail -30 "$OUT/jmh-ops.log" >&2; exit 1; }
peer ops
log "JMH on cuda: U-Net and DDPM steps"
"$JAVA" $JFLAGS -cp "$CP" org.openjdk.jmh.Main '(UNet|TrainStep|SampleStep)Bench' "${JMH[@]}" \
  -rff "$OUT/jmh-models.json" > "$OUT/jmh-models.log" 2>&1 || { tail -30 "$OUT/jmh-models.log" >&2; exit 1; }
peer models
log "EndToEnd on cuda: DDIM-50 and 1000-step sampling"
# shellcheck disable=SC2086
"$JAVA" $JFLAGS $TFLAG -cp "$CP" ddpm4j.bench.EndToEnd --backend cuda "${SAMPLING[@]}" --out "$OUT/e2e.json" \
  2> "$OUT/e2e.log" || { tail -30 "$OUT/e2e.log" >&2; exit 1; }
peer end2end
"$JAVA" -Djava.awt.headless=true -cp "$CP" ddpm4j.bench.Report --backend cuda --jmh "$OUT/jmh-ops.json,$OUT/jmh-models.json" \
  --peer "$OUT/peer-ops.json,$OUT/peer-models.json,$OUT/peer-end2end.json" --e2e "$OUT/e2e.json" \
  --md "$DEST/RESULTS-cuda.md" --png "$DEST/ratios-cuda.png" --machine "$OUT/machine.txt" --command "bench/run-cuda.sh ${ORIG_ARGS}"
log "wrote $DEST/RESULTS-cuda.md and $DEST/ratios-cuda.png"
sed -n '/^## Training and sampling/,/^## Kernels/p' "$DEST/RESULTS-cuda.md" | head -n -1
