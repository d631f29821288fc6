// validate_checkpoint and checkpoint parameter counts on tiny checkpoints written by the test.
#include "fathom/model/validate_checkpoint.h"

#include "fathom/model/checkpoint.h"
#include "fathom/model/inspect.h"
#include "fathom/model/parameter_count.h"
#include "test_support.h"

namespace fathom::model {
namespace {

using testing::CheckpointOptions;
using testing::PlannedTensor;
using testing::TempDir;

using Plan = std::vector<PlannedTensor>;

PlannedTensor& planned(Plan& plan, const std::string& name) {
  for (PlannedTensor& t : plan) {
    if (t.name == name) return t;
  }
  throw std::runtime_error("no planned tensor " + name);
}

void drop(Plan& plan, const std::string& name) {
  std::erase_if(plan, [&](const PlannedTensor& t) { return t.name == name; });
}

class ValidateCheckpointTest : public ::testing::Test {
 protected:
  CheckpointReport validate() const {
    return validate_checkpoint(load_model_spec(dir_.path()), Checkpoint::open(dir_.path()));
  }
  std::string weights() const { return (dir_ / "model.safetensors").string(); }
  TempDir dir_;
};

TEST_F(ValidateCheckpointTest, CompleteBf16CheckpointValidates) {
  testing::write_tiny_checkpoint(dir_.path(), testing::tiny_v3_config());
  const ModelSpec spec = load_model_spec(dir_.path());
  const CheckpointReport r = validate();
  EXPECT_EQ(r.tensors_checked, expected_tensors(spec, true).size());
  EXPECT_EQ(r.fp8_weights, 0u);
  EXPECT_TRUE(r.mtp_declared);
  EXPECT_TRUE(r.mtp_present);
  EXPECT_TRUE(r.unexpected.empty());
  EXPECT_TRUE(r.notes.empty());
}

TEST_F(ValidateCheckpointTest, V2CheckpointWithoutQLora) {
  testing::write_tiny_checkpoint(dir_.path(), testing::tiny_v2_config());
  const CheckpointReport r = validate();
  EXPECT_FALSE(r.mtp_declared);
  EXPECT_TRUE(Checkpoint::open(dir_.path()).find("model.layers.0.self_attn.q_proj.weight") != nullptr);
}

TEST_F(ValidateCheckpointTest, Fp8CheckpointPairsEveryScale) {
  auto config = testing::tiny_v3_config();
  config["quantization_config"] = {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"weight_block_size", {128, 128}}};
  testing::write_tiny_checkpoint(dir_.path(), config, CheckpointOptions{.fp8 = true});
  const CheckpointReport r = validate();
  // Per layer: 5 attention linears + 3 x (experts + shared) or 3 dense; 3 main layers + 1 MTP.
  EXPECT_EQ(r.fp8_weights, 5u * 4 + 3 + 3 * 15);
  EXPECT_TRUE(r.unexpected.empty()) << r.unexpected.front();
  EXPECT_TRUE(r.notes.empty());
}

TEST_F(ValidateCheckpointTest, ShapeDisagreeingWithConfigNamesFileTensorAndFields) {
  testing::write_tiny_checkpoint(dir_.path(), testing::tiny_v3_config(), {}, [](Plan& plan) {
    planned(plan, "model.layers.1.self_attn.kv_b_proj.weight").shape = {64, 32};
  });
  EXPECT_FATHOM_ERROR(validate(), ErrorCode::invalid_argument, weights(),
                      "tensor 'model.layers.1.self_attn.kv_b_proj.weight' has shape [64, 32] but ",
                      "config.json (num_attention_heads=4, qk_nope_head_dim=16, v_head_dim=16, kv_lora_rank=32) "
                      "implies [128, 32]");
}

TEST_F(ValidateCheckpointTest, MissingTensorIsNamed) {
  testing::write_tiny_checkpoint(dir_.path(), testing::tiny_v3_config(), {},
                                 [](Plan& plan) { drop(plan, "model.layers.2.mlp.experts.3.down_proj.weight"); });
  EXPECT_FATHOM_ERROR(validate(), ErrorCode::not_found, weights(),
                      "tensor 'model.layers.2.mlp.experts.3.down_proj.weight' is missing",
                      "(moe_intermediate_size=16, hidden_size=32) implies it with shape [32, 16]");
}

TEST_F(ValidateCheckpointTest, AbsentMtpIsAllowedAndReported) {
  testing::write_tiny_checkpoint(dir_.path(), testing::tiny_v3_config(), CheckpointOptions{.include_mtp = false});
  const CheckpointReport r = validate();
  EXPECT_TRUE(r.mtp_declared);
  EXPECT_FALSE(r.mtp_present);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("num_nextn_predict_layers = 1 but the checkpoint holds no MTP tensors (model.layers.3.*)"),
            std::string::npos)
      << r.notes[0];
}

TEST_F(ValidateCheckpointTest, PartialMtpIsAnError) {
  testing::write_tiny_checkpoint(dir_.path(), testing::tiny_v3_config(), {},
                                 [](Plan& plan) { drop(plan, "model.layers.3.eh_proj.weight"); });
  EXPECT_FATHOM_ERROR(validate(), ErrorCode::not_found, "MTP module is incomplete",
                      "tensor 'model.layers.3.eh_proj.weight' is missing");
}

TEST_F(ValidateCheckpointTest, MtpShapesAreChecked) {
  testing::write_tiny_checkpoint(dir_.path(), testing::tiny_v3_config(), {}, [](Plan& plan) {
    planned(plan, "model.layers.3.eh_proj.weight").shape = {32, 32};
  });
  EXPECT_FATHOM_ERROR(validate(), ErrorCode::invalid_argument,
                      "tensor 'model.layers.3.eh_proj.weight' has shape [32, 32]", "(hidden_size=32) implies [32, 64]");
}

TEST_F(ValidateCheckpointTest, Fp8IsOnlyAllowedForDecoderLinears) {
  testing::write_tiny_checkpoint(dir_.path(), testing::tiny_v3_config(), {}, [](Plan& plan) {
    planned(plan, "model.embed_tokens.weight").dtype = "F8_E4M3";
    plan.push_back({"model.embed_tokens.weight_scale_inv", "F32", {1, 1}});
  });
  EXPECT_FATHOM_ERROR(
      validate(), ErrorCode::invalid_argument, weights(),
      "tensor 'model.embed_tokens.weight' is F8_E4M3, but only the linear weights inside decoder layers");
}

TEST_F(ValidateCheckpointTest, Fp8WeightWithoutScale) {
  testing::write_tiny_checkpoint(dir_.path(), testing::tiny_v3_config(), {}, [](Plan& plan) {
    planned(plan, "model.layers.0.self_attn.o_proj.weight").dtype = "F8_E4M3";
  });
  EXPECT_FATHOM_ERROR(validate(), ErrorCode::not_found, "tensor 'model.layers.0.self_attn.o_proj.weight' is F8_E4M3",
                      "scale 'model.layers.0.self_attn.o_proj.weight_scale_inv' is not in the checkpoint");
}

TEST_F(ValidateCheckpointTest, NonFloatDtypeIsRefused) {
  testing::write_tiny_checkpoint(dir_.path(), testing::tiny_v3_config(), {},
                                 [](Plan& plan) { planned(plan, "model.norm.weight").dtype = "I32"; });
  EXPECT_FATHOM_ERROR(validate(), ErrorCode::invalid_argument, "tensor 'model.norm.weight' has dtype I32",
                      "expected a float type");
}

TEST_F(ValidateCheckpointTest, UnexpectedTensorsAreReportedNotFatal) {
  testing::write_tiny_checkpoint(dir_.path(), testing::tiny_v3_config(), {}, [](Plan& plan) {
    plan.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", "F32", {4}});
  });
  const CheckpointReport r = validate();
  EXPECT_EQ(r.unexpected, (std::vector<std::string>{"model.layers.0.self_attn.rotary_emb.inv_freq"}));
  ASSERT_EQ(r.notes.size(), 1u);
}

TEST_F(ValidateCheckpointTest, CheckpointCountsMatchTheSpec) {
  auto config = testing::tiny_v3_config();
  config["quantization_config"] = {{"quant_method", "fp8"}};
  testing::write_tiny_checkpoint(dir_.path(), config, CheckpointOptions{.fp8 = true});
  const ModelSpec spec = load_model_spec(dir_.path());
  const Checkpoint ckpt = Checkpoint::open(dir_.path());
  const ParameterCounts want = count_parameters(spec);
  const CheckpointParameterCounts got = count_checkpoint_parameters(ckpt, spec);
  EXPECT_EQ(got.main, want.total);
  EXPECT_EQ(got.mtp_unique, want.mtp);
  EXPECT_EQ(got.mtp, want.mtp + want.mtp_shared);
  EXPECT_EQ(got.parameters, got.main + got.mtp);
  EXPECT_EQ(got.scale_tensors, 5u * 4 + 3 + 3 * 15);
  EXPECT_EQ(got.scale_elements, got.scale_tensors);  // every tiny weight fits one 128x128 block
  EXPECT_EQ(got.tensors, ckpt.size());

  const std::string report = format_inspection(inspect_model(dir_.path()));
  EXPECT_NE(report.find("matches config.json"), std::string::npos) << report;
  EXPECT_NE(report.find("block scales: 68 tensors"), std::string::npos) << report;
}

}  // namespace
}  // namespace fathom::model
