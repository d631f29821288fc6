// ModelSpec: the published configs parse to the values of spec §1; bad configs name the field.
#include "fathom/model/model_spec.h"

#include <cmath>

#include "test_support.h"

namespace fathom::model {
namespace {

using nlohmann::json;
using testing::shared_config;

ModelSpec parse(const json& config) { return parse_model_spec(config); }

TEST(ModelSpecTest, PublishedDeepSeekV3) {
  const ModelSpec s = load_model_spec(shared_config("deepseek-v3.config.json"));
  EXPECT_EQ(s.model_type, ModelType::deepseek_v3);
  EXPECT_EQ(s.vocab_size, 129280);
  EXPECT_EQ(s.hidden_size, 7168);
  EXPECT_EQ(s.num_hidden_layers, 61);
  EXPECT_EQ(s.num_attention_heads, 128);
  EXPECT_EQ(s.num_key_value_heads, 128);
  EXPECT_EQ(s.q_lora_rank, 1536);
  EXPECT_TRUE(s.has_q_lora());
  EXPECT_EQ(s.kv_lora_rank, 512);
  EXPECT_EQ(s.qk_nope_head_dim, 128);
  EXPECT_EQ(s.qk_rope_head_dim, 64);
  EXPECT_EQ(s.v_head_dim, 128);
  EXPECT_EQ(s.qk_head_dim(), 192);
  EXPECT_EQ(s.intermediate_size, 18432);
  EXPECT_EQ(s.moe_intermediate_size, 2048);
  EXPECT_EQ(s.n_routed_experts, 256);
  EXPECT_EQ(s.n_shared_experts, 1);
  EXPECT_EQ(s.num_experts_per_tok, 8);
  EXPECT_EQ(s.n_group, 8);
  EXPECT_EQ(s.topk_group, 4);
  EXPECT_EQ(s.routed_scaling_factor, 2.5);
  EXPECT_EQ(s.scoring_func, ScoringFunc::sigmoid);
  EXPECT_EQ(s.topk_method, TopkMethod::noaux_tc);
  EXPECT_TRUE(s.has_router_bias());
  EXPECT_TRUE(s.norm_topk_prob);
  EXPECT_EQ(s.first_k_dense_replace, 3);
  EXPECT_EQ(s.moe_layer_freq, 1);
  EXPECT_EQ(s.num_nextn_predict_layers, 1);
  EXPECT_EQ(s.rms_norm_eps, 1e-6);
  EXPECT_EQ(s.max_position_embeddings, 163840);
  EXPECT_EQ(s.rope_theta, 10000.0);
  ASSERT_TRUE(s.rope_scaling.has_value());
  EXPECT_EQ(s.rope_scaling->factor, 40.0);
  EXPECT_EQ(s.rope_scaling->original_max_position_embeddings, 4096);
  EXPECT_EQ(s.rope_scaling->beta_fast, 32.0);
  EXPECT_EQ(s.rope_scaling->beta_slow, 1.0);
  EXPECT_EQ(s.rope_scaling->mscale, 1.0);
  EXPECT_EQ(s.rope_scaling->mscale_all_dim, 1.0);
  ASSERT_TRUE(s.quantization.has_value());
  EXPECT_EQ(s.quantization->weight_block_size, (std::array<std::int64_t, 2>{128, 128}));
  EXPECT_EQ(s.bos_token_id, 0);
  EXPECT_EQ(s.eos_token_ids, (std::vector<std::int64_t>{1}));
  EXPECT_EQ(s.torch_dtype, "bfloat16");
  EXPECT_FALSE(s.is_moe_layer(2));
  EXPECT_TRUE(s.is_moe_layer(3));
  EXPECT_TRUE(s.is_moe_layer(61));  // the MTP layer is MoE
  EXPECT_EQ(s.num_moe_layers(), 58);
  EXPECT_EQ(s.num_dense_layers(), 3);
  EXPECT_NEAR(s.yarn_attention_mscale(), 1.368888, 1e-6);
  EXPECT_NEAR(s.softmax_scale(), 0.135234, 1e-6);  // spec §2.5
  EXPECT_NE(s.source.find("deepseek-v3.config.json"), std::string::npos);
}

TEST(ModelSpecTest, PublishedDeepSeekV2Lite) {
  const ModelSpec s = load_model_spec(shared_config("deepseek-v2-lite.config.json"));
  EXPECT_EQ(s.model_type, ModelType::deepseek_v2);
  EXPECT_EQ(s.vocab_size, 102400);
  EXPECT_EQ(s.hidden_size, 2048);
  EXPECT_EQ(s.num_hidden_layers, 27);
  EXPECT_EQ(s.num_attention_heads, 16);
  EXPECT_EQ(s.q_lora_rank, 0);  // null: a single q_proj (pitfall 21)
  EXPECT_FALSE(s.has_q_lora());
  EXPECT_EQ(s.kv_lora_rank, 512);
  EXPECT_EQ(s.intermediate_size, 10944);
  EXPECT_EQ(s.moe_intermediate_size, 1408);
  EXPECT_EQ(s.n_routed_experts, 64);
  EXPECT_EQ(s.n_shared_experts, 2);
  EXPECT_EQ(s.shared_experts_intermediate_size(), 2816);
  EXPECT_EQ(s.num_experts_per_tok, 6);
  EXPECT_EQ(s.n_group, 1);
  EXPECT_EQ(s.topk_group, 1);
  EXPECT_EQ(s.routed_scaling_factor, 1.0);
  EXPECT_EQ(s.scoring_func, ScoringFunc::softmax);
  EXPECT_EQ(s.topk_method, TopkMethod::greedy);
  EXPECT_FALSE(s.has_router_bias());
  EXPECT_FALSE(s.norm_topk_prob);
  EXPECT_EQ(s.first_k_dense_replace, 1);
  EXPECT_EQ(s.num_nextn_predict_layers, 0);  // absent
  EXPECT_FALSE(s.quantization.has_value());
  ASSERT_TRUE(s.rope_scaling.has_value());
  EXPECT_EQ(s.rope_scaling->mscale_all_dim, 0.707);
  EXPECT_EQ(s.num_moe_layers(), 26);
  EXPECT_EQ(s.bos_token_id, 100000);
  EXPECT_EQ(s.eos_token_ids, (std::vector<std::int64_t>{100001}));
  EXPECT_NEAR(s.yarn_attention_mscale(), 1.260804, 1e-6);
  EXPECT_NEAR(s.softmax_scale(), 0.114721, 1e-6);  // spec §2.5
}

TEST(ModelSpecTest, LoadsFromADirectory) {
  testing::TempDir dir;
  testing::write_text(dir / "config.json", testing::tiny_v3_config().dump());
  EXPECT_EQ(load_model_spec(dir.path()).hidden_size, 32);
  EXPECT_FATHOM_ERROR(load_model_spec(dir / "missing"), ErrorCode::not_found, "missing");
}

TEST(ModelSpecTest, QLoraRankZeroMeansNone) {
  json c = testing::tiny_v3_config();
  c["q_lora_rank"] = 0;
  EXPECT_FALSE(parse(c).has_q_lora());
}

TEST(ModelSpecTest, AcceptedSpellingsAndAbsentOptionals) {
  json c = testing::tiny_v2_config();
  c["topk_method"] = "gready";  // the V2 hub default's typo
  c["rope_scaling"].erase("type");
  c["rope_scaling"]["rope_type"] = "yarn";
  c["eos_token_id"] = {1, 2};
  const ModelSpec s = parse(c);
  EXPECT_EQ(s.topk_method, TopkMethod::greedy);
  EXPECT_TRUE(s.rope_scaling.has_value());
  EXPECT_EQ(s.eos_token_ids, (std::vector<std::int64_t>{1, 2}));

  c["rope_scaling"] = nullptr;
  EXPECT_FALSE(parse(c).rope_scaling.has_value());
  EXPECT_NEAR(parse(c).softmax_scale(), 1.0 / std::sqrt(24.0), 1e-12);  // no YaRN: plain 1/sqrt(d_qk)
  c.erase("rope_scaling");
  EXPECT_FALSE(parse(c).rope_scaling.has_value());
}

TEST(ModelSpecTest, BehaviouralDefaultsFollowTheModelType) {
  json c = testing::tiny_v3_config();
  for (const char* key : {"topk_method", "scoring_func", "norm_topk_prob", "routed_scaling_factor", "moe_layer_freq",
                          "num_nextn_predict_layers", "rms_norm_eps", "rope_theta", "num_key_value_heads"}) {
    c.erase(key);
  }
  c["n_group"] = 2;  // HF's V3 default of 8 would not divide 4 experts
  const ModelSpec v3 = parse(c);
  EXPECT_EQ(v3.topk_method, TopkMethod::noaux_tc);
  EXPECT_EQ(v3.scoring_func, ScoringFunc::sigmoid);
  EXPECT_TRUE(v3.norm_topk_prob);
  EXPECT_EQ(v3.routed_scaling_factor, 2.5);
  EXPECT_EQ(v3.moe_layer_freq, 1);
  EXPECT_EQ(v3.num_nextn_predict_layers, 0);
  EXPECT_EQ(v3.num_key_value_heads, v3.num_attention_heads);

  c["model_type"] = "deepseek_v2";
  const ModelSpec v2 = parse(c);
  EXPECT_EQ(v2.topk_method, TopkMethod::greedy);
  EXPECT_EQ(v2.scoring_func, ScoringFunc::softmax);
  EXPECT_FALSE(v2.norm_topk_prob);
  EXPECT_EQ(v2.routed_scaling_factor, 1.0);
}

TEST(ModelSpecTest, UnknownModelType) {
  json c = testing::tiny_v3_config();
  c["model_type"] = "llama";
  EXPECT_FATHOM_ERROR(parse(c), ErrorCode::unsupported,
                      "config.json: model_type 'llama' is not supported (expected deepseek_v3 or deepseek_v2)");
  c.erase("model_type");
  EXPECT_FATHOM_ERROR(parse(c), ErrorCode::invalid_argument, "missing required field 'model_type'");
}

TEST(ModelSpecTest, MissingFieldsAreNamed) {
  for (const char* key : {"hidden_size", "vocab_size", "num_hidden_layers", "kv_lora_rank", "q_lora_rank",
                          "n_routed_experts", "first_k_dense_replace", "moe_intermediate_size"}) {
    json c = testing::tiny_v3_config();
    c.erase(key);
    EXPECT_FATHOM_ERROR(parse(c), ErrorCode::invalid_argument,
                        std::string("config.json: missing required field '") + key + "'");
  }
  json c = testing::tiny_v3_config();
  c["hidden_size"] = nullptr;  // null counts as absent
  EXPECT_FATHOM_ERROR(parse(c), ErrorCode::invalid_argument, "missing required field 'hidden_size'");
}

TEST(ModelSpecTest, WrongTypesNameFieldAndExpectedType) {
  auto expect_type_error = [](const char* key, json value, const char* message) {
    json c = testing::tiny_v3_config();
    c[key] = value;
    EXPECT_FATHOM_ERROR(parse_model_spec(c), ErrorCode::invalid_argument, message);
  };
  expect_type_error("hidden_size", "2048", "config.json: field 'hidden_size' must be an integer, got string");
  expect_type_error("hidden_size", 2048.5, "field 'hidden_size' must be an integer, got number");
  expect_type_error("norm_topk_prob", 1, "field 'norm_topk_prob' must be a boolean, got integer");
  expect_type_error("scoring_func", true, "field 'scoring_func' must be a string, got boolean");
  expect_type_error("routed_scaling_factor", "2.5", "field 'routed_scaling_factor' must be a number, got string");
  expect_type_error("rope_scaling", 40, "field 'rope_scaling' must be an object, got integer");
  expect_type_error("quantization_config", "fp8", "field 'quantization_config' must be an object");

  json c = testing::tiny_v3_config();
  c["rope_scaling"]["factor"] = "40";
  EXPECT_FATHOM_ERROR(parse(c), ErrorCode::invalid_argument,
                      "field 'rope_scaling.factor' must be a number, got string");

  EXPECT_FATHOM_ERROR(parse(json::array()), ErrorCode::invalid_argument, "config.json: must be a JSON object");
  EXPECT_FATHOM_ERROR(parse_model_spec_text("{\"model_type\": ", "x/config.json"), ErrorCode::invalid_argument,
                      "x/config.json: not valid JSON");
}

TEST(ModelSpecTest, OutOfRangeValues) {
  auto expect_range_error = [](const char* key, json value, const char* message) {
    json c = testing::tiny_v3_config();
    c[key] = value;
    EXPECT_FATHOM_ERROR(parse_model_spec(c), ErrorCode::invalid_argument, message);
  };
  expect_range_error("hidden_size", 0, "field 'hidden_size' = 0 is out of range");
  expect_range_error("num_hidden_layers", 100000, "field 'num_hidden_layers' = 100000 is out of range");
  expect_range_error("n_routed_experts", std::uint64_t{1} << 63, "field 'n_routed_experts' = 9223372036854775808");
  expect_range_error("q_lora_rank", -1, "field 'q_lora_rank' = -1 is out of range");
  expect_range_error("rms_norm_eps", -1e-6, "field 'rms_norm_eps'");
}

TEST(ModelSpecTest, InconsistentFields) {
  auto expect_inconsistent = [](const char* key, json value, const char* message) {
    json c = testing::tiny_v3_config();
    c[key] = value;
    EXPECT_FATHOM_ERROR(parse_model_spec(c), ErrorCode::invalid_argument, message);
  };
  expect_inconsistent("num_experts_per_tok", 5, "field 'num_experts_per_tok' = 5 exceeds n_routed_experts = 4");
  expect_inconsistent("n_group", 3, "field 'n_group' = 3 does not divide n_routed_experts = 4");
  expect_inconsistent("topk_group", 3, "field 'topk_group' = 3 exceeds n_group = 2");
  expect_inconsistent("first_k_dense_replace", 4, "field 'first_k_dense_replace' = 4 exceeds num_hidden_layers = 3");
  expect_inconsistent("qk_rope_head_dim", 7, "field 'qk_rope_head_dim' = 7 must be even");
  // noaux_tc keeps topk_group = 1 group of 2 experts: top-3 cannot be filled.
  expect_inconsistent("num_experts_per_tok", 3, "field 'num_experts_per_tok' = 3 exceeds the 2 experts");
}

TEST(ModelSpecTest, UnsupportedFeaturesAreRefused) {
  auto expect_unsupported = [](const char* key, json value, const char* message) {
    json c = testing::tiny_v3_config();
    c[key] = value;
    EXPECT_FATHOM_ERROR(parse_model_spec(c), ErrorCode::unsupported, message);
  };
  expect_unsupported("tie_word_embeddings", true, "field 'tie_word_embeddings' = true is not supported");
  expect_unsupported("attention_bias", true, "field 'attention_bias' = true is not supported");
  expect_unsupported("hidden_act", "gelu", "field 'hidden_act' = 'gelu' is not supported");
  expect_unsupported("topk_method", "random", "field 'topk_method' = 'random' is not supported");
  expect_unsupported("scoring_func", "relu", "field 'scoring_func' = 'relu' is not supported");

  json c = testing::tiny_v3_config();
  c["rope_scaling"]["type"] = "linear";
  EXPECT_FATHOM_ERROR(parse(c), ErrorCode::unsupported, "field 'rope_scaling.type' = 'linear' is not supported");
}

TEST(ModelSpecTest, QuantizationConfig) {
  const json fp8 = {
      {"activation_scheme", "dynamic"}, {"fmt", "e4m3"}, {"quant_method", "fp8"}, {"weight_block_size", {128, 128}}};
  json c = testing::tiny_v3_config();
  c["quantization_config"] = fp8;
  EXPECT_TRUE(parse(c).quantization.has_value());

  c["quantization_config"]["scale_fmt"] = "ue8m0";  // DeepSeek-V3.1
  EXPECT_EQ(parse(c).quantization->scale_fmt, "ue8m0");

  auto expect_unsupported = [&](const char* key, json value, const char* message) {
    json q = c;
    q["quantization_config"] = fp8;
    q["quantization_config"][key] = value;
    EXPECT_FATHOM_ERROR(parse(q), ErrorCode::unsupported, message);
  };
  expect_unsupported("quant_method", "awq", "field 'quantization_config.quant_method' = 'awq' is not supported");
  expect_unsupported("fmt", "e5m2", "field 'quantization_config.fmt' = 'e5m2' is not supported (expected e4m3)");
  expect_unsupported("activation_scheme", "static", "field 'quantization_config.activation_scheme' = 'static'");
  expect_unsupported("weight_block_size", {64, 64},
                     "field 'quantization_config.weight_block_size' = [64,64] is not supported (expected [128, 128])");

  c["quantization_config"] = fp8;
  c["quantization_config"].erase("quant_method");
  EXPECT_FATHOM_ERROR(parse(c), ErrorCode::invalid_argument,
                      "missing required field 'quantization_config.quant_method'");
  c["quantization_config"] = fp8;
  c["quantization_config"]["weight_block_size"] = "128x128";
  EXPECT_FATHOM_ERROR(parse(c), ErrorCode::invalid_argument,
                      "field 'quantization_config.weight_block_size' must be an array of two integers");
}

}  // namespace
}  // namespace fathom::model
