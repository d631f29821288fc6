#include "matmul/matrix.h"

#include <algorithm>

#include "cpu_context.h"
#include "matmul/gemv.h"
#include "matmul/quantize.h"
#include "matmul/tiled.h"
#include "parallel.h"

namespace fathom::cpu {

namespace {

using dt = dnnl::memory::data_type;

// Rows of `w` as bf16 bits, [N][K] (exact f32 first, then one rounding to bf16).
std::vector<uint16_t> to_bf16_rows(const CpuContext& ctx, const WeightView& w) {
  std::vector<uint16_t> out(static_cast<size_t>(w.rows * w.cols));
  const int t = threads_for(ctx.threads(), static_cast<double>(w.rows), 64);
  parallel_ranges(w.rows, t, 1, [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(w.cols));
    for (int64_t r = r0; r < r1; ++r) {
      widen_rows(*ctx.isa, w, r, r + 1, row.data(), w.cols);
      ctx.isa->to_bf16(row.data(), out.data() + r * w.cols, w.cols);
    }
  });
  return out;
}

}  // namespace

Matrix::Matrix(CpuContext& ctx, const WeightView& source, bool prepare) : view_(source) {
  if (grid_k(view_.fmt)) {
    // GGUF's I-quants below 4 bits: read in their blocks (matmul/grid_rows.h), copied to huge
    // pages as bound float weights are.
    if (prepare && ctx.options.weight_memory == WeightMemory::copy && view_.rows > 0) {
      copy_ = copy_to_arena(ctx, view_.data, view_.bytes());
      view_.data = copy_.data;
    }
    return;
  }
  if (view_.ggml_layout != 0) {
    // GGUF's blocks are already quantised: unpacked, and used as they are (weights = "int8" /
    // "int4" quantise float weights only).
    QuantizedMatrix q = kquant(view_.fmt) ? unpack_ggml_k_blocks(ctx, view_) : unpack_ggml_blocks(ctx, view_);
    view_ = q.view;
    copy_ = std::move(q.storage);
    return;
  }
  mark_nan_codes(view_);
  if (!prepare) return;
  const WeightStorage storage = ctx.options.weights;
  if (storage == WeightStorage::int8 || storage == WeightStorage::int4) {
    // A matrix that cannot be quantised (quantize.h) stays in its stored format below.
    if (auto q = quantize_matrix(ctx, view_, storage == WeightStorage::int8 ? WFormat::q8 : WFormat::q4)) {
      view_ = q->view;
      copy_ = std::move(q->storage);
      return;
    }
  }
  // NaN codes: the GEMV would read them as 480, so such a matrix is held as bf16 (NaN kept).
  if (view_.fp8() && (storage == WeightStorage::bf16 || view_.nan_codes)) {
    bf16_ = to_bf16_rows(ctx, view_);
    view_ = WeightView{WFormat::bf16, bf16_.data(), source.rows, source.cols, nullptr};
  }
  if (view_.rows == 0 || view_.cols == 0) return;  // nothing to pack; multiply() handles it
  // Only bf16 weights go to oneDNN's bf16 kernels, and only when asked (matmul_precision): f16
  // ones would lose three mantissa bits to bf16, more than their own precision allows. oneDNN
  // reads their rows in place, the same rows the GEMV reads at decode: packing them would cost a
  // second copy of the model, and oneDNN at M = 1 was slower than the GEMV (docs/performance.md).
  const bool bf16_onednn = view_.fmt == WFormat::bf16 && ctx.options.bf16_matmuls && ctx.dnnl.bf16_matmul();
  if (view_.fmt == WFormat::f32) {
    dnnl_ = std::make_unique<DnnlWeights>(ctx.dnnl, dt::f32, view_.data, view_.rows, view_.cols);
  }
  if (view_.data == source.data && ctx.options.weight_memory == WeightMemory::copy) {
    copy_ = copy_to_arena(ctx, view_.data, view_.bytes());
    view_.data = copy_.data;
  }
  if (bf16_onednn) {
    dnnl_ = std::make_unique<DnnlWeights>(ctx.dnnl, dt::bf16, view_.data, view_.rows, view_.cols,
                                          DnnlRuntime::Layout::rows);
  }
}

const char* Matrix::path_for(const CpuContext& ctx, int64_t m) const {
  if (view_.nan_codes) return "tiles";  // only unprepared matrices get here: tiles widen NaN codes exactly
  if (m <= ctx.options.gemv_max_rows) return "gemv";
  // FP8 under matmul_precision = "bf16" has no oneDNN kernel; its vdpbf16ps GEMV beat the f32
  // tiles at every M measured (1.3-2.3x at M = 16-128 on Zen 4), in chunks of rows that keep
  // x in L2. gemv_max_rows = 0 still forces the tiles.
  if (view_.fmt == WFormat::e4m3 && ctx.e4m3_bf16_gemv && ctx.options.gemv_max_rows > 0) return "gemv";
  // Quantised weights with int8 activations: vpdpbusd does four products per lane and
  // instruction, against one FMA for the tiles' widened f32 (measured: docs/performance.md).
  if ((quantized(view_.fmt) || kquant(view_.fmt) || grid_k(view_.fmt)) && ctx.int8_dot && ctx.options.gemv_max_rows > 0)
    return "gemv";
  return dnnl_ ? "onednn" : "tiles";
}

uint64_t Matrix::owned_bytes() const {
  return bf16_.size() * 2 + (dnnl_ ? dnnl_->bytes() : 0) + copy_.size;
}

void Matrix::multiply(CpuContext& ctx, const float* x, int64_t m, float* y, int threads) const {
  if (m <= 0 || view_.rows == 0) return;
  if (view_.cols == 0) {
    for (int64_t i = 0; i < m * view_.rows; ++i) y[i] = 0;
    return;
  }
  const char* path = path_for(ctx, m);
  if (path[0] == 'g') {
    // Every row of x passes over each block of weight rows while it sits in cache, so x itself
    // should stay in L2: long inputs go in chunks of at most ~512 KiB of f32 rows.
    const int64_t chunk = std::clamp<int64_t>(512 * 1024 / (4 * view_.cols), 16, 256);
    for (int64_t m0 = 0; m0 < m; m0 += chunk) {
      gemv_multiply(ctx, view_, x + m0 * view_.cols, std::min(chunk, m - m0), y + m0 * view_.rows, threads);
    }
    if (view_.group_offsets) add_group_offsets(ctx, view_, x, m, y, threads);  // the tiles widen them in
  } else if (path[0] == 'o') {
    dnnl_->multiply(ctx.dnnl, *ctx.isa, x, m, y);
  } else {
    tiled_multiply(ctx, view_, x, m, y, threads);
  }
}

}  // namespace fathom::cpu
