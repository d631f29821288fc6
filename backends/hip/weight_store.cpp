// The HIP build holds FP8 weights as bf16. gfx90a has no FP8 at all, and ROCm 5.2 exposes no
// FP8 matrix instructions for gfx940 either, so nothing would read FP8 faster than bf16; the
// conversion happens once per weight at compile, and query_ops says so for every node it
// affects (the note appears in `fathom inspect --placement`). Other dtypes are kept as given.
#include "ops/weight_store.h"

#include "kernels/widen_bf16.cuh"
#include "ops/util.h"
#include "runtime/check.h"

namespace fathom::cuda {

namespace {

bool is_fp8(uint32_t dtype) { return dtype == FATHOM_DTYPE_F8_E4M3FN || dtype == FATHOM_DTYPE_F8_E5M2; }

}  // namespace

fathom_op_support weight_support(const fathom_tensor_desc& w) {
  if (is_fp8(w.dtype))
    return {FATHOM_SUPPORT_PREFERRED, 0, "FP8 weights converted to bf16 at load (no FP8 matrix instructions on gfx90a/gfx940 with ROCm 5.2)"};
  return preferred();
}

uint32_t stored_dtype(uint32_t dtype) { return is_fp8(dtype) ? uint32_t{FATHOM_DTYPE_BF16} : dtype; }

StoredMatrix store_matrix(const OpBuild& b, size_t i) {
  const fathom_tensor_desc& w = b.desc.inputs[i];
  const gpu::MatrixRef given = matrix_ref(b, i);
  if (!is_fp8(w.dtype)) return {given, w.dtype};
  const int64_t rows = w.shape[0], cols = w.shape[1];
  // Once per weight: a fused op and the nodes' ops it falls back to read the same copy.
  void* bf16 = b.memory.derived(given.data, static_cast<size_t>(rows * cols) * sizeof(uint16_t), [&](void* copy) {
    gpu::launch_widen_bf16({given.data, w.dtype, rows, cols, static_cast<uint16_t*>(copy)}, b.device.stream());
    FATHOM_CUDA_CHECK_LAUNCH("FP8 weight to bf16");
  });
  // Ordered before every run on the device's stream; compile() synchronises once at its end.
  // The block scales stay with the matrix: the kernels apply them to the widened values.
  gpu::MatrixRef ref = given;
  ref.data = bf16;
  return {ref, FATHOM_DTYPE_BF16};
}

}  // namespace fathom::cuda
