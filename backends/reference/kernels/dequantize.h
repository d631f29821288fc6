// Dequantising a weight input (dense of any float dtype, FP8 with 128×128 block scales, or GGUF's
// Q8_0 / Q4_0 blocks) into f32, row-major [rows, cols]. Used by kernels that take weights inside
// composite ops.
#pragma once

#include <vector>

#include "kernels/kernels.h"

namespace fathom::reference {

// `scales` is null for dense and GGUF-block weights.
std::vector<float> dequantize(const sdk::HostTensor& w, const sdk::HostTensor* scales);

// Row `row` of w (cols values) into out.
void dequantize_row(const sdk::HostTensor& w, const sdk::HostTensor* scales, int64_t row, float* out);

}  // namespace fathom::reference
