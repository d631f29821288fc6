// Parameter counts: from a ModelSpec alone (no weights needed) and from a checkpoint.
//
// Conventions (docs/model-support.md explains the choice; both reproduce DeepSeek's numbers):
//  * total: every parameter of the main model (embedding, decoder layers, final norm, lm_head),
//    without the MTP modules. DeepSeek-V3: 671,026,419,200 ("671B"); V2-Lite: 15,706,484,224.
//  * mtp: the MTP modules' own parameters (enorm, hnorm, eh_proj, decoder layer,
//    shared_head.norm), without their stored copies of the embedding and lm_head, which share the
//    main model's parameters. DeepSeek-V3: 11,610,068,224 ("11.6B").
//  * activated: the parameters one token's forward pass multiplies with: all of the main model
//    except the embedding table (a row lookup) and the routed experts it is not sent to
//    (num_experts_per_tok of n_routed_experts per MoE layer; router and shared experts count in
//    full). DeepSeek-V3: 36,625,618,432 ("37B"); V2-Lite: 2,451,435,008 ("2.4B").
#pragma once

#include <cstdint>
#include <string>

#include "fathom/model/checkpoint.h"
#include "fathom/model/model_spec.h"

namespace fathom::model {

struct ParameterCounts {
  std::uint64_t total = 0;           // main model
  std::uint64_t embedding = 0;       // model.embed_tokens (included in total)
  std::uint64_t lm_head = 0;         // lm_head (included in total)
  std::uint64_t routed_experts = 0;  // all routed experts of the main model (included in total)
  std::uint64_t activated = 0;       // per token, main model (see above)
  std::uint64_t mtp = 0;             // MTP modules, unique parameters
  std::uint64_t mtp_shared = 0;      // the MTP modules' stored copies of embedding and lm_head
  std::uint64_t mtp_activated = 0;   // per draft token, unique MTP parameters only
};

// Counts from the spec; throws invalid_argument naming the config if a count overflows 64 bits.
ParameterCounts count_parameters(const ModelSpec& spec);

// What a checkpoint actually stores. FP8 block scales are not parameters and are counted apart.
struct CheckpointParameterCounts {
  std::uint64_t tensors = 0;         // all tensors, scales included
  std::uint64_t bytes = 0;           // all tensor bytes
  std::uint64_t parameters = 0;      // elements of every tensor that is not a scale
  std::uint64_t main = 0;            // of those, outside the MTP layers
  std::uint64_t mtp = 0;             // of those, in layers >= num_hidden_layers
  std::uint64_t mtp_unique = 0;      // mtp without the copies of embedding and lm_head
  std::uint64_t scale_tensors = 0;   // `<w>_scale_inv` companions of FP8 weights
  std::uint64_t scale_elements = 0;
};

CheckpointParameterCounts count_checkpoint_parameters(const Checkpoint& checkpoint, const ModelSpec& spec);

// "671.0B", "15.7B", "123.4M", "5.1K", "12" (with `decimals` digits after the point).
std::string format_parameter_count(std::uint64_t count, int decimals = 1);

}  // namespace fathom::model
