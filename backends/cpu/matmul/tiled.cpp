#include "matmul/tiled.h"

#include <dnnl.h>

#include <algorithm>
#include <string>

#include "fathom/sdk/status.hpp"
#include "parallel.h"
#include "scratch.h"

namespace fathom::cpu {

namespace {

// 64 rows × K = 2048 f32 is 512 KiB: the tile and sgemm's own packing of it stay in a 1 MiB L2.
constexpr int64_t kTileRows = 64;

}  // namespace

void tiled_multiply(const CpuContext& ctx, const WeightView& w, const float* x, int64_t m, float* y, int threads) {
  const int64_t n = w.rows, k = w.cols;
  const int64_t tiles = (n + kTileRows - 1) / kTileRows;
  const int t = threads_for(threads, 2.0 * static_cast<double>(m) * n * k, 4e6);
  parallel_items(tiles, t, [&](int64_t tile) {
    const int64_t r0 = tile * kTileRows, r1 = std::min(n, r0 + kTileRows);
    float* wt = scratch<float>(Scratch::tile, static_cast<size_t>((r1 - r0) * k));
    widen_rows(*ctx.isa, w, r0, r1, wt, k);
    const dnnl_status_t s = dnnl_sgemm('N', 'T', m, r1 - r0, k, 1.0f, x, k, wt, k, 0.0f, y + r0, n);
    if (s != dnnl_success) sdk::fail(FATHOM_STATUS_INTERNAL, "oneDNN sgemm failed with status " + std::to_string(s));
  });
}

}  // namespace fathom::cpu
