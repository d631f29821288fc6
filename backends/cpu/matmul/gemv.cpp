#include "matmul/gemv.h"

#include <algorithm>

#include "matmul/grid_rows.h"
#include "parallel.h"
#include "scratch.h"

namespace fathom::cpu {

namespace {

// I-quant rows rebuilt at a time (matmul/grid_rows.h): a GEMV row block's worth, which then sit
// in L1/L2 while every row of x passes over them.
constexpr int64_t kGridRows = 8;

// Rows n0..n1 (inside one 128-row scale block when w is block-scaled).
void gemv_rows(const CpuContext& ctx, const WeightView& w, const float* x, int64_t m, float* y, int64_t n0, int64_t n1) {
  const IsaKernels& isa = *ctx.isa;
  const int64_t k = w.cols;
  if (quantized(w.fmt)) {
    isa.gemv_q(w.fmt, w.row(n0), w.group_scales + n0 * w.groups(), n1 - n0, k, x, k, m, y + n0, w.rows);
    return;
  }
  if (grid_k(w.fmt)) {  // exact f32 products: kGridRows rows widened at a time
    float* rows = scratch<float>(Scratch::codes, static_cast<size_t>(kGridRows * k));
    auto* integers = scratch<int16_t>(Scratch::tile, static_cast<size_t>(kGridRows * k));
    float* factors = scratch<float>(Scratch::grid_factors, static_cast<size_t>(kGridRows * (k / kKSuperBlock)));
    for (int64_t r0 = n0; r0 < n1; r0 += kGridRows) {
      const int64_t rn = std::min(kGridRows, n1 - r0);
      if (ctx.grid_rows) {  // integer · factor, each exact: the same f32 values
        ctx.grid_rows->expand_grid(w.fmt, reinterpret_cast<const uint8_t*>(w.row(r0)), row_bytes(w.fmt, k), rn, k, integers,
                                   factors);
        for (int64_t i = 0; i < rn * k; ++i) rows[i] = static_cast<float>(integers[i]) * factors[i / kKSuperBlock];
      } else {
        widen_grid_rows(w, r0, r0 + rn, rows, k);
      }
      isa.gemv(WFormat::f32, rows, k, rn, k, x, k, m, y + r0, w.rows);
    }
    return;
  }
  if (kquant(w.fmt)) {
    isa.gemv_k(w.fmt, w.row(n0), w.k_scales.from_row(n0, k, kquant_sub_block(w.fmt)), n1 - n0, k, x, k, m, y + n0, w.rows);
    return;
  }
  const float factor = w.fmt == WFormat::e4m3 ? kE4M3GemvScale : 1.0f;
  if (!w.scales && factor == 1.0f) {
    isa.gemv(w.fmt, w.row(n0), k, n1 - n0, k, x, k, m, y + n0, w.rows);
    return;
  }
  float* xs = scratch<float>(Scratch::activations, static_cast<size_t>(m * k));
  const int64_t sc = w.scale_cols();
  for (int64_t r = 0; r < m; ++r) {
    const float* src = x + r * k;
    float* dst = xs + r * k;
    for (int64_t b = 0; b < sc; ++b) {
      const float s = (w.scales ? w.scales[(n0 / 128) * sc + b] : 1.0f) * factor;
      const int64_t c0 = b * 128, c1 = std::min(k, c0 + 128);
      for (int64_t c = c0; c < c1; ++c) dst[c] = src[c] * s;
    }
  }
  if (w.fmt == WFormat::e4m3 && ctx.e4m3_bf16_gemv) {
    ctx.e4m3_bf16_gemv(reinterpret_cast<const uint8_t*>(w.row(n0)), k, n1 - n0, k, xs, k, m, y + n0, w.rows,
                       scratch<uint16_t>(Scratch::bf16, static_cast<size_t>(m * k)));
  } else if (w.fmt == WFormat::e4m3 && ctx.e4m3_gemv) {
    ctx.e4m3_gemv(reinterpret_cast<const uint8_t*>(w.row(n0)), k, n1 - n0, k, xs, k, m, y + n0, w.rows);
  } else {
    isa.gemv(w.fmt, w.row(n0), k, n1 - n0, k, xs, k, m, y + n0, w.rows);
  }
}

}  // namespace

void gemv_multiply(const CpuContext& ctx, const WeightView& w, const float* x, int64_t m, float* y, int threads) {
  // Each thread should stream at least ~256 KiB of weights, or waking it costs more than it saves.
  const int t = threads_for(threads, static_cast<double>(w.bytes()), 256.0 * 1024);
  if ((quantized(w.fmt) || kquant(w.fmt) || grid_k(w.fmt)) && ctx.int8_dot) {
    // x quantised and laid out once here, shared read-only by the threads (isa/int8_dot.h).
    const int64_t xb = ctx.int8_dot->x_row_bytes(w.fmt, w.cols, m);
    uint8_t* xq = scratch<uint8_t>(Scratch::bf16, static_cast<size_t>(m * xb));
    ctx.int8_dot->quantize_rows(w.fmt, x, w.cols, m, w.cols, xq);
    parallel_ranges(w.rows, t, 8, [&](int64_t begin, int64_t end) {
      if (grid_k(w.fmt) && m <= 4) {  // decode: the rebuilt weights multiplied while in registers
        ctx.int8_dot->gemv_grid(w.fmt, reinterpret_cast<const uint8_t*>(w.row(begin)), row_bytes(w.fmt, w.cols), end - begin,
                                w.cols, xq, m, y + begin, w.rows);
        return;
      }
      if (grid_k(w.fmt)) {
        const int64_t blocks = w.cols / kKSuperBlock;
        auto* rows = scratch<int16_t>(Scratch::codes, static_cast<size_t>(kGridRows * w.cols));
        float* factors = scratch<float>(Scratch::grid_factors, static_cast<size_t>(kGridRows * blocks));
        for (int64_t r0 = begin; r0 < end; r0 += kGridRows) {
          const int64_t rn = std::min(kGridRows, end - r0);
          ctx.int8_dot->expand_grid(w.fmt, reinterpret_cast<const uint8_t*>(w.row(r0)), row_bytes(w.fmt, w.cols), rn, w.cols,
                                    rows, factors);
          ctx.int8_dot->gemv_wide(rows, factors, rn, w.cols, xq, m, y + r0, w.rows);
        }
        return;
      }
      if (quantized(w.fmt)) {
        ctx.int8_dot->gemv(w.fmt, w.row(begin), w.group_scales + begin * w.groups(), end - begin, w.cols, xq, m, y + begin,
                           w.rows);
        return;
      }
      uint8_t* expand =
          wide_x(w.fmt, m) ? scratch<uint8_t>(Scratch::codes, static_cast<size_t>(kExpandBytesPerWeight * w.cols)) : nullptr;
      ctx.int8_dot->gemv_k(w.fmt, w.row(begin), w.k_scales.from_row(begin, w.cols, kquant_sub_block(w.fmt)), end - begin,
                           w.cols, xq, m, y + begin, w.rows, expand);
    });
    return;
  }
  if (ctx.bf16_dot && w.fmt == WFormat::bf16 && !w.scales) {
    // Rounded once here, shared read-only by the threads (the scratch is this thread's).
    uint16_t* xb = scratch<uint16_t>(Scratch::bf16, static_cast<size_t>(m * w.cols));
    ctx.isa->to_bf16(x, xb, m * w.cols);
    parallel_ranges(w.rows, t, 8, [&](int64_t begin, int64_t end) {
      ctx.bf16_dot(reinterpret_cast<const uint16_t*>(w.row(begin)), w.cols, end - begin, w.cols, xb, w.cols, m, y + begin,
                   w.rows);
    });
    return;
  }
  parallel_ranges(w.rows, t, 8, [&](int64_t begin, int64_t end) {
    if (!w.scales) {
      gemv_rows(ctx, w, x, m, y, begin, end);
      return;
    }
    for (int64_t n0 = begin; n0 < end;) {  // one scale block at a time
      const int64_t n1 = std::min(end, (n0 / 128 + 1) * 128);
      gemv_rows(ctx, w, x, m, y, n0, n1);
      n0 = n1;
    }
  });
}

void add_group_offsets(const CpuContext& ctx, const WeightView& w, const float* x, int64_t m, float* y, int threads) {
  const int64_t groups = w.groups();
  float* sums = scratch<float>(Scratch::group_sums, static_cast<size_t>(m * groups));  // read by every thread
  for (int64_t i = 0; i < m; ++i)
    for (int64_t g = 0; g < groups; ++g) {
      double s = 0;
      for (int64_t c = g * kQuantGroup; c < (g + 1) * kQuantGroup; ++c) s += x[i * w.cols + c];
      sums[i * groups + g] = static_cast<float>(s);
    }
  const int t = threads_for(threads, static_cast<double>(w.rows * groups * m), 1 << 16);
  parallel_ranges(w.rows, t, 8, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n)
      for (int64_t i = 0; i < m; ++i) y[i * w.rows + n] += ctx.isa->dot(w.group_offsets + n * groups, sums + i * groups, groups);
  });
}

}  // namespace fathom::cpu
