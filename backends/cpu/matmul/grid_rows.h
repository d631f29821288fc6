// Rows of GGUF's I-quants below 4 bits (isa.h: grid_k formats), which the cpu backend keeps in
// the file's blocks: 2 to 3.4 bits a weight, where unpacking them into a format of its own would
// take 6 or more. Each product rebuilds the rows it reads: as 16-bit integers for the integer
// kernels (isa/int8_dot.h expand_grid, gemv_wide), or here as f32 through the SDK's reader
// (sdk/ggml_blocks.hpp, ggml_grid_group) for the others; either way exactly the reference's weights.
#pragma once

#include <cstdint>

#include "matmul/weight_view.h"

namespace fathom::cpu {

// The GGUF layout a grid_k format holds (FATHOM_LAYOUT_GGML_IQ*), and back.
uint32_t grid_layout(WFormat fmt);

// Rows [r0, r1) as exact f32 values: dst[(r − r0) · ld + c].
void widen_grid_rows(const WeightView& w, int64_t r0, int64_t r1, float* dst, int64_t ld);

}  // namespace fathom::cpu
