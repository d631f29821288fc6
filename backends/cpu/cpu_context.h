// Everything the kernels of one backend instance share: options, the kernel table chosen for
// this CPU, the oneDNN runtime, the cache of prepared weights and the memory of their copies.
#pragma once

#include <memory>

#include "cpu_options.h"
#include "isa/isa.h"
#include "matmul/onednn.h"
#include "matmul/weight_cache.h"
#include "matmul/weight_memory.h"

namespace fathom::cpu {

struct CpuContext {
  explicit CpuContext(const CpuOptions& o) : options(o), isa(&kernels_for(o.isa)) {}

  CpuOptions options;
  const IsaKernels* isa;
  DnnlRuntime dnnl;
  WeightCache weights;
  WeightArena arena;  // copies of the matrices read in place (weight_memory = "copy")

  int threads() const { return options.threads; }
};

}  // namespace fathom::cpu
