// Everything the kernels of one backend instance share: options, the kernel table chosen for
// this CPU, the oneDNN runtime and the cache of prepared weights.
#pragma once

#include <memory>

#include "cpu_options.h"
#include "isa/isa.h"
#include "matmul/onednn.h"
#include "matmul/weight_cache.h"

namespace fathom::cpu {

struct CpuContext {
  explicit CpuContext(const CpuOptions& o) : options(o), isa(&kernels_for(o.isa)) {}

  CpuOptions options;
  const IsaKernels* isa;
  DnnlRuntime dnnl;
  WeightCache weights;

  int threads() const { return options.threads; }
};

}  // namespace fathom::cpu
