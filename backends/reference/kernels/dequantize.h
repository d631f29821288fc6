// Dequantising a weight input (dense of any float dtype, or FP8 with 128×128 block scales)
// into f32, row-major [rows, cols]. Used by kernels that take weights inside composite ops.
#pragma once

#include <vector>

#include "kernels/kernels.h"

namespace fathom::reference {

// `scales` is null for dense weights.
std::vector<float> dequantize(const sdk::HostTensor& w, const sdk::HostTensor* scales);

}  // namespace fathom::reference
