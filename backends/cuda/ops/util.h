// Small helpers shared by the op files.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "fathom/sdk/tensor.hpp"
#include "kernels/matmul_problem.cuh"
#include "ops/op.h"

namespace fathom::cuda {

inline fathom_op_support supported() { return {FATHOM_SUPPORT_YES, 0, nullptr}; }
inline fathom_op_support preferred() { return {FATHOM_SUPPORT_PREFERRED, 0, nullptr}; }
inline fathom_op_support unsupported(const char* why) { return {FATHOM_SUPPORT_NO, 0, why}; }

inline bool all_float(const fathom_tensor_desc* t, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    if (!sdk::is_float_dtype(t[i].dtype)) return false;
  }
  return true;
}

inline bool is_f32(const fathom_tensor_desc& t) { return t.dtype == FATHOM_DTYPE_F32; }

// Rows of a [T, ...] tensor for this run.
inline int64_t rows(const fathom_tensor_desc& t, int64_t tokens) { return sdk::extent(t, 0, tokens); }

// The weight matrix at input `i` (and its block scales at input i + 1 when block-scaled), with
// `row0` the first row of the part used (see MatrixRef).
inline gpu::MatrixRef matrix_ref(const OpBuild& b, size_t i, int64_t row0 = 0) {
  const fathom_tensor_desc& w = b.desc.inputs[i];
  gpu::MatrixRef m;
  m.data = b.input_ptr(i);
  m.row0 = row0;
  if (w.layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128) {
    m.scales = static_cast<const float*>(b.input_ptr(i + 1));
    m.scale_cols = sdk::ceil_div(w.shape[1], 128);
  }
  return m;
}

// Where a weight matrix input sits (its tensor, and its scales' tensor when block-scaled), so
// that ops can form its MatrixRef at run time: an input need not be a weight bound at compile.
struct MatrixInput {
  uint32_t data = 0;
  int64_t scales = -1;  // tensor index, -1 when not block-scaled
  int64_t scale_cols = 0;
  int64_t row0 = 0;

  static MatrixInput at(const OpBuild& b, size_t i, int64_t row0 = 0) {
    MatrixInput m;
    m.data = b.inputs[i];
    m.row0 = row0;
    if (b.desc.inputs[i].layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128) {
      m.scales = b.inputs[i + 1];
      m.scale_cols = sdk::ceil_div(b.desc.inputs[i].shape[1], 128);
    }
    return m;
  }
  gpu::MatrixRef ref(const OpRun& r) const {
    gpu::MatrixRef m;
    m.data = r.ptr(data);
    m.row0 = row0;
    if (scales >= 0) {
      m.scales = static_cast<const float*>(r.ptr(static_cast<uint32_t>(scales)));
      m.scale_cols = scale_cols;
    }
    return m;
  }
};

// Where an op reads its input when a slice node before it is fused away (runtime/fusion.h): the
// slice's source tensor (f32 rows of `ld` elements) from column `begin`.
struct SliceSource {
  uint32_t tensor = 0;
  int64_t begin = 0, ld = 0;

  const float* ptr(const OpRun& r) const { return static_cast<const float*>(r.ptr(tensor)) + begin; }
};

// Views a node's attrs struct; fields beyond what the host sent stay zero.
template <typename A>
A attrs_of(const fathom_op_desc& d) {
  A a{};
  if (d.attrs) std::memcpy(&a, d.attrs, std::min<size_t>(sizeof(A), d.attrs_size));
  return a;
}

}  // namespace fathom::cuda
