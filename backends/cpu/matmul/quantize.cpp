#include "matmul/quantize.h"

#include <atomic>
#include <cstring>
#include <cmath>
#include <vector>

#include "cpu_context.h"
#include "isa/quant.h"
#include "parallel.h"
#include "fathom/sdk/tensor.hpp"

namespace fathom::cpu {

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
  WeightArena::Block block = ctx.arena.allocate(scales_offset + static_cast<size_t>(source.rows * groups) * 2);
  auto* codes = static_cast<std::byte*>(block.data);
  auto* scales = reinterpret_cast<uint16_t*>(codes + scales_offset);
  const auto* blocks = static_cast<const std::byte*>(source.data);
  const int t = threads_for(ctx.threads(), static_cast<double>(source.rows * source.cols), 1 << 16);
  parallel_ranges(source.rows, t, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        const std::byte* b = blocks + (r * groups + g) * block_bytes;  // d (f16), then the codes
        std::memcpy(&scales[r * groups + g], b, 2);
        std::memcpy(codes + r * code_bytes + g * group_code_bytes, b + 2, static_cast<size_t>(group_code_bytes));
      }
    }
  });
  release_file_pages(source.data, static_cast<size_t>(source.rows * groups * block_bytes));
  WeightView v{source.fmt, codes, source.rows, source.cols, nullptr};
  v.group_scales = scales;
  return QuantizedMatrix{v, std::move(block)};
}

}  // namespace fathom::cpu
