// add:      out = a + b
// silu_mul: out = silu(gate) ⊙ up, silu(g) = g / (1 + e^-g)   (the SwiGLU of spec §2.8/§2.10)
#include <cmath>

#include "kernels/kernels.h"

namespace fathom::reference {

void add(const KernelArgs& a) {
  const auto& x = *a.in[0];
  const auto& y = *a.in[1];
  const auto& out = *a.out[0];
  for (int64_t i = 0; i < out.numel(); ++i) store_f32(out, i, load_f32(x, i) + load_f32(y, i));
}

void silu_mul(const KernelArgs& a) {
  const auto& gate = *a.in[0];
  const auto& up = *a.in[1];
  const auto& out = *a.out[0];
  for (int64_t i = 0; i < out.numel(); ++i) {
    double g = load_f32(gate, i);
    double silu = g / (1.0 + std::exp(-g));
    store_f32(out, i, static_cast<float>(silu * load_f32(up, i)));
  }
}

}  // namespace fathom::reference
