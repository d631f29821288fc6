// out = x converted element-wise to out's dtype (round to nearest even; FP8 saturates).
#include "kernels/kernels.h"

namespace fathom::reference {

void convert(const KernelArgs& a) {
  const auto& x = *a.in[0];
  const auto& out = *a.out[0];
  for (int64_t i = 0; i < out.numel(); ++i) store_f32(out, i, load_f32(x, i));
}

}  // namespace fathom::reference
