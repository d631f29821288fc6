// out[t, :] = x[t, :] / sqrt(mean(x[t, :]²) + eps) ⊙ w      x [T, D], w [D] (spec §2.2).
// The mean of squares is accumulated in f64; the normalised value is rounded to f32 before the
// weight multiply, as the HF implementation does in its own precision.
#include <cmath>

#include "kernels/kernels.h"

namespace fathom::reference {

void rms_norm(const KernelArgs& a) {
  const auto& x = *a.in[0];
  const auto& w = *a.in[1];
  const auto& out = *a.out[0];
  const float eps = a.attrs_as<fathom_rms_norm_attrs>().eps;
  const int64_t rows = x.dim(0), width = x.dim(1);
  for (int64_t t = 0; t < rows; ++t) {
    double sum_sq = 0;
    for (int64_t d = 0; d < width; ++d) {
      double v = load_f32(x, t * width + d);
      sum_sq += v * v;
    }
    const float inv_rms = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(width) + eps));
    for (int64_t d = 0; d < width; ++d) {
      float normed = load_f32(x, t * width + d) * inv_rms;
      store_f32(out, t * width + d, normed * load_f32(w, d));
    }
  }
}

}  // namespace fathom::reference
