// The architecture of a DeepSeek-V2/V3 checkpoint, parsed from its config.json (spec §1).
//
// Every shape-determining field is required; behavioural fields take the Hugging Face
// defaults of the model type. Unknown keys are ignored (configs carry training-only fields);
// known keys with the wrong JSON type, values out of range, or combinations that contradict
// each other are errors that name the file and the field.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace fathom::model {

enum class ModelType { deepseek_v2, deepseek_v3 };
// "gready" (the V2 hub default's spelling) parses as greedy (spec §2.9).
enum class TopkMethod { greedy, group_limited_greedy, noaux_tc };
enum class ScoringFunc { softmax, sigmoid };

std::string_view model_type_name(ModelType t);
std::string_view topk_method_name(TopkMethod m);
std::string_view scoring_func_name(ScoringFunc f);

// YaRN context extension (spec §2.3). Defaults are those of the HF DeepSeek rotary embedding.
struct RopeScaling {
  double factor = 1.0;
  std::int64_t original_max_position_embeddings = 4096;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double mscale = 1.0;
  double mscale_all_dim = 0.0;
};

// quantization_config of DeepSeek's FP8 checkpoints: e4m3 weights with one F32 scale per
// weight_block_size block, activations quantised dynamically per token and 128 channels.
struct Fp8Quantization {
  std::array<std::int64_t, 2> weight_block_size{128, 128};
  std::string scale_fmt;  // "" (plain F32 scales) or "ue8m0" (V3.1: powers of two, still stored F32)
};

struct ModelSpec {
  std::string source;  // the config.json this came from, for messages
  ModelType model_type = ModelType::deepseek_v3;

  // Dimensions (spec §1.1 notation in comments).
  std::int64_t vocab_size = 0;
  std::int64_t hidden_size = 0;  // D
  std::int64_t num_hidden_layers = 0;
  std::int64_t num_attention_heads = 0;  // H
  std::int64_t num_key_value_heads = 0;  // unused by MLA; kept for reporting
  std::int64_t q_lora_rank = 0;          // Q; 0 when config.json says null or 0: one q_proj
  std::int64_t kv_lora_rank = 0;         // C
  std::int64_t qk_nope_head_dim = 0;     // d_n
  std::int64_t qk_rope_head_dim = 0;     // d_r
  std::int64_t v_head_dim = 0;           // d_v
  std::int64_t intermediate_size = 0;    // dense MLP width
  std::int64_t moe_intermediate_size = 0;

  // Mixture of experts.
  std::int64_t n_routed_experts = 0;
  std::int64_t n_shared_experts = 0;
  std::int64_t num_experts_per_tok = 0;
  std::int64_t n_group = 1;
  std::int64_t topk_group = 1;
  std::int64_t first_k_dense_replace = 0;
  std::int64_t moe_layer_freq = 1;
  double routed_scaling_factor = 1.0;
  TopkMethod topk_method = TopkMethod::greedy;
  ScoringFunc scoring_func = ScoringFunc::softmax;
  bool norm_topk_prob = false;

  // Multi-token prediction modules stored as layers num_hidden_layers .. + n - 1.
  std::int64_t num_nextn_predict_layers = 0;

  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::int64_t max_position_embeddings = 0;
  std::optional<RopeScaling> rope_scaling;  // absent: plain RoPE
  std::optional<Fp8Quantization> quantization;

  std::optional<std::int64_t> bos_token_id;
  std::vector<std::int64_t> eos_token_ids;  // config.json may hold one id or a list
  std::string torch_dtype;                  // informational ("bfloat16")

  // Derived quantities.
  bool has_q_lora() const { return q_lora_rank > 0; }
  std::int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  // HF-hub rule (spec §1.1): MoE iff i >= first_k_dense_replace and i % moe_layer_freq == 0.
  // Also right for MTP layers (index >= num_hidden_layers), which are MoE in V3.
  bool is_moe_layer(std::int64_t layer) const {
    return layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
  }
  std::int64_t num_moe_layers() const;  // among the main model's layers
  std::int64_t num_dense_layers() const { return num_hidden_layers - num_moe_layers(); }
  std::int64_t shared_experts_intermediate_size() const { return n_shared_experts * moe_intermediate_size; }
  bool has_router_bias() const { return topk_method == TopkMethod::noaux_tc; }
  // YaRN attention factor m = 0.1 * mscale_all_dim * ln(factor) + 1 (1 without scaling).
  double yarn_attention_mscale() const;
  // qk_head_dim^-0.5 * m^2 (spec §2.5): 0.135234 for V3, 0.114721 for V2-Lite.
  double softmax_scale() const;
};

// Parses a config.json document. `source` names it in error messages.
ModelSpec parse_model_spec(const nlohmann::json& config, const std::string& source = "config.json");
ModelSpec parse_model_spec_text(std::string_view text, const std::string& source = "config.json");
// Reads `path`, or `path`/config.json when `path` is a directory.
ModelSpec load_model_spec(const std::filesystem::path& path);

}  // namespace fathom::model
