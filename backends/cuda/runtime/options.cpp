#include "runtime/options.h"

#include "fathom/sdk/plugin.hpp"
#include "vendor/gpu_runtime.h"

namespace fathom::cuda {

Options read_options(const fathom_options& o, const char* graphs_key) {
  Options out;
  int64_t i = 0;
  int32_t flag = 0;
  const char* text = nullptr;
  if (o.get_int && o.get_int(o.context, "device", &i)) {
    if (i < 0 || i > 1024) sdk::fail_invalid("device must be a " FATHOM_GPU_RUNTIME " device index");
    out.device = static_cast<int>(i);
  }
  if (o.get_string && o.get_string(o.context, "matmul_precision", &text)) {
    const std::string v = text ? text : "";
    if (v == "mixed") {
      out.precision = MatmulPrecision::mixed;
    } else if (v == "f32") {
      out.precision = MatmulPrecision::f32;
    } else {
      sdk::fail_invalid("matmul_precision must be \"mixed\" or \"f32\", not \"" + v + "\"");
    }
  }
  if (o.get_int && o.get_int(o.context, "gemv_max_tokens", &i)) {
    if (i < 0 || i > 16) sdk::fail_invalid("gemv_max_tokens must be between 0 and 16");
    out.gemv_max_tokens = i;
  }
  if (o.get_bool && o.get_bool(o.context, graphs_key, &flag)) out.cuda_graphs = flag != 0;
  if (o.get_bool && o.get_bool(o.context, "programmatic_launch", &flag)) out.programmatic_launch = flag != 0;
  if (o.get_bool && o.get_bool(o.context, "profile_nodes", &flag)) out.profile_nodes = flag != 0;
  if (o.get_int && o.get_int(o.context, "graph_max_tokens", &i)) {
    if (i < 0) sdk::fail_invalid("graph_max_tokens must be >= 0");
    out.graph_max_tokens = i;
  }
  return out;
}

}  // namespace fathom::cuda
