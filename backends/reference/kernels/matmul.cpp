// out[t, n] = Σ_k x[t, k] · W[n, k]            x [T, K], W [N, K] (nn.Linear layout), out [T, N].
// Block-scaled FP8 weights (spec §3.3): W[n, k] = fp8(W[n, k]) · S[n / 128, k / 128]; the scale is a
// multiplier (DeepSeek's weight_scale_inv), and ragged edge blocks use the same formula. GGUF's
// Q8_0 / Q4_0 blocks are dequantised the same way (kernels/dequantize.cpp).
// Accumulation in f64.
#include <vector>

#include "kernels/dequantize.h"

namespace fathom::reference {

void matmul(const KernelArgs& a) {
  const auto& x = *a.in[0];
  const auto& w = *a.in[1];
  const auto& out = *a.out[0];
  const bool block_scaled = w.desc.layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128;
  const int64_t rows = x.dim(0), k_dim = x.dim(1), n_dim = w.dim(0);

  std::vector<float> w_row(static_cast<size_t>(k_dim));
  std::vector<double> acc(static_cast<size_t>(rows * n_dim), 0.0);
  for (int64_t n = 0; n < n_dim; ++n) {
    // Dequantise one weight row, then use it for every token.
    dequantize_row(w, block_scaled ? a.in[2] : nullptr, n, w_row.data());
    for (int64_t t = 0; t < rows; ++t) {
      double sum = 0;
      for (int64_t k = 0; k < k_dim; ++k) sum += static_cast<double>(load_f32(x, t * k_dim + k)) * w_row[static_cast<size_t>(k)];
      acc[static_cast<size_t>(t * n_dim + n)] = sum;
    }
  }
  for (int64_t i = 0; i < rows * n_dim; ++i) store_f32(out, i, static_cast<float>(acc[static_cast<size_t>(i)]));
}

}  // namespace fathom::reference
