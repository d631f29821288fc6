#include "test_support.h"

#include <stdlib.h>

#include <fstream>
#include <sstream>

namespace fathom::model::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "fathom-weights-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::size_t element_size(std::string_view dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  if (dtype == "I64" || dtype == "F64") return 8;
  return 1;
}

SafetensorsWriter& SafetensorsWriter::add(const std::string& name, const std::string& dtype,
                                          std::vector<std::int64_t> shape) {
  std::uint64_t bytes = element_size(dtype);
  for (auto d : shape) bytes *= static_cast<std::uint64_t>(d);
  header_[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {data_size_, data_size_ + bytes}}};
  data_size_ += bytes;
  return *this;
}

void SafetensorsWriter::write(const std::filesystem::path& path) const {
  std::string data(data_size_, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 1);
  const std::string text = header_.dump();
  write_raw_safetensors(path, text.size(), text, 0);
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

void write_raw_safetensors(const std::filesystem::path& path, std::uint64_t header_length_field,
                           const std::string& header_text, std::size_t data_size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((header_length_field >> (8 * i)) & 0xff));
  out << header_text;
  out << std::string(data_size, '\0');
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json tiny_v3_config() {
  return {
      {"architectures", {"DeepseekV3ForCausalLM"}},
      {"model_type", "deepseek_v3"},
      {"vocab_size", 64},
      {"hidden_size", 32},
      {"num_hidden_layers", 3},
      {"num_attention_heads", 4},
      {"num_key_value_heads", 4},
      {"q_lora_rank", 24},
      {"kv_lora_rank", 32},
      {"qk_nope_head_dim", 16},
      {"qk_rope_head_dim", 8},
      {"v_head_dim", 16},
      {"intermediate_size", 64},
      {"moe_intermediate_size", 16},
      {"n_routed_experts", 4},
      {"n_shared_experts", 1},
      {"num_experts_per_tok", 2},
      {"n_group", 2},
      {"topk_group", 1},
      {"topk_method", "noaux_tc"},
      {"scoring_func", "sigmoid"},
      {"norm_topk_prob", true},
      {"routed_scaling_factor", 2.5},
      {"first_k_dense_replace", 1},
      {"moe_layer_freq", 1},
      {"num_nextn_predict_layers", 1},
      {"rms_norm_eps", 1e-6},
      {"rope_theta", 10000},
      {"max_position_embeddings", 256},
      {"rope_scaling",
       {{"type", "yarn"},
        {"factor", 4},
        {"original_max_position_embeddings", 64},
        {"beta_fast", 32},
        {"beta_slow", 1},
        {"mscale", 1.0},
        {"mscale_all_dim", 1.0}}},
      {"tie_word_embeddings", false},
      {"attention_bias", false},
      {"hidden_act", "silu"},
  };
}

nlohmann::json tiny_v2_config() {
  nlohmann::json c = tiny_v3_config();
  c["architectures"] = {"DeepseekV2ForCausalLM"};
  c["model_type"] = "deepseek_v2";
  c["q_lora_rank"] = nullptr;
  c["n_group"] = 1;
  c["topk_group"] = 1;
  c["topk_method"] = "greedy";
  c["scoring_func"] = "softmax";
  c["norm_topk_prob"] = false;
  c["routed_scaling_factor"] = 1.0;
  c.erase("num_nextn_predict_layers");
  return c;
}

void write_tiny_checkpoint(const std::filesystem::path& dir, const nlohmann::json& config, CheckpointOptions options,
                           const std::function<void(std::vector<PlannedTensor>&)>& edit) {
  write_text(dir / "config.json", config.dump(2));
  const ModelSpec spec = parse_model_spec(config);
  std::vector<PlannedTensor> plan;
  for (const ExpectedTensor& t : expected_tensors(spec, options.include_mtp)) {
    if (options.fp8 && t.fp8_allowed) {
      plan.push_back({t.name, "F8_E4M3", t.shape});
      plan.push_back({t.name + "_scale_inv", "F32", {(t.shape[0] + 127) / 128, (t.shape[1] + 127) / 128}});
    } else {
      plan.push_back({t.name, t.role == TensorRole::router_bias ? "F32" : "BF16", t.shape});
    }
  }
  if (edit) edit(plan);
  SafetensorsWriter writer;
  for (const PlannedTensor& t : plan) writer.add(t.name, t.dtype, t.shape);
  writer.write(dir / "model.safetensors");
}

std::filesystem::path shared_config(std::string_view name) {
  return std::filesystem::path(FATHOM_SHARED_DIR) / "models" / "configs" / name;
}

fathom::Error error_from(const std::function<void()>& f) {
  try {
    f();
  } catch (const fathom::Error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-fathom exception: " << e.what();
    return fathom::Error(ErrorCode::internal, e.what());
  }
  ADD_FAILURE() << "expected a fathom::Error, nothing was thrown";
  return fathom::Error(ErrorCode::ok, "");
}

}  // namespace fathom::model::testing
