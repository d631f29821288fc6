// libfathom-backend-gpusim<W>.so: the GPU backend's sources built against the GPU simulator, for
// tests only: gpusim32 the CUDA plugin's file set (with simulated cuBLAS/cuBLASLt), gpusim64 the
// HIP plugin's (every product on the exact kernels). It is never installed next to the real plugins: the test
// executables load it from their own folder. See README.md.
#include "backend.h"
#include "fathom/sdk/plugin.hpp"
#include "runtime/options.h"

#define FATHOM_STRINGIFY2(x) #x
#define FATHOM_STRINGIFY(x) FATHOM_STRINGIFY2(x)

namespace fathom::cuda {

namespace {

const fathom_option_decl kOptions[] = {
    {"device", FATHOM_OPTION_INT, 0, "0", "simulated device index (only 0 exists)"},
#if FATHOM_GPUSIM_BLAS
    {"matmul_precision", FATHOM_OPTION_STRING, 0, "mixed",
     "as the cuda plugin's: \"mixed\" runs large products through the simulated cuBLAS/cuBLASLt, \"f32\" on the exact kernels"},
#endif
    {"gemv_max_tokens", FATHOM_OPTION_INT, 0, "16", "products with at most this many rows (0-16) use the weight-streaming kernel"},
    {"graphs", FATHOM_OPTION_BOOL, 0, "true", "replay repeated runs (decode steps) as captured graphs"},
    {"graph_max_tokens", FATHOM_OPTION_INT, 0, "64", "largest run (tokens) captured as a graph"},
    {"programmatic_launch", FATHOM_OPTION_BOOL, 0, "true",
     "launch as the cuda plugin does with PDL, checking that every kernel waits for the one before it"},
    {"profile_nodes", FATHOM_OPTION_BOOL, 0, "false",
     "time every op on the device for `fathom bench --nodes` (runs without graphs or programmatic launches)"},
    {nullptr, 0, 0, nullptr, nullptr},
};

struct SimPlugin {
  static constexpr const char* name = "gpusim" FATHOM_STRINGIFY(FATHOM_GPUSIM_WARP);
  static constexpr const char* version = "0.1.0";

  static int32_t probe(char*, size_t) { return 100; }

  static const fathom_option_decl* options() { return kOptions; }

  static sdk::Backend* create(const fathom_host_api&, const fathom_options& options) {
    Options o = read_options(options, "graphs");
#if !FATHOM_GPUSIM_BLAS
    o.precision = MatmulPrecision::f32;  // no BLAS: every product runs the shared exact kernels
#endif
    return new CudaBackend(o);
  }
};

}  // namespace

}  // namespace fathom::cuda

FATHOM_DEFINE_PLUGIN(fathom::cuda::SimPlugin)
