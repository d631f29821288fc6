// Device-side generation of benchmark data (bench_fill.cu).
#pragma once

#include <cstdint>

#include "vendor/gpu_runtime.h"

namespace fathom::bench {

enum : uint32_t { kFillF32 = 0, kFillBf16 = 1, kFillE4m3 = 2 };

// n elements of `kind`, uniform in [lo, hi) (rounded to the format), from `seed`.
void fill(void* p, uint64_t n, uint32_t kind, uint64_t seed, float lo, float hi, cudaStream_t stream);

}  // namespace fathom::bench
