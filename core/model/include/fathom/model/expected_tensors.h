// The tensors a ModelSpec implies, with their shapes (spec §3.1, §3.2, §3.6).
//
// This is the single description of DeepSeek checkpoint layout in Fathom: checkpoint validation
// and parameter counting are both computed from it, so they cannot disagree.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fathom/model/model_spec.h"

namespace fathom::model {

// What a tensor is; determines its shape rule and how parameter counts classify it.
enum class TensorRole {
  embed_tokens,
  final_norm,
  lm_head,
  input_layernorm,
  post_attention_layernorm,
  q_proj,  // without q LoRA
  q_a_proj,
  q_a_layernorm,
  q_b_proj,
  kv_a_proj_with_mqa,
  kv_a_layernorm,
  kv_b_proj,
  o_proj,
  dense_gate_up,  // mlp.gate_proj / mlp.up_proj of a dense layer
  dense_down,
  router,       // mlp.gate.weight
  router_bias,  // mlp.gate.e_score_correction_bias (noaux_tc only)
  expert_gate_up,
  expert_down,
  shared_expert_gate_up,
  shared_expert_down,
  mtp_embed_tokens,  // the MTP module's copy of the embedding (same parameters as the main one)
  mtp_enorm,
  mtp_hnorm,
  mtp_eh_proj,
  mtp_shared_head_norm,
  mtp_shared_head,  // the MTP module's copy of lm_head (same parameters)
};

struct ExpectedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  TensorRole role = TensorRole::embed_tokens;
  std::int64_t layer = -1;   // decoder layer (MTP modules: num_hidden_layers + k); -1 outside layers
  std::int64_t expert = -1;  // routed expert index, -1 otherwise
  bool fp8_allowed = false;  // a linear weight inside a decoder layer: may be F8_E4M3 with a scale
  bool mtp = false;          // belongs to an MTP module (optional in a checkpoint)
};

// Calls `visit` once per tensor: the main model, then (if include_mtp) the MTP modules.
void for_each_expected_tensor(const ModelSpec& spec, bool include_mtp,
                              const std::function<void(const ExpectedTensor&)>& visit);
std::vector<ExpectedTensor> expected_tensors(const ModelSpec& spec, bool include_mtp);

// The config fields that determine a role's shape, with their values, for error messages:
// "num_attention_heads=4, qk_nope_head_dim=16, v_head_dim=16, kv_lora_rank=32".
std::string shape_origin(const ModelSpec& spec, TensorRole role);

// True for the MTP module's stored copies of the embedding and output head, which share their
// parameters with the main model (spec §3.6, pitfall 19).
bool shares_main_model_parameters(TensorRole role);

}  // namespace fathom::model
