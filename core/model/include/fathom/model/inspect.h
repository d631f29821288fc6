// What `fathom inspect <model-dir>` reports about a model: the architecture from config.json,
// parameter counts from the spec, and, when the directory holds weights, what they contain and
// whether they agree with the spec. A directory with only config.json is enough for the counts.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

#include "fathom/model/model_spec.h"
#include "fathom/model/parameter_count.h"
#include "fathom/model/validate_checkpoint.h"

namespace fathom::model {

struct WeightsSummary {
  std::filesystem::path source;  // model.safetensors or the index
  std::size_t files = 0;
  CheckpointParameterCounts stored;
  CheckpointReport report;
  std::string gguf;  // for a GGUF file: its version and tensor types ("GGUF v3: 34 tensors, BF16 22, F32 12")
  bool gguf_blocks = false;  // some of its tensors are in llama.cpp's quantised blocks
  double gguf_bits = 0;      // its tensors' bytes · 8 over their elements (llama.cpp's "BPW")
};

struct ModelInspection {
  std::filesystem::path directory;
  ModelSpec spec;
  ParameterCounts parameters;
  std::optional<WeightsSummary> weights;  // absent when the directory holds only config.json
};

// Loads config.json and, if present, the weights (validated against it; errors propagate).
ModelInspection inspect_model(const std::filesystem::path& dir);

// A human-readable multi-line report, one fact per line.
std::string format_inspection(const ModelInspection& inspection);

}  // namespace fathom::model
