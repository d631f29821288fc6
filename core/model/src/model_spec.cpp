#include "fathom/model/model_spec.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "config_fields.h"
#include "fathom/core/error.h"
#include "fathom/model/gguf_deepseek.h"
#include "fathom/model/gguf_split.h"
#include "json_input.h"

namespace fathom::model {
namespace {

using detail::ConfigFields;
using detail::IntRange;
using nlohmann::json;

// Upper bounds keep a hostile config.json from asking for billions of tensors or sizes whose
// products overflow; each is far above any released DeepSeek model.
constexpr IntRange kWidth{1, 1 << 20};     // hidden, ranks, head dims
constexpr IntRange kFfnWidth{1, 1 << 24};  // MLP widths
constexpr IntRange kVocab{1, 1 << 24};
constexpr IntRange kLayers{1, 1024};
constexpr IntRange kHeads{1, 4096};
constexpr IntRange kExperts{1, 4096};
constexpr IntRange kSmallCount{0, 64};
constexpr std::size_t kMaxConfigBytes = 16u << 20;
constexpr int kMaxConfigDepth = 16;

// Hugging Face's configuration_deepseek{,_v3} defaults for the behavioural fields.
struct TypeDefaults {
  std::int64_t n_group;
  std::int64_t topk_group;
  double routed_scaling_factor;
  TopkMethod topk_method;
  ScoringFunc scoring_func;
  bool norm_topk_prob;
  std::int64_t max_position_embeddings;
};

TypeDefaults defaults_for(ModelType t) {
  if (t == ModelType::deepseek_v3) return {8, 4, 2.5, TopkMethod::noaux_tc, ScoringFunc::sigmoid, true, 4096};
  return {1, 1, 1.0, TopkMethod::greedy, ScoringFunc::softmax, false, 2048};
}

ModelType parse_model_type(const ConfigFields& f) {
  const auto name = f.optional_string("model_type");
  if (!name) throw invalid_argument(f.source() + ": missing required field 'model_type'");
  if (*name == "deepseek_v3") return ModelType::deepseek_v3;
  if (*name == "deepseek_v2") return ModelType::deepseek_v2;
  throw unsupported(f.source() + ": model_type '" + *name + "' is not supported (expected deepseek_v3 or deepseek_v2)");
}

TopkMethod parse_topk_method(const ConfigFields& f, TopkMethod fallback) {
  const auto name = f.optional_string("topk_method");
  if (!name) return fallback;
  if (*name == "greedy" || *name == "gready") return TopkMethod::greedy;
  if (*name == "group_limited_greedy") return TopkMethod::group_limited_greedy;
  if (*name == "noaux_tc") return TopkMethod::noaux_tc;
  throw unsupported(f.field("topk_method") + " = '" + *name +
                    "' is not supported (expected greedy, gready, group_limited_greedy or noaux_tc)");
}

ScoringFunc parse_scoring_func(const ConfigFields& f, ScoringFunc fallback) {
  const auto name = f.optional_string("scoring_func");
  if (!name) return fallback;
  if (*name == "softmax") return ScoringFunc::softmax;
  if (*name == "sigmoid") return ScoringFunc::sigmoid;
  throw unsupported(f.field("scoring_func") + " = '" + *name + "' is not supported (expected softmax or sigmoid)");
}

// Fields that would change the architecture in ways no DeepSeek checkpoint uses: refuse them
// rather than load weights that would be used wrongly.
void refuse_unsupported_features(const ConfigFields& f) {
  if (f.optional_bool("tie_word_embeddings", false)) {
    throw unsupported(f.field("tie_word_embeddings") +
                      " = true is not supported (DeepSeek checkpoints have a separate lm_head.weight)");
  }
  if (f.optional_bool("attention_bias", false)) {
    throw unsupported(f.field("attention_bias") + " = true is not supported (DeepSeek attention has no biases)");
  }
  if (f.optional_bool("mlp_bias", false)) {
    throw unsupported(f.field("mlp_bias") + " = true is not supported (DeepSeek MLPs have no biases)");
  }
  if (const auto act = f.optional_string("hidden_act"); act && *act != "silu") {
    throw unsupported(f.field("hidden_act") + " = '" + *act + "' is not supported (expected silu)");
  }
}

// rope_scaling (HF hub) or, in transformers 5 renderings, rope_parameters (which may also carry
// rope_theta). "rope_type" is accepted as an alias of "type"; "default" means no scaling.
void parse_rope(const ConfigFields& top, ModelSpec& spec) {
  const char* key = top.has("rope_scaling") ? "rope_scaling" : "rope_parameters";
  const json* node = top.find(key);
  if (node == nullptr) return;
  if (!node->is_object()) throw invalid_argument(top.type_error(key, "an object", *node));
  const ConfigFields f(*node, top.source(), std::string(key) + ".");
  if (f.has("rope_theta")) spec.rope_theta = f.optional_positive_number("rope_theta", spec.rope_theta);

  const char* type_key = f.has("type") ? "type" : "rope_type";
  const auto type = f.optional_string(type_key);
  if (!type) throw invalid_argument(top.source() + ": missing required field '" + key + ".type'");
  if (*type == "default") return;
  if (*type != "yarn") {
    throw unsupported(f.field(type_key) + " = '" + *type + "' is not supported (expected yarn)");
  }
  RopeScaling r;
  r.factor = f.optional_positive_number("factor", r.factor);
  r.original_max_position_embeddings =
      f.optional_int("original_max_position_embeddings", r.original_max_position_embeddings, {1, 1 << 30});
  r.beta_fast = f.optional_positive_number("beta_fast", r.beta_fast);
  r.beta_slow = f.optional_positive_number("beta_slow", r.beta_slow);
  r.mscale = f.optional_number("mscale", r.mscale);
  r.mscale_all_dim = f.optional_number("mscale_all_dim", r.mscale_all_dim);
  spec.rope_scaling = r;
}

void expect_string_value(const ConfigFields& f, const char* key, std::string_view expected) {
  const auto v = f.optional_string(key);
  if (v && *v != expected) {
    throw unsupported(f.field(key) + " = '" + *v + "' is not supported (expected " + std::string(expected) + ")");
  }
}

void parse_quantization(const ConfigFields& top, ModelSpec& spec) {
  const json* node = top.find("quantization_config");
  if (node == nullptr) return;
  if (!node->is_object()) throw invalid_argument(top.type_error("quantization_config", "an object", *node));
  const ConfigFields f(*node, top.source(), "quantization_config.");
  const auto method = f.optional_string("quant_method");
  if (!method) throw invalid_argument(top.source() + ": missing required field 'quantization_config.quant_method'");
  if (*method != "fp8") {
    throw unsupported(f.field("quant_method") + " = '" + *method + "' is not supported (expected fp8)");
  }
  expect_string_value(f, "fmt", "e4m3");
  expect_string_value(f, "activation_scheme", "dynamic");

  Fp8Quantization q;
  if (const json* block = f.find("weight_block_size")) {
    const bool ints =
        block->is_array() && block->size() == 2 && (*block)[0].is_number_integer() && (*block)[1].is_number_integer();
    if (!ints) throw invalid_argument(f.type_error("weight_block_size", "an array of two integers", *block));
    if ((*block)[0].get<std::int64_t>() != 128 || (*block)[1].get<std::int64_t>() != 128) {
      throw unsupported(f.field("weight_block_size") + " = " + detail::brief_dump(*block) +
                        " is not supported (expected [128, 128])");
    }
  }
  if (const auto fmt = f.optional_string("scale_fmt")) {
    if (*fmt != "ue8m0") {
      throw unsupported(f.field("scale_fmt") + " = '" + *fmt + "' is not supported (expected ue8m0)");
    }
    q.scale_fmt = *fmt;
  }
  spec.quantization = q;
}

void parse_token_ids(const ConfigFields& f, ModelSpec& spec) {
  constexpr IntRange kTokenId{0, std::int64_t{1} << 32};
  if (f.has("bos_token_id")) spec.bos_token_id = f.optional_int("bos_token_id", 0, kTokenId);
  const json* eos = f.find("eos_token_id");
  if (eos == nullptr) return;
  if (eos->is_array()) {
    for (const json& id : *eos) {
      if (!id.is_number_integer() || id.get<std::int64_t>() < 0) {
        throw invalid_argument(f.type_error("eos_token_id", "an integer or an array of integers", *eos));
      }
      spec.eos_token_ids.push_back(id.get<std::int64_t>());
    }
  } else {
    spec.eos_token_ids.push_back(f.optional_int("eos_token_id", 0, kTokenId));
  }
}

// Combinations of individually valid fields that cannot describe a real model.
void check_consistency(const ConfigFields& f, const ModelSpec& s) {
  auto fail = [&](const std::string& what) { return invalid_argument(f.source() + ": " + what); };
  if (s.qk_rope_head_dim % 2 != 0) {
    throw fail("field 'qk_rope_head_dim' = " + std::to_string(s.qk_rope_head_dim) +
               " must be even (RoPE rotates pairs of dimensions)");
  }
  if (s.first_k_dense_replace > s.num_hidden_layers) {
    throw fail("field 'first_k_dense_replace' = " + std::to_string(s.first_k_dense_replace) +
               " exceeds num_hidden_layers = " + std::to_string(s.num_hidden_layers));
  }
  if (s.num_experts_per_tok > s.n_routed_experts) {
    throw fail("field 'num_experts_per_tok' = " + std::to_string(s.num_experts_per_tok) +
               " exceeds n_routed_experts = " + std::to_string(s.n_routed_experts));
  }
  if (s.n_routed_experts % s.n_group != 0) {
    throw fail("field 'n_group' = " + std::to_string(s.n_group) +
               " does not divide n_routed_experts = " + std::to_string(s.n_routed_experts));
  }
  if (s.topk_group > s.n_group) {
    throw fail("field 'topk_group' = " + std::to_string(s.topk_group) +
               " exceeds n_group = " + std::to_string(s.n_group));
  }
  const bool group_limited = s.topk_method != TopkMethod::greedy;
  const std::int64_t selectable = s.topk_group * (s.n_routed_experts / s.n_group);
  if (group_limited && s.num_experts_per_tok > selectable) {
    throw fail("field 'num_experts_per_tok' = " + std::to_string(s.num_experts_per_tok) + " exceeds the " +
               std::to_string(selectable) + " experts in topk_group = " + std::to_string(s.topk_group) +
               " groups of n_routed_experts / n_group = " + std::to_string(s.n_routed_experts / s.n_group));
  }
}

}  // namespace

std::string_view model_type_name(ModelType t) { return t == ModelType::deepseek_v3 ? "deepseek_v3" : "deepseek_v2"; }

std::string_view topk_method_name(TopkMethod m) {
  switch (m) {
    case TopkMethod::greedy: return "greedy";
    case TopkMethod::group_limited_greedy: return "group_limited_greedy";
    case TopkMethod::noaux_tc: return "noaux_tc";
  }
  return "?";
}

std::string_view scoring_func_name(ScoringFunc f) { return f == ScoringFunc::sigmoid ? "sigmoid" : "softmax"; }

std::int64_t ModelSpec::num_moe_layers() const {
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < num_hidden_layers; ++i) n += is_moe_layer(i) ? 1 : 0;
  return n;
}

double ModelSpec::yarn_attention_mscale() const {
  if (!rope_scaling || rope_scaling->factor <= 1.0) return 1.0;
  return 0.1 * rope_scaling->mscale_all_dim * std::log(rope_scaling->factor) + 1.0;
}

double ModelSpec::softmax_scale() const {
  const double m = yarn_attention_mscale();
  return m * m / std::sqrt(static_cast<double>(qk_head_dim()));
}

ModelSpec parse_model_spec(const json& config, const std::string& source) {
  if (!config.is_object()) {
    throw invalid_argument(source + ": must be a JSON object, got " + std::string(detail::json_type_name(config)));
  }
  const ConfigFields f(config, source);
  ModelSpec s;
  s.source = source;
  s.model_type = parse_model_type(f);
  const TypeDefaults d = defaults_for(s.model_type);
  refuse_unsupported_features(f);

  s.vocab_size = f.required_int("vocab_size", kVocab);
  s.hidden_size = f.required_int("hidden_size", kWidth);
  s.num_hidden_layers = f.required_int("num_hidden_layers", kLayers);
  s.num_attention_heads = f.required_int("num_attention_heads", kHeads);
  s.num_key_value_heads = f.optional_int("num_key_value_heads", s.num_attention_heads, kHeads);
  // Required as a key, because its absence would silently pick HF's default of 1536; null and 0
  // both mean "no q LoRA" (spec pitfall 21).
  if (config.find("q_lora_rank") == config.end()) {
    throw invalid_argument(source + ": missing required field 'q_lora_rank'");
  }
  s.q_lora_rank = f.optional_int("q_lora_rank", 0, {0, kWidth.max});
  s.kv_lora_rank = f.required_int("kv_lora_rank", kWidth);
  s.qk_nope_head_dim = f.required_int("qk_nope_head_dim", kWidth);
  s.qk_rope_head_dim = f.required_int("qk_rope_head_dim", kWidth);
  s.v_head_dim = f.required_int("v_head_dim", kWidth);
  s.intermediate_size = f.required_int("intermediate_size", kFfnWidth);
  s.moe_intermediate_size = f.required_int("moe_intermediate_size", kFfnWidth);

  s.n_routed_experts = f.required_int("n_routed_experts", kExperts);
  s.n_shared_experts = f.required_int("n_shared_experts", kSmallCount);
  s.num_experts_per_tok = f.required_int("num_experts_per_tok", kExperts);
  s.n_group = f.optional_int("n_group", d.n_group, kExperts);
  s.topk_group = f.optional_int("topk_group", d.topk_group, kExperts);
  s.first_k_dense_replace = f.required_int("first_k_dense_replace", {0, kLayers.max});
  s.moe_layer_freq = f.optional_int("moe_layer_freq", 1, kLayers);
  s.routed_scaling_factor = f.optional_positive_number("routed_scaling_factor", d.routed_scaling_factor);
  s.topk_method = parse_topk_method(f, d.topk_method);
  s.scoring_func = parse_scoring_func(f, d.scoring_func);
  s.norm_topk_prob = f.optional_bool("norm_topk_prob", d.norm_topk_prob);
  s.num_nextn_predict_layers = f.optional_int("num_nextn_predict_layers", 0, {0, 16});

  s.rms_norm_eps = f.optional_positive_number("rms_norm_eps", 1e-6);
  s.rope_theta = f.optional_positive_number("rope_theta", 10000.0);
  s.max_position_embeddings = f.optional_int("max_position_embeddings", d.max_position_embeddings, {1, 1 << 30});
  parse_rope(f, s);
  parse_quantization(f, s);
  parse_token_ids(f, s);
  s.torch_dtype = f.optional_string("torch_dtype").value_or(f.optional_string("dtype").value_or(""));

  check_consistency(f, s);
  return s;
}

ModelSpec parse_model_spec_text(std::string_view text, const std::string& source) {
  return parse_model_spec(detail::parse_json_bounded(text, source, kMaxConfigDepth), source);
}

ModelSpec load_model_spec(const std::filesystem::path& path) {
  if (is_gguf_file(path)) {
    const auto metadata = open_gguf_metadata(path);  // the first part of a split model
    return parse_model_spec(gguf_deepseek_config(*metadata), metadata->path().string());
  }
  std::error_code ec;
  const auto file = std::filesystem::is_directory(path, ec) ? path / "config.json" : path;
  return parse_model_spec_text(detail::read_small_file(file, kMaxConfigBytes), file.string());
}

}  // namespace fathom::model
