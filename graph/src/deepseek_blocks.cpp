#include "deepseek_blocks.h"

#include <cmath>

#include "fathom/core/error.h"

namespace fathom::graph::detail {

namespace {

// mscale(s, m) of YaRN: 0.1·m·ln(s) + 1 when s > 1, else 1 (spec §2.3).
double yarn_mscale(double factor, double m) { return factor <= 1.0 ? 1.0 : 0.1 * m * std::log(factor) + 1.0; }

}  // namespace

fathom_tensor_desc activation(int64_t width, uint32_t dtype) { return make_desc(dtype, {FATHOM_DIM_TOKENS, width}); }

DeepSeekBlocks::DeepSeekBlocks(Graph& g, const model::ModelSpec& spec, const model::Checkpoint& weights,
                               const BuildOptions& options, TensorId positions, TensorId slots)
    : g_(g), spec_(spec), weights_(weights), options_(options), positions_(positions), slots_(slots) {}

void DeepSeekBlocks::add_weight_inputs(std::vector<TensorId>& inputs, const std::string& prefix) {
  const std::string name = prefix + ".weight";
  const model::TensorView& w = weights_.get(name);
  const model::TensorView* scale = weights_.scale_for(w);
  inputs.push_back(g_.add_weight(name, w, scale ? FATHOM_LAYOUT_BLOCK_SCALED_128x128 : FATHOM_LAYOUT_DENSE));
  if (scale) inputs.push_back(g_.add_weight(scale->name, *scale));
}

TensorId DeepSeekBlocks::linear(TensorId x, const std::string& prefix, const std::string& node_name) {
  std::vector<TensorId> inputs{x};
  add_weight_inputs(inputs, prefix);
  const int64_t out_features = g_.tensor(inputs[1]).desc.shape[0];
  return g_.add_node(FATHOM_OP_MATMUL, node_name, inputs, {activation(out_features)})[0];
}

TensorId DeepSeekBlocks::rms_norm(TensorId x, const std::string& weight_name, const std::string& node_name) {
  TensorId w = g_.add_weight(weight_name, weights_.get(weight_name));
  fathom_rms_norm_attrs a{static_cast<float>(spec_.rms_norm_eps)};
  return g_.add_node(FATHOM_OP_RMS_NORM, node_name, {x, w}, {activation(width(x))}, attrs_bytes(a))[0];
}

TensorId DeepSeekBlocks::embedding(TensorId ids, const std::string& table_name, const std::string& node_name) {
  TensorId table = g_.add_weight(table_name, weights_.get(table_name));
  return g_.add_node(FATHOM_OP_EMBEDDING, node_name, {ids, table}, {activation(g_.tensor(table).desc.shape[1])})[0];
}

TensorId DeepSeekBlocks::add(TensorId a, TensorId b, const std::string& node_name) {
  return g_.add_node(FATHOM_OP_ADD, node_name, {a, b}, {activation(width(a))})[0];
}

TensorId DeepSeekBlocks::rope(TensorId x, int64_t head_dim, int64_t offset, const std::string& node_name) {
  fathom_rope_attrs a{};
  a.head_dim = static_cast<int32_t>(head_dim);
  a.rope_offset = static_cast<int32_t>(offset);
  a.rope_dim = static_cast<int32_t>(spec_.qk_rope_head_dim);
  a.theta = static_cast<float>(spec_.rope_theta);
  a.yarn_factor = 1.0f;
  a.amplitude = 1.0f;
  if (spec_.rope_scaling) {
    const model::RopeScaling& s = *spec_.rope_scaling;
    a.yarn_factor = static_cast<float>(s.factor);
    a.original_max_positions = static_cast<int32_t>(s.original_max_position_embeddings);
    a.beta_fast = static_cast<float>(s.beta_fast);
    a.beta_slow = static_cast<float>(s.beta_slow);
    // The cos/sin amplitude is the ratio, exactly 1 for the released models (pitfall 2).
    a.amplitude = static_cast<float>(yarn_mscale(s.factor, s.mscale) / yarn_mscale(s.factor, s.mscale_all_dim));
  }
  return g_.add_node(FATHOM_OP_ROPE_YARN, node_name, {x, positions_}, {activation(width(x))}, attrs_bytes(a))[0];
}

TensorId DeepSeekBlocks::attention(TensorId x, int64_t layer, const std::string& p) {
  const std::string n = "layers." + std::to_string(layer) + ".self_attn";
  const int64_t heads = spec_.num_attention_heads, dn = spec_.qk_nope_head_dim, dr = spec_.qk_rope_head_dim;
  const int64_t c = spec_.kv_lora_rank;

  // The two products of x come first and next to each other, so that a backend can stream both
  // weight matrices in one pass over x (the CUDA backend's stacked_matmul fusion).
  const std::string q_first = spec_.has_q_lora() ? ".q_a_proj" : ".q_proj";
  TensorId q = linear(x, p + q_first, n + q_first);
  // kv_a output: the latent first, the shared rope key last (spec §2.4 layout facts).
  TensorId kva = linear(x, p + ".kv_a_proj_with_mqa", n + ".kv_a_proj_with_mqa");
  if (spec_.has_q_lora()) {
    q = rms_norm(q, p + ".q_a_layernorm.weight", n + ".q_a_layernorm");
    q = linear(q, p + ".q_b_proj", n + ".q_b_proj");
  }
  q = rope(q, dn + dr, dn, n + ".q_rope");

  TensorId latent = g_.add_node(FATHOM_OP_SLICE, n + ".latent", {kva}, {activation(c)},
                                attrs_bytes(fathom_slice_attrs{0, c}))[0];
  latent = rms_norm(latent, p + ".kv_a_layernorm.weight", n + ".kv_a_layernorm");
  TensorId k_pe = g_.add_node(FATHOM_OP_SLICE, n + ".k_pe", {kva}, {activation(dr)},
                              attrs_bytes(fathom_slice_attrs{c, dr}))[0];
  k_pe = rope(k_pe, dr, 0, n + ".k_rope");

  std::vector<TensorId> inputs{q, latent, k_pe, positions_, slots_};
  add_weight_inputs(inputs, p + ".kv_b_proj");
  inputs.push_back(g_.add_state("layers." + std::to_string(layer) + ".kv_cache",
                                make_desc(options_.cache_dtype, {options_.n_slots, options_.max_seq_len, c + dr})));
  fathom_mla_attrs a{};
  a.n_heads = static_cast<int32_t>(heads);
  a.qk_nope_dim = static_cast<int32_t>(dn);
  a.qk_rope_dim = static_cast<int32_t>(dr);
  a.v_dim = static_cast<int32_t>(spec_.v_head_dim);
  a.kv_lora_rank = static_cast<int32_t>(c);
  a.absorbed = options_.absorbed_attention ? 1 : 0;
  a.softmax_scale = static_cast<float>(spec_.softmax_scale());
  TensorId o = g_.add_node(FATHOM_OP_MLA_ATTENTION, n + ".attention", inputs, {activation(heads * spec_.v_head_dim)},
                           attrs_bytes(a))[0];
  return linear(o, p + ".o_proj", n + ".o_proj");
}

TensorId DeepSeekBlocks::dense_mlp(TensorId x, const std::string& p, const std::string& node_prefix) {
  TensorId gate = linear(x, p + ".gate_proj", node_prefix + ".gate_proj");
  TensorId up = linear(x, p + ".up_proj", node_prefix + ".up_proj");
  TensorId act = g_.add_node(FATHOM_OP_SILU_MUL, node_prefix + ".act", {gate, up}, {activation(width(gate))})[0];
  return linear(act, p + ".down_proj", node_prefix + ".down_proj");
}

TensorId DeepSeekBlocks::moe(TensorId x, int64_t layer, const std::string& p) {
  const std::string n = "layers." + std::to_string(layer) + ".mlp";
  const int64_t k = spec_.num_experts_per_tok;

  fathom_moe_route_attrs r{};
  r.n_experts = static_cast<int32_t>(spec_.n_routed_experts);
  r.top_k = static_cast<int32_t>(k);
  r.n_group = static_cast<int32_t>(spec_.n_group);
  r.topk_group = static_cast<int32_t>(spec_.topk_group);
  r.scoring = spec_.scoring_func == model::ScoringFunc::sigmoid ? FATHOM_SCORING_SIGMOID : FATHOM_SCORING_SOFTMAX;
  r.topk_method = spec_.topk_method == model::TopkMethod::noaux_tc              ? FATHOM_TOPK_NOAUX_TC
                  : spec_.topk_method == model::TopkMethod::group_limited_greedy ? FATHOM_TOPK_GROUP_LIMITED_GREEDY
                                                                                 : FATHOM_TOPK_GREEDY;
  r.has_bias = spec_.has_router_bias() ? 1 : 0;
  r.norm_topk_prob = spec_.norm_topk_prob ? 1 : 0;
  r.routed_scaling_factor = static_cast<float>(spec_.routed_scaling_factor);
  std::vector<TensorId> route_inputs{x, g_.add_weight(p + ".gate.weight", weights_.get(p + ".gate.weight"))};
  if (r.has_bias) {
    const std::string bias = p + ".gate.e_score_correction_bias";
    route_inputs.push_back(g_.add_weight(bias, weights_.get(bias)));
  }
  auto routed = g_.add_node(FATHOM_OP_MOE_ROUTE, n + ".gate", route_inputs,
                            {activation(k, FATHOM_DTYPE_I32), activation(k, FATHOM_DTYPE_F32)}, attrs_bytes(r));

  std::vector<TensorId> expert_inputs{x, routed[0], routed[1]};
  for (int64_t e = 0; e < spec_.n_routed_experts; ++e) {
    const std::string ep = p + ".experts." + std::to_string(e);
    add_weight_inputs(expert_inputs, ep + ".gate_proj");
    add_weight_inputs(expert_inputs, ep + ".up_proj");
    add_weight_inputs(expert_inputs, ep + ".down_proj");
  }
  fathom_moe_experts_attrs ea{static_cast<int32_t>(spec_.n_routed_experts), static_cast<int32_t>(k),
                              static_cast<int32_t>(spec_.hidden_size), static_cast<int32_t>(spec_.moe_intermediate_size)};
  TensorId y = g_.add_node(FATHOM_OP_MOE_EXPERTS, n + ".experts", expert_inputs, {activation(spec_.hidden_size)},
                           attrs_bytes(ea))[0];
  if (spec_.n_shared_experts > 0) {
    TensorId shared = dense_mlp(x, p + ".shared_experts", n + ".shared_experts");
    y = add(y, shared, n + ".combine");
  }
  return y;
}

TensorId DeepSeekBlocks::decoder_layer(TensorId h, int64_t layer) {
  const std::string p = "model.layers." + std::to_string(layer);
  const std::string n = "layers." + std::to_string(layer);
  TensorId x = rms_norm(h, p + ".input_layernorm.weight", n + ".input_layernorm");
  h = add(h, attention(x, layer, p + ".self_attn"), n + ".attn_residual");
  x = rms_norm(h, p + ".post_attention_layernorm.weight", n + ".post_attention_layernorm");
  TensorId ffn = spec_.is_moe_layer(layer) ? moe(x, layer, p + ".mlp") : dense_mlp(x, p + ".mlp", n + ".mlp");
  return add(h, ffn, n + ".ffn_residual");
}

}  // namespace fathom::graph::detail
