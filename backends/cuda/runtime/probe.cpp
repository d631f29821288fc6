#include "runtime/probe.h"

#include "fathom/sdk/plugin.hpp"
#include "runtime/check.h"

namespace fathom::cuda {

int32_t probe_devices(const DeviceFilter& filter, char* reason, size_t size) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    const std::string why = e != cudaSuccess ? describe(e) : "the runtime reports 0 devices";
    sdk::copy_text(reason, size, "no " FATHOM_GPU_RUNTIME " device: " + why + (filter.no_device_hint ? filter.no_device_hint() : ""));
    return 0;
  }
  std::string seen;
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, d) != cudaSuccess) continue;
    if (filter.runs(p)) return 100;
    seen += (seen.empty() ? "" : ", ") + filter.label(p);
  }
  sdk::copy_text(reason, size, "no " FATHOM_GPU_RUNTIME " device this build can run on: found " + seen + "; built for " +
                                   filter.built_for);
  return 0;
}

}  // namespace fathom::cuda
