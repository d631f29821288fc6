// W[r, c] = w[r, c] · S[r / 128, c / 128] for block-scaled FP8 (spec §3.3: multiply by
// weight_scale_inv; ragged edge blocks use the same indexing), w[r, c] otherwise.
#include "kernels/dequantize.h"

namespace fathom::reference {

std::vector<float> dequantize(const sdk::HostTensor& w, const sdk::HostTensor* scales) {
  const int64_t rows = w.dim(0), cols = w.dim(1), scale_cols = sdk::ceil_div(cols, 128);
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      float v = load_f32(w, r * cols + c);
      if (scales) v *= load_f32(*scales, (r / 128) * scale_cols + c / 128);
      out[static_cast<size_t>(r * cols + c)] = v;
    }
  }
  return out;
}

}  // namespace fathom::reference
