// embedding: out[t] = table[ids[t]] widened to f32 (or dequantised from GGUF blocks)
// slice:     out[t] = x[t, begin : begin + length]
// concat:    out[t] = [a[t] ; b[t]]
// convert:   element-wise dtype change, rounding to nearest even (FP8 saturates, like the
//            reference); exact bit-level results, so plain per-element code is enough.
#include "fathom/sdk/ggml_blocks.hpp"
#include <cstring>
#include <string>

#include "fathom/sdk/float_formats.hpp"
#include "fathom/sdk/tensor.hpp"
#include "matmul/weight_view.h"
#include "ops/ops.h"
#include "parallel.h"

namespace fathom::cpu {

namespace {

namespace floats = sdk::floats;

constexpr double kMinBytesPerThread = 256.0 * 1024;

// Copies `rows` rows of `row_bytes` bytes; row r goes from src + r·src_stride to dst + r·dst_stride.
void copy_rows(const CpuContext& ctx, const std::byte* src, int64_t src_stride, std::byte* dst, int64_t dst_stride,
               int64_t rows, int64_t row_bytes) {
  const int t = threads_for(ctx.threads(), static_cast<double>(rows * row_bytes), kMinBytesPerThread);
  parallel_ranges(rows, t, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) std::memcpy(dst + r * dst_stride, src + r * src_stride, static_cast<size_t>(row_bytes));
  });
}

float load(uint32_t dtype, const std::byte* p, int64_t i) {
  switch (dtype) {
    case FATHOM_DTYPE_F32: return reinterpret_cast<const float*>(p)[i];
    case FATHOM_DTYPE_F16: return floats::f16_to_f32(reinterpret_cast<const uint16_t*>(p)[i]);
    case FATHOM_DTYPE_BF16: return floats::bf16_to_f32(reinterpret_cast<const uint16_t*>(p)[i]);
    case FATHOM_DTYPE_F8_E4M3FN: return floats::e4m3fn_to_f32(reinterpret_cast<const uint8_t*>(p)[i]);
    default: return floats::e5m2_to_f32(reinterpret_cast<const uint8_t*>(p)[i]);
  }
}

void store(uint32_t dtype, std::byte* p, int64_t i, float v) {
  switch (dtype) {
    case FATHOM_DTYPE_F32: reinterpret_cast<float*>(p)[i] = v; return;
    case FATHOM_DTYPE_F16: reinterpret_cast<uint16_t*>(p)[i] = floats::f32_to_f16(v); return;
    case FATHOM_DTYPE_BF16: reinterpret_cast<uint16_t*>(p)[i] = floats::f32_to_bf16(v); return;
    case FATHOM_DTYPE_F8_E4M3FN: reinterpret_cast<uint8_t*>(p)[i] = floats::f32_to_e4m3fn(v, true); return;
    default: reinterpret_cast<uint8_t*>(p)[i] = floats::f32_to_e5m2(v, true); return;
  }
}

}  // namespace

Prepared prepare_embedding(CpuContext& ctx, const sdk::PrepareArgs& args) {
  return make_node([&ctx](const sdk::KernelArgs& a) {
    const int32_t* ids = a.in[0]->as<const int32_t>();
    const sdk::HostTensor& table = *a.in[1];
    const int64_t vocab = table.dim(0), width = table.dim(1), tokens = a.in[0]->dim(0);
    const uint32_t ggml = table.desc.layout;  // a GGUF-block table (FATHOM_LAYOUT_GGML_*), or dense
    const WFormat fmt = sdk::is_ggml_layout(ggml) ? WFormat::f32 : *format_of(table.dtype());
    for (int64_t t = 0; t < tokens; ++t) {
      if (ids[t] < 0 || ids[t] >= vocab)
        sdk::fail(FATHOM_STATUS_OUT_OF_RANGE, "embedding: token id " + std::to_string(ids[t]) +
                                                  " outside the vocabulary of " + std::to_string(vocab));
    }
    float* out = a.out[0]->as<float>();
    const int64_t row_bytes = sdk::is_ggml_layout(ggml) ? sdk::ggml_row_bytes(ggml, width) : width * format_bytes(fmt);
    const int th = threads_for(ctx.threads(), static_cast<double>(tokens * width * 4), kMinBytesPerThread);
    parallel_ranges(tokens, th, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const std::byte* row = table.data + ids[t] * row_bytes;
        if (sdk::is_ggml_layout(ggml)) {  // a few rows per step: decoded one value at a time
          for (int64_t d = 0; d < width; ++d) out[t * width + d] = sdk::ggml_value(row, ggml, d);
        } else if (fmt == WFormat::e4m3) {  // exact for NaN codes too (see isa.h)
          for (int64_t d = 0; d < width; ++d) out[t * width + d] = load(FATHOM_DTYPE_F8_E4M3FN, row, d);
        } else {
          ctx.isa->widen(fmt, row, out + t * width, width);
        }
      }
    });
  });
}

Prepared prepare_slice(CpuContext& ctx, const sdk::PrepareArgs& args) {
  const auto attrs = sdk::KernelArgs{{}, {}, args.op.attrs, args.op.attrs_size}.attrs_as<fathom_slice_attrs>();
  return make_node([&ctx, attrs](const sdk::KernelArgs& a) {
    const int64_t elem = static_cast<int64_t>(sdk::dtype_bytes(a.in[0]->dtype()));
    const int64_t in_row = a.in[0]->dim(1) * elem, out_row = attrs.length * elem;
    copy_rows(ctx, a.in[0]->data + attrs.begin * elem, in_row, a.out[0]->data, out_row, a.in[0]->dim(0), out_row);
  });
}

Prepared prepare_concat(CpuContext& ctx, const sdk::PrepareArgs&) {
  return make_node([&ctx](const sdk::KernelArgs& a) {
    const int64_t elem = static_cast<int64_t>(sdk::dtype_bytes(a.out[0]->dtype()));
    const int64_t left = a.in[0]->dim(1) * elem, right = a.in[1]->dim(1) * elem, out_row = left + right;
    const int64_t rows = a.out[0]->dim(0);
    copy_rows(ctx, a.in[0]->data, left, a.out[0]->data, out_row, rows, left);
    copy_rows(ctx, a.in[1]->data, right, a.out[0]->data + left, out_row, rows, right);
  });
}

Prepared prepare_convert(CpuContext& ctx, const sdk::PrepareArgs&) {
  return make_node([&ctx](const sdk::KernelArgs& a) {
    const uint32_t from = a.in[0]->dtype(), to = a.out[0]->dtype();
    const int64_t n = a.in[0]->numel();
    const std::byte* src = a.in[0]->data;
    std::byte* dst = a.out[0]->data;
    const int t = threads_for(ctx.threads(), static_cast<double>(n), 65536);
    parallel_ranges(n, t, 64, [&](int64_t b, int64_t e) {
      if (from == to) {
        const int64_t elem = static_cast<int64_t>(sdk::dtype_bytes(from));
        std::memcpy(dst + b * elem, src + b * elem, static_cast<size_t>((e - b) * elem));
      } else if (from == FATHOM_DTYPE_F32 && to == FATHOM_DTYPE_BF16) {
        ctx.isa->to_bf16(reinterpret_cast<const float*>(src) + b, reinterpret_cast<uint16_t*>(dst) + b, e - b);
      } else if (to == FATHOM_DTYPE_F32 && from != FATHOM_DTYPE_F8_E4M3FN) {
        ctx.isa->widen(*format_of(from), src + b * static_cast<int64_t>(sdk::dtype_bytes(from)),
                       reinterpret_cast<float*>(dst) + b, e - b);
      } else {
        for (int64_t i = b; i < e; ++i) store(to, dst, i, load(from, src, i));
      }
    });
  });
}

}  // namespace fathom::cpu
