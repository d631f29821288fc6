// GGUF tensors → the tensors of a Hugging Face DeepSeek checkpoint (see gguf_deepseek.h).
#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>

#include "fathom/core/dtype.h"
#include "fathom/core/error.h"
#include "fathom/model/gguf_deepseek.h"
#include "fathom/sdk/ggml_blocks.hpp"

namespace fathom::model {
namespace {

struct Rename {
  std::string_view gguf;
  std::string_view hf;
};

constexpr std::array<Rename, 3> kModelTensors{{
    {"token_embd.weight", "model.embed_tokens.weight"},
    {"output_norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
}};

// After "blk.N." → after "model.layers.N.".
constexpr std::array<Rename, 18> kLayerTensors{{
    {"attn_norm.weight", "input_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_q_a.weight", "self_attn.q_a_proj.weight"},
    {"attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight"},
    {"attn_q_b.weight", "self_attn.q_b_proj.weight"},
    {"attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight"},
    {"attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight"},
    {"attn_kv_b.weight", "self_attn.kv_b_proj.weight"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
    {"ffn_gate_inp.weight", "mlp.gate.weight"},
    {"exp_probs_b.bias", "mlp.gate.e_score_correction_bias"},
    {"ffn_gate_shexp.weight", "mlp.shared_experts.gate_proj.weight"},
    {"ffn_up_shexp.weight", "mlp.shared_experts.up_proj.weight"},
    {"ffn_down_shexp.weight", "mlp.shared_experts.down_proj.weight"},
}};

// Stacked routed experts: one [n_experts, rows, cols] tensor per projection.
constexpr std::array<Rename, 3> kExpertTensors{{
    {"ffn_gate_exps.weight", "gate_proj.weight"},
    {"ffn_up_exps.weight", "up_proj.weight"},
    {"ffn_down_exps.weight", "down_proj.weight"},
}};

constexpr std::string_view kKeyB = "attn_k_b.weight";
constexpr std::string_view kValueB = "attn_v_b.weight";

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

DType float_dtype(const GgufFile& file, const GgufTensor& t) {
  switch (t.type) {
    case GgmlType::f32: return DType::f32;
    case GgmlType::f16: return DType::f16;
    case GgmlType::bf16: return DType::bf16;
    default:
      throw internal_error(file.path().string() + ": tensor " + in_quotes(t.name) + " is not a float tensor");
  }
}

bool quantised(const GgufTensor& t) {
  return t.type != GgmlType::f32 && t.type != GgmlType::f16 && t.type != GgmlType::bf16;
}

// The checkpoint's name for a quantised type (its value the plugin ABI's layout id).
GgmlBlocks blocks_of(GgmlType type) {
  switch (type) {
    case GgmlType::q8_0: return GgmlBlocks::q8_0;
    case GgmlType::q4_0: return GgmlBlocks::q4_0;
    case GgmlType::q5_0: return GgmlBlocks::q5_0;
    case GgmlType::q4_1: return GgmlBlocks::q4_1;
    case GgmlType::q5_1: return GgmlBlocks::q5_1;
    case GgmlType::iq4_nl: return GgmlBlocks::iq4_nl;
    case GgmlType::iq4_xs: return GgmlBlocks::iq4_xs;
    case GgmlType::q2_k: return GgmlBlocks::q2_k;
    case GgmlType::q3_k: return GgmlBlocks::q3_k;
    case GgmlType::q4_k: return GgmlBlocks::q4_k;
    case GgmlType::q5_k: return GgmlBlocks::q5_k;
    case GgmlType::q6_k: return GgmlBlocks::q6_k;
    case GgmlType::iq2_xxs: return GgmlBlocks::iq2_xxs;
    case GgmlType::iq2_xs: return GgmlBlocks::iq2_xs;
    case GgmlType::iq2_s: return GgmlBlocks::iq2_s;
    case GgmlType::iq3_xxs: return GgmlBlocks::iq3_xxs;
    case GgmlType::iq3_s: return GgmlBlocks::iq3_s;
    case GgmlType::iq1_s: return GgmlBlocks::iq1_s;
    case GgmlType::iq1_m: return GgmlBlocks::iq1_m;
    default: return GgmlBlocks::none;
  }
}

// Every value of a tensor as f32 (its bytes in order: rows of the innermost dimension).
std::vector<float> values_f32(const GgufFile& file, const GgufTensor& t) {
  const auto cols = t.dims[0];
  std::uint64_t count = 1;
  for (auto d : t.dims) count *= static_cast<std::uint64_t>(d);
  std::vector<float> out(count);
  if (count == 0) return out;  // (and no rows to divide into)
  if (quantised(t)) {
    const uint32_t layout = layout_of(blocks_of(t.type));
    const int64_t row_bytes = sdk::ggml_row_bytes(layout, cols);
    for (std::uint64_t r = 0; r < count / static_cast<std::uint64_t>(cols); ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        out[r * static_cast<std::uint64_t>(cols) + static_cast<std::uint64_t>(c)] =
            sdk::ggml_value(t.data + r * static_cast<std::uint64_t>(row_bytes), layout, c);
      }
    }
    return out;
  }
  convert_to_f32(float_dtype(file, t), t.data, out.data(), count);
  return out;
}

// Hugging Face's shape: GGUF lists dimensions innermost first.
std::vector<std::int64_t> hf_shape(const GgufTensor& t) { return {t.dims.rbegin(), t.dims.rend()}; }

TensorView view_of(const GgufFile& file, const GgufTensor& t, std::string name) {
  TensorView v;
  v.name = std::move(name);
  v.dtype = quantised(t) ? DType::u8 : float_dtype(file, t);
  v.blocks = blocks_of(t.type);
  v.shape = hf_shape(t);
  v.data = t.data;
  v.nbytes = t.nbytes;
  v.file = &file.path();
  return v;
}

// "blk.12.attn_q_a.weight" → (12, "attn_q_a.weight").
std::optional<std::pair<std::int64_t, std::string_view>> split_layer(std::string_view name) {
  constexpr std::string_view kPrefix = "blk.";
  if (!name.starts_with(kPrefix)) return std::nullopt;
  const std::string_view rest = name.substr(kPrefix.size());
  std::int64_t layer = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), layer);
  if (ec != std::errc() || end == rest.data() || end == rest.data() + rest.size() || *end != '.') return std::nullopt;
  return std::pair{layer, rest.substr(static_cast<std::size_t>(end - rest.data()) + 1)};
}

std::string layer_name(std::int64_t layer, std::string_view suffix) {
  return "model.layers." + std::to_string(layer) + "." + std::string(suffix);
}

void add_experts(const GgufFile& file, const GgufTensor& t, std::int64_t layer, std::string_view projection,
                 GgufCheckpointTensors& out) {
  if (t.dims.size() != 3) {
    throw invalid_argument(file.path().string() + ": tensor " + in_quotes(t.name) + " must be 3-D [cols, rows, experts], has " +
                           std::to_string(t.dims.size()) + " dimensions");
  }
  // Bounded like config.json's n_routed_experts: an empty [0, 0, 2^40] must not make 2^40 views.
  constexpr std::int64_t kMaxExperts = 4096;
  if (t.dims[2] > kMaxExperts) {
    throw invalid_argument(file.path().string() + ": tensor " + in_quotes(t.name) + " stacks " + std::to_string(t.dims[2]) +
                           " experts (at most " + std::to_string(kMaxExperts) + ")");
  }
  const auto experts = static_cast<std::size_t>(t.dims[2]);
  const std::size_t bytes_each = experts == 0 ? 0 : t.nbytes / experts;
  for (std::size_t e = 0; e < experts; ++e) {
    TensorView v = view_of(file, t, layer_name(layer, "mlp.experts." + std::to_string(e) + "." + std::string(projection)));
    v.shape = {t.dims[1], t.dims[0]};
    v.data = t.data + e * bytes_each;
    v.nbytes = bytes_each;
    out.views.push_back(std::move(v));
  }
}

// An f32 tensor the checkpoint owns (dequantised on load), under `name`.
void add_owned_f32(const GgufFile& file, std::string name, std::vector<std::int64_t> shape, const std::vector<float>& values,
                   GgufCheckpointTensors& out) {
  auto bytes = std::make_unique<std::byte[]>(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(bytes.get(), values.data(), values.size() * sizeof(float));  // (an empty one has no data())
  TensorView v;
  v.name = std::move(name);
  v.dtype = DType::f32;
  v.shape = std::move(shape);
  v.data = bytes.get();
  v.nbytes = values.size() * sizeof(float);
  v.file = &file.path();
  v.in_memory = true;
  out.views.push_back(std::move(v));
  out.owned.push_back(std::move(bytes));
}

// kv_b_proj [H·(d_n + d_v), C] from k_b [H, C, d_n] (each head's key part, transposed) and
// v_b [H, d_v, C]: per head, d_n rows of key then d_v rows of value.
void join_kv_b(const GgufFile& file, const GgufTensor& k, const GgufTensor& v, std::int64_t layer,
               GgufCheckpointTensors& out) {
  const std::string where = file.path().string() + ": tensors " + in_quotes(k.name) + " and " + in_quotes(v.name);
  if (k.dims.size() != 3 || v.dims.size() != 3) throw invalid_argument(where + ": must both be 3-D");
  const std::int64_t nope = k.dims[0], latent = k.dims[1], heads = k.dims[2];
  const std::int64_t value = v.dims[1];
  if (v.dims[0] != latent || v.dims[2] != heads || (k.type != v.type && !quantised(k) && !quantised(v))) {
    throw invalid_argument(where + ": do not fit together (k_b [" + std::to_string(heads) + ", " + std::to_string(latent) +
                           ", " + std::to_string(nope) + "], v_b [" + std::to_string(v.dims[2]) + ", " +
                           std::to_string(v.dims[1]) + ", " + std::to_string(v.dims[0]) + "], same type)");
  }
  // Both empty, any extents fit in the file: refused or answered before any loop over heads. With
  // C and H non-zero, H·d_n and H·d_v are bounded by the file's bytes.
  if (latent == 0 || heads == 0) throw invalid_argument(where + ": no heads or no latent columns");
  if (nope + value == 0) {
    add_owned_f32(file, layer_name(layer, "self_attn.kv_b_proj.weight"), {0, latent}, {}, out);
    return;
  }
  if (quantised(k) || quantised(v)) {
    // MLA takes a float kv_b: dequantise (exactly, to f32) and join.
    const std::vector<float> kf = values_f32(file, k), vf = values_f32(file, v);
    std::vector<float> kv;
    kv.reserve(static_cast<std::size_t>(heads * (nope + value) * latent));
    for (std::int64_t h = 0; h < heads; ++h) {
      for (std::int64_t r = 0; r < nope; ++r) {
        for (std::int64_t c = 0; c < latent; ++c) kv.push_back(kf[static_cast<std::size_t>((h * latent + c) * nope + r)]);
      }
      const auto first = vf.begin() + static_cast<std::ptrdiff_t>(h * value * latent);
      kv.insert(kv.end(), first, first + static_cast<std::ptrdiff_t>(value * latent));
    }
    add_owned_f32(file, layer_name(layer, "self_attn.kv_b_proj.weight"), {heads * (nope + value), latent}, kv, out);
    return;
  }
  const DType dtype = float_dtype(file, k);
  const std::size_t elt = dtype_size(dtype);
  const std::size_t rows = static_cast<std::size_t>(heads * (nope + value)), cols = static_cast<std::size_t>(latent);
  auto bytes = std::make_unique<std::byte[]>(rows * cols * elt);
  std::byte* dst = bytes.get();
  for (std::int64_t h = 0; h < heads; ++h) {
    const std::byte* kh = k.data + static_cast<std::size_t>(h * latent * nope) * elt;  // [C, d_n]
    for (std::int64_t r = 0; r < nope; ++r) {
      for (std::int64_t c = 0; c < latent; ++c) {
        std::memcpy(dst, kh + static_cast<std::size_t>(c * nope + r) * elt, elt);
        dst += elt;
      }
    }
    const std::size_t value_bytes = static_cast<std::size_t>(value * latent) * elt;  // [d_v, C], already row-major
    std::memcpy(dst, v.data + static_cast<std::size_t>(h) * value_bytes, value_bytes);
    dst += value_bytes;
  }
  TensorView kv;
  kv.name = layer_name(layer, "self_attn.kv_b_proj.weight");
  kv.dtype = dtype;
  kv.shape = {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)};
  kv.data = bytes.get();
  kv.nbytes = rows * cols * elt;
  kv.file = &file.path();
  kv.in_memory = true;
  out.views.push_back(std::move(kv));
  out.owned.push_back(std::move(bytes));
}

// One tensor of `file` into `out` under its checkpoint name; attn_k_b / attn_v_b are handed to
// `pair_half(layer, is_key)` to be joined once both are seen.
template <typename PairHalf>
void add_tensor(const GgufFile& file, const GgufTensor& t, GgufCheckpointTensors& out, PairHalf pair_half) {
  const auto model_rename = std::find_if(kModelTensors.begin(), kModelTensors.end(), [&](const Rename& r) { return r.gguf == t.name; });
  if (model_rename != kModelTensors.end()) {
    out.views.push_back(view_of(file, t, std::string(model_rename->hf)));
    return;
  }
  const auto layer = split_layer(t.name);
  if (layer) {
    // Plain copies: lambdas cannot capture structured bindings before Clang 16.
    const std::int64_t index = layer->first;
    const std::string_view suffix = layer->second;
    if (suffix == "attn_kv_b.weight" && quantised(t)) {  // MLA takes a float kv_b
      add_owned_f32(file, layer_name(index, "self_attn.kv_b_proj.weight"), hf_shape(t), values_f32(file, t), out);
      return;
    }
    if (const auto* r = std::find_if(kLayerTensors.begin(), kLayerTensors.end(), [&](const Rename& x) { return x.gguf == suffix; });
        r != kLayerTensors.end()) {
      out.views.push_back(view_of(file, t, layer_name(index, r->hf)));
      return;
    }
    if (const auto* r = std::find_if(kExpertTensors.begin(), kExpertTensors.end(), [&](const Rename& x) { return x.gguf == suffix; });
        r != kExpertTensors.end()) {
      add_experts(file, t, index, r->hf, out);
      return;
    }
    if (suffix == kKeyB || suffix == kValueB) {
      pair_half(index, suffix == kKeyB);
      return;
    }
  }
  throw invalid_argument(file.path().string() + ": tensor " + in_quotes(t.name) +
                         " is not part of a DeepSeek model as llama.cpp's converter writes it");
}

}  // namespace

GgufCheckpointTensors gguf_deepseek_tensors(const std::vector<std::unique_ptr<GgufFile>>& parts) {
  GgufCheckpointTensors out;
  struct Located {
    const GgufFile* file = nullptr;
    const GgufTensor* tensor = nullptr;
  };
  std::map<std::int64_t, std::pair<Located, Located>> split_kv_b;  // layer → (k_b, v_b), from any parts
  std::unordered_map<std::string_view, const GgufFile*> seen;      // a name in two parts of a split model
  for (const auto& part : parts) {
    const GgufFile& file = *part;
    for (const GgufTensor& t : file.tensors()) {
      if (const auto [it, fresh] = seen.emplace(t.name, &file); !fresh) {
        throw invalid_argument(file.path().string() + ": tensor " + in_quotes(t.name) + " is also in " +
                               it->second->path().string() + " (two parts of the model hold it)");
      }
      add_tensor(file, t, out, [&](std::int64_t layer, bool key) {
        (key ? split_kv_b[layer].first : split_kv_b[layer].second) = Located{&file, &t};
      });
    }
  }
  for (const auto& [layer, pair] : split_kv_b) {
    const auto [k, v] = pair;
    if (!k.tensor || !v.tensor) {
      const Located& present = k.tensor ? k : v;
      throw invalid_argument(present.file->path().string() + ": layer " + std::to_string(layer) + " has " +
                             in_quotes(present.tensor->name) + " but not its " + std::string(k.tensor ? kValueB : kKeyB) +
                             " partner");
    }
    join_kv_b(*k.file, *k.tensor, *v.tensor, layer, out);
  }
  return out;
}

}  // namespace fathom::model
