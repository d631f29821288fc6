// libfathom-backend-hip.so: probe, options and creation. The backend itself is the CUDA
// backend's sdk::Backend (backends/cuda/backend.cpp) compiled by hipcc; see README.md.
// Loads wherever Debian's libamdhip64 does, and says why it cannot run when no AMD GPU is usable.
#include <filesystem>
#include <string>

#include "backend.h"
#include "fathom/sdk/plugin.hpp"
#include "runtime/options.h"
#include "runtime/probe.h"

namespace fathom::cuda {

namespace {

const fathom_option_decl kOptions[] = {
    {"device", FATHOM_OPTION_INT, 0, "0", "HIP device index this backend drives (after HIP_VISIBLE_DEVICES)"},
    {"gemv_max_tokens", FATHOM_OPTION_INT, 0, "16", "products with at most this many rows (0-16) use the weight-streaming kernel"},
    {"hip_graphs", FATHOM_OPTION_BOOL, 0, "true", "replay repeated runs (decode steps) as HIP graphs"},
    {"graph_max_tokens", FATHOM_OPTION_INT, 0, "64", "largest run (tokens) captured as a HIP graph"},
    {"profile_nodes", FATHOM_OPTION_BOOL, 0, "false",
     "time every op on the device for `fathom bench --nodes` (runs without graphs or programmatic launches)"},
    {nullptr, 0, 0, nullptr, nullptr},
};

// "gfx90a:sramecc+:xnack-" -> "gfx90a": the target without its feature flags.
std::string target_of(const char* gcn_arch_name) {
  const std::string s = gcn_arch_name;
  return s.substr(0, s.find(':'));
}

// Whether the device's target is one of FATHOM_HIP_ARCHS (comma-separated). Code objects are
// per target: gfx940 code does not run on gfx942, nor gfx90a code on gfx908.
bool runs_here(const hipDeviceProp_t& p) {
  const std::string target = target_of(p.gcnArchName), archs = "," FATHOM_HIP_ARCHS ",";
  return !target.empty() && archs.find("," + target + ",") != std::string::npos;
}

std::string label(const hipDeviceProp_t& p) { return std::string(p.name) + " (" + target_of(p.gcnArchName) + ")"; }

// HIP reports hipErrorNoDevice alike for "no GPU" and "no kernel driver"; the missing KFD node
// tells the second apart, which is the usual case in a container.
std::string driver_hint() {
  std::error_code ec;
  if (std::filesystem::exists("/dev/kfd", ec)) return "";
  return "; /dev/kfd is missing (no amdgpu kernel driver, or the device is not passed into this container)";
}

struct HipPlugin {
  static constexpr const char* name = "hip";
  static constexpr const char* version = "0.1.0";

  static int32_t probe(char* reason, size_t size) {
    return probe_devices({runs_here, label, FATHOM_HIP_ARCHS, driver_hint}, reason, size);
  }

  static const fathom_option_decl* options() { return kOptions; }

  static sdk::Backend* create(const fathom_host_api&, const fathom_options& options) {
    Options o = read_options(options, "hip_graphs");
    o.precision = MatmulPrecision::f32;  // no BLAS: every product is the exact kernels' anyway
    o.programmatic_launch = false;       // a CUDA feature; hipcc launches ignore it in any case
    return new CudaBackend(o);
  }
};

}  // namespace

}  // namespace fathom::cuda

FATHOM_DEFINE_PLUGIN(fathom::cuda::HipPlugin)
