#!/usr/bin/env bash
# Runs on the lent GPU machine, from the repository root, with .device-bundle/ carried along
# (see README.md for the exact call). Writes into $OUT (at most 8 files come back):
#   results.md       the benchmark tables, then the test summaries
#   env.log          nvidia-smi, the libraries found, `fathom backends`
#   conformance.log  the op conformance suite, cuda against the reference backend
#   golden.log       the golden fixtures with backends = ["cuda"]
#   engine.log       the engine's MTP speculative decoding on cuda (same tokens as without)
#   bench.log        the benchmark's own output (stdout and stderr), its sections one after another
#   sanitizer.log    compute-sanitizer's memcheck over the segment cases, where the machine allows it
#
#   tools/device/run_on_device.sh [--quick]     # --quick: shorter benchmark, for a rerun
# Each step has its own time limit so that the whole stays well inside one 10-minute call.
set -uo pipefail

QUICK=""
[[ "${1:-}" == "--quick" ]] && QUICK="--quick"
HERE=$(pwd)
OUT=${OUT:-$HERE/device-out}
mkdir -p "$OUT"
BUNDLE=$HERE/.device-bundle
if [[ ! -f "$BUNDLE/env" ]]; then
  echo "no .device-bundle here: run tools/device/build_bundle.sh and carry .device-bundle" | tee "$OUT/env.log"
  exit 1
fi
# The bundle travels compressed (the device tool carries 64 MiB with the working tree): unpack it
# in place, with tar's xz or, where xz is missing, Python's tarfile.
if [[ -f "$BUNDLE/payload.tar.xz" && ! -d "$BUNDLE/bin" ]]; then
  tar -xJf "$BUNDLE/payload.tar.xz" -C "$BUNDLE" 2>/dev/null ||
    python3 -c 'import sys, tarfile
kw = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
tarfile.open(sys.argv[1]).extractall(sys.argv[2], **kw)' "$BUNDLE/payload.tar.xz" "$BUNDLE" ||
    { echo "could not unpack $BUNDLE/payload.tar.xz (neither tar -J nor python3's tarfile)" | tee "$OUT/env.log"; exit 1; }
fi
# shellcheck disable=SC1091
source "$BUNDLE/env"
START=$(date +%s)
log() { echo "[$(( $(date +%s) - START ))s] $*"; }

# The test executables look for plugins and fixtures where the build put them: recreate those
# absolute paths as links to this checkout and to the bundle.
if [[ "$HERE" != "$SOURCE_DIR" ]]; then
  if [[ ! -e "$SOURCE_DIR" ]]; then
    mkdir -p "$(dirname "$SOURCE_DIR")" && ln -s "$HERE" "$SOURCE_DIR"
  else
    echo "warning: $SOURCE_DIR exists on this machine; the tests may not find their fixtures"
  fi
fi
# The build folder becomes a link to the bundle, unless it is a real build (run where it was built).
build_link="$HERE/${BUILD_DIR#"$SOURCE_DIR"/}"
if [[ ! -e "$build_link" || -L "$build_link" ]]; then ln -sfn "$BUNDLE" "$build_link"; fi

# Libraries: the bundle's, then the device's cuBLAS (CUDA 13: toolkit or pip wheels).
LIBS=$BUNDLE/lib
cublas_dir=""
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/lib64 /usr/lib/x86_64-linux-gnu; do
  if ls "$d"/libcublasLt.so.13* >/dev/null 2>&1; then cublas_dir=$d; break; fi
done
if [[ -z "$cublas_dir" ]]; then
  cublas_dir=$(dirname "$(find /usr /opt -name 'libcublasLt.so.13*' 2>/dev/null | head -1)" 2>/dev/null || true)
fi
export LD_LIBRARY_PATH="$LIBS${cublas_dir:+:$cublas_dir}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Debian 12's libstdc++ only if the device's is older than what the binaries need.
if ldd "$BUNDLE"/bin/* 2>&1 | grep -q "not found"; then
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$BUNDLE/fallback"
fi

{
  echo "bundle: built $BUILT_AT from $COMMIT (source $SOURCE_DIR, build $BUILD_DIR)"
  echo "cuBLAS from: ${cublas_dir:-NOT FOUND}"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv 2>&1
  for f in "$BUNDLE"/bin/*; do
    missing=$(ldd "$f" 2>&1 | grep -E "not found" || true)
    [[ -n "$missing" ]] && echo "$(basename "$f"): $missing"
  done
  echo "--- fathom backends"
  if [[ -x "$BUNDLE/bin/fathom" ]]; then "$BUNDLE/bin/fathom" backends 2>&1; else echo "(no fathom CLI in the bundle)"; fi
} > "$OUT/env.log" 2>&1
log "environment: $(grep -c . "$OUT/env.log") lines in env.log"

log "op conformance (cuda vs reference)"
timeout 110 "$BUNDLE/bin/conformance_tests" --gtest_filter='EveryBackend/OpConformance.*/cuda_*:EveryBackend/SegmentConformance.*/cuda_*:CudaCodec.*' \
  > "$OUT/conformance.log" 2>&1
conf_rc=$?
log "golden fixtures on cuda"
timeout 90 "$BUNDLE/bin/golden_tests" --gtest_filter='Fixtures/GoldenCuda.*:Fixtures/GoldenLogprobsCuda.*' > "$OUT/golden.log" 2>&1
golden_rc=$?
log "engine: MTP speculative decoding on cuda"
timeout 40 "$BUNDLE/bin/engine_tests" --gtest_filter='MtpSpeculation.OnTheCudaBackendToo' > "$OUT/engine.log" 2>&1
engine_rc=$?
# The benchmark's sections each in a process of their own: a crash or a lost CUDA context in one
# (the first run of this code on a GPU may have either) leaves the others' numbers. The issue's
# two targets (FP8 GEMM TFLOP/s, batch-1 decode against the roofline) come first.
bench_rc=""
bench() {  # time limit, sections, extra arguments
  local limit=$1 sections=$2
  shift 2
  log "benchmark: $sections"
  echo "=== fathom-bench-cuda --only $sections $*" >> "$OUT/bench.log"
  timeout "$limit" "$BUNDLE/bin/fathom-bench-cuda" $QUICK --only "$sections" --out "$OUT/results.md" "$@" >> "$OUT/bench.log" 2>&1
  local rc=$?
  bench_rc="$bench_rc${bench_rc:+, }$sections $rc"
  # 1: a measurement failed and says why in its table; a crash or the time limit (124) leaves no
  # word of its own there, so say it where its table would be.
  if (( rc > 1 )); then
    printf '\n**fathom-bench-cuda --only %s ended with exit status %d** (124: cut at %d s; see bench.log)\n\n' \
      "$sections" "$rc" "$limit" >> "$OUT/results.md"
  fi
}
: > "$OUT/bench.log"
bench 100 ceilings,gemm
bench 120 decode --append
bench 60 mla,bf16 --append

# Last, and only with time to spare: compute-sanitizer's memcheck over the segment (fused) cases,
# whose kernels read other blocks' outputs (a product's last block) and index group lists. It runs
# on the Firecracker machines; on gVisor it refuses the device at once (KINDS.md).
san_rc="not run"
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
if [[ -n "$sanitizer" ]] && (( $(date +%s) - START < 420 )); then
  log "compute-sanitizer memcheck, segment cases"
  timeout 60 "$sanitizer" --tool memcheck --error-exitcode 3 "$BUNDLE/bin/conformance_tests" \
    --gtest_filter='EveryBackend/SegmentConformance.*/cuda_*' > "$OUT/sanitizer.log" 2>&1
  san_rc=$?
fi
log "done"

# gtest's closing lines: "[  PASSED  ] N tests.", "[  FAILED  ] N tests, listed below:", ...
count() { grep -oE "^\[  $1 +\] [0-9]+ test" "$2" | grep -oE "[0-9]+" | tail -1 || true; }
summary() {  # name, exit status, log
  echo "| $1 | $2 | $(count PASSED "$3") | $(count FAILED "$3") | $(count SKIPPED "$3") |"
}
{
  echo
  echo "## Tests on this GPU"
  echo
  echo "| suite | exit | passed | failed | skipped |"
  echo "|---|---|---|---|---|"
  summary "op and segment conformance, cuda vs reference" "$conf_rc" "$OUT/conformance.log"
  summary "golden fixtures, backends = [\"cuda\"]" "$golden_rc" "$OUT/golden.log"
  summary "engine, MTP speculation on cuda" "$engine_rc" "$OUT/engine.log"
  [[ -f "$OUT/sanitizer.log" ]] && summary "compute-sanitizer memcheck, segment cases (3: errors found)" "$san_rc" "$OUT/sanitizer.log"
  echo
  if [[ -f "$OUT/sanitizer.log" ]]; then
    echo "compute-sanitizer:"
    grep -m4 -E "ERROR SUMMARY|not supported|Invalid __global__|error" "$OUT/sanitizer.log" | sed 's/^/    /'
  else
    echo "compute-sanitizer: $san_rc"
  fi
  echo "benchmark exit statuses: $bench_rc (124 = cut at its time limit); total $(( $(date +%s) - START )) s"
  grep -E "^\[  FAILED  \]" "$OUT/conformance.log" "$OUT/golden.log" "$OUT/engine.log" | sort -u | head -40 | sed 's/^/    /'
} >> "$OUT/results.md"
cat "$OUT/results.md"
