// Synthetic DeepSeek checkpoints with seeded random weights, in the Hugging Face layout of the
// published models (config.json + model.safetensors, hub tensor names, BF16 weights or FP8 e4m3
// with 128×128 block scales). The same seed always gives the same files.
//
// Presets: "tiny" (a small DeepSeek-V3-architecture model for demos and tests),
// "v2-lite-shape" and "v3-shape" (the real layer shapes of DeepSeek-V2-Lite / -V3 with few layers,
// for benchmarks).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fathom::tools {

struct TinyModelOptions {
  std::string preset = "tiny";
  int64_t layers = 0;       // 0: the preset's default
  bool fp8 = false;
  uint64_t seed = 0;
  int64_t vocab_size = 0;   // at least the tokenizer's id limit
  int64_t bos_id = 0;
  int64_t eos_id = 1;
  // When not empty, the output head favours these ids: the rows of the others are scaled down,
  // so that the demo model's random text is made of readable characters.
  std::vector<int64_t> favoured_ids;
  int64_t mtp_layers = -1;  // MTP modules (num_nextn_predict_layers); -1: the preset's
  // The decoder layers' output projections are scaled down, so that the next token depends
  // mostly on the current one (nearly a bigram model), and the MTP module's eh_proj passes the
  // next token's embedding through: the MTP module then predicts what the main model will, as a
  // trained one mostly does. For speculative-decoding tests and benchmarks: random weights
  // otherwise give drafts that are almost never accepted.
  bool markov = false;
};

// The config.json of the preset (hub style: rope_scaling, quantization_config).
nlohmann::json tiny_model_config(const TinyModelOptions& options);

// Writes model.safetensors for `config_json` (a config.json already written in `dir`).
void write_tiny_weights(const std::filesystem::path& dir, const TinyModelOptions& options);

}  // namespace fathom::tools
