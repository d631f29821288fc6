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
    const int64_t rows = r1 - r0;
    float* wt = scratch<float>(Scratch::tile, static_cast<size_t>(rows * k));
    widen_rows(*ctx.isa, w, r0, r1, wt, k);
    // oneDNN's sgemm with a transposed B ('T') costs ~300 µs more per call from M = 16 at K = 2048
    // (docs/performance.md), ~8x the product itself; the tile transposed to [K][rows] and 'N' run
    // at full speed at every M.
    float* wk = scratch<float>(Scratch::tile_transposed, static_cast<size_t>(rows * k));
    ctx.isa->transpose(wt, rows, k, wk);
    const dnnl_status_t s = dnnl_sgemm('N', 'N', m, rows, k, 1.0f, x, k, wk, rows, 0.0f, y + r0, n);
    if (s != dnnl_success) sdk::fail(FATHOM_STATUS_INTERNAL, "oneDNN sgemm failed with status " + std::to_string(s));
  });
}

}  // namespace fathom::cpu
