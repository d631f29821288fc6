#!/usr/bin/env bash
# Installs what building and testing Fathom needs on Debian 12 (bookworm). Run as root (or
# with sudo). CUDA is not a Debian package here: when /usr/local/cuda exists the CUDA backend
# is built too; without it the build simply leaves the CUDA plugin out.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build pkg-config git ca-certificates \
  libgtest-dev libtomlplusplus-dev libspdlog-dev libfmt-dev \
  libboost-dev libboost-filesystem-dev libboost-context-dev libcli11-dev nlohmann-json3-dev libpcre2-dev \
  libcpp-httplib-dev libdnnl-dev ocl-icd-opencl-dev \
  hipcc \
  python3 python3-pip python3-venv >/dev/null

# Python packages for the tests (the official openai client for tests/server), in the
# repository's .venv, where the build finds it (tests/server/CMakeLists.txt).
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q -r tests/requirements.txt
