#include "matmul/weight_view.h"

#include <string>

#include "fathom/sdk/float_formats.hpp"
#include "isa/quant.h"
#include "matmul/grid_rows.h"
#include "fathom/sdk/status.hpp"

namespace fathom::cpu {

std::optional<WFormat> format_of(uint32_t dtype) {
  switch (dtype) {
    case FATHOM_DTYPE_F32: return WFormat::f32;
    case FATHOM_DTYPE_F16: return WFormat::f16;
    case FATHOM_DTYPE_BF16: return WFormat::bf16;
    case FATHOM_DTYPE_F8_E4M3FN: return WFormat::e4m3;
    case FATHOM_DTYPE_F8_E5M2: return WFormat::e5m2;
    default: return std::nullopt;
  }
}

WFormat unpacked_format(uint32_t ggml_layout) {
  switch (ggml_layout) {
    case FATHOM_LAYOUT_GGML_Q8_0:
    case FATHOM_LAYOUT_GGML_Q5_0:
    case FATHOM_LAYOUT_GGML_Q4_1:  // with group offsets (unpack_ggml_blocks)
    case FATHOM_LAYOUT_GGML_Q5_1: return WFormat::q8;
    case FATHOM_LAYOUT_GGML_IQ4_NL: return WFormat::iq4;
    case FATHOM_LAYOUT_GGML_Q4_0: return WFormat::q4;
    case FATHOM_LAYOUT_GGML_Q4_K: return WFormat::q4k;
    case FATHOM_LAYOUT_GGML_Q5_K: return WFormat::q5k;
    case FATHOM_LAYOUT_GGML_Q6_K: return WFormat::q6k;
    case FATHOM_LAYOUT_GGML_Q3_K: return WFormat::q3k;
    case FATHOM_LAYOUT_GGML_Q2_K: return WFormat::q2k;
    case FATHOM_LAYOUT_GGML_IQ4_XS: return WFormat::iq4k;
    case FATHOM_LAYOUT_GGML_IQ2_XXS: return WFormat::iq2xxs;  // the I-quants below 4 bits: kept as they are
    case FATHOM_LAYOUT_GGML_IQ2_XS: return WFormat::iq2xs;
    case FATHOM_LAYOUT_GGML_IQ2_S: return WFormat::iq2s;
    case FATHOM_LAYOUT_GGML_IQ3_XXS: return WFormat::iq3xxs;
    case FATHOM_LAYOUT_GGML_IQ3_S: return WFormat::iq3s;
    case FATHOM_LAYOUT_GGML_IQ1_S: return WFormat::iq1s;
    case FATHOM_LAYOUT_GGML_IQ1_M: return WFormat::iq1m;
    default: sdk::fail_invalid("layout " + std::to_string(ggml_layout) + " is not a GGUF block layout");
  }
}

WeightView weight_view(const sdk::HostTensor& w, const sdk::HostTensor* scales) {
  if (sdk::is_ggml_layout(w.desc.layout)) {
    const uint32_t layout = w.desc.layout;
    if (w.rank() != 2 || w.dim(1) % sdk::ggml_block_weights(layout) != 0) {
      sdk::fail_invalid("GGUF blocks need rows of whole blocks");
    }
    WeightView v{unpacked_format(layout), w.data, w.dim(0), w.dim(1), nullptr};
    v.ggml_layout = w.desc.layout;
    return v;
  }
  const auto fmt = format_of(w.dtype());
  if (!fmt || w.rank() != 2) sdk::fail_invalid("a weight matrix must be a 2-D float tensor");
  WeightView v;
  v.fmt = *fmt;
  v.data = w.data;
  v.rows = w.dim(0);
  v.cols = w.dim(1);
  if (w.desc.layout == FATHOM_LAYOUT_BLOCK_SCALED_128x128) {
    if (!scales || scales->dtype() != FATHOM_DTYPE_F32) sdk::fail_invalid("a block-scaled weight needs f32 scales");
    v.scales = scales->as<const float>();
  }
  return v;
}

void mark_nan_codes(WeightView& w) {
  w.nan_codes = false;
  if (w.fmt != WFormat::e4m3) return;
  const auto* p = static_cast<const uint8_t*>(w.data);
  const uint64_t n = w.bytes();
  bool found = false;
  for (uint64_t i = 0; i < n; ++i) found |= (p[i] & 0x7F) == 0x7F;  // no early exit: vectorises
  w.nan_codes = found;
}

void widen_rows(const IsaKernels& isa, const WeightView& w, int64_t r0, int64_t r1, float* dst, int64_t ld) {
  const int64_t k = w.cols, sc = w.scale_cols();
  for (int64_t r = r0; r < r1; ++r) {
    float* out = dst + (r - r0) * ld;
    if (quantized(w.fmt)) {
      isa.widen_q(w.fmt, w.row(r), w.group_scales + r * w.groups(), out, k);
      if (w.group_offsets) {  // code · scale exact, so one rounding here, as the reference's
        const float* offsets = w.group_offsets + r * w.groups();
        for (int64_t c = 0; c < k; ++c) out[c] += offsets[c / kQuantGroup];
      }
      continue;
    }
    if (grid_k(w.fmt)) {
      widen_grid_rows(w, r, r + 1, out, ld);
      continue;
    }
    if (kquant(w.fmt)) {
      isa.widen_k(w.fmt, w.row(r), w.k_scales.from_row(r, k, kquant_sub_block(w.fmt)), out, k);
      continue;
    }
    if (w.nan_codes) {
      const auto* q = reinterpret_cast<const uint8_t*>(w.row(r));
      for (int64_t c = 0; c < k; ++c) out[c] = sdk::floats::e4m3fn_to_f32(q[c]);
    } else {
      isa.widen(w.fmt, w.row(r), out, k);
    }
    if (!w.scales) continue;
    const float* s = w.scales + (r / 128) * sc;
    for (int64_t b = 0; b < sc; ++b) {
      const int64_t c0 = b * 128, n = k - c0 < 128 ? k - c0 : 128;
      isa.scale(s[b], out + c0, n);
    }
  }
}

}  // namespace fathom::cpu
