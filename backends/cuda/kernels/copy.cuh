// Copies of 2-D blocks with dtype conversion: convert, slice and concat are all this one
// kernel (each row of `rows` copies `width` elements between column offsets).
#pragma once

#include <cstdint>

#include "vendor/gpu_runtime.h"

namespace fathom::gpu {

struct CopyArgs {
  const void* src;
  void* dst;
  uint32_t src_dtype, dst_dtype;  // float dtypes; the value is rounded to dst's (FP8 saturates)
  int64_t rows, width;
  int64_t src_stride, src_offset;  // element (r, j) is src[r * src_stride + src_offset + j]
  int64_t dst_stride, dst_offset;
};

void launch_copy(const CopyArgs& args, cudaStream_t stream);

}  // namespace fathom::gpu
