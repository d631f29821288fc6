#!/usr/bin/env bash
# From a fresh clone to generated text: installs the build dependencies (Debian 12), builds
# Fathom, writes the demo model (a tiny DeepSeek-V3-architecture checkpoint with random
# weights, no download) and generates from it.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/build.sh
./build/bin/fathom make-tiny --out demo-model
./build/bin/fathom run --model demo-model --prompt "The deepest point of the ocean is" --max-tokens 64 --seed 1
