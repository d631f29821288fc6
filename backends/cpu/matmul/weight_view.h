// A weight matrix as the kernels read it: N rows of K elements in one of the storage formats,
// optionally with DeepSeek's 128×128 block scales (true value = w[n][k] · S[n/128][k/128]), or
// quantised at load (q8, q4) with one f16 scale per group of 32 along each row (isa/quant.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "fathom/sdk/ggml_blocks.hpp"
#include "fathom/sdk/host_backend.hpp"
#include "isa/isa.h"

namespace fathom::cpu {

struct WeightView {
  WFormat fmt = WFormat::f32;
  const void* data = nullptr;
  int64_t rows = 0, cols = 0;       // N, K
  const float* scales = nullptr;    // [ceil(N/128)][ceil(K/128)] or null
  // E4M3 NaN codes (S.1111.111) present: the vector loaders would read them as ±480, so such
  // a matrix is widened by exact scalar code instead (see mark_nan_codes).
  bool nan_codes = false;
  const uint16_t* group_scales = nullptr;  // q8/q4: [N][K / kQuantGroup] f16 bits
  // q8 unpacked from GGUF's Q4_1 / Q5_1 (weight = code · scale + offset): [N][K / kQuantGroup] f32,
  // or null. The kernels compute code · scale; widen_rows adds these, gemv_multiply's callers add
  // their product with x's group sums (add_group_offsets).
  const float* group_offsets = nullptr;
  KScales k_scales = {};                   // the K formats
  // FATHOM_LAYOUT_GGML_*: `data` holds GGUF's blocks (each scale in front of its codes), which no
  // kernel reads: Matrix unpacks them into `fmt` first (unpacked_format).
  uint32_t ggml_layout = 0;


  bool fp8() const { return fmt == WFormat::e4m3 || fmt == WFormat::e5m2; }
  int64_t scale_cols() const { return (cols + 127) / 128; }
  int64_t groups() const { return cols / kQuantGroup; }  // per row, quantised formats
  int64_t sub_blocks() const { return cols / kquant_sub_block(fmt); }  // per row, K formats
  const std::byte* row(int64_t r) const { return static_cast<const std::byte*>(data) + r * row_bytes(fmt, cols); }
  // Bytes a product reads: the rows, and the group scales of quantised formats.
  uint64_t bytes() const {
    if (ggml_layout != 0) return static_cast<uint64_t>(rows * sdk::ggml_row_bytes(ggml_layout, cols));
    const int64_t k_scale_bytes = (cols / kKSuperBlock * 4 + sub_blocks()) * (k_scales.min ? 2 : 1);
    const int64_t scale_bytes = quantized(fmt) ? groups() * (group_offsets ? 6 : 2) : kquant(fmt) ? k_scale_bytes : 0;
    return static_cast<uint64_t>(rows * (row_bytes(fmt, cols) + scale_bytes));
  }
};

// The storage format of a float dtype, or nothing for other dtypes.
std::optional<WFormat> format_of(uint32_t dtype);

// The format a GGUF block layout is unpacked into, holding exactly the same weights:
//  - Q8_0 and Q5_0 → q8 (Q5_0's code − 16 fits an int8), Q4_0 → q4, IQ4_NL → iq4;
//  - the K-quants Q4_K, Q6_K, Q5_K, Q3_K and Q2_K → q4k, q6k, q5k, q3k and q2k; IQ4_XS → iq4k;
//  - Q4_1 and Q5_1 → q8 (their unsigned codes) with group_offsets (their f16 offsets, as f32);
//  - the I-quants below 4 bits → iq2xxs ... iq1m: the same bytes (matmul/grid_rows.h).
WFormat unpacked_format(uint32_t ggml_layout);

// A bound 2-D weight tensor (and its scales for BLOCK_SCALED_128x128), as a view.
WeightView weight_view(const sdk::HostTensor& w, const sdk::HostTensor* scales);

// Sets w.nan_codes by scanning an E4M3 matrix once (done at compile for bound weights; real
// checkpoints never hold NaN weights, but the result must still match the reference).
void mark_nan_codes(WeightView& w);

// Rows [r0, r1) of w as exact f32 values (scales applied, rounded once to f32 as the
// reference does): dst[(r - r0) * ld + k].
void widen_rows(const IsaKernels& isa, const WeightView& w, int64_t r0, int64_t r1, float* dst, int64_t ld);

}  // namespace fathom::cpu
