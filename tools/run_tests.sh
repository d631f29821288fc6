#!/usr/bin/env bash
# The full test suite: installs dependencies, builds, runs every test with ctest.
# GPU tests skip with the reason when no GPU is present.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
