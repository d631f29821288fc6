// Rows of GGUF's I-quants below 4 bits (isa.h: grid_k formats), which the cpu backend keeps in
// the file's blocks: 2 to 3.4 bits a weight, where unpacking them into a format of its own would
// take 6 or more. Each product rebuilds the rows it reads, decoded by the SDK's reader
// (sdk/ggml_blocks.hpp, ggml_grid_group), so the weights are exactly the reference's.
#pragma once

#include <cstdint>

#include "matmul/weight_view.h"

namespace fathom::cpu {

// The GGUF layout a grid_k format holds (FATHOM_LAYOUT_GGML_IQ*), and back.
uint32_t grid_layout(WFormat fmt);

// Rows [r0, r0 + n) as 16-bit integers (out[i · k + c]) and one f32 factor per block of 256
// (factors[i · k / 256 + b]): weight = integer · factor, both exact (isa/int8_dot.h gemv_wide).
void expand_grid_rows(const WeightView& w, int64_t r0, int64_t n, int16_t* out, float* factors);

// Rows [r0, r1) as exact f32 values: dst[(r − r0) · ld + c].
void widen_grid_rows(const WeightView& w, int64_t r0, int64_t r1, float* dst, int64_t ld);

}  // namespace fathom::cpu
