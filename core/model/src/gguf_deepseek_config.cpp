// GGUF metadata → the config.json fields of a DeepSeek checkpoint (see gguf_deepseek.h).
//
// llama.cpp's converter writes each field under `deepseek2.<name>`; this reads them back under
// Hugging Face's names and leaves every check to parse_model_spec, so a GGUF model is held to
// exactly the rules a config.json is.
#include <cmath>
#include <string>

#include "fathom/core/error.h"
#include "fathom/model/gguf_deepseek.h"

namespace fathom::model {
namespace {

using nlohmann::json;

constexpr std::string_view kArchitecture = "deepseek2";

// llama.cpp's expert_gating_func values.
constexpr std::int64_t kGatingSoftmax = 1;
constexpr std::int64_t kGatingSigmoid = 2;

class Metadata {
 public:
  explicit Metadata(const GgufFile& file) : file_(file) {}

  std::string key(std::string_view name) const { return std::string(kArchitecture) + "." + std::string(name); }
  std::int64_t integer(std::string_view name) const { return file_.integer(key(name)); }
  std::optional<std::int64_t> optional_integer(std::string_view name) const { return file_.optional_integer(key(name)); }
  std::optional<double> optional_number(std::string_view name) const { return file_.optional_number(key(name)); }
  std::optional<bool> optional_bool(std::string_view name) const { return file_.optional_bool(key(name)); }
  std::optional<std::string_view> optional_string(std::string_view name) const {
    return file_.optional_string(key(name));
  }
  Error bad(std::string_view name, const std::string& what) const { return invalid_argument(file_.where(key(name)) + ": " + what); }

 private:
  const GgufFile& file_;
};

// V2-era files store the per-head key and value widths as key_length / value_length; files
// converted for llama.cpp's MLA path store the latent widths there and the per-head ones as
// key_length_mla / value_length_mla.
void read_head_dims(const Metadata& m, json& c) {
  const std::int64_t rope = m.integer("rope.dimension_count");
  const auto key_mla = m.optional_integer("attention.key_length_mla");
  const std::int64_t key = key_mla ? *key_mla : m.integer("attention.key_length");
  const char* key_name = key_mla ? "attention.key_length_mla" : "attention.key_length";
  if (key <= rope) {
    throw m.bad(key_name, std::to_string(key) + " must exceed rope.dimension_count (" + std::to_string(rope) +
                              "): it is the no-position plus the rotary part of a query head");
  }
  c["qk_rope_head_dim"] = rope;
  c["qk_nope_head_dim"] = key - rope;
  const auto value_mla = m.optional_integer("attention.value_length_mla");
  c["v_head_dim"] = value_mla ? *value_mla : m.integer("attention.value_length");
}

void read_routing(const Metadata& m, json& c) {
  const std::int64_t gating = m.optional_integer("expert_gating_func").value_or(kGatingSoftmax);
  if (gating != kGatingSoftmax && gating != kGatingSigmoid) {
    throw m.bad("expert_gating_func", std::to_string(gating) + " is not softmax (1) or sigmoid (2)");
  }
  const bool sigmoid = gating == kGatingSigmoid;
  // Sigmoid scoring is DeepSeek-V3's router (with its correction bias); V2 scores with softmax.
  c["model_type"] = sigmoid ? "deepseek_v3" : "deepseek_v2";
  c["scoring_func"] = sigmoid ? "sigmoid" : "softmax";
  const std::int64_t groups = m.optional_integer("expert_group_count").value_or(1);
  c["n_group"] = groups;
  c["topk_group"] = m.optional_integer("expert_group_used_count").value_or(1);
  c["topk_method"] = sigmoid ? "noaux_tc" : groups > 1 ? "group_limited_greedy" : "greedy";
  // The converter writes expert_weights_norm only when it is true.
  c["norm_topk_prob"] = m.optional_bool("expert_weights_norm").value_or(false);
  c["routed_scaling_factor"] = m.optional_number("expert_weights_scale").value_or(1.0);
}

void read_rope(const Metadata& m, json& c) {
  c["rope_theta"] = m.optional_number("rope.freq_base").value_or(10000.0);
  const auto type = m.optional_string("rope.scaling.type");
  if (!type || *type == "none") return;
  if (*type != "yarn") throw m.bad("rope.scaling.type", "'" + std::string(*type) + "' (Fathom reads yarn or none)");
  json yarn = {{"type", "yarn"}};
  yarn["factor"] = m.optional_number("rope.scaling.factor").value_or(1.0);
  if (auto n = m.optional_integer("rope.scaling.original_context_length")) yarn["original_max_position_embeddings"] = *n;
  if (auto b = m.optional_number("rope.scaling.yarn_beta_fast")) yarn["beta_fast"] = *b;
  if (auto b = m.optional_number("rope.scaling.yarn_beta_slow")) yarn["beta_slow"] = *b;
  // The converter stores 0.1 · mscale_all_dim as the log multiplier. GGUF has no separate mscale;
  // every DeepSeek config has mscale == mscale_all_dim, which makes the rotary scale 1.
  const double mscale = m.optional_number("rope.scaling.yarn_log_multiplier").value_or(0.0) / 0.1;
  yarn["mscale"] = mscale;
  yarn["mscale_all_dim"] = mscale;
  c["rope_scaling"] = yarn;
}

}  // namespace

json gguf_deepseek_config(const GgufFile& file) {
  const std::string_view arch = file.string("general.architecture");
  if (arch != kArchitecture) {
    throw unsupported(file.where("general.architecture") + ": '" + std::string(arch) +
                      "' is not a DeepSeek model (Fathom reads architecture 'deepseek2': V2, V2-Lite, V3, R1)");
  }
  const Metadata m(file);
  json c = json::object();
  c["hidden_size"] = m.integer("embedding_length");
  c["num_hidden_layers"] = m.integer("block_count");
  c["num_attention_heads"] = m.integer("attention.head_count");
  const auto q_lora = m.optional_integer("attention.q_lora_rank");
  c["q_lora_rank"] = q_lora ? json(*q_lora) : json(nullptr);
  c["kv_lora_rank"] = m.integer("attention.kv_lora_rank");
  read_head_dims(m, c);
  c["intermediate_size"] = m.integer("feed_forward_length");
  c["moe_intermediate_size"] = m.integer("expert_feed_forward_length");
  c["n_routed_experts"] = m.integer("expert_count");
  c["n_shared_experts"] = m.integer("expert_shared_count");
  c["num_experts_per_tok"] = m.integer("expert_used_count");
  c["first_k_dense_replace"] = m.integer("leading_dense_block_count");
  read_routing(m, c);
  if (auto n = m.optional_integer("context_length")) c["max_position_embeddings"] = *n;
  if (auto eps = m.optional_number("attention.layer_norm_rms_epsilon")) c["rms_norm_eps"] = *eps;
  read_rope(m, c);
  // The vocabulary: the key, else the tokenizer's token list (older converters wrote no key).
  if (auto n = m.optional_integer("vocab_size")) {
    c["vocab_size"] = *n;
  } else if (const auto* tokens = file.optional_array("tokenizer.ggml.tokens", GgufType::string)) {
    c["vocab_size"] = tokens->size();
  } else {
    throw m.bad("vocab_size", "missing, and there is no tokenizer.ggml.tokens to count");
  }
  if (auto id = file.optional_integer("tokenizer.ggml.bos_token_id")) c["bos_token_id"] = *id;
  if (auto id = file.optional_integer("tokenizer.ggml.eos_token_id")) c["eos_token_id"] = *id;
  return c;
}

}  // namespace fathom::model
