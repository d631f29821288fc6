// W[r, c] = w[r, c] · S[r / 128, c / 128] for block-scaled FP8 (spec §3.3: multiply by
// weight_scale_inv; ragged edge blocks use the same indexing); for GGUF blocks (plugin_api.h,
// FATHOM_LAYOUT_GGML_*) W[r, c] = code · d of the block holding it; w[r, c] otherwise.
#include "kernels/dequantize.h"

#include "fathom/sdk/ggml_blocks.hpp"

namespace fathom::reference {

void dequantize_row(const sdk::HostTensor& w, const sdk::HostTensor* scales, int64_t r, float* out) {
  const int64_t cols = w.dim(1);
  if (sdk::is_ggml_layout(w.desc.layout)) {
    const std::byte* row = static_cast<const std::byte*>(w.data) + r * sdk::ggml_row_bytes(w.desc.layout, cols);
    for (int64_t c = 0; c < cols; ++c) out[c] = sdk::ggml_value(row, w.desc.layout, c);
    return;
  }
  const int64_t scale_cols = sdk::ceil_div(cols, 128);
  for (int64_t c = 0; c < cols; ++c) {
    float v = load_f32(w, r * cols + c);
    if (scales) v *= load_f32(*scales, (r / 128) * scale_cols + c / 128);
    out[c] = v;
  }
}

std::vector<float> dequantize(const sdk::HostTensor& w, const sdk::HostTensor* scales) {
  const int64_t rows = w.dim(0), cols = w.dim(1);
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) dequantize_row(w, scales, r, out.data() + r * cols);
  return out;
}

}  // namespace fathom::reference
