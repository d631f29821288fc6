// Builds the operator graph of a DeepSeek-V2/V3 checkpoint (spec §2): embedding, decoder
// layers (MLA attention; dense MLP or MoE), final norm, lm_head — and, separately, the MTP
// module (spec §3.6).
//
// Main graph: inputs `ids`, `positions`, `slots` (i32 [T]); outputs `logits` (f32 [T, vocab]) and
// `hidden` (f32 [T, D], after the final norm: what the MTP module consumes). Built without the
// head (`BuildOptions::lm_head = false`) it ends at `hidden`, and the head graph (input `hidden`,
// output `logits`) then runs on only the rows whose logits are wanted: a prompt of 4096 tokens
// needs the logits of its last one, and the vocabulary product is the largest in the model.
// MTP graph: inputs `ids` (the next tokens t_{p+1}), `positions`, `slots`, `hidden` (the main
// graph's hidden for rows p); output `mtp_logits` (f32 [T, vocab]). Built without the head it
// ends at `mtp_hidden` (after shared_head.norm), and the MTP head graph gives the logits of the
// rows wanted: a draft needs only each sequence's last row.
// Each attention layer owns a state tensor `layers.<i>.kv_cache` [slots, max_seq_len, C + dr]: graphs
// built with the same options share caches by name.
#pragma once

#include <cstdint>
#include <string>

#include "fathom/graph/graph.h"
#include "fathom/model/checkpoint.h"
#include "fathom/model/model_spec.h"

namespace fathom::graph {

struct BuildOptions {
  bool absorbed_attention = false;  // MLA form: naive for prefill, absorbed for decode
  int64_t n_slots = 1;              // sequences the KV cache holds
  int64_t max_seq_len = 4096;       // positions per sequence
  uint32_t cache_dtype = FATHOM_DTYPE_F32;
  bool lm_head = true;              // false: the main graph stops at `hidden`
};

Graph build_deepseek(const model::ModelSpec& spec, const model::Checkpoint& weights, const BuildOptions& options);

// lm_head alone: input `hidden` (f32 [T, D]), output `logits` (f32 [T, vocab]).
Graph build_deepseek_head(const model::ModelSpec& spec, const model::Checkpoint& weights, const BuildOptions& options);

// Where the MTP module's embedding and head come from. The published checkpoints store the
// module's own copies, holding the main model's values (spec §3.6, pitfall 19): an identical copy
// is replaced by the main tensor, so that backends place those weights once (1.8 GB each for V3);
// a copy that differs is used as it is. Deciding reads both copies whole, so it is done once per
// model and handed to the builders below. Throws not_found without an MTP module.
struct MtpSources {
  std::string embed_tokens;  // weight name
  std::string head;          // weight prefix (without ".weight"), for a linear
};
MtpSources resolve_mtp_sources(const model::ModelSpec& spec, const model::Checkpoint& weights);

// Throws not_found when the checkpoint has no MTP layer (num_nextn_predict_layers = 0 or its
// tensors are absent).
Graph build_deepseek_mtp(const model::ModelSpec& spec, const model::Checkpoint& weights, const BuildOptions& options,
                         const MtpSources& sources);

// The MTP module's head alone: input `hidden` (f32 [T, D], `mtp_hidden` rows), output `mtp_logits`.
Graph build_deepseek_mtp_head(const model::ModelSpec& spec, const model::Checkpoint& weights, const BuildOptions& options,
                              const MtpSources& sources);

}  // namespace fathom::graph
