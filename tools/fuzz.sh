#!/usr/bin/env bash
# A fuzzing campaign over the parsers of user input (tests/fuzz): builds the libFuzzer targets
# with Clang, AddressSanitizer and UBSan in build-fuzz/, then runs each for a while.
#
#   tools/fuzz.sh [SECONDS_PER_TARGET=60] [TARGET...]      (default: every target)
#
# Each target starts from its committed seeds (tests/fuzz/corpus/<target>) and keeps what it
# learns in build-fuzz/corpus/<target>, so a second run goes on from there. A finding (crash,
# sanitizer report, property failure, input slower than 10 s or over 2 GB) is written to
# build-fuzz/findings/<target>/ and the script exits 1 after the other targets have run. Fix it,
# then copy the input into tests/fuzz/corpus/<target>/ so that ctest (fuzz_replay_<target>)
# keeps it fixed. Needs Clang with its libFuzzer runtime (Debian 12: apt-get install clang
# libclang-rt-14-dev; the runtime is only a Recommends of clang).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
build=build-fuzz
command -v clang++ >/dev/null || { echo "tools/fuzz.sh needs clang++ (Debian 12: apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFATHOM_FUZZ=ON \
    -DFATHOM_CUDA=OFF -DFATHOM_HIP=OFF -DFATHOM_ONEDNN=OFF
fi
mapfile -t all < <(sed -n 's/^fathom_add_fuzz_target(NAME \([a-z_]*\).*/\1/p' tests/fuzz/CMakeLists.txt)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
ninja -C "$build" "${targets[@]/#/fuzz_}"

# Longest input tried per target: enough for a few tensors, a request or a config file.
max_len() {
  case "$1" in
    tokenizer_json) echo 16384 ;;
    checkpoint_header) echo 24576 ;;  # the tiny FP8 model's header is 19 KB
    gguf_file) echo 16384 ;;  # the demo tokenizer alone is about 6 KB
    *) echo 4096 ;;
  esac
}

# Folders of real files that also seed a target: the folders among the inputs ctest replays
# (tests/fuzz/CMakeLists.txt). Single files are left out, as libFuzzer takes only folders as corpora.
extra_seeds() {
  case "$1" in
    model_config) echo ../shared/models/configs ;;
    deployment_toml) echo configs ;;
  esac
}

failed=()
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/findings/$t"
  echo "== fuzz_$t for ${seconds}s"
  if ! "$build/bin/fuzz_$t" "$build/corpus/$t" "tests/fuzz/corpus/$t" $(extra_seeds "$t") \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
      -artifact_prefix="$build/findings/$t/" -print_final_stats=1 2> "$build/findings/$t.log"; then
    failed+=("$t")
    tail -40 "$build/findings/$t.log"
  fi
  grep -E "^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+ *DONE)" "$build/findings/$t.log" || true
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "findings in: ${failed[*]} (inputs under $build/findings/)" >&2
  exit 1
fi
echo "no findings"
