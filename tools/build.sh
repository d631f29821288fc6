#!/usr/bin/env bash
# Configures and builds Fathom into ./build (Release). Extra arguments go to cmake's configure.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CMAKE_CUDA_COMPILER:-}" ] && [ -x /usr/local/cuda/bin/nvcc ]; then
  export CMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j"$(nproc)"
