#!/usr/bin/env bash
# The whole test suite under AddressSanitizer and UndefinedBehaviorSanitizer: builds build-asan/
# (GCC, -fsanitize=address,undefined, the GPU plugins off: their device code is not host code;
# the GPU simulator tests still run their kernels on the CPU) and runs ctest there. Any report
# stops the process it happens in, so the test fails and ctest prints the report.
#
#   tools/sanitize.sh [ctest arguments, e.g. -R golden]
#
# Leak checking (LeakSanitizer) is on, except for the tests labelled no_leak_check, run after the
# others with it off: in processes that ran the cpu backend's OpenMP threads its tracer stops with
# "Tracer caught signal 11" (conformance_tests, golden_cpu_tests), and the test plugins that
# misbehave on purpose (plugin_abi_tests, e.g. one that throws through the C ABI) leak by design.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-asan
if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFATHOM_SANITIZE=address,undefined \
    -DFATHOM_CUDA=OFF -DFATHOM_HIP=OFF
fi
ninja -C "$build"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 ctest --test-dir "$build" --output-on-failure -j"$(nproc)" -LE no_leak_check "$@" || status=1
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 ctest --test-dir "$build" --output-on-failure -j"$(nproc)" -L no_leak_check "$@" || status=1
exit $status
