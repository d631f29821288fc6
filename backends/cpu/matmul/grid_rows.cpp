#include "matmul/grid_rows.h"

#include "fathom/sdk/ggml_blocks.hpp"
#include "fathom/sdk/status.hpp"

namespace fathom::cpu {

uint32_t grid_layout(WFormat fmt) {
  switch (fmt) {
    case WFormat::iq2xxs: return FATHOM_LAYOUT_GGML_IQ2_XXS;
    case WFormat::iq2xs: return FATHOM_LAYOUT_GGML_IQ2_XS;
    case WFormat::iq2s: return FATHOM_LAYOUT_GGML_IQ2_S;
    case WFormat::iq3xxs: return FATHOM_LAYOUT_GGML_IQ3_XXS;
    case WFormat::iq3s: return FATHOM_LAYOUT_GGML_IQ3_S;
    case WFormat::iq1s: return FATHOM_LAYOUT_GGML_IQ1_S;
    case WFormat::iq1m: return FATHOM_LAYOUT_GGML_IQ1_M;
    default: sdk::fail_invalid("not an I-quant format");
  }
}

void widen_grid_rows(const WeightView& w, int64_t r0, int64_t r1, float* dst, int64_t ld) {
  const uint32_t layout = grid_layout(w.fmt);
  const int64_t blocks = w.cols / kKSuperBlock, block_bytes = grid_block_bytes(w.fmt);
  int16_t group[8];
  for (int64_t r = r0; r < r1; ++r) {
    const std::byte* row = w.row(r);
    float* out = dst + (r - r0) * ld;
    for (int64_t b = 0; b < blocks; ++b) {
      const std::byte* block = row + b * block_bytes;
      const float factor = sdk::ggml_grid_factor(block, layout);
      for (int64_t g = 0; g < kKSuperBlock / 8; ++g) {
        sdk::ggml_grid_group(block, layout, g, group);
        for (int j = 0; j < 8; ++j) out[b * kKSuperBlock + 8 * g + j] = static_cast<float>(group[j]) * factor;
      }
    }
  }
}

}  // namespace fathom::cpu
