#include "matmul/quantize.h"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <cstring>
#include <cmath>
#include <vector>

#include "cpu_context.h"
#include "isa/quant.h"
#include "parallel.h"
#include "fathom/sdk/ggml_blocks.hpp"
#include "fathom/sdk/tensor.hpp"

namespace fathom::cpu {

static_assert(std::equal(std::begin(kIq4Values), std::end(kIq4Values), std::begin(sdk::ggml_detail::kIq4NlValues)),
              "isa.h's copy of IQ4_NL's table is the SDK's");

std::optional<QuantizedMatrix> quantize_matrix(CpuContext& ctx, const WeightView& source, WFormat target) {
  if (source.cols % kQuantGroup != 0 || source.rows == 0) return std::nullopt;
  const int64_t groups = source.cols / kQuantGroup;
  const int64_t code_bytes = row_bytes(target, source.cols);
  const size_t codes_total = static_cast<size_t>(source.rows * code_bytes);
  const size_t scales_offset = (codes_total + 63) / 64 * 64;
  WeightArena::Block block = ctx.arena.allocate(scales_offset + static_cast<size_t>(source.rows * groups) * 2);
  auto* codes = static_cast<std::byte*>(block.data);
  auto* scales = reinterpret_cast<uint16_t*>(codes + scales_offset);

  std::atomic<bool> ok{true};
  const int t = threads_for(ctx.threads(), static_cast<double>(source.rows * source.cols), 1 << 16);
  parallel_ranges(source.rows, t, 1, [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(source.cols));
    for (int64_t r = r0; r < r1 && ok.load(std::memory_order_relaxed); ++r) {
      widen_rows(*ctx.isa, source, r, r + 1, row.data(), source.cols);
      for (int64_t g = 0; g < groups; ++g) {
        const float* w = row.data() + g * kQuantGroup;
        for (int64_t i = 0; i < kQuantGroup; ++i) {
          if (!std::isfinite(w[i])) ok = false;
        }
        const uint16_t d = quant::quantize_group(target, w, codes + r * code_bytes + g * (code_bytes / groups));
        if (!std::isfinite(sdk::floats::f16_to_f32(d))) ok = false;
        scales[r * groups + g] = d;
      }
    }
  });
  if (!ok) return std::nullopt;
  release_file_pages(source.data, source.bytes());
  WeightView v{target, codes, source.rows, source.cols, nullptr};
  v.group_scales = scales;
  return QuantizedMatrix{v, std::move(block)};
}

QuantizedMatrix unpack_ggml_blocks(CpuContext& ctx, const WeightView& source) {
  const int64_t groups = source.cols / kQuantGroup;
  const int64_t code_bytes = row_bytes(source.fmt, source.cols), group_code_bytes = code_bytes / groups;
  const int64_t block_bytes = sdk::ggml_block_bytes(source.ggml_layout);
  const size_t codes_total = static_cast<size_t>(source.rows * code_bytes);
  const size_t scales_offset = (codes_total + 63) / 64 * 64;
  const size_t count = static_cast<size_t>(source.rows * groups);
  const size_t offsets_offset = (scales_offset + count * 2 + 63) / 64 * 64;
  const bool with_offsets = source.ggml_layout == FATHOM_LAYOUT_GGML_Q4_1 || source.ggml_layout == FATHOM_LAYOUT_GGML_Q5_1;
  WeightArena::Block block = ctx.arena.allocate(with_offsets ? offsets_offset + count * 4 : scales_offset + count * 2);
  auto* codes = static_cast<std::byte*>(block.data);
  auto* scales = reinterpret_cast<uint16_t*>(codes + scales_offset);
  float* offsets = with_offsets ? reinterpret_cast<float*>(codes + offsets_offset) : nullptr;
  const auto* blocks = static_cast<const std::byte*>(source.data);
  const int t = threads_for(ctx.threads(), static_cast<double>(source.rows * source.cols), 1 << 16);
  parallel_ranges(source.rows, t, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        const std::byte* b = blocks + (r * groups + g) * block_bytes;  // d (f16), then the codes
        std::memcpy(&scales[r * groups + g], b, 2);
        if (offsets) offsets[r * groups + g] = -sdk::ggml_sub_block(b, source.ggml_layout, 0).min;  // W = q · d + m
        std::byte* out = codes + r * code_bytes + g * group_code_bytes;
        if (source.fmt == WFormat::q8 && source.ggml_layout != FATHOM_LAYOUT_GGML_Q8_0) {
          // Q5_0's five bits in two places (q − 16), Q4_1's / Q5_1's codes: an int8 each
          for (int64_t j = 0; j < kQuantGroup; ++j) out[j] = static_cast<std::byte>(static_cast<int8_t>(sdk::ggml_code(b, source.ggml_layout, j)));
        } else {
          std::memcpy(out, b + 2, static_cast<size_t>(group_code_bytes));
        }
      }
    }
  });
  release_file_pages(source.data, static_cast<size_t>(source.rows * groups * block_bytes));
  WeightView v{source.fmt, codes, source.rows, source.cols, nullptr};
  v.group_scales = scales;
  v.group_offsets = offsets;
  return QuantizedMatrix{v, std::move(block)};
}

QuantizedMatrix unpack_ggml_k_blocks(CpuContext& ctx, const WeightView& source) {
  const uint32_t layout = source.ggml_layout;
  const WFormat fmt = source.fmt;  // q4k, q6k or q5k (unpacked_format)
  const int64_t sub = kquant_sub_block(fmt), subs = source.cols / sub, supers = source.cols / kKSuperBlock;
  const bool mins = layout != FATHOM_LAYOUT_GGML_Q6_K && layout != FATHOM_LAYOUT_GGML_Q3_K && layout != FATHOM_LAYOUT_GGML_IQ4_XS;
  const int64_t code_bytes = row_bytes(fmt, source.cols), src_row_bytes = sdk::ggml_row_bytes(layout, source.cols);
  // One block: the codes, then (64-byte aligned) d and dmin [rows][supers] f32, then the
  // integer scales and mins [rows][subs].
  const size_t codes_total = static_cast<size_t>(source.rows * code_bytes);
  const size_t d_offset = (codes_total + 63) / 64 * 64;
  const size_t super_count = static_cast<size_t>(source.rows * supers), sub_count = static_cast<size_t>(source.rows * subs);
  const size_t levels = mins ? 2 : 1;
  WeightArena::Block block = ctx.arena.allocate(d_offset + levels * (super_count * 4 + sub_count));
  auto* codes = static_cast<std::byte*>(block.data);
  auto* d = reinterpret_cast<float*>(codes + d_offset);
  float* dmin = mins ? d + super_count : nullptr;
  auto* scale = reinterpret_cast<int8_t*>(d + levels * super_count);
  int8_t* min = mins ? scale + sub_count : nullptr;
  const auto* blocks = static_cast<const std::byte*>(source.data);
  const int64_t block_bytes = sdk::ggml_block_bytes(layout);
  const int t = threads_for(ctx.threads(), static_cast<double>(source.rows * source.cols), 1 << 16);
  parallel_ranges(source.rows, t, 1, [&](int64_t r0, int64_t r1) {
    int8_t block_codes[kKSuperBlock];
    for (int64_t r = r0; r < r1; ++r) {
      const std::byte* row = blocks + r * src_row_bytes;
      auto* out = reinterpret_cast<uint8_t*>(codes + r * code_bytes);
      for (int64_t k0 = 0; k0 < source.cols; k0 += kKSuperBlock) {
        const std::byte* b = row + k0 / kKSuperBlock * block_bytes;
        if (fmt == WFormat::iq4k) {  // IQ4_XS's nibbles are in q4's order already, the table's indices
          std::memcpy(out + k0 / 2, b + 8, kKSuperBlock / 2);
        } else {
          sdk::ggml_k_block_codes(b, layout, block_codes);
          if (packed_k(fmt)) {
            for (int64_t j = 0; j < kKSuperBlock; j += 64) quant::pack_block(fmt, block_codes + j, out + (k0 + j) / 64 * packed_block_bytes(fmt));
          } else {  // q4's nibble order: weight j of a group of 32 low in byte j % 16, j + 16 high
            uint8_t* groups = out + k0 / 2;
            for (int64_t g = 0; g < kKSuperBlock / kQuantGroup; ++g)
              for (int64_t j = 0; j < quant::kQ4GroupBytes; ++j)
                groups[g * quant::kQ4GroupBytes + j] = static_cast<uint8_t>(block_codes[g * kQuantGroup + j] |
                                                                            block_codes[g * kQuantGroup + 16 + j] << 4);
          }
        }
        const sdk::GgmlSuperBlock s = sdk::ggml_super_block(b, layout);
        d[r * supers + k0 / kKSuperBlock] = s.d;
        if (mins) dmin[r * supers + k0 / kKSuperBlock] = s.dmin;
        for (int64_t j = 0; j < kKSuperBlock; j += sub) {  // Q5_K's scales of 32 written for both halves of 16
          const sdk::GgmlSubIntegers i = sdk::ggml_sub_integers(b, layout, j);
          scale[r * subs + (k0 + j) / sub] = static_cast<int8_t>(i.scale);
          if (mins) min[r * subs + (k0 + j) / sub] = static_cast<int8_t>(i.min);
        }
      }
    }
  });
  release_file_pages(source.data, source.bytes());
  WeightView v{fmt, codes, source.rows, source.cols, nullptr};
  v.k_scales = KScales{d, dmin, scale, min};
  return QuantizedMatrix{v, std::move(block)};
}

}  // namespace fathom::cpu
