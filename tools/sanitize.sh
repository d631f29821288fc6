#!/usr/bin/env bash
# The whole test suite under AddressSanitizer and UndefinedBehaviorSanitizer: builds build-asan/
# (GCC, -fsanitize=address,undefined, the GPU plugins off: their device code is not host code;
# the GPU simulator tests still run their kernels on the CPU) and runs ctest there. Any report
# stops the process it happens in, so the test fails and ctest prints the report.
#
#   tools/sanitize.sh [ctest arguments, e.g. -R golden]
#
# Leak checking is off: LeakSanitizer cannot name allocations made by plugins that were unloaded
# before it runs, it stops with "Tracer caught signal 11" in processes that ran OpenMP threads
# (the cpu backend), and the test plugins that misbehave on purpose (tests/plugin_abi, e.g. one
# that throws through the C ABI) leak by design.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-asan
if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFATHOM_SANITIZE=address,undefined \
    -DFATHOM_CUDA=OFF -DFATHOM_HIP=OFF
fi
ninja -C "$build"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "$@"
