// Checkpoint: single-file and sharded directories, tensor lookup, FP8 scale pairing.
#include "fathom/model/checkpoint.h"

#include "test_support.h"

namespace fathom::model {
namespace {

using testing::SafetensorsWriter;
using testing::TempDir;

class CheckpointTest : public ::testing::Test {
 protected:
  // Shard 1 holds an FP8 weight, shard 2 its scale (scales may live in another shard, spec §3.4).
  void write_sharded() {
    SafetensorsWriter s1;
    s1.add("model.embed_tokens.weight", "BF16", {8, 4})
        .add("model.layers.0.mlp.down_proj.weight", "F8_E4M3", {200, 300});
    s1.add("stray.weight", "F32", {2});  // in the shard but not in the index: not part of the checkpoint
    s1.write(dir_ / "model-00001-of-00002.safetensors");
    SafetensorsWriter s2;
    s2.add("model.layers.0.mlp.down_proj.weight_scale_inv", "F32", {2, 3}).add("lm_head.weight", "BF16", {8, 4});
    s2.write(dir_ / "model-00002-of-00002.safetensors");
    index_ = {{"metadata", {{"total_size", 0}}},
              {"weight_map",
               {{"model.embed_tokens.weight", "model-00001-of-00002.safetensors"},
                {"model.layers.0.mlp.down_proj.weight", "model-00001-of-00002.safetensors"},
                {"model.layers.0.mlp.down_proj.weight_scale_inv", "model-00002-of-00002.safetensors"},
                {"lm_head.weight", "model-00002-of-00002.safetensors"}}}};
    write_index();
  }
  void write_index() { testing::write_text(dir_ / Checkpoint::kIndexFileName, index_.dump()); }
  std::string index_name() const { return (dir_ / Checkpoint::kIndexFileName).string(); }

  TempDir dir_;
  nlohmann::json index_;
};

TEST_F(CheckpointTest, OpensASingleFile) {
  SafetensorsWriter w;
  w.add("b", "F32", {2}).add("a", "BF16", {3});
  w.write(dir_ / "model.safetensors");
  EXPECT_TRUE(Checkpoint::has_weights(dir_.path()));
  const Checkpoint c = Checkpoint::open(dir_.path());
  EXPECT_FALSE(c.is_sharded());
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(c.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.get("a").shape, (std::vector<std::int64_t>{3}));
  EXPECT_EQ(c.find("zzz"), nullptr);
  EXPECT_FATHOM_ERROR(c.get("zzz"), ErrorCode::not_found, "tensor 'zzz'", dir_.path().string());
  // A file path opens that file.
  EXPECT_EQ(Checkpoint::open(dir_ / "model.safetensors").size(), 2u);
}

TEST_F(CheckpointTest, DirectoryWithoutWeights) {
  EXPECT_FALSE(Checkpoint::has_weights(dir_.path()));
  EXPECT_FATHOM_ERROR(Checkpoint::open(dir_.path()), ErrorCode::not_found, dir_.path().string(), "model.safetensors",
                      "model.safetensors.index.json");
}

TEST_F(CheckpointTest, CorruptSingleFilePropagatesWithItsName) {
  testing::write_text(dir_ / "model.safetensors", "abc");
  EXPECT_FATHOM_ERROR(Checkpoint::open(dir_.path()), ErrorCode::invalid_argument, (dir_ / "model.safetensors").string(),
                      "truncated");
}

TEST_F(CheckpointTest, OpensShardsThroughTheIndex) {
  write_sharded();
  const Checkpoint c = Checkpoint::open(dir_.path());
  EXPECT_TRUE(c.is_sharded());
  EXPECT_EQ(c.files().size(), 2u);
  EXPECT_EQ(c.size(), 4u);
  EXPECT_EQ(c.find("stray.weight"), nullptr);
  EXPECT_EQ(c.get("lm_head.weight").file->filename(), "model-00002-of-00002.safetensors");
  EXPECT_EQ(c.source(), dir_ / Checkpoint::kIndexFileName);
}

TEST_F(CheckpointTest, MissingShardNamesIndexShardAndTensor) {
  write_sharded();
  std::filesystem::remove(dir_ / "model-00002-of-00002.safetensors");
  EXPECT_FATHOM_ERROR(Checkpoint::open(dir_.path()), ErrorCode::not_found, index_name(),
                      "shard 'model-00002-of-00002.safetensors'", "does not exist");
}

TEST_F(CheckpointTest, IndexNamingATensorTheShardLacks) {
  write_sharded();
  index_["weight_map"]["model.norm.weight"] = "model-00001-of-00002.safetensors";
  write_index();
  EXPECT_FATHOM_ERROR(Checkpoint::open(dir_.path()), ErrorCode::not_found, index_name(), "tensor 'model.norm.weight'",
                      "model-00001-of-00002.safetensors does not contain it");
}

TEST_F(CheckpointTest, MalformedIndex) {
  write_sharded();
  testing::write_text(dir_ / Checkpoint::kIndexFileName, "{\"weight_map\": ");
  EXPECT_FATHOM_ERROR(Checkpoint::open(dir_.path()), ErrorCode::invalid_argument, index_name(), "not valid JSON");

  index_ = {{"metadata", {}}};
  write_index();
  EXPECT_FATHOM_ERROR(Checkpoint::open(dir_.path()), ErrorCode::invalid_argument, index_name(), "missing 'weight_map'");

  index_ = {{"weight_map", {{"lm_head.weight", 7}}}};
  write_index();
  EXPECT_FATHOM_ERROR(Checkpoint::open(dir_.path()), ErrorCode::invalid_argument, index_name(),
                      "tensor 'lm_head.weight'", "must be a string");

  index_ = {{"weight_map", {{"lm_head.weight", "../elsewhere.safetensors"}}}};
  write_index();
  EXPECT_FATHOM_ERROR(Checkpoint::open(dir_.path()), ErrorCode::invalid_argument, "tensor 'lm_head.weight'",
                      "not a file name inside the model directory");
  index_ = {{"weight_map", {{"lm_head.weight", "/etc/passwd"}}}};
  write_index();
  EXPECT_FATHOM_ERROR(Checkpoint::open(dir_.path()), ErrorCode::invalid_argument, "not a file name inside");
}

TEST_F(CheckpointTest, PairsFp8WeightsWithTheirScales) {
  write_sharded();
  const Checkpoint c = Checkpoint::open(dir_.path());
  const TensorView* scale = c.scale_for("model.layers.0.mlp.down_proj.weight");
  ASSERT_NE(scale, nullptr);
  EXPECT_EQ(scale->name, "model.layers.0.mlp.down_proj.weight_scale_inv");
  EXPECT_EQ(scale->shape, (std::vector<std::int64_t>{2, 3}));  // ceil(200/128), ceil(300/128)
  EXPECT_EQ(c.scale_for("lm_head.weight"), nullptr);           // not FP8: no scale needed
}

TEST_F(CheckpointTest, BadFp8ScalesNameBothTensors) {
  const std::string weight = "model.layers.0.self_attn.kv_a_proj_with_mqa.weight";
  auto write_with_scale = [&](const char* dtype, std::vector<std::int64_t> shape) {
    SafetensorsWriter w;
    w.add(weight, "F8_E4M3", {576, 256});
    if (dtype != nullptr) w.add(weight + "_scale_inv", dtype, shape);
    w.write(dir_ / "model.safetensors");
    return Checkpoint::open(dir_.path());
  };
  {
    const Checkpoint c = write_with_scale(nullptr, {});
    EXPECT_FATHOM_ERROR(c.scale_for(weight), ErrorCode::not_found, "tensor '" + weight + "' is F8_E4M3",
                        "scale '" + weight + "_scale_inv' is not in the checkpoint");
  }
  {
    const Checkpoint c = write_with_scale("BF16", {5, 2});
    EXPECT_FATHOM_ERROR(c.scale_for(weight), ErrorCode::invalid_argument, weight + "_scale_inv", weight,
                        "is BF16, expected F32");
  }
  {
    // 576 rows need ceil(576/128) = 5 row blocks, not 576/128 = 4 (spec pitfall 13).
    const Checkpoint c = write_with_scale("F32", {4, 2});
    EXPECT_FATHOM_ERROR(c.scale_for(weight), ErrorCode::invalid_argument, weight + "_scale_inv", weight,
                        "has shape [4, 2]", "needs [5, 2]");
  }
  {
    const Checkpoint c = write_with_scale("F32", {5, 2});
    EXPECT_NE(c.scale_for(weight), nullptr);
  }
}

}  // namespace
}  // namespace fathom::model
