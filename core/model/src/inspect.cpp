#include "fathom/model/inspect.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <vector>

#include "fathom/model/checkpoint.h"
#include "fathom/model/gguf.h"

namespace fathom::model {
namespace {

// "671026419200" -> "671,026,419,200"
std::string grouped(std::uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// "671.0B (671,026,419,200)"
std::string count_text(std::uint64_t n, int decimals = 1) {
  return format_parameter_count(n, decimals) + " (" + grouped(n) + ")";
}

void describe_architecture(std::ostringstream& out, const ModelSpec& s) {
  out << "model_type: " << model_type_name(s.model_type) << "\n";
  out << "layers: " << s.num_hidden_layers << " (" << s.num_dense_layers() << " dense, " << s.num_moe_layers()
      << " MoE)";
  if (s.num_nextn_predict_layers > 0) out << " + " << s.num_nextn_predict_layers << " MTP";
  out << "\n";
  out << "hidden_size: " << s.hidden_size << ", vocab_size: " << s.vocab_size << "\n";
  out << "attention: MLA, " << s.num_attention_heads << " heads, q_lora_rank "
      << (s.has_q_lora() ? std::to_string(s.q_lora_rank) : std::string("none")) << ", kv_lora_rank " << s.kv_lora_rank
      << ", head dims " << s.qk_nope_head_dim << "+" << s.qk_rope_head_dim << "/" << s.v_head_dim << ", softmax scale "
      << s.softmax_scale() << "\n";
  out << "experts: " << s.n_routed_experts << " routed + " << s.n_shared_experts << " shared; top-"
      << s.num_experts_per_tok << " by " << topk_method_name(s.topk_method) << " over "
      << scoring_func_name(s.scoring_func) << " scores (n_group " << s.n_group << ", topk_group " << s.topk_group
      << ")\n";
}

// The weights' quantisation: config.json's FP8, or a GGUF file's blocks with the bits its tensors
// take per weight on average.
std::string describe_quantization(const ModelInspection& r) {
  if (r.spec.quantization) return "fp8 e4m3, 128x128 block scales";
  if (r.weights && r.weights->gguf_blocks) {
    std::ostringstream bits;
    bits.precision(3);
    bits << r.weights->gguf_bits;
    return "GGUF blocks (types below), " + bits.str() + " bits a weight";
  }
  return "none";
}

// "GGUF v3: 34 tensors, BF16 22, F32 12": the types by count, most first, over every part.
std::string describe_gguf(const std::vector<std::unique_ptr<GgufFile>>& parts) {
  std::map<std::string, std::size_t> by_type;
  std::size_t tensors = 0;
  for (const auto& part : parts) {
    for (const GgufTensor& t : part->tensors()) ++by_type[ggml_type_name(static_cast<std::uint32_t>(t.type))];
    tensors += part->tensors().size();
  }
  std::vector<std::pair<std::string, std::size_t>> types(by_type.begin(), by_type.end());
  std::stable_sort(types.begin(), types.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string text = "GGUF v" + std::to_string(parts.front()->version()) + ": " + std::to_string(tensors) + " tensors";
  for (const auto& [type, n] : types) text += ", " + type + " " + std::to_string(n);
  return text;
}

}  // namespace

ModelInspection inspect_model(const std::filesystem::path& dir) {
  ModelInspection r;
  r.directory = dir;
  r.spec = load_model_spec(dir);
  r.parameters = count_parameters(r.spec);
  if (Checkpoint::has_weights(dir)) {
    const Checkpoint ckpt = Checkpoint::open(dir);
    WeightsSummary w;
    w.source = ckpt.source();
    w.files = ckpt.gguf() ? ckpt.gguf_parts().size() : ckpt.files().size();
    w.report = validate_checkpoint(r.spec, ckpt);
    w.stored = count_checkpoint_parameters(ckpt, r.spec);
    if (ckpt.gguf()) {
      w.gguf = describe_gguf(ckpt.gguf_parts());
      double bytes = 0, elements = 0;
      for (const auto& part : ckpt.gguf_parts())
        for (const GgufTensor& t : part->tensors()) {
          w.gguf_blocks |= t.type != GgmlType::f32 && t.type != GgmlType::f16 && t.type != GgmlType::bf16;
          bytes += static_cast<double>(t.nbytes);
          double n = 1;
          for (const std::int64_t d : t.dims) n *= static_cast<double>(d);
          elements += n;
        }
      w.gguf_bits = elements > 0 ? bytes * 8 / elements : 0;
    }
    r.weights = std::move(w);
  }
  return r;
}

std::string format_inspection(const ModelInspection& r) {
  std::ostringstream out;
  out << "model: " << r.directory.string() << "\n";
  describe_architecture(out, r.spec);
  out << "quantization: " << describe_quantization(r) << "\n";
  const ParameterCounts& p = r.parameters;
  out << "parameters (from config.json):\n";
  out << "  total:     " << count_text(p.total) << "\n";
  if (r.spec.num_nextn_predict_layers > 0) {
    out << "  MTP:       " << count_text(p.mtp) << " (plus its copies of the embedding and lm_head, "
        << format_parameter_count(p.mtp_shared) << ", shared with the main model)\n";
  }
  // Two decimals: DeepSeek publishes V2-Lite's 2,451,435,008 as "2.4B", which one decimal would
  // round to a confusing "2.5B".
  out << "  activated: " << count_text(p.activated, 2) << " per token (embedding lookup not counted)\n";
  if (!r.weights) {
    out << "weights: none (config.json only)\n";
    return out.str();
  }
  const WeightsSummary& w = *r.weights;
  const CheckpointParameterCounts& s = w.stored;
  out << "weights: " << w.source.string() << " (" << w.files << (w.files == 1 ? " file, " : " files, ") << s.tensors
      << " tensors, " << grouped(s.bytes) << " bytes)\n";
  if (!w.gguf.empty()) out << "  " << w.gguf << "\n";
  out << "  main model: " << count_text(s.main)
      << (s.main == p.total ? ", matches config.json" : ", DIFFERS from config.json") << "\n";
  if (s.mtp > 0) out << "  MTP:        " << count_text(s.mtp_unique) << " unique, " << count_text(s.mtp) << " stored\n";
  if (s.scale_tensors > 0) {
    out << "  FP8 weights: " << w.report.fp8_weights << ", block scales: " << s.scale_tensors << " tensors, "
        << grouped(s.scale_elements) << " elements (not counted as parameters)\n";
  }
  for (const std::string& note : w.report.notes) out << "  note: " << note << "\n";
  return out.str();
}

}  // namespace fathom::model
