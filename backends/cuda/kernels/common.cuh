// Device helpers shared by the kernels: element access by dtype, weight formats, reductions.
// Device code only (include from .cu files).
#pragma once

#include <cstdint>

#include "fathom/plugin_api.h"
#include "kernels/float_codec.cuh"
#include "kernels/kernel_errors.h"
#include "kernels/matmul_problem.cuh"
#include "vendor/gpu_runtime.h"

namespace fathom::gpu {

// ---- Element access by run-time dtype (element-wise ops, where the switch is uniform and the
// memory traffic dominates). Float dtypes only; callers check support on the host.

FATHOM_DEVICE float load_f32(const void* p, uint32_t dtype, int64_t i) {
  switch (dtype) {
    case FATHOM_DTYPE_F32: return static_cast<const float*>(p)[i];
    case FATHOM_DTYPE_BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case FATHOM_DTYPE_F16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case FATHOM_DTYPE_F8_E4M3FN: return e4m3fn_to_f32(static_cast<const uint8_t*>(p)[i]);
    case FATHOM_DTYPE_F8_E5M2: return e5m2_to_f32(static_cast<const uint8_t*>(p)[i]);
    default: return 0.f;
  }
}

// Rounds to the dtype (FP8 saturates, as the reference backend's store does).
FATHOM_DEVICE void store_f32(void* p, uint32_t dtype, int64_t i, float v) {
  switch (dtype) {
    case FATHOM_DTYPE_F32: static_cast<float*>(p)[i] = v; break;
    case FATHOM_DTYPE_BF16: static_cast<uint16_t*>(p)[i] = f32_to_bf16(v); break;
    case FATHOM_DTYPE_F16: static_cast<uint16_t*>(p)[i] = f32_to_f16(v); break;
    case FATHOM_DTYPE_F8_E4M3FN: static_cast<uint8_t*>(p)[i] = f32_to_e4m3fn(v, true); break;
    case FATHOM_DTYPE_F8_E5M2: static_cast<uint8_t*>(p)[i] = f32_to_e5m2(v, true); break;
    default: break;
  }
}

// ---- Weight formats, fixed at compile time in the matrix kernels.

enum class WFmt : int { f32, bf16, f16, e4m3, e5m2 };

template <WFmt F>
struct WeightFormat;
template <>
struct WeightFormat<WFmt::f32> {
  using Storage = float;
  static FATHOM_DEVICE float decode(float v) { return v; }
};
template <>
struct WeightFormat<WFmt::bf16> {
  using Storage = uint16_t;
  static FATHOM_DEVICE float decode(uint16_t v) { return bf16_to_f32(v); }
};
template <>
struct WeightFormat<WFmt::f16> {
  using Storage = uint16_t;
  static FATHOM_DEVICE float decode(uint16_t v) { return f16_to_f32(v); }
};
template <>
struct WeightFormat<WFmt::e4m3> {
  using Storage = uint8_t;
  static FATHOM_DEVICE float decode(uint8_t v) { return e4m3fn_to_f32(v); }
};
template <>
struct WeightFormat<WFmt::e5m2> {
  using Storage = uint8_t;
  static FATHOM_DEVICE float decode(uint8_t v) { return e5m2_to_f32(v); }
};

// The rows and weight matrices a matrix kernel's block works on for its row of blocks
// (blockIdx.y): a grouped problem's expert g (rows [begin, begin + count) of the sorted pairs,
// kMats matrices: gate and up for swiglu), g = the block row or, with active_groups, its entry
// there; or a dense problem's only group.
template <int kMats>
struct GroupSlice {
  int64_t begin = 0, count = 0;
  MatrixRef mats[kMats];
};

template <int kMats>
FATHOM_DEVICE GroupSlice<kMats> group_slice(const MatmulProblem& p, int block_row) {
  GroupSlice<kMats> s;
  if (grouped(p)) {
    int g = block_row;
    if (p.active_groups) {
      g = block_row < p.active_groups_max ? p.active_groups[block_row] : -1;
      if (g < 0) return s;  // fewer groups have rows than the launch has block rows
    }
    s.begin = p.group_offsets[g];
    s.count = p.group_counts[g];
#pragma unroll
    for (int i = 0; i < kMats; ++i) s.mats[i] = p.matrices[g * kMats + i];
  } else {
    s.count = p.rows;
#pragma unroll
    for (int i = 0; i < kMats; ++i) s.mats[i] = p.w[i];
  }
  return s;
}

// Element (r, c) of a weight matrix [rows][cols], dequantised: see MatrixRef (matmul_problem.cuh)
// for the scale indexing.
template <WFmt F>
FATHOM_DEVICE float weight_at(const MatrixRef& w, int64_t cols, int64_t r, int64_t c) {
  using Fmt = WeightFormat<F>;
  float v = Fmt::decode(static_cast<const typename Fmt::Storage*>(w.data)[row_offset(w, cols, r) + c]);
  if (w.scales) v *= block_scale(w, r, c);
  return v;
}

// Dispatches a run-time dtype id to a template over WFmt. Returns false for a non-float dtype.
template <typename F>
bool dispatch_wfmt(uint32_t dtype, F&& f) {
  switch (dtype) {
    case FATHOM_DTYPE_F32: f.template operator()<WFmt::f32>(); return true;
    case FATHOM_DTYPE_BF16: f.template operator()<WFmt::bf16>(); return true;
    case FATHOM_DTYPE_F16: f.template operator()<WFmt::f16>(); return true;
    case FATHOM_DTYPE_F8_E4M3FN: f.template operator()<WFmt::e4m3>(); return true;
    case FATHOM_DTYPE_F8_E5M2: f.template operator()<WFmt::e5m2>(); return true;
    default: return false;
  }
}

template <typename T>
FATHOM_DEVICE T dmin(T a, T b) {
  return b < a ? b : a;
}
template <typename T>
FATHOM_DEVICE T dmax(T a, T b) {
  return a < b ? b : a;
}

// ---- Reductions.

template <typename T>
FATHOM_DEVICE T warp_sum(T v) {
#pragma unroll
  for (int m = FATHOM_WARP_SIZE / 2; m > 0; m /= 2) v += fathom_shfl_xor(v, m);
  return v;
}

FATHOM_DEVICE float warp_max(float v) {
#pragma unroll
  for (int m = FATHOM_WARP_SIZE / 2; m > 0; m /= 2) v = fmaxf(v, fathom_shfl_xor(v, m));
  return v;
}

// Sum over the block; every thread gets the result. `scratch` holds one T per warp. Must be
// reached by every thread of the block.
template <typename T>
__device__ T block_sum(T v, T* scratch) {
  const int lane = threadIdx.x % FATHOM_WARP_SIZE, warp = threadIdx.x / FATHOM_WARP_SIZE;
  const int warps = (blockDim.x + FATHOM_WARP_SIZE - 1) / FATHOM_WARP_SIZE;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T total = 0;
  for (int w = 0; w < warps; ++w) total += scratch[w];  // same order in every thread: identical results
  return total;
}

// A load of what another block of the same launch wrote: past the multiprocessor's L1, which is
// not kept coherent with the other multiprocessors' writes.
FATHOM_DEVICE float load_other_blocks(const float* p) {
#if defined(__CUDACC__) && !defined(__HIPCC__)
  return __ldcg(p);
#else
  return *static_cast<const volatile float*>(p);
#endif
}

// Records `code` in the executable's error word unless an earlier error is there.
FATHOM_DEVICE void report_error(int* err, int code) {
  if (err) atomicCAS(err, 0, code);
}


}  // namespace fathom::gpu
