#!/usr/bin/env bash
# Builds Fathom for a lent H200 and packs what run_on_device.sh needs into .device-bundle/.
#
#   tools/device/build_bundle.sh            # here, on the development machine (no GPU needed)
#
# The build is for sm_90a only, machine code without PTX (-DFATHOM_CUDA_ARCH=90a-real: the PTX
# doubled the size of the two binaries that hold the kernels, and the H200 runs sm_90a code as it
# is) into build-device/. The bundle holds
# the executables (fathom, the test suites, fathom-bench-cuda), the plugins, and every shared
# library ldd shows that the device image may lack (Debian's spdlog, fmt, toml++, boost, pcre2,
# gomp, ...). Not bundled: glibc (the device's is newer), the NVIDIA driver and CUDA 13's
# libcublas/libcublasLt (on the device, and far too big: cuBLASLt alone is over 500 MB), and
# libstdc++/libgcc_s, which go to fallback/ and are used only if the device's are too old.
# The bundle lives inside the checkout (it must travel), ignored through .git/info/exclude; the
# working tree plus the bundle must stay under the device tool's 64 MiB, so bin/, lib/ and
# fallback/ travel as one xz archive (payload.tar.xz, about a quarter of their size; the kernels'
# machine code compresses well), which run_on_device.sh unpacks in place.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${FATHOM_DEVICE_BUILD:-$ROOT/build-device}
BUNDLE=$ROOT/.device-bundle
LIMIT=$((64 * 1024 * 1024))

NVCC=${CMAKE_CUDA_COMPILER:-/usr/local/cuda/bin/nvcc}
# No oneDNN CPU backend: libdnnl alone would not fit, and the device run tests cuda.
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFATHOM_CUDA=ON -DFATHOM_HIP=OFF -DFATHOM_ONEDNN=OFF \
  -DFATHOM_CUDA_ARCH=90a-real -DCMAKE_CUDA_COMPILER="$NVCC"
cmake --build "$BUILD" -j"$(nproc)" --target fathom-backend-cuda fathom-backend-reference fathom-backend-template \
  conformance_tests golden_tests engine_tests fathom-bench-cuda
# The CLI serves `fathom backends` in env.log and writes the engine test's models (make-tiny):
# carry on without it if it does not build (the engine test then fails, the rest runs).
cmake --build "$BUILD" -j"$(nproc)" --target fathom || echo "warning: bin/fathom did not build; the bundle goes without it" >&2

rm -rf "$BUNDLE"
mkdir -p "$BUNDLE/bin" "$BUNDLE/lib" "$BUNDLE/fallback"
for t in fathom conformance_tests golden_tests engine_tests fathom-bench-cuda; do
  if [[ -f "$BUILD/bin/$t" ]]; then cp "$BUILD/bin/$t" "$BUNDLE/bin/"; fi
done
cp "$BUILD"/bin/libfathom-backend-*.so "$BUNDLE/bin/"
strip --strip-unneeded "$BUNDLE"/bin/* 2>/dev/null || true

# Shared libraries, by what ldd resolves here.
declare -A seen=()
for f in "$BUNDLE"/bin/*; do
  while read -r name _ path _; do
    [[ -z "${path:-}" || "$path" != /* ]] && continue
    [[ -n "${seen[$name]:-}" ]] && continue
    seen[$name]=1
    case "$name" in
      linux-vdso*|ld-linux*|libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libutil.so*|libresolv.so*) ;;  # glibc
      libcuda.so*|libcublas.so*|libcublasLt.so*|libcudart.so*|libnvidia*) ;;  # the device's CUDA 13
      libstdc++.so*|libgcc_s.so*) cp -L "$path" "$BUNDLE/fallback/$name" ;;
      *) cp -L "$path" "$BUNDLE/lib/$name" ;;
    esac
  done < <(ldd "$f" | awk '/=>/ {print $1, $2, $3, $4}')
done
strip --strip-unneeded "$BUNDLE"/lib/* "$BUNDLE"/fallback/* 2>/dev/null || true
unpacked=$(du -sb "$BUNDLE" | cut -f1)
tar -C "$BUNDLE" -cf - bin lib fallback | xz -T0 -6 > "$BUNDLE/payload.tar.xz"
ls -la "$BUNDLE/bin" "$BUNDLE/lib" "$BUNDLE/fallback"
rm -rf "$BUNDLE/bin" "$BUNDLE/lib" "$BUNDLE/fallback"

# Where the build put its absolute paths (plugin folder, fixtures): run_on_device.sh recreates them.
cat > "$BUNDLE/env" <<ENV
SOURCE_DIR=$ROOT
BUILD_DIR=$BUILD
BUILT_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
ENV

# Keep the bundle out of git (it travels as an ignored path named in the run's carry list).
exclude="$(git -C "$ROOT" rev-parse --git-common-dir)/info/exclude"
mkdir -p "$(dirname "$exclude")"
grep -qx '/.device-bundle/' "$exclude" 2>/dev/null || echo '/.device-bundle/' >> "$exclude"

bundle=$(du -sb "$BUNDLE" | cut -f1)
tree=$(cd "$ROOT" && git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
echo "bundle: $((unpacked / 1024)) KiB unpacked, $((bundle / 1024)) KiB packed; working tree: $((tree / 1024)) KiB; together $(((bundle + tree) / 1024)) KiB of $((LIMIT / 1024))"
if (( bundle + tree >= LIMIT )); then
  echo "too big for the device tool (64 MiB with the working tree)" >&2
  exit 1
fi
