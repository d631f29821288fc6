#include "fathom/graph/deepseek_builder.h"

#include <cstring>

#include "deepseek_blocks.h"
#include "fathom/core/error.h"

namespace fathom::graph {

namespace {

struct Inputs {
  TensorId ids, positions, slots;
};

Inputs add_token_inputs(Graph& g) {
  const fathom_tensor_desc tokens = make_desc(FATHOM_DTYPE_I32, {FATHOM_DIM_TOKENS});
  return {g.add_input("ids", tokens), g.add_input("positions", tokens), g.add_input("slots", tokens)};
}

}  // namespace

Graph build_deepseek(const model::ModelSpec& spec, const model::Checkpoint& weights, const BuildOptions& options) {
  Graph g;
  Inputs in = add_token_inputs(g);
  detail::DeepSeekBlocks blocks(g, spec, weights, options, in.positions, in.slots);

  TensorId h = blocks.embedding(in.ids, "model.embed_tokens.weight", "embed_tokens");
  for (int64_t layer = 0; layer < spec.num_hidden_layers; ++layer) h = blocks.decoder_layer(h, layer);
  TensorId hidden = blocks.rms_norm(h, "model.norm.weight", "norm");
  if (options.lm_head) g.mark_output(blocks.linear(hidden, "lm_head", "lm_head"), "logits");
  g.mark_output(hidden, "hidden");
  return g;
}

Graph build_deepseek_head(const model::ModelSpec& spec, const model::Checkpoint& weights, const BuildOptions& options) {
  Graph g;
  TensorId hidden = g.add_input("hidden", detail::activation(spec.hidden_size));
  // The head needs no positions or cache slots; the blocks only read them in attention.
  detail::DeepSeekBlocks blocks(g, spec, weights, options, TensorId{}, TensorId{});
  g.mark_output(blocks.linear(hidden, "lm_head", "lm_head"), "logits");
  return g;
}

namespace {

// The checkpoint prefix of the first MTP module (spec §3.6); throws not_found without one.
std::string mtp_prefix(const model::ModelSpec& spec, const model::Checkpoint& weights) {
  const std::string p = "model.layers." + std::to_string(spec.num_hidden_layers);
  if (spec.num_nextn_predict_layers < 1 || !weights.find(p + ".eh_proj.weight")) {
    throw not_found(weights.directory().string() + ": the checkpoint has no MTP module (" + p + ".*)");
  }
  return p;
}

bool same_bytes(const model::TensorView* a, const model::TensorView* b) {
  if (!a || !b) return a == b;
  if (a->dtype != b->dtype || a->shape != b->shape || a->nbytes != b->nbytes) return false;
  const bool same = std::memcmp(a->data, b->data, a->nbytes) == 0;
  // The comparison paged both in; without this they would stay in the process's memory (an
  // identical copy is never read again), 3.7 GB for V3's embedding and head copies.
  model::release_resident_pages(*a);
  model::release_resident_pages(*b);
  return same;
}

// `main` when the tensor `own` is byte for byte the same (see MtpSources), else `own`. Both name
// weights without the ".weight" suffix; block scales, when present, must match too.
std::string shared_or_own(const model::Checkpoint& weights, const std::string& own, const std::string& main) {
  const model::TensorView* mine = weights.find(own + ".weight");
  if (!mine) return main;
  const model::TensorView* theirs = weights.find(main + ".weight");
  const bool same = theirs && same_bytes(mine, theirs) &&
                    same_bytes(weights.find(own + ".weight_scale_inv"), weights.find(main + ".weight_scale_inv"));
  return same ? main : own;
}

}  // namespace

MtpSources resolve_mtp_sources(const model::ModelSpec& spec, const model::Checkpoint& weights) {
  const std::string p = mtp_prefix(spec, weights);
  return {shared_or_own(weights, p + ".embed_tokens", "model.embed_tokens") + ".weight",
          shared_or_own(weights, p + ".shared_head.head", "lm_head")};
}

Graph build_deepseek_mtp(const model::ModelSpec& spec, const model::Checkpoint& weights, const BuildOptions& options,
                         const MtpSources& sources) {
  const int64_t layer = spec.num_hidden_layers;
  const std::string p = mtp_prefix(spec, weights);
  Graph g;
  Inputs in = add_token_inputs(g);
  TensorId hidden = g.add_input("hidden", detail::activation(spec.hidden_size));
  detail::DeepSeekBlocks blocks(g, spec, weights, options, in.positions, in.slots);

  const std::string n = "mtp." + std::to_string(layer);
  TensorId e = blocks.embedding(in.ids, sources.embed_tokens, n + ".embed_tokens");
  e = blocks.rms_norm(e, p + ".enorm.weight", n + ".enorm");
  TensorId hn = blocks.rms_norm(hidden, p + ".hnorm.weight", n + ".hnorm");
  // [embedding ; hidden] — the released weights' order, opposite to the paper's notation (pitfall 18).
  TensorId cat = g.add_node(FATHOM_OP_CONCAT, n + ".concat", {e, hn}, {detail::activation(2 * spec.hidden_size)})[0];
  TensorId x = blocks.linear(cat, p + ".eh_proj", n + ".eh_proj");
  x = blocks.decoder_layer(x, layer);
  x = blocks.rms_norm(x, p + ".shared_head.norm.weight", n + ".shared_head.norm");
  if (!options.lm_head) {
    g.mark_output(x, "mtp_hidden");
    return g;
  }
  g.mark_output(blocks.linear(x, sources.head, n + ".shared_head.head"), "mtp_logits");
  return g;
}

Graph build_deepseek_mtp_head(const model::ModelSpec& spec, const model::Checkpoint& weights, const BuildOptions& options,
                              const MtpSources& sources) {
  mtp_prefix(spec, weights);  // throws not_found without an MTP module
  Graph g;
  TensorId hidden = g.add_input("hidden", detail::activation(spec.hidden_size));
  detail::DeepSeekBlocks blocks(g, spec, weights, options, TensorId{}, TensorId{});
  const std::string n = "mtp." + std::to_string(spec.num_hidden_layers);
  g.mark_output(blocks.linear(hidden, sources.head, n + ".shared_head.head"), "mtp_logits");
  return g;
}

}  // namespace fathom::graph
