#include "fathom/model/expected_tensors.h"

namespace fathom::model {
namespace {

using Shape = std::vector<std::int64_t>;

// Emits the tensors of one decoder layer (main model or the decoder block of an MTP module).
class LayerEmitter {
 public:
  LayerEmitter(const ModelSpec& spec, const std::function<void(const ExpectedTensor&)>& visit, bool mtp)
      : s_(spec), visit_(visit), mtp_(mtp) {}

  void emit_layer(std::int64_t layer) {
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    const std::int64_t D = s_.hidden_size;
    const std::int64_t H = s_.num_attention_heads;
    emit(p + "input_layernorm.weight", {D}, TensorRole::input_layernorm, layer);
    emit(p + "post_attention_layernorm.weight", {D}, TensorRole::post_attention_layernorm, layer);

    const std::string a = p + "self_attn.";
    if (s_.has_q_lora()) {
      emit_linear(a + "q_a_proj.weight", {s_.q_lora_rank, D}, TensorRole::q_a_proj, layer);
      emit(a + "q_a_layernorm.weight", {s_.q_lora_rank}, TensorRole::q_a_layernorm, layer);
      emit_linear(a + "q_b_proj.weight", {H * s_.qk_head_dim(), s_.q_lora_rank}, TensorRole::q_b_proj, layer);
    } else {
      emit_linear(a + "q_proj.weight", {H * s_.qk_head_dim(), D}, TensorRole::q_proj, layer);
    }
    emit_linear(a + "kv_a_proj_with_mqa.weight", {s_.kv_lora_rank + s_.qk_rope_head_dim, D},
                TensorRole::kv_a_proj_with_mqa, layer);
    emit(a + "kv_a_layernorm.weight", {s_.kv_lora_rank}, TensorRole::kv_a_layernorm, layer);
    emit_linear(a + "kv_b_proj.weight", {H * (s_.qk_nope_head_dim + s_.v_head_dim), s_.kv_lora_rank},
                TensorRole::kv_b_proj, layer);
    emit_linear(a + "o_proj.weight", {D, H * s_.v_head_dim}, TensorRole::o_proj, layer);

    const std::string m = p + "mlp.";
    if (!s_.is_moe_layer(layer)) {
      emit_swiglu(m, s_.intermediate_size, TensorRole::dense_gate_up, TensorRole::dense_down, layer);
      return;
    }
    emit(m + "gate.weight", {s_.n_routed_experts, D}, TensorRole::router, layer);
    if (s_.has_router_bias()) {
      emit(m + "gate.e_score_correction_bias", {s_.n_routed_experts}, TensorRole::router_bias, layer);
    }
    for (std::int64_t e = 0; e < s_.n_routed_experts; ++e) {
      emit_swiglu(m + "experts." + std::to_string(e) + ".", s_.moe_intermediate_size, TensorRole::expert_gate_up,
                  TensorRole::expert_down, layer, e);
    }
    if (s_.n_shared_experts > 0) {
      emit_swiglu(m + "shared_experts.", s_.shared_experts_intermediate_size(), TensorRole::shared_expert_gate_up,
                  TensorRole::shared_expert_down, layer);
    }
  }

  void emit(std::string name, Shape shape, TensorRole role, std::int64_t layer, std::int64_t expert = -1,
            bool fp8_allowed = false) {
    tensor_.name = std::move(name);
    tensor_.shape = std::move(shape);
    tensor_.role = role;
    tensor_.layer = layer;
    tensor_.expert = expert;
    tensor_.fp8_allowed = fp8_allowed;
    tensor_.mtp = mtp_;
    visit_(tensor_);
  }

 private:
  // Spec §3.1 rule: the 2-D linear weights inside decoder layers are the ones that may be FP8.
  void emit_linear(std::string name, Shape shape, TensorRole role, std::int64_t layer, std::int64_t expert = -1) {
    emit(std::move(name), std::move(shape), role, layer, expert, /*fp8_allowed=*/true);
  }

  void emit_swiglu(const std::string& prefix, std::int64_t width, TensorRole gate_up, TensorRole down,
                   std::int64_t layer, std::int64_t expert = -1) {
    const std::int64_t D = s_.hidden_size;
    emit_linear(prefix + "gate_proj.weight", {width, D}, gate_up, layer, expert);
    emit_linear(prefix + "up_proj.weight", {width, D}, gate_up, layer, expert);
    emit_linear(prefix + "down_proj.weight", {D, width}, down, layer, expert);
  }

  const ModelSpec& s_;
  const std::function<void(const ExpectedTensor&)>& visit_;
  bool mtp_;
  ExpectedTensor tensor_;  // reused so that shapes and names keep their capacity
};

std::string kv(const char* key, std::int64_t value) { return std::string(key) + "=" + std::to_string(value); }

}  // namespace

void for_each_expected_tensor(const ModelSpec& spec, bool include_mtp,
                              const std::function<void(const ExpectedTensor&)>& visit) {
  const std::int64_t D = spec.hidden_size;
  const std::int64_t V = spec.vocab_size;
  LayerEmitter main(spec, visit, /*mtp=*/false);
  main.emit("model.embed_tokens.weight", {V, D}, TensorRole::embed_tokens, -1);
  for (std::int64_t i = 0; i < spec.num_hidden_layers; ++i) main.emit_layer(i);
  main.emit("model.norm.weight", {D}, TensorRole::final_norm, -1);
  main.emit("lm_head.weight", {V, D}, TensorRole::lm_head, -1);
  if (!include_mtp) return;

  // Spec §3.6: MTP module k is stored as layer num_hidden_layers + k.
  LayerEmitter mtp(spec, visit, /*mtp=*/true);
  for (std::int64_t k = 0; k < spec.num_nextn_predict_layers; ++k) {
    const std::int64_t layer = spec.num_hidden_layers + k;
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    mtp.emit(p + "embed_tokens.weight", {V, D}, TensorRole::mtp_embed_tokens, layer);
    mtp.emit(p + "enorm.weight", {D}, TensorRole::mtp_enorm, layer);
    mtp.emit(p + "hnorm.weight", {D}, TensorRole::mtp_hnorm, layer);
    mtp.emit(p + "eh_proj.weight", {D, 2 * D}, TensorRole::mtp_eh_proj, layer);
    mtp.emit_layer(layer);
    mtp.emit(p + "shared_head.norm.weight", {D}, TensorRole::mtp_shared_head_norm, layer);
    mtp.emit(p + "shared_head.head.weight", {V, D}, TensorRole::mtp_shared_head, layer);
  }
}

std::vector<ExpectedTensor> expected_tensors(const ModelSpec& spec, bool include_mtp) {
  std::vector<ExpectedTensor> out;
  for_each_expected_tensor(spec, include_mtp, [&](const ExpectedTensor& t) { out.push_back(t); });
  return out;
}

bool shares_main_model_parameters(TensorRole role) {
  return role == TensorRole::mtp_embed_tokens || role == TensorRole::mtp_shared_head;
}

std::string shape_origin(const ModelSpec& s, TensorRole role) {
  const std::string D = kv("hidden_size", s.hidden_size);
  const std::string H = kv("num_attention_heads", s.num_attention_heads);
  switch (role) {
    case TensorRole::embed_tokens:
    case TensorRole::lm_head:
    case TensorRole::mtp_embed_tokens:
    case TensorRole::mtp_shared_head: return kv("vocab_size", s.vocab_size) + ", " + D;
    case TensorRole::final_norm:
    case TensorRole::input_layernorm:
    case TensorRole::post_attention_layernorm:
    case TensorRole::mtp_enorm:
    case TensorRole::mtp_hnorm:
    case TensorRole::mtp_eh_proj:
    case TensorRole::mtp_shared_head_norm: return D;
    case TensorRole::q_proj:
      return H + ", " + kv("qk_nope_head_dim", s.qk_nope_head_dim) + ", " +
             kv("qk_rope_head_dim", s.qk_rope_head_dim) + ", " + D + ", q_lora_rank=null";
    case TensorRole::q_a_proj: return kv("q_lora_rank", s.q_lora_rank) + ", " + D;
    case TensorRole::q_a_layernorm: return kv("q_lora_rank", s.q_lora_rank);
    case TensorRole::q_b_proj:
      return H + ", " + kv("qk_nope_head_dim", s.qk_nope_head_dim) + ", " +
             kv("qk_rope_head_dim", s.qk_rope_head_dim) + ", " + kv("q_lora_rank", s.q_lora_rank);
    case TensorRole::kv_a_proj_with_mqa:
      return kv("kv_lora_rank", s.kv_lora_rank) + ", " + kv("qk_rope_head_dim", s.qk_rope_head_dim) + ", " + D;
    case TensorRole::kv_a_layernorm: return kv("kv_lora_rank", s.kv_lora_rank);
    case TensorRole::kv_b_proj:
      return H + ", " + kv("qk_nope_head_dim", s.qk_nope_head_dim) + ", " + kv("v_head_dim", s.v_head_dim) + ", " +
             kv("kv_lora_rank", s.kv_lora_rank);
    case TensorRole::o_proj: return D + ", " + H + ", " + kv("v_head_dim", s.v_head_dim);
    case TensorRole::dense_gate_up:
    case TensorRole::dense_down: return kv("intermediate_size", s.intermediate_size) + ", " + D;
    case TensorRole::router: return kv("n_routed_experts", s.n_routed_experts) + ", " + D;
    case TensorRole::router_bias: return kv("n_routed_experts", s.n_routed_experts);
    case TensorRole::expert_gate_up:
    case TensorRole::expert_down: return kv("moe_intermediate_size", s.moe_intermediate_size) + ", " + D;
    case TensorRole::shared_expert_gate_up:
    case TensorRole::shared_expert_down:
      return kv("n_shared_experts", s.n_shared_experts) + ", " + kv("moe_intermediate_size", s.moe_intermediate_size) +
             ", " + D;
  }
  return "";
}

}  // namespace fathom::model
