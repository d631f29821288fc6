// libfathom-backend-cuda.so: probe, options and creation. Loads on any machine (the CUDA
// runtime is linked statically; the driver is looked up at run time), and says precisely why
// it cannot run when there is no usable GPU.
#include <algorithm>
#include <string>

#include "backend.h"
#include "fathom/sdk/plugin.hpp"
#include "runtime/probe.h"

namespace fathom::cuda {

namespace {

// The compute capabilities this build has machine code or PTX for (FATHOM_CUDA_ARCH, comma-separated).
// An "a" target (90a) runs on exactly that capability; a plain one (80) as SASS on 8.x and,
// through its PTX, on anything newer.
bool arch_covers(const std::string& archs, int major, int minor) {
  const int cc = major * 10 + minor;
  size_t pos = 0;
  while (pos <= archs.size()) {
    const size_t end = std::min(archs.find(',', pos), archs.size());
    std::string a = archs.substr(pos, end - pos);
    pos = end + 1;
    if (a.empty()) continue;
    for (const char* suffix : {"-real", "-virtual"}) {  // CMake's spellings: "90a-real" is exact too
      const size_t s = a.find(suffix);
      if (s != std::string::npos) a.erase(s);
    }
    if (a.empty()) continue;
    const bool exact = a.back() == 'a';
    if (exact) a.pop_back();
    int target = 0;
    try {
      target = std::stoi(a);
    } catch (...) {
      continue;
    }
    if (exact ? cc == target : cc >= target) return true;
  }
  return false;
}

bool runs_here(const cudaDeviceProp& p) { return arch_covers(FATHOM_CUDA_ARCHS, p.major, p.minor); }

std::string label(const cudaDeviceProp& p) {
  return std::string(p.name) + " (" + std::to_string(p.major) + "." + std::to_string(p.minor) + ")";
}

const fathom_option_decl kOptions[] = {
    {"device", FATHOM_OPTION_INT, 0, "0", "CUDA device index this backend drives (after CUDA_VISIBLE_DEVICES)"},
    {"matmul_precision", FATHOM_OPTION_STRING, 0, "mixed",
     "\"mixed\": large products on tensor cores (FP8 via cuBLASLt, bf16 via cuBLAS); \"f32\": f32 activations throughout"},
    {"gemv_max_tokens", FATHOM_OPTION_INT, 0, "16", "products with at most this many rows (0-16) use the weight-streaming kernel"},
    {"cuda_graphs", FATHOM_OPTION_BOOL, 0, "true", "replay repeated runs (decode steps) as CUDA graphs"},
    {"graph_max_tokens", FATHOM_OPTION_INT, 0, "64", "largest run (tokens) captured as a CUDA graph"},
    {"programmatic_launch", FATHOM_OPTION_BOOL, 0, "true",
     "on compute capability 9.0+, let each kernel launch while the one before it finishes (PDL)"},
    {"profile_nodes", FATHOM_OPTION_BOOL, 0, "false",
     "time every op on the device for `fathom bench --nodes` (runs without graphs or programmatic launches)"},
    {nullptr, 0, 0, nullptr, nullptr},
};

struct CudaPlugin {
  static constexpr const char* name = "cuda";
  static constexpr const char* version = "0.1.0";

  static int32_t probe(char* reason, size_t size) {
    return probe_devices({runs_here, label, FATHOM_CUDA_ARCHS, nullptr}, reason, size);
  }

  static const fathom_option_decl* options() { return kOptions; }

  static sdk::Backend* create(const fathom_host_api&, const fathom_options& options) {
    return new CudaBackend(read_options(options, "cuda_graphs"));
  }
};

}  // namespace

}  // namespace fathom::cuda

FATHOM_DEFINE_PLUGIN(fathom::cuda::CudaPlugin)
