// The hot inner loops of the CPU backend, one table per instruction set.
//
// Each table is compiled in its own translation unit with its own target flags
// (kernels_avx512.cpp with -mavx512*, kernels_avx2.cpp with -mavx2 -mfma -mf16c,
// kernels_scalar.cpp with the baseline flags) and chosen once at create() from what the CPU
// reports. Everything here is single-threaded: the op code in ops/ and matmul/ splits work
// across OpenMP threads and calls these on its share.
//
// The tables hold plain function pointers over raw arrays so that nothing compiled with wide
// target flags is ever shared with (and picked by the linker for) another translation unit.
//
// Kernels for extensions beyond a table's (AVX512_BF16: bf16_dot.h; AVX512_VBMI: e4m3_lookup.h)
// live in translation units of their own, likewise, and CpuContext holds them where the CPU
// has the extension; the tables stay the fallback.
#pragma once

#include <cstdint>

namespace fathom::cpu {

// How the elements of a weight row are stored. E4M3/E5M2 are OCP FP8 (e4m3fn has no infinity).
// q8 and q4 are weights quantised at load (weights = "int8" | "int4"): integer codes in groups of
// kQuantGroup along the row, each group with its own f16 scale (isa/quant.h has the layout). Only
// the *_q kernels below read them; the others take the five float formats.
// q4k, q6k, q5k, q3k and q2k hold GGUF's K-quants Q4_K, Q6_K, Q5_K, Q3_K and Q2_K as unpacked at
// load (matmul/quantize.h): q4k's codes laid out as q4's nibbles, the others packed at 6, 5, 3
// and 2 bits (isa/quant.h has the packing), and the K-quants' two levels of scales (KScales
// below). The *_k kernels read them, and with matmul_precision = "int8" the integer kernels
// (int8_dot.h).
// iq4 holds IQ4_NL and iq4k IQ4_XS: q4's and q4k's nibbles, each the index of a value of IQ4_NL's
// table (kIq4Values), times the group's scale.
// iq2xxs to iq1m are GGUF's I-quants below 4 bits, kept in the file's blocks (plugin_api.h): each
// weight picked from a table per 8 or 4 (grid_k). No kernel reads them directly: the integer
// path rebuilds 8 rows at a time as 16-bit weights (matmul/gemv.cpp), the others widen them.
enum class WFormat : uint8_t {
  f32, f16, bf16, e4m3, e5m2, q8, q4, q4k, q6k, q5k, q3k, q2k, iq4k, iq4,
  iq2xxs, iq2xs, iq2s, iq3xxs, iq3s, iq1s, iq1m
};

// IQ4_NL's (and IQ4_XS's) non-linear codes, picked by a nibble (sdk/ggml_blocks.hpp's
// kIq4NlValues; matmul/quantize.cpp checks they agree). Here for the kernels, which include no
// other header.
inline constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

constexpr bool quantized(WFormat f) { return f == WFormat::q8 || f == WFormat::q4 || f == WFormat::iq4; }
// The quantised formats whose codes are nibbles (q4's layout, isa/quant.h).
constexpr bool nibble_q(WFormat f) { return f == WFormat::q4 || f == WFormat::iq4; }
constexpr bool packed_k(WFormat f) {
  return f == WFormat::q6k || f == WFormat::q5k || f == WFormat::q3k || f == WFormat::q2k;
}
// The K formats whose codes are q4's nibbles, sub-blocks of 32.
constexpr bool nibble_k(WFormat f) { return f == WFormat::q4k || f == WFormat::iq4k; }
constexpr bool kquant(WFormat f) { return nibble_k(f) || packed_k(f); }
constexpr bool grid_k(WFormat f) { return f >= WFormat::iq2xxs && f <= WFormat::iq1m; }
// Bytes of one block of 256 weights of a grid_k format (GGUF's).
constexpr int64_t grid_block_bytes(WFormat f) {
  switch (f) {
    case WFormat::iq2xxs: return 66;
    case WFormat::iq2xs: return 74;
    case WFormat::iq2s: return 82;
    case WFormat::iq3xxs: return 98;
    case WFormat::iq3s: return 110;
    case WFormat::iq1s: return 50;
    case WFormat::iq1m: return 56;
    default: return 0;
  }
}
// The packed K formats, per 64 weights: 32 bytes of low 4 bits (q6k, q5k: packed_nibbles), then
// one 64-bit plane per further bit (packed_planes: plane p holds bit 4 + p, or bit p where there
// are no nibbles). The stored codes are unsigned; q6k's and q3k's stand for code −
// packed_offset (Q6_K's and Q3_K's signed codes), q5k's and q2k's are their K-quant's own (whose
// mins do the rest).
constexpr bool packed_nibbles(WFormat f) { return f == WFormat::q6k || f == WFormat::q5k; }
constexpr int packed_planes(WFormat f) {
  return f == WFormat::q6k || f == WFormat::q2k ? 2 : f == WFormat::q3k ? 3 : 1;
}
constexpr int packed_first_plane_bit(WFormat f) { return packed_nibbles(f) ? 4 : 0; }
constexpr int packed_offset(WFormat f) { return f == WFormat::q6k ? 32 : f == WFormat::q3k ? 4 : 0; }
constexpr int64_t packed_block_bytes(WFormat f) { return (packed_nibbles(f) ? 32 : 0) + 8 * packed_planes(f); }
// Weights per integer scale (and min) of the K formats, and per f32 scale of those.
inline int64_t kquant_sub_block(WFormat f) { return nibble_k(f) ? 32 : 16; }
inline constexpr int64_t kKSuperBlock = 256;

// The scales of K-format rows, as the K-quants store them: weight c of row r is
// code · (d[r][c / 256] · scale[r][c / sub]) − dmin[r][c / 256] · min[r][c / sub], sub =
// kquant_sub_block. Both products are exact in f32 (an f16 times an integer of at most 8 bits),
// so the weight rounds at most once, at the subtraction; kept apart (0.75 bits a weight for q4k,
// where f32 scale and min per sub-block would take 2) because decode streams them with the codes.
// dmin and min are null where every min is 0 (Q6_K).
struct KScales {
  const float* d = nullptr;     // [rows][K / 256]
  const float* dmin = nullptr;  // [rows][K / 256] or null
  const int8_t* scale = nullptr;  // [rows][K / sub]
  const int8_t* min = nullptr;    // [rows][K / sub] or null
  // The same, from row r of a matrix of k columns on.
  KScales from_row(int64_t r, int64_t k, int64_t sub) const {
    const int64_t supers = k / kKSuperBlock, subs = k / sub;
    return {d + r * supers, dmin ? dmin + r * supers : nullptr, scale + r * subs, min ? min + r * subs : nullptr};
  }
};

// Bytes per element of the float formats and q8 (q4 packs two codes per byte: see row_bytes).
inline int64_t format_bytes(WFormat f) {
  switch (f) {
    case WFormat::f32: return 4;
    case WFormat::f16:
    case WFormat::bf16: return 2;
    default: return 1;
  }
}

// Bytes of one row of `cols` elements (the codes only, for the quantised formats).
inline int64_t row_bytes(WFormat f, int64_t cols) {
  if (packed_k(f)) return cols / 64 * packed_block_bytes(f);
  if (grid_k(f)) return cols / kKSuperBlock * grid_block_bytes(f);
  return nibble_q(f) || nibble_k(f) ? cols / 2 : cols * format_bytes(f);
}

// Weights per quantisation group, and so per f16 scale (the quantised formats need K % 32 == 0).
inline constexpr int64_t kQuantGroup = 32;

// Quantised weights as the GEMV tiles read them: codes row by row, and an f16 scale per group.
// A tile is handed its rows' codes; scales_of finds their scales from that offset.
struct QuantizedRows {
  const uint8_t* base;     // row 0's codes
  int64_t ldw;             // bytes per row
  const uint16_t* scales;  // [rows][groups]
  int64_t groups;
  const uint16_t* scales_of(const uint8_t* row) const { return scales + (row - base) / ldw * groups; }
};

// The value that the GEMV kernels see for an E4M3 weight is its true value times 2^-8: they
// widen through fp16 ((q & 0x7f) << 7 | sign is exactly that fp16), so the caller multiplies the
// activations by kE4M3GemvScale instead. Every other format is read at its true value.
inline constexpr float kE4M3GemvScale = 256.0f;

struct IsaKernels {
  const char* name;  // "avx512", "avx2", "scalar"

  // dst[i] = value of src[i] (exact for every format), i < n. E4M3 NaN codes (S.1111.111) are
  // the one exception: the vector tables read them as ±480, so callers that may meet them
  // (see WeightView::nan_codes) widen those with exact scalar code.
  void (*widen)(WFormat fmt, const void* src, float* dst, int64_t n);

  // y[m * ldy + r] = Σ_k x[m * ldx + k] · w[r][k] for m < rows_x, r < rows_w, k < k_len, where
  // w[r] starts ldw elements after w[r - 1]. E4M3 weights are read as value · 2^-8 (see above).
  // Each group of weight rows is loaded from memory once and reused for every row of x.
  void (*gemv)(WFormat fmt, const void* w, int64_t ldw, int64_t rows_w, int64_t k_len, const float* x,
               int64_t ldx, int64_t rows_x, float* y, int64_t ldy);

  // y[c] = Σ_r x[r] · w[r][c] for c < cols, r < rows (w[r] starts ldw elements after w[r - 1]):
  // the transposed product, a combination of weight rows. E4M3 is read as value · 2^-8 (as gemv).
  void (*gemv_t)(WFormat fmt, const void* w, int64_t ldw, int64_t rows, int64_t cols, const float* x, float* y);

  // The quantised formats (q8, q4; isa/quant.h): rows_w rows of k_len weights (a multiple of
  // kQuantGroup), row r's codes at w + r · row_bytes(fmt, k_len) and its group scales (f16 bits)
  // at scales + r · k_len / kQuantGroup. y[m · ldy + r] = Σ_k x[m · ldx + k] · code · scale: the
  // product with the dequantised weights, which are exact in f32 (a code of at most 8 bits times
  // an f16 scale), so the result differs from a product with the widened row only by the order
  // of the sums.
  void (*gemv_q)(WFormat fmt, const void* w, const uint16_t* scales, int64_t rows_w, int64_t k_len, const float* x,
                 int64_t ldx, int64_t rows_x, float* y, int64_t ldy);
  // dst[i] = code · scale of weight i of one quantised row of n weights (n a multiple of kQuantGroup).
  void (*widen_q)(WFormat fmt, const void* w, const uint16_t* scales, float* dst, int64_t n);
  // The same two for the K formats (q4k and the packed ones): rows of k_len weights (a multiple of 256),
  // row r's codes at w + r · row_bytes(fmt, k_len), `s` row 0's scales; each weight exactly the
  // reference's value (code · scale − min, rounded once).
  void (*gemv_k)(WFormat fmt, const void* w, const KScales& s, int64_t rows_w, int64_t k_len, const float* x,
                 int64_t ldx, int64_t rows_x, float* y, int64_t ldy);
  void (*widen_k)(WFormat fmt, const void* w, const KScales& s, float* dst, int64_t n);

  // Σ_i x[i] · w[i] accumulated in double (the router must pick the same experts as the f64
  // reference, so its logits are computed to full f32 accuracy).
  double (*dot_f64)(WFormat fmt, const void* w, const float* x, int64_t n);

  float (*dot)(const float* a, const float* b, int64_t n);
  // y[i] += a · x[i]
  void (*axpy)(float a, const float* x, float* y, int64_t n);
  // x[i] *= a
  void (*scale)(float a, float* x, int64_t n);

  void (*add)(const float* a, const float* b, float* out, int64_t n);
  // out[i] = silu(g[i]) · u[i], silu(g) = g / (1 + e^-g)
  void (*silu_mul)(const float* g, const float* u, float* out, int64_t n);
  // Σ x[i]² in double
  double (*sum_squares)(const float* x, int64_t n);
  // out[i] = (x[i] · inv) · w[i], rounding after each product like the reference
  void (*scale_mul)(const float* x, float inv, const float* w, float* out, int64_t n);
  // x[i] = e^(x[i] - max x) / Σ; returns nothing, n >= 1
  void (*softmax)(float* x, int64_t n);
  // bf16 bits of x[i], rounded to nearest even (NaN stays NaN)
  void (*to_bf16)(const float* x, uint16_t* out, int64_t n);
  // out[c * rows + r] = in[r * cols + c]: a row-major [rows][cols] matrix transposed
  void (*transpose)(const float* in, int64_t rows, int64_t cols, float* out);
};

const IsaKernels& scalar_kernels();
const IsaKernels& avx2_kernels();    // requires AVX2, FMA, F16C
const IsaKernels& avx512_kernels();  // requires AVX-512 F, BW, VL, DQ

enum class Isa { scalar, avx2, avx512 };

// What this CPU can run, best first.
bool cpu_supports(Isa isa);
const IsaKernels& kernels_for(Isa isa);
const char* isa_name(Isa isa);
// A human-readable description of the instruction-set extensions the kernels of `isa` use.
const char* isa_description(Isa isa);

}  // namespace fathom::cpu
