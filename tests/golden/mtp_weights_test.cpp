// Spec pitfall 19: the MTP module's copies of the embedding and the head hold the main model's
// values in the published checkpoints. Identical copies are placed once, as the main tensors; a
// copy that differs is the MTP module's own and is used as it is.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fathom/graph/deepseek_builder.h"
#include "fathom/model/checkpoint.h"
#include "fathom/model/model_spec.h"

namespace fathom::graph {
namespace {

namespace fs = std::filesystem;

std::set<std::string> weight_names(const Graph& g) {
  std::set<std::string> names;
  for (const Tensor& t : g.tensors()) {
    if (t.kind == TensorKind::weight && t.weight) names.insert(t.weight->name);
  }
  return names;
}

std::set<std::string> mtp_weights(const fs::path& dir) {
  const model::ModelSpec spec = model::load_model_spec(dir);
  const model::Checkpoint ckpt = model::Checkpoint::open(dir);
  const MtpSources sources = resolve_mtp_sources(spec, ckpt);
  std::set<std::string> all = weight_names(build_deepseek_mtp(spec, ckpt, {}, sources));
  for (const std::string& n : weight_names(build_deepseek_mtp_head(spec, ckpt, {}, sources))) all.insert(n);
  return all;
}

// Changes the first byte of `tensor` in a one-file safetensors checkpoint (header: u64 length,
// JSON with each tensor's data_offsets, relative to the end of the header).
void change_first_byte(const fs::path& file, const std::string& tensor) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  uint64_t header_len = 0;
  f.read(reinterpret_cast<char*>(&header_len), 8);
  std::string header(header_len, '\0');
  f.read(header.data(), static_cast<std::streamsize>(header_len));
  const auto offset = nlohmann::json::parse(header).at(tensor).at("data_offsets")[0].get<uint64_t>();
  const auto at = static_cast<std::streamoff>(8 + header_len + offset);
  char c = 0;
  f.seekg(at);
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x40);
  f.seekp(at);
  f.write(&c, 1);
  ASSERT_TRUE(f.good()) << file;
}

TEST(MtpWeights, IdenticalCopiesAreSharedAndDifferentOnesKept) {
  const fs::path fixture = fs::path(FATHOM_FIXTURES_DIR) / "deepseek-v3-tiny";
  const std::string p = "model.layers." + std::to_string(model::load_model_spec(fixture).num_hidden_layers);
  const std::string own_embed = p + ".embed_tokens.weight", own_head = p + ".shared_head.head.weight";

  const std::set<std::string> shared = mtp_weights(fixture);
  EXPECT_TRUE(shared.count("model.embed_tokens.weight"));
  EXPECT_TRUE(shared.count("lm_head.weight"));
  EXPECT_FALSE(shared.count(own_embed));
  EXPECT_FALSE(shared.count(own_head));

  const fs::path copy = fs::temp_directory_path() / ("fathom_mtp_weights_" + std::to_string(getpid()));
  fs::remove_all(copy);
  fs::copy(fixture, copy);
  change_first_byte(copy / "model.safetensors", own_head);
  const std::set<std::string> own = mtp_weights(copy);
  EXPECT_TRUE(own.count(own_head));  // the head now differs: the MTP module's own
  EXPECT_FALSE(own.count("lm_head.weight"));
  EXPECT_TRUE(own.count("model.embed_tokens.weight"));  // the embedding is still the same
  fs::remove_all(copy);
}

}  // namespace
}  // namespace fathom::graph
