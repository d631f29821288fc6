// Parameter counts from config.json alone, against DeepSeek's published sizes, and the tensor
// inventory against the published safetensors header dumps (spec §3.1, §3.2).
#include "fathom/model/expected_tensors.h"
#include "fathom/model/inspect.h"
#include "fathom/model/parameter_count.h"
#include "test_support.h"

namespace fathom::model {
namespace {

using testing::shared_config;

TEST(ParameterCountTest, DeepSeekV3MatchesPublishedSizes) {
  const ParameterCounts c = count_parameters(load_model_spec(shared_config("deepseek-v3.config.json")));
  EXPECT_EQ(c.total, 671'026'419'200u);  // "671B"
  EXPECT_EQ(format_parameter_count(c.total), "671.0B");
  EXPECT_EQ(c.mtp, 11'610'068'224u);  // "plus 11.6B in the MTP module"
  EXPECT_EQ(format_parameter_count(c.mtp), "11.6B");
  EXPECT_EQ(c.embedding, 129280u * 7168u);
  EXPECT_EQ(c.lm_head, 129280u * 7168u);
  EXPECT_EQ(c.mtp_shared, 2u * 129280u * 7168u);
  EXPECT_EQ(c.activated, 36'625'618'432u);  // "37B activated"
  EXPECT_NEAR(static_cast<double>(c.activated) / 1e9, 37.0, 0.5);
  // 671B + 11.6B + the MTP's stored embedding and head copies = what the hub lists as ~685B.
  EXPECT_NEAR(static_cast<double>(c.total + c.mtp + c.mtp_shared) / 1e9, 684.5, 0.1);
}

TEST(ParameterCountTest, DeepSeekV2LiteMatchesPublishedSizes) {
  const ParameterCounts c = count_parameters(load_model_spec(shared_config("deepseek-v2-lite.config.json")));
  EXPECT_EQ(c.total, 15'706'484'224u);  // the hub dump's exact count (spec §3.2)
  EXPECT_EQ(format_parameter_count(c.total), "15.7B");
  EXPECT_EQ(c.mtp, 0u);
  EXPECT_EQ(c.mtp_shared, 0u);
  EXPECT_EQ(c.activated, 2'451'435'008u);  // "2.4B activated"
  EXPECT_NEAR(static_cast<double>(c.activated) / 1e9, 2.4, 0.1);
}

TEST(ParameterCountTest, DeepSeekV3TensorInventoryMatchesTheHubHeader) {
  // [DUMP-V3]: 91,991 tensors, 688,574,839,360 bytes, with FP8 linears and their F32 scales.
  const ModelSpec spec = load_model_spec(shared_config("deepseek-v3.config.json"));
  std::uint64_t tensors = 0;
  std::uint64_t bytes = 0;
  for_each_expected_tensor(spec, /*include_mtp=*/true, [&](const ExpectedTensor& t) {
    const std::uint64_t n = static_cast<std::uint64_t>(t.shape[0]) * (t.shape.size() > 1 ? t.shape[1] : 1);
    ++tensors;
    if (t.fp8_allowed) {
      ++tensors;
      bytes += n + 4 * static_cast<std::uint64_t>(((t.shape[0] + 127) / 128) * ((t.shape[1] + 127) / 128));
    } else {
      bytes += n * (t.role == TensorRole::router_bias ? 4 : 2);
    }
  });
  EXPECT_EQ(tensors, 91'991u);
  EXPECT_EQ(bytes, 688'574'839'360u);
}

TEST(ParameterCountTest, DeepSeekV2LiteTensorInventoryMatchesTheHubDump) {
  const ModelSpec spec = load_model_spec(shared_config("deepseek-v2-lite.config.json"));
  const auto tensors = expected_tensors(spec, /*include_mtp=*/true);
  EXPECT_EQ(tensors.size(), 5'291u);  // [DUMP-V2L]
  for (const ExpectedTensor& t : tensors) {
    EXPECT_EQ(t.name.find("q_a_proj"), std::string::npos) << "V2-Lite has no q LoRA";
    EXPECT_EQ(t.name.find("e_score_correction_bias"), std::string::npos) << "only noaux_tc has a router bias";
  }
}

TEST(ParameterCountTest, InspectOnAConfigOnlyDirectoryReportsPublishedSizes) {
  testing::TempDir v3;
  std::filesystem::copy_file(shared_config("deepseek-v3.config.json"), v3 / "config.json");
  const ModelInspection i3 = inspect_model(v3.path());
  EXPECT_FALSE(i3.weights.has_value());
  const std::string r3 = format_inspection(i3);
  EXPECT_NE(r3.find("total:     671.0B (671,026,419,200)"), std::string::npos) << r3;
  EXPECT_NE(r3.find("MTP:       11.6B (11,610,068,224)"), std::string::npos) << r3;
  EXPECT_NE(r3.find("activated: 36.63B (36,625,618,432) per token"), std::string::npos) << r3;
  EXPECT_NE(r3.find("weights: none (config.json only)"), std::string::npos) << r3;

  testing::TempDir v2;
  std::filesystem::copy_file(shared_config("deepseek-v2-lite.config.json"), v2 / "config.json");
  const std::string r2 = format_inspection(inspect_model(v2.path()));
  EXPECT_NE(r2.find("total:     15.7B (15,706,484,224)"), std::string::npos) << r2;
  EXPECT_NE(r2.find("activated: 2.45B (2,451,435,008) per token"), std::string::npos) << r2;
  EXPECT_EQ(r2.find("MTP:"), std::string::npos) << r2;
}

TEST(ParameterCountTest, Formatting) {
  EXPECT_EQ(format_parameter_count(12), "12");
  EXPECT_EQ(format_parameter_count(5'100), "5.1K");
  EXPECT_EQ(format_parameter_count(123'400'000), "123.4M");
  EXPECT_EQ(format_parameter_count(2'451'435'008, 2), "2.45B");
}

}  // namespace
}  // namespace fathom::model
