// A weight matrix prepared for y = x · Wᵀ, and the choice of kernel per call.
//
// Storage, decided once at compile (see README.md, "Matrix products"):
//  - FP8 with weights = "fp8": the checkpoint's bytes and scales, read in place;
//  - FP8 with weights = "bf16": dequantised once to bf16 (owned here);
//  - with matmul_precision = "bf16", where oneDNN has bf16 kernels (AVX-512): bf16 and
//    FP8-as-bf16 weights also go to oneDNN's bf16 kernels, which read the same rows in place
//    (no packed copy); never f16 weights, bf16 would round away their precision;
//  - f32 weights: read in place by the GEMV, plus an f32 copy packed for oneDNN;
//  - with weights = "int8" | "int4": quantised once (matmul/quantize.h), whatever the stored
//    format; the GEMV and the tiles read the codes, oneDNN never (it has no such kernel).
// Weights read in place are first copied to huge-page memory unless weight_memory = "mapped"
// (matmul/weight_memory.h).
// Per call with M rows of x:
//  - M <= gemv_max_rows                                → GEMV, widening in registers
//  - FP8 under matmul_precision = "bf16" with the VBMI+BF16 kernel → GEMV at any M (rows of x
//    in chunks that stay in L2)
//  - for oneDNN (f32 packed, bf16 in place)            → oneDNN
//  - otherwise (compact weights oneDNN cannot take)   → tiles widened to f32 + oneDNN sgemm
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "matmul/onednn.h"
#include "matmul/weight_memory.h"
#include "matmul/weight_view.h"

namespace fathom::cpu {

struct CpuContext;

class Matrix {
 public:
  // `prepare` = false wraps the source as it is (no dequantisation, no packing): for
  // weights bound only at run, which must not be copied on every call.
  Matrix(CpuContext& ctx, const WeightView& source, bool prepare = true);

  int64_t rows() const { return view_.rows; }  // N
  int64_t cols() const { return view_.cols; }  // K

  // y[M][N] = x[M][K] · Wᵀ on up to `threads` threads (1 inside a parallel region).
  void multiply(CpuContext& ctx, const float* x, int64_t m, float* y, int threads) const;

  // Which kernel a call with m rows takes: "gemv", "onednn" or "tiles" (for tests and logs).
  const char* path_for(const CpuContext& ctx, int64_t m) const;
  // The row-major view the GEMV and tiles read.
  const WeightView& view() const { return view_; }
  // Bytes this object holds beyond the bound weights.
  uint64_t owned_bytes() const;

 private:
  WeightView view_;
  std::vector<uint16_t> bf16_;         // FP8 dequantised to bf16 (weights = "bf16")
  WeightArena::Block copy_;            // the stored bytes, copied (weight_memory = "copy"), or the quantised ones
  std::unique_ptr<DnnlWeights> dnnl_;  // for oneDNN: an f32 packed copy, or bf16 rows of view_ in place
};

}  // namespace fathom::cpu
