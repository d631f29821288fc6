// Everything the kernels of one backend instance share: options, the kernel table chosen for
// this CPU, the oneDNN runtime, the cache of prepared weights and the memory of their copies.
#pragma once

#include <memory>

#include "cpu_options.h"
#include "isa/bf16_dot.h"
#include "isa/e4m3_lookup.h"
#include "isa/int8_dot.h"
#include "isa/isa.h"
#include "matmul/onednn.h"
#include "matmul/weight_cache.h"
#include "matmul/weight_memory.h"

namespace fathom::cpu {

struct CpuContext {
  explicit CpuContext(const CpuOptions& o)
      : options(o),
        isa(&kernels_for(o.isa)),
        bf16_dot(o.bf16_matmuls && o.isa == Isa::avx512 && cpu_supports_avx512_bf16() ? avx512_bf16_gemv() : nullptr),
        e4m3_gemv(o.isa == Isa::avx512 && cpu_supports_avx512_vbmi() ? avx512_vbmi_e4m3_gemv() : nullptr),
        e4m3_bf16_gemv(bf16_dot && e4m3_gemv ? avx512_vbmi_bf16_e4m3_gemv() : nullptr),
        int8_dot(o.int8_matmuls ? int8_dot_for(o.isa) : nullptr),
        grid_rows(int8_dot_for(o.isa)) {}

  CpuOptions options;
  const IsaKernels* isa;
  // The GEMV for bf16 weights when matmul_precision = "bf16" and the CPU has AVX512_BF16
  // (isa/bf16_dot.h); null otherwise, and bf16 weights are widened in isa->gemv.
  Bf16DotGemv bf16_dot;
  // The GEMV for E4M3 weights where the CPU has AVX512_VBMI (isa/e4m3_lookup.h); null otherwise,
  // and they go to isa->gemv.
  E4m3Gemv e4m3_gemv;
  // ...and with matmul_precision = "bf16" where the CPU also has AVX512_BF16: x rounded to bf16.
  E4m3Bf16Gemv e4m3_bf16_gemv;
  // Quantised weights with int8 activations (isa/int8_dot.h) when matmul_precision = "int8" and
  // the kernels are AVX2 or AVX-512; null otherwise, and they go to isa->gemv_q with f32 activations.
  const Int8DotKernels* int8_dot;
  // Their rebuilding of the I-quants' rows (expand_grid), whatever matmul_precision, where the
  // kernels are AVX2 or AVX-512: the f32 products widen those 16-bit integers (exact) rather than
  // decode every weight through the SDK's reader, several times slower. Null otherwise.
  const Int8DotKernels* grid_rows;
  DnnlRuntime dnnl;
  WeightCache weights;
  WeightArena arena;  // copies of the matrices read in place (weight_memory = "copy")

  int threads() const { return options.threads; }
};

}  // namespace fathom::cpu
