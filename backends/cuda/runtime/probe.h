// The probe of both GPU plugins (CUDA and HIP): 100 when some device is one this build has
// code for, else 0 and a reason the user sees in `fathom backends`:
//   "no CUDA device: <error>[<hint>]"                       (the runtime found none)
//   "no CUDA device this build can run on: found <devices>; built for <targets>"
// ("HIP" under hipcc). What differs per vendor is passed in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "vendor/gpu_runtime.h"

namespace fathom::cuda {

struct DeviceFilter {
  bool (*runs)(const cudaDeviceProp& device);           // this build has code for it
  std::string (*label)(const cudaDeviceProp& device);   // e.g. "NVIDIA A100 (8.0)", for the reason
  const char* built_for;                                // the targets, for the reason
  std::string (*no_device_hint)();                      // appended when none is found; may be null
};

int32_t probe_devices(const DeviceFilter& filter, char* reason, size_t size);

}  // namespace fathom::cuda
