// A config.json of arbitrary text: parse_model_spec_text either refuses it with fathom::Error or
// returns a spec whose derived quantities can be computed without overflow or division traps
// (they size every tensor and cache that follows).
#include "fathom/model/model_spec.h"
#include "fathom/model/parameter_count.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fathom::fuzz::expect_only_fathom_errors([&] {
    const auto spec = fathom::model::parse_model_spec_text(fathom::fuzz::as_text(data, size), "fuzz/config.json");
    volatile double sink = spec.softmax_scale() + spec.yarn_attention_mscale();
    volatile auto parameters = fathom::model::count_parameters(spec).total;  // or invalid_argument on overflow
    (void)parameters;
    volatile auto layers = spec.num_moe_layers() + spec.num_dense_layers() + spec.qk_head_dim();
    (void)sink;
    (void)layers;
  });
  return 0;
}
