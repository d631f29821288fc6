// The matrix products of the backend, described once for the two kernel families that compute
// them exactly from f32 activations (gemv.cu for few rows, gemm_tiled.cu for many):
//
//   y[yrow(r)][n] = epilogue( Σ_k x[xrow(r)][k] · W_g[n][k] )      for the rows r of group g
//
// A dense matmul is one group of `rows` rows (xrow = yrow = r). The routed experts are one group
// per expert: row r of the sorted (token, slot) list belongs to the expert whose range
// [group_offsets[g], + group_counts[g]) holds it, reads x row pair_ids[r] / x_row_div (its token)
// and writes y row pair_ids[r] (its pair), so only routed experts' weights are ever read.
// Counts live on the device: the launch shape depends only on host-known sizes, which keeps
// these launches capturable in a CUDA graph.
#pragma once

#include <cstdint>

#include "vendor/gpu_compat.h"
#include "vendor/gpu_runtime.h"

namespace fathom::gpu {

enum class Epilogue : int {
  none = 0,
  row_scale = 1,  // y *= row_scale[yrow]            (routed-expert weights on the down projection)
  swiglu = 2,     // two weights (gate, up): y = silu(x·gateᵀ) ⊙ (x·upᵀ), silu in f64
};

// One weight matrix W[rows][cols] (row-major), optionally with DeepSeek's 128x128 block scales
// S[ceil(rows_total / 128)][scale_cols] (multipliers). The matrix may be a block of a larger
// tensor: `row0` and `col0` are the indices of its first row and column in the tensor the scales
// belong to (MLA reads per-head slices of kv_b; the MoE block fusion reads the shared experts'
// down projection in column slices), so the scale of element (r, c) is
// S[(row0 + r) / 128][(col0 + c) / 128], and `ld` is the tensor's row length when the matrix's
// columns are not whole rows (0: they are). Kernels read 8 weights under one scale, so col0 and
// ld are multiples of 8.
struct MatrixRef {
  const void* data = nullptr;
  const float* scales = nullptr;
  int64_t row0 = 0;
  int64_t scale_cols = 0;
  int64_t col0 = 0;
  int64_t ld = 0;
};

// Where row r of W starts, in elements from data, for a product of inner dimension `cols`.
FATHOM_HD int64_t row_offset(const MatrixRef& w, int64_t cols, int64_t r) { return r * (w.ld ? w.ld : cols); }

// Whether every row of W starts on 16 bytes (given 16-byte aligned rows of K elements): what
// the kernels' vector loads need of the matrix.
FATHOM_HD bool rows_start_aligned(const MatrixRef& w) { return reinterpret_cast<uintptr_t>(w.data) % 16 == 0 && w.ld % 8 == 0; }

// The block scale of W[r][c] (w.scales set).
FATHOM_HD float block_scale(const MatrixRef& w, int64_t r, int64_t c) {
  return w.scales[((w.row0 + r) >> 7) * w.scale_cols + ((w.col0 + c) >> 7)];
}

struct MatmulProblem {
  uint32_t w_dtype = 0;  // FATHOM_DTYPE_* of every weight matrix
  int64_t n = 0, k = 0;  // W is [n][k]
  Epilogue epilogue = Epilogue::none;

  const void* x = nullptr;  // activations, row stride ldx
  uint32_t x_dtype = 1;     // FATHOM_DTYPE_F32; the tiled kernel also reads BF16
  int64_t ldx = 0;
  float* y = nullptr;  // output, row stride ldy
  int64_t ldy = 0;

  // Dense: `rows` rows and the weight(s) in w[0] (and w[1] for swiglu).
  int64_t rows = 0;
  MatrixRef w[2];

  // Grouped (set group_counts): `groups` groups; weights from the device table
  // matrices[g * per_group + i], per_group = 2 for swiglu, else 1. `max_rows` bounds any
  // group's count (the number of tokens), and sizes the launch.
  int32_t groups = 0;
  const int32_t* group_offsets = nullptr;
  const int32_t* group_counts = nullptr;
  const int32_t* pair_ids = nullptr;
  int32_t x_row_div = 1;
  int64_t max_rows = 0;
  // The rows a group typically has (routed pairs / experts, with some margin): sizes the gemv
  // kernel's pass so that a decode batch spread over many experts does not pay for max_rows
  // rows per expert; a group with more rows takes more passes.
  int64_t group_rows_hint = 0;
  const MatrixRef* matrices = nullptr;
  bool matrices_aligned = false;  // every matrix in the table starts on 16 bytes, with ld % 8 == 0
  // Optional, written by the dispatch (moe_dispatch.cuh): the groups that have rows, in order,
  // then -1s, active_groups_max entries. With it the launch has a row of blocks per entry
  // (group_grid_rows) rather than per group: a decode token uses 9 of DeepSeek-V3's 257 groups
  // (8 routed experts and the shared one), and each of the other 248 rows of blocks would start,
  // read a zero count and stop — thousands of empty blocks per product.
  const int32_t* active_groups = nullptr;
  int32_t active_groups_max = 0;

  const float* row_scale = nullptr;

  // Stacked (dense, no epilogue, one or two rows: the decode gemv kernel only): the product's rows
  // from `stack_split` on come from a second matrix of the same K and go to a second output, so
  // two products of the same x stream in one launch. n counts both matrices' rows.
  int64_t stack_split = 0;  // 0: not stacked
  MatrixRef stack_w;
  float* stack_y = nullptr;
  int64_t stack_ldy = 0;
};

// Whether a problem is grouped.
FATHOM_HD bool grouped(const MatmulProblem& p) { return p.group_counts != nullptr; }

// The launch's rows of blocks (gridDim.y) for the groups: one per group, or per entry of
// active_groups; 1 for a dense problem.
inline unsigned group_grid_rows(const MatmulProblem& p) {
  const int32_t rows = !grouped(p) ? 1 : p.active_groups ? p.active_groups_max : p.groups;
  return static_cast<unsigned>(rows > 0 ? rows : 1);
}

}  // namespace fathom::gpu
