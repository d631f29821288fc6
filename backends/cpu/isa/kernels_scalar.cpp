// Portable kernels: plain C++ for any x86-64 (or other) CPU. They define the results the vector
// tables must reproduce (the ISA unit test compares them) and are the fallback on CPUs without
// AVX2. Compiled with the baseline flags only.
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "fathom/sdk/float_formats.hpp"
#include "isa/isa.h"
#include "isa/quant.h"

namespace fathom::cpu {

namespace {

namespace floats = sdk::floats;

// Exact value tables for the 8-bit formats (256 entries each), built once.
struct Fp8Tables {
  float e4m3[256], e5m2[256];
  Fp8Tables() {
    for (int i = 0; i < 256; ++i) {
      e4m3[i] = floats::e4m3fn_to_f32(static_cast<uint8_t>(i));
      e5m2[i] = floats::e5m2_to_f32(static_cast<uint8_t>(i));
    }
  }
};
const Fp8Tables& fp8() {
  static const Fp8Tables t;
  return t;
}

float bf16_value(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

// Element i of a row of `fmt`; `gemv_view` asks for the GEMV convention (E4M3 · 2^-8).
float element(WFormat fmt, const void* row, int64_t i, bool gemv_view) {
  switch (fmt) {
    case WFormat::f32: return static_cast<const float*>(row)[i];
    case WFormat::f16: return floats::f16_to_f32(static_cast<const uint16_t*>(row)[i]);
    case WFormat::bf16: return bf16_value(static_cast<const uint16_t*>(row)[i]);
    case WFormat::e4m3: {
      const float v = fp8().e4m3[static_cast<const uint8_t*>(row)[i]];
      return gemv_view ? v * (1.0f / kE4M3GemvScale) : v;
    }
    case WFormat::e5m2: return fp8().e5m2[static_cast<const uint8_t*>(row)[i]];
    default: break;  // the quantised and K formats need scales: callers take their own kernels (isa.h)
  }
  return 0;
}

const std::byte* row_at(WFormat fmt, const void* w, int64_t r, int64_t ld) {
  return static_cast<const std::byte*>(w) + r * ld * format_bytes(fmt);
}

void widen(WFormat fmt, const void* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = element(fmt, src, i, false);
}

void gemv(WFormat fmt, const void* w, int64_t ldw, int64_t rows_w, int64_t k_len, const float* x, int64_t ldx,
          int64_t rows_x, float* y, int64_t ldy) {
  for (int64_t r = 0; r < rows_w; ++r) {
    const std::byte* row = row_at(fmt, w, r, ldw);
    for (int64_t m = 0; m < rows_x; ++m) {
      float sum = 0;
      for (int64_t k = 0; k < k_len; ++k) sum += x[m * ldx + k] * element(fmt, row, k, true);
      y[m * ldy + r] = sum;
    }
  }
}

void gemv_q(WFormat fmt, const void* w, const uint16_t* scales, int64_t rows_w, int64_t k_len, const float* x,
            int64_t ldx, int64_t rows_x, float* y, int64_t ldy) {
  const int64_t groups = k_len / kQuantGroup;
  for (int64_t r = 0; r < rows_w; ++r) {
    const std::byte* row = static_cast<const std::byte*>(w) + r * row_bytes(fmt, k_len);
    for (int64_t m = 0; m < rows_x; ++m) {
      float sum = 0;
      for (int64_t k = 0; k < k_len; ++k) sum += x[m * ldx + k] * quant::dequantised(fmt, row, scales + r * groups, k);
      y[m * ldy + r] = sum;
    }
  }
}

void widen_q(WFormat fmt, const void* w, const uint16_t* scales, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = quant::dequantised(fmt, w, scales, i);
}

void widen_k(WFormat fmt, const void* w, const KScales& s, float* dst, int64_t n) { quant::widen_k_row(fmt, w, s, dst, n); }

void gemv_k(WFormat fmt, const void* w, const KScales& s, int64_t rows_w, int64_t k_len, const float* x, int64_t ldx,
            int64_t rows_x, float* y, int64_t ldy) {
  std::vector<float> row(static_cast<size_t>(k_len));
  for (int64_t r = 0; r < rows_w; ++r) {
    widen_k(fmt, static_cast<const std::byte*>(w) + r * row_bytes(fmt, k_len), s.from_row(r, k_len, kquant_sub_block(fmt)),
            row.data(), k_len);
    for (int64_t m = 0; m < rows_x; ++m) {
      float sum = 0;
      for (int64_t k = 0; k < k_len; ++k) sum += x[m * ldx + k] * row[static_cast<size_t>(k)];
      y[m * ldy + r] = sum;
    }
  }
}

double dot_f64(WFormat fmt, const void* w, const float* x, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * element(fmt, w, i, false);
  return sum;
}

float dot(const float* a, const float* b, int64_t n) {
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void scale(float a, float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= a;
}

void add(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void silu_mul(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

double sum_squares(const float* x, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  return sum;
}

void scale_mul(const float* x, float inv, const float* w, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float normed = x[i] * inv;
    out[i] = normed * w[i];
  }
}

void softmax(float* x, int64_t n) {
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = x[i] > max ? x[i] : max;
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (x[i] = std::exp(x[i] - max));
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void to_bf16(const float* x, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = floats::f32_to_bf16(x[i]);
}

void gemv_t(WFormat fmt, const void* w, int64_t ldw, int64_t rows, int64_t cols, const float* x, float* y) {
  for (int64_t c = 0; c < cols; ++c) y[c] = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const std::byte* row = row_at(fmt, w, r, ldw);
    for (int64_t c = 0; c < cols; ++c) y[c] += x[r] * element(fmt, row, c, true);
  }
}

void transpose(const float* in, int64_t rows, int64_t cols, float* out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[c * rows + r] = in[r * cols + c];
}

const IsaKernels kTable{"scalar", widen, gemv, gemv_t, gemv_q, widen_q, gemv_k, widen_k, dot_f64, dot, axpy, scale, add, silu_mul, sum_squares, scale_mul, softmax,
                        to_bf16, transpose};

}  // namespace

const IsaKernels& scalar_kernels() { return kTable; }

}  // namespace fathom::cpu
