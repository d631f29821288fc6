// Checks that a checkpoint holds what its config.json promises (spec §3).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "fathom/model/checkpoint.h"
#include "fathom/model/model_spec.h"

namespace fathom::model {

struct CheckpointReport {
  std::size_t tensors_checked = 0;      // expected tensors found and checked
  std::size_t fp8_weights = 0;          // F8_E4M3 weights, each with a valid scale
  std::size_t ggml_weights = 0;         // weights in GGUF Q8_0 / Q4_0 blocks
  bool mtp_declared = false;            // config.json has num_nextn_predict_layers > 0
  bool mtp_present = false;             // ...and the checkpoint holds every MTP tensor
  std::vector<std::string> unexpected;  // tensors neither expected nor an FP8 scale (sorted)
  std::vector<std::string> notes;       // remarks for a report: missing MTP, FP8 without config, ...
};

// Every main-model tensor must be present with the shape the spec implies and an allowed dtype:
// F32, BF16 or F16 anywhere; F8_E4M3 only for the linear weights inside decoder layers, and then
// with a valid `_scale_inv` (spec §3.1). The MTP module is optional as a whole: absent is noted
// in the report, present is checked like the main model, partly present is an error.
// Errors name the file and the tensor, and for a shape the config fields that imply it.
CheckpointReport validate_checkpoint(const ModelSpec& spec, const Checkpoint& checkpoint);

}  // namespace fathom::model
