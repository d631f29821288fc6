// A DeepSeek model in a GGUF file (llama.cpp's architecture "deepseek2", which covers V2, V2-Lite,
// V3 and R1), seen in Hugging Face's terms so that everything after loading is unchanged: the
// metadata as the config.json it was converted from, the tensors under their checkpoint names and
// shapes.
//
// llama.cpp's converter renames tensors (`blk.N.attn_q_a.weight` is
// `model.layers.N.self_attn.q_a_proj.weight`), stacks each layer's routed experts into one 3-D
// tensor per projection (viewed here as one matrix per expert, without copying), and in files
// converted since 2025 splits `kv_b_proj` per head into `attn_k_b` (transposed) and `attn_v_b`;
// those two are joined back into `kv_b_proj` (the only tensors copied on load).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "fathom/model/gguf.h"
#include "fathom/model/tensor_view.h"

namespace fathom::model {

// The config.json this file's metadata stands for. Throws invalid_argument naming the file and
// the GGUF key that is missing or malformed, unsupported for another architecture.
nlohmann::json gguf_deepseek_config(const GgufFile& file);

struct GgufCheckpointTensors {
  std::vector<TensorView> views;                       // Hugging Face names and shapes
  std::vector<std::unique_ptr<std::byte[]>> owned;     // bytes of the joined kv_b_proj tensors
};

// Every tensor of the model's parts (gguf_split.h; one file when not split) under its checkpoint
// name. Throws naming the file and tensor for a tensor that is not part of a DeepSeek model, one
// held by two parts, or attn_k_b / attn_v_b that do not fit together (they may sit in different
// parts).
GgufCheckpointTensors gguf_deepseek_tensors(const std::vector<std::unique_ptr<GgufFile>>& parts);

}  // namespace fathom::model
