#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The one benchmark command (issues 2, 3, 6): builds, measures the machine's peaks (PeakProbe), runs the JMH suite,
# the end-to-end runs (DDIM-50, 1000-step sampling, peak memory, training-step profile) and the PyTorch 1.13 peer on
# the same machine in the same run (each ddpm4j part followed by the peer's same part, so both see similar load), then
# writes bench/RESULTS.md, bench/ratios.png and the regression check against bench/baseline.json.
set -euo pipefail
usage() {
  cat <<'USAGE'
usage: bench/run.sh [--quick] [--light] [--update-baseline] [--full-sampling] [--no-peer] [--jmh 'EXTRA JMH ARGS']
  --quick            smoke run (1 short iteration each, 5 sampling steps); writes bench/target/results/RESULTS-quick.md
                     instead of bench/RESULTS.md
  --light            fewer repetitions of the U-Net-level benchmarks and 30 s sampling budgets (chosen by itself
                     when the load average at the start exceeds the core count)
  --update-baseline  store this run's JMH minimum times as bench/baseline.json (after comparing with the old one)
  --full-sampling    run all 1000 ancestral steps on both sides (default: the first 100, scaled by 10)
  --no-peer          skip PyTorch
  --jmh ARGS         extra arguments for JMH (a benchmark regex, -p backend=cuda, ...)
USAGE
}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIG_ARGS="$*"
QUICK=0; LIGHT=0; UPDATE=0; FULL=0; PEER=1; JMH_EXTRA=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --update-baseline) UPDATE=1 ;;
    --light) LIGHT=1 ;;
    --full-sampling) FULL=1 ;;
    --no-peer) PEER=0 ;;
    --jmh) JMH_EXTRA="$2"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench/run.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
source "$ROOT/scripts/env.sh"
OUT="$ROOT/bench/target/results"
mkdir -p "$OUT"
log() { echo "[bench $(date -u +%H:%M:%S)] $*" >&2; }

# Best setting of both sides on this machine (TOOLCHAIN.md): OpenBLAS's own CPU detection (AVX-512 kernels), one
# OpenBLAS thread (ddpm4j splits GEMMs over its own pool; PyTorch parallelises with OpenMP), 2 PyTorch threads.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OPENBLAS_NUM_THREADS=1
# On a shared machine, OpenMP threads that spin at barriers while their partner is descheduled cost PyTorch 3-4x
# (measured here: conv3x3 forward 139 ms spinning vs 43 ms passive at load 15); give it the passive policy then.
OMP_NOTE=""
if [ -z "${OMP_WAIT_POLICY:-}" ] && awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$(nproc)" 'BEGIN { exit !(l > n) }'; then
  export OMP_WAIT_POLICY=PASSIVE
  OMP_NOTE=" OMP_WAIT_POLICY=PASSIVE (the machine was loaded at the start; PyTorch's OpenMP threads lose 3-4x spinning)"
fi
if awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$(nproc)" 'BEGIN { exit !(l > n) }'; then LIGHT=1; fi

JAR="$ROOT/bench/target/benchmarks.jar"
BUILD_NOTE=""
log "building (mvn -pl bench -am install -DskipTests)"
# -Dmaven.test.skip=true on a second try: a test another engineer is still writing must not stop a benchmark run
if ! (cd "$ROOT" && mvn -B -q -pl bench -am install -DskipTests) >&2 \
   && ! (cd "$ROOT" && mvn -B -q -pl bench -am install -Dmaven.test.skip=true) >&2; then
  [ -f "$JAR" ] || { echo "bench/run.sh: the build failed and there is no earlier benchmarks.jar" >&2; exit 1; }
  BUILD_NOTE="the build failed (the working tree did not compile); this run used the earlier $JAR of $(date -u -r "$JAR" '+%H:%M UTC')"
  log "WARNING: $BUILD_NOTE"
fi
JAVA="$JAVA_HOME/bin/java"
# the `ddpm` launcher's JVM flags (scripts/env.sh), so the end-to-end runs and their memory are what users get
JFLAGS="$DDPM4J_JVM_FLAGS"

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores available, $(free -g | awk '/^Mem:/{print $2}') GiB RAM"
  echo "os: $(uname -sr); java: $("$JAVA" -version 2>&1 | head -1)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ -n "$BUILD_NOTE" ]; then echo "WARNING: $BUILD_NOTE"; fi
  echo "env for the run: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, OPENBLAS_NUM_THREADS=1${OMP_NOTE}"
  if [ $LIGHT = 1 ]; then
    echo "light mode (loaded machine): U-Net-level benchmarks 5 warm-up + 2 measured JMH iterations (PyTorch: 1 warm-up + 2 calls); sampling loops stop after 30 s (3 steps at least); profile over 1 step after 5 warm-up steps"
  fi
} > "$OUT/machine.txt"

# the forks run with the `ddpm` launcher's JVM flags (ParallelGC, a small young generation), as users run
JMH_ARGS=(-rf json -jvmArgsAppend "$JFLAGS")
# shellcheck disable=SC2086
if CUDA_DESC=$("$JAVA" $JFLAGS -cp "$JAR" ddpm4j.bench.EndToEnd --probe cuda 2>/dev/null); then
  log "CUDA backend present ($CUDA_DESC): JMH runs every benchmark on cpu and cuda"
  JMH_ARGS+=(-p backend=cpu,cuda)
  echo "cuda: $CUDA_DESC" >> "$OUT/machine.txt"
else
  echo "cuda: not available here ($CUDA_DESC)" >> "$OUT/machine.txt"
fi
# BENCH_OPS / BENCH_FUSED / BENCH_MODELS (JMH regexes) and BENCH_ONLY (the peer's and EndToEnd's --only) narrow a
# development run. The fused update kernels run on their own between two bandwidth probes: this machine's memory
# bandwidth moves within minutes (33 to 54 GB/s on one day), so a kernel is rated against a probe taken next to it.
OPS="${BENCH_OPS:-(Gemm|Conv2d|GroupNorm|Attention)Bench}"
FUSED="${BENCH_FUSED:-(QSample|AncestralStep|Adam)Bench}"
MODELS="${BENCH_MODELS:-(UNet|TrainStep|SampleStep)Bench}"
MODEL_ARGS=()
if [ $QUICK = 1 ]; then
  JMH_ARGS+=(-f 1 -wi 1 -i 1 -w 200ms -r 200ms -p n=512 -p p=1048576)
elif [ $LIGHT = 1 ]; then
  # a U-Net step takes tens of seconds on a loaded machine; 2 measured iterations (after the classes' 5 warm-up
  # iterations: the steady state of a training run) keep the run under an hour
  MODEL_ARGS+=(-i 2)
fi
E2E_ARGS=(--out "$OUT/e2e.json" --launcher-flags "$DDPM4J_JVM_FLAGS")
PEER_ARGS=()
if [ $QUICK = 1 ]; then E2E_ARGS+=(--quick); PEER_ARGS+=(--quick); fi
if [ -n "${BENCH_ONLY:-}" ]; then E2E_ARGS+=(--only "$BENCH_ONLY"); PEER_ARGS+=(--only "$BENCH_ONLY"); fi
if [ $FULL = 1 ]; then E2E_ARGS+=(--full-sampling); PEER_ARGS+=(--full-sampling); fi
if [ $LIGHT = 1 ] && [ $QUICK = 0 ]; then E2E_ARGS+=(--budget 30 --profile-steps 1); PEER_ARGS+=(--sampling-budget 30 --model-reps 2); fi

rm -f "$OUT"/peer-*.json "$OUT"/jmh-*.json "$OUT/e2e.json" "$OUT"/peaks*.json
if [ $PEER = 1 ] && ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "PyTorch missing: apt-get install python3-torch"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch libopenblas0-pthread) >&2 || true
  fi
  if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    log "PyTorch 1.13 (python3-torch) is not installed and could not be installed: skipping the peer"
    PEER=0
  fi
fi
# The peer's part runs right after ddpm4j's same part, so both see about the same load on a shared machine.
peer() {
  [ $PEER = 1 ] || return 0
  log "PyTorch peer, $1 (bench/target/results/peer-$1.log)"
  /usr/bin/python3 "$ROOT/bench/pytorch/peer.py" --part "$1" "${PEER_ARGS[@]}" > "$OUT/peer-$1.json" 2> "$OUT/peer-$1.log" \
    || { tail -20 "$OUT/peer-$1.log" >&2; log "PyTorch peer ($1) failed; its rows have no ratios"; rm -f "$OUT/peer-$1.json"; }
}

# The machine's peaks now, under this run's load (a few seconds): Report rates kernels against them.
log "peak probe: FMA (1 and 2 threads) and STREAM triad (2 threads)"
PROBE_ARGS=(--out "$OUT/peaks.json")
if [ $QUICK = 1 ]; then PROBE_ARGS+=(--quick); fi
# shellcheck disable=SC2086
"$JAVA" $JFLAGS -cp "$JAR" ddpm4j.bench.PeakProbe "${PROBE_ARGS[@]}" 2> "$OUT/peaks.log" \
  || { tail -5 "$OUT/peaks.log" >&2; log "peak probe failed: percentages use TOOLCHAIN.md's figures"; rm -f "$OUT/peaks.json"; }
grep -h '^peak probe' "$OUT/peaks.log" >&2 || true

log "JMH suite, kernels and layers (bench/target/results/jmh-ops.log)"
# shellcheck disable=SC2086
"$JAVA" -jar "$JAR" "$OPS" "${JMH_ARGS[@]}" -rff "$OUT/jmh-ops.json" $JMH_EXTRA > "$OUT/jmh-ops.log" 2>&1 \
  || { tail -30 "$OUT/jmh-ops.log" >&2; exit 1; }
fused_probe() {
  # shellcheck disable=SC2086
  "$JAVA" $JFLAGS -cp "$JAR" ddpm4j.bench.PeakProbe --quick --out "$OUT/peaks-fused-$1.json" 2>> "$OUT/peaks.log" \
    || { log "bandwidth probe ($1 the fused kernels) failed"; rm -f "$OUT/peaks-fused-$1.json"; }
}
log "JMH suite, fused update kernels between two bandwidth probes (bench/target/results/jmh-fused.log)"
fused_probe before
# shellcheck disable=SC2086
"$JAVA" -jar "$JAR" "$FUSED" "${JMH_ARGS[@]}" -rff "$OUT/jmh-fused.json" $JMH_EXTRA > "$OUT/jmh-fused.log" 2>&1 \
  || { tail -30 "$OUT/jmh-fused.log" >&2; exit 1; }
fused_probe after
grep -h '^peak probe' "$OUT/peaks.log" | tail -2 >&2 || true
peer ops
log "JMH suite, U-Net and DDPM steps (bench/target/results/jmh-models.log)"
# shellcheck disable=SC2086
"$JAVA" -jar "$JAR" "$MODELS" "${JMH_ARGS[@]}" "${MODEL_ARGS[@]}" -rff "$OUT/jmh-models.json" $JMH_EXTRA > "$OUT/jmh-models.log" 2>&1 \
  || { tail -30 "$OUT/jmh-models.log" >&2; exit 1; }
peer models
log "ddpm4j end-to-end: sampling runs, peak memory, profile (bench/target/results/e2e.log)"
# shellcheck disable=SC2086
"$JAVA" $JFLAGS -cp "$JAR" ddpm4j.bench.EndToEnd "${E2E_ARGS[@]}" 2> "$OUT/e2e.log" || { tail -30 "$OUT/e2e.log" >&2; exit 1; }
peer end2end

LOAD_END=$(cut -d' ' -f1 /proc/loadavg)
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
if awk -v l="$LOAD_END" -v n="$(nproc)" 'BEGIN { exit !(l > n + 0.5) }'; then
  echo "NOTE: the machine was shared during this run (load above its $(nproc) cores): expect noisy numbers." >> "$OUT/machine.txt"
fi
MD="$ROOT/bench/RESULTS.md"; PNG="$ROOT/bench/ratios.png"
if [ $QUICK = 1 ]; then MD="$OUT/RESULTS-quick.md"; PNG="$OUT/ratios-quick.png"; fi
REPORT_ARGS=(--jmh "$OUT/jmh-ops.json,$OUT/jmh-fused.json,$OUT/jmh-models.json" --fused-peaks "$OUT/peaks-fused-before.json,$OUT/peaks-fused-after.json" --peer "$OUT/peer-ops.json,$OUT/peer-models.json,$OUT/peer-end2end.json" --e2e "$OUT/e2e.json" --peaks "$OUT/peaks.json" --baseline "$ROOT/bench/baseline.json"
             --md "$MD" --png "$PNG" --machine "$OUT/machine.txt" --command "bench/run.sh ${ORIG_ARGS}")
if [ $UPDATE = 1 ]; then REPORT_ARGS+=(--update-baseline); fi
"$JAVA" -Djava.awt.headless=true -cp "$JAR" ddpm4j.bench.Report "${REPORT_ARGS[@]}"
log "wrote $MD and $PNG"
sed -n '/^## Training and sampling/,/^## Peak/p' "$MD" | head -n -1
