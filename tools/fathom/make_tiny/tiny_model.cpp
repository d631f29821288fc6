#include "tiny_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "fathom/core/dtype.h"
#include "fathom/core/error.h"
#include "fathom/model/expected_tensors.h"
#include "fathom/model/model_spec.h"
#include "safetensors_writer.h"

namespace fathom::tools {

namespace {

struct Shape {
  int64_t vocab, hidden, layers, dense_layers, heads, q_lora, kv_lora, nope, rope, v, inter, moe_inter, experts, top_k,
      groups, topk_groups, shared, mtp;
  bool v2;
};

Shape preset_shape(const TinyModelOptions& o) {
  if (o.preset == "tiny") return {0, 64, 2, 1, 4, 32, 32, 16, 16, 16, 128, 32, 8, 2, 2, 1, 1, 1, false};
  if (o.preset == "v2-lite-shape") return {102400, 2048, 2, 1, 16, 0, 512, 128, 64, 128, 10944, 1408, 64, 6, 1, 1, 2, 0, true};
  if (o.preset == "v3-shape") return {129280, 7168, 2, 1, 128, 1536, 512, 128, 64, 128, 18432, 2048, 256, 8, 8, 4, 1, 1, false};
  throw invalid_argument("--preset: unknown preset '" + o.preset + "' (expected tiny, v2-lite-shape or v3-shape)");
}

// splitmix64: a fast, well-mixed generator; one stream per tensor, keyed by seed and name, so
// every tensor is reproducible on its own.
struct Stream {
  uint64_t state;
  explicit Stream(uint64_t seed, const std::string& name) : state(seed * 0x9E3779B97F4A7C15ull + 0x1234567ull) {
    for (unsigned char c : name) state = (state ^ c) * 0x100000001B3ull;
  }
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [-a, a]: as good as a normal for random weights, and cheap for gigabytes.
  float uniform(float a) { return (static_cast<float>(next() >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f) * a; }
};

// Standard deviation of each kind of tensor: keeps the residual stream and logits O(1).
float spread_of(const model::ExpectedTensor& t) {
  using R = model::TensorRole;
  switch (t.role) {
    case R::embed_tokens:
    case R::mtp_embed_tokens: return 1.0f;
    case R::router_bias: return 0.05f;
    // Logits of a few units: a random model whose next-token distribution is peaked, like a
    // trained one, rather than nearly uniform.
    case R::lm_head:
    case R::mtp_shared_head: return 4.0f / std::sqrt(static_cast<float>(t.shape.back()));
    default: return 1.0f / std::sqrt(static_cast<float>(t.shape.back()));
  }
}

bool is_norm(model::TensorRole r) {
  using R = model::TensorRole;
  return r == R::final_norm || r == R::input_layernorm || r == R::post_attention_layernorm || r == R::q_a_layernorm ||
         r == R::kv_a_layernorm || r == R::mtp_enorm || r == R::mtp_hnorm || r == R::mtp_shared_head_norm;
}

// How much of each decoder layer's output a --markov model keeps: enough that the context still
// changes some predictions (so that some drafts are rejected), little enough that most are not.
// Attention is kept smaller: over a long prompt it can copy earlier tokens, which makes the next
// token depend on the context rather than on the current token.
constexpr float kMarkovMlpScale = 0.05f;
constexpr float kMarkovAttentionScale = 0.02f;

float markov_scale(model::TensorRole r) {
  using R = model::TensorRole;
  if (r == R::o_proj) return kMarkovAttentionScale;
  if (r == R::dense_down || r == R::expert_down || r == R::shared_expert_down) return kMarkovMlpScale;
  return 1.0f;
}

std::vector<float> values_of(const model::ExpectedTensor& t, const TinyModelOptions& o) {
  const uint64_t seed = o.seed;
  const std::vector<int64_t>& favoured = o.favoured_ids;
  uint64_t n = 1;
  for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
  std::vector<float> v(n);
  // The MTP module's copies of the embedding and head hold the main model's values.
  std::string key = t.name;
  if (t.role == model::TensorRole::mtp_embed_tokens) key = "model.embed_tokens.weight";
  if (t.role == model::TensorRole::mtp_shared_head) key = "lm_head.weight";
  // --markov: the MTP's final norm is the main model's, so that only the layers tell them apart.
  if (o.markov && t.role == model::TensorRole::mtp_shared_head_norm) key = "model.norm.weight";
  Stream s(seed, key);
  const float a = spread_of(t) * std::sqrt(3.0f);
  if (is_norm(t.role)) {
    for (float& x : v) x = 1.0f + s.uniform(0.1f);
  } else {
    for (float& x : v) x = s.uniform(a);
  }
  if (o.markov && markov_scale(t.role) != 1.0f) {
    for (float& x : v) x *= markov_scale(t.role);
  }
  if (o.markov && t.role == model::TensorRole::mtp_enorm) std::fill(v.begin(), v.end(), 1.0f);
  if (o.markov && t.role == model::TensorRole::mtp_eh_proj) {
    // [I | 0]: eh_proj · [enorm(embedding of the next token) ; hnorm(hidden)] = the former.
    const int64_t rows = t.shape[0], cols = t.shape[1];
    std::fill(v.begin(), v.end(), 0.0f);
    for (int64_t r = 0; r < rows; ++r) v[static_cast<size_t>(r * cols + r)] = 1.0f;
  }
  const bool head = t.role == model::TensorRole::lm_head || t.role == model::TensorRole::mtp_shared_head;
  if (head && !favoured.empty()) {
    const int64_t rows = t.shape[0], cols = t.shape[1];
    std::vector<bool> keep(static_cast<size_t>(rows), false);
    for (int64_t id : favoured) {
      if (id >= 0 && id < rows) keep[static_cast<size_t>(id)] = true;
    }
    for (int64_t r = 0; r < rows; ++r) {
      if (keep[static_cast<size_t>(r)]) continue;
      for (int64_t c = 0; c < cols; ++c) v[static_cast<size_t>(r * cols + c)] *= 0.05f;
    }
  }
  return v;
}

// DeepSeek's quantiser (spec §4): per 128×128 block, scale = amax / 448, code = e4m3(w / scale).
std::vector<float> block_scales(const std::vector<float>& w, int64_t rows, int64_t cols) {
  const int64_t br = (rows + 127) / 128, bc = (cols + 127) / 128;
  std::vector<float> scales(static_cast<size_t>(br * bc), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      float& s = scales[static_cast<size_t>((r / 128) * bc + c / 128)];
      s = std::max(s, std::fabs(w[static_cast<size_t>(r * cols + c)]));
    }
  }
  for (float& s : scales) s = std::max(s, 1e-4f) / 448.0f;
  return scales;
}

}  // namespace

nlohmann::json tiny_model_config(const TinyModelOptions& o) {
  Shape s = preset_shape(o);
  if (o.layers > 0) s.layers = o.layers;
  if (o.mtp_layers >= 0) s.mtp = o.mtp_layers;
  s.dense_layers = std::min(s.dense_layers, std::max<int64_t>(s.layers - 1, 0));
  const int64_t vocab = std::max(s.vocab, o.vocab_size);
  nlohmann::json c = {
      {"architectures", {s.v2 ? "DeepseekV2ForCausalLM" : "DeepseekV3ForCausalLM"}},
      {"model_type", s.v2 ? "deepseek_v2" : "deepseek_v3"},
      {"vocab_size", vocab},
      {"hidden_size", s.hidden},
      {"intermediate_size", s.inter},
      {"moe_intermediate_size", s.moe_inter},
      {"num_hidden_layers", s.layers},
      {"num_attention_heads", s.heads},
      {"num_key_value_heads", s.heads},
      {"q_lora_rank", s.q_lora > 0 ? nlohmann::json(s.q_lora) : nlohmann::json(nullptr)},
      {"kv_lora_rank", s.kv_lora},
      {"qk_nope_head_dim", s.nope},
      {"qk_rope_head_dim", s.rope},
      {"v_head_dim", s.v},
      {"n_routed_experts", s.experts},
      {"n_shared_experts", s.shared},
      {"num_experts_per_tok", s.top_k},
      {"n_group", s.groups},
      {"topk_group", s.topk_groups},
      {"first_k_dense_replace", s.dense_layers},
      {"moe_layer_freq", 1},
      {"routed_scaling_factor", s.v2 ? 1.0 : 2.5},
      {"scoring_func", s.v2 ? "softmax" : "sigmoid"},
      {"topk_method", s.v2 ? "greedy" : "noaux_tc"},
      {"norm_topk_prob", !s.v2},
      {"hidden_act", "silu"},
      {"rms_norm_eps", 1e-6},
      {"max_position_embeddings", 163840},
      {"rope_theta", 10000},
      {"rope_scaling",
       {{"type", "yarn"},
        {"factor", 40},
        {"original_max_position_embeddings", 4096},
        {"beta_fast", 32},
        {"beta_slow", 1},
        {"mscale", s.v2 ? 0.707 : 1.0},
        {"mscale_all_dim", s.v2 ? 0.707 : 1.0}}},
      {"attention_bias", false},
      {"tie_word_embeddings", false},
      {"bos_token_id", o.bos_id},
      {"eos_token_id", o.eos_id},
      {"torch_dtype", "bfloat16"},
  };
  if (s.mtp > 0) c["num_nextn_predict_layers"] = s.mtp;
  if (o.fp8) {
    c["quantization_config"] = {{"activation_scheme", "dynamic"}, {"fmt", "e4m3"}, {"quant_method", "fp8"},
                                {"weight_block_size", {128, 128}}};
  }
  return c;
}

void write_tiny_weights(const std::filesystem::path& dir, const TinyModelOptions& o) {
  const model::ModelSpec spec = model::load_model_spec(dir / "config.json");
  std::vector<TensorDecl> decls;
  for (const model::ExpectedTensor& t : model::expected_tensors(spec, /*include_mtp=*/true)) {
    if (t.role == model::TensorRole::router_bias) {
      decls.push_back({t.name, DType::f32, t.shape, [t, o](std::span<std::byte> out) {
                         auto v = values_of(t, o);
                         std::memcpy(out.data(), v.data(), out.size());
                       }});
    } else if (o.fp8 && t.fp8_allowed) {
      const int64_t rows = t.shape[0], cols = t.shape[1];
      decls.push_back({t.name, DType::f8_e4m3fn, t.shape, [t, o, rows, cols](std::span<std::byte> out) {
                         auto v = values_of(t, o);
                         auto scales = block_scales(v, rows, cols);
                         const int64_t bc = (cols + 127) / 128;
                         for (int64_t r = 0; r < rows; ++r) {
                           for (int64_t c = 0; c < cols; ++c) {
                             const size_t i = static_cast<size_t>(r * cols + c);
                             out[i] = static_cast<std::byte>(f32_to_f8_e4m3fn(v[i] / scales[static_cast<size_t>((r / 128) * bc + c / 128)]));
                           }
                         }
                       }});
      const std::string scale_name = t.name.substr(0, t.name.size() - std::string("weight").size()) + "weight_scale_inv";
      decls.push_back({scale_name, DType::f32, {(rows + 127) / 128, (cols + 127) / 128},
                       [t, o, rows, cols](std::span<std::byte> out) {
                         auto scales = block_scales(values_of(t, o), rows, cols);
                         std::memcpy(out.data(), scales.data(), out.size());
                       }});
    } else {
      decls.push_back({t.name, DType::bf16, t.shape, [t, o](std::span<std::byte> out) {
                         auto v = values_of(t, o);
                         convert_from_f32(DType::bf16, v.data(), out.data(), v.size());
                       }});
    }
  }
  write_safetensors(dir / "model.safetensors", decls);
}

}  // namespace fathom::tools
