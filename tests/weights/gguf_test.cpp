// GgufFile: the container, valid and broken; and the DeepSeek metadata and tensor names read from
// it. (Files as llama.cpp's tools write them, and the logits they give, are tests/gguf's.)
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "fathom/model/checkpoint.h"
#include "fathom/model/gguf.h"
#include "fathom/model/gguf_deepseek.h"
#include "fathom/model/model_spec.h"
#include "test_support.h"

namespace fathom::model {
namespace {

using testing::TempDir;

// Writes GGUF byte by byte, so that any field can be made wrong.
class GgufBytes {
 public:
  GgufBytes& u32(std::uint32_t v) { return raw(&v, 4); }
  GgufBytes& u64(std::uint64_t v) { return raw(&v, 8); }
  GgufBytes& f32(float v) { return raw(&v, 4); }
  GgufBytes& str(std::string_view s) {
    u64(s.size());
    return raw(s.data(), s.size());
  }
  GgufBytes& header(std::uint64_t tensors, std::uint64_t keys, std::uint32_t version = 3) {
    raw("GGUF", 4);
    u32(version);
    u64(tensors);
    return u64(keys);
  }
  GgufBytes& key_u32(std::string_view key, std::uint32_t v) { return str(key).u32(4).u32(v); }
  GgufBytes& key_f32(std::string_view key, float v) { return str(key).u32(6).f32(v); }
  GgufBytes& key_str(std::string_view key, std::string_view v) { return str(key).u32(8).str(v); }
  GgufBytes& tensor(std::string_view name, std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset) {
    str(name).u32(static_cast<std::uint32_t>(dims.size()));
    for (auto d : dims) u64(d);
    return u32(type).u64(offset);
  }
  GgufBytes& align(std::size_t to = 32) {
    while (bytes_.size() % to != 0) bytes_.push_back(0);
    return *this;
  }
  GgufBytes& zeros(std::size_t n) {
    bytes_.resize(bytes_.size() + n);
    return *this;
  }
  GgufBytes& raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const char*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
    return *this;
  }
  void write(const std::filesystem::path& path) const {
    std::ofstream(path, std::ios::binary).write(bytes_.data(), static_cast<std::streamsize>(bytes_.size()));
  }

 private:
  std::vector<char> bytes_;
};

class GgufTest : public ::testing::Test {
 protected:
  std::filesystem::path write(const GgufBytes& b) {
    b.write(dir_ / "model.gguf");
    return dir_ / "model.gguf";
  }
  TempDir dir_;
};

TEST_F(GgufTest, ReadsMetadataAndTensors) {
  GgufBytes b;
  b.header(2, 3).key_str("general.architecture", "deepseek2").key_u32("deepseek2.block_count", 3).key_f32("x.eps", 0.5f);
  b.tensor("a.weight", {4, 2}, 0, 0).tensor("b.weight", {32}, 8, 32).align().zeros(32 + 34);
  const GgufFile f(write(b));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.string("general.architecture"), "deepseek2");
  EXPECT_EQ(f.integer("deepseek2.block_count"), 3);
  EXPECT_EQ(f.optional_number("x.eps"), 0.5);
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensor("a.weight")->dims, (std::vector<std::int64_t>{4, 2}));
  EXPECT_EQ(f.tensor("a.weight")->nbytes, 32u);
  EXPECT_EQ(f.tensor("b.weight")->type, GgmlType::q8_0);
  EXPECT_EQ(f.tensor("b.weight")->nbytes, 34u);
  EXPECT_EQ(f.tensor("b.weight")->data - f.tensor("a.weight")->data, 32);
  EXPECT_TRUE(is_gguf_file(dir_ / "model.gguf"));
}

TEST_F(GgufTest, TypedReadsNameTheKey) {
  GgufBytes b;
  b.header(0, 1).key_str("general.architecture", "deepseek2");
  const GgufFile f(write(b));
  EXPECT_FATHOM_ERROR(f.integer("general.architecture"), ErrorCode::invalid_argument, "key 'general.architecture'",
                      "must be an integer, got string");
  EXPECT_FATHOM_ERROR(f.integer("deepseek2.block_count"), ErrorCode::invalid_argument, "key 'deepseek2.block_count'",
                      "missing");
}

TEST_F(GgufTest, RefusesBrokenFiles) {
  struct Case {
    const char* what;
    std::function<void(GgufBytes&)> build;
    ErrorCode code;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"magic", [](GgufBytes& b) { b.raw("GGML", 4).u32(3).u64(0).u64(0); }, ErrorCode::invalid_argument, "not a GGUF file"},
      {"version 1", [](GgufBytes& b) { b.header(0, 0, 1); }, ErrorCode::unsupported, "GGUF version 1"},
      {"truncated header", [](GgufBytes& b) { b.raw("GGUF", 4).u32(3).u64(0); }, ErrorCode::invalid_argument,
       "runs past the end of the file"},
      {"string past the end", [](GgufBytes& b) { b.header(0, 1).u64(1000).raw("abc", 3).zeros(20); }, ErrorCode::invalid_argument,
       "runs past the end"},
      {"huge string", [](GgufBytes& b) { b.header(0, 1).u64(1ull << 40).zeros(20); }, ErrorCode::invalid_argument,
       "a string of 1099511627776 bytes"},
      {"unknown value type", [](GgufBytes& b) { b.header(0, 1).str("k").u32(99); }, ErrorCode::invalid_argument,
       "key 'k': unknown value type 99"},
      {"huge array", [](GgufBytes& b) { b.header(0, 1).str("k").u32(9).u32(4).u64(1ull << 20); },
       ErrorCode::invalid_argument, "does not fit"},
      {"duplicate key", [](GgufBytes& b) { b.header(0, 2).key_u32("k", 1).key_u32("k", 2); }, ErrorCode::invalid_argument,
       "key 'k' appears twice"},
      {"bad bool", [](GgufBytes& b) { b.header(0, 1).str("k").u32(7).raw("\x02", 1); }, ErrorCode::invalid_argument,
       "a bool must be 0 or 1"},
      {"too many keys", [](GgufBytes& b) { b.header(0, 1ull << 50); }, ErrorCode::invalid_argument, "cannot fit"},
      {"alignment", [](GgufBytes& b) { b.header(0, 1).key_u32("general.alignment", 48); }, ErrorCode::invalid_argument,
       "general.alignment"},
      {"no dimensions", [](GgufBytes& b) { b.header(1, 0).tensor("t", {}, 0, 0).align().zeros(32); },
       ErrorCode::invalid_argument, "tensor 't': 0 dimensions"},
      {"dims overflow", [](GgufBytes& b) { b.header(1, 0).tensor("t", {1ull << 40, 1ull << 40}, 0, 0).align().zeros(32); },
       ErrorCode::invalid_argument, "tensor 't': its dimensions overflow"},
      {"Q8_K", [](GgufBytes& b) { b.header(1, 0).tensor("blk.0.ffn_down_exps.weight", {256}, 15, 0).align().zeros(292); },
       ErrorCode::unsupported, "has type Q8_K"},
      {"ternary", [](GgufBytes& b) { b.header(1, 0).tensor("blk.0.ffn_down_exps.weight", {256}, 34, 0).align().zeros(54); },
       ErrorCode::unsupported, "has type TQ1_0"},
      {"IQ2_XXS rows of part of a block", [](GgufBytes& b) { b.header(1, 0).tensor("t", {128, 2}, 16, 0).align().zeros(66); },
       ErrorCode::invalid_argument, "not whole IQ2_XXS blocks of 256"},
      {"K-quant rows of part of a block", [](GgufBytes& b) { b.header(1, 0).tensor("output.weight", {128, 2}, 12, 0).align().zeros(144); },
       ErrorCode::invalid_argument, "not whole Q4_K blocks of 256"},
      {"Q2_K rows of part of a block", [](GgufBytes& b) { b.header(1, 0).tensor("output.weight", {128, 2}, 10, 0).align().zeros(84); },
       ErrorCode::invalid_argument, "not whole Q2_K blocks of 256"},
      {"IQ4_NL rows of part of a block", [](GgufBytes& b) { b.header(1, 0).tensor("t", {48}, 20, 0).align().zeros(36); },
       ErrorCode::invalid_argument, "not whole IQ4_NL blocks of 32"},
      {"partial block", [](GgufBytes& b) { b.header(1, 0).tensor("t", {48}, 8, 0).align().zeros(68); },
       ErrorCode::invalid_argument, "not whole Q8_0 blocks of 32"},
      {"misaligned offset", [](GgufBytes& b) { b.header(1, 0).tensor("t", {4}, 0, 4).align().zeros(64); },
       ErrorCode::invalid_argument, "offset 4 is not a multiple of the alignment 32"},
      {"past the data", [](GgufBytes& b) { b.header(1, 0).tensor("t", {16}, 0, 0).align().zeros(63); },
       ErrorCode::invalid_argument, "run past the end of the data"},
      {"overlap", [](GgufBytes& b) { b.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32).align().zeros(64); },
       ErrorCode::invalid_argument, "tensors 'a' and 'b' overlap"},
      {"duplicate tensor", [](GgufBytes& b) { b.header(2, 0).tensor("a", {8}, 0, 0).tensor("a", {8}, 0, 32).align().zeros(64); },
       ErrorCode::invalid_argument, "tensor 'a' appears twice"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    GgufBytes b;
    c.build(b);
    const auto path = write(b);
    EXPECT_FATHOM_ERROR(GgufFile{path}, c.code, path.string(), c.message);
  }
}

// The metadata of deepseek-v3-tiny as llama.cpp's converter writes it.
// `extra_keys` more keys may follow (the caller writes them) before the tensors.
GgufBytes tiny_v3_metadata(std::uint64_t tensors, bool with_arch = true, std::uint64_t extra_keys = 0) {
  GgufBytes b;
  const std::vector<std::pair<const char*, std::uint32_t>> ints = {
      {"deepseek2.embedding_length", 64},          {"deepseek2.block_count", 3},
      {"deepseek2.attention.head_count", 4},       {"deepseek2.attention.q_lora_rank", 48},
      {"deepseek2.attention.kv_lora_rank", 32},    {"deepseek2.rope.dimension_count", 16},
      {"deepseek2.attention.key_length", 48},      {"deepseek2.attention.value_length", 32},
      {"deepseek2.attention.key_length_mla", 32},  {"deepseek2.attention.value_length_mla", 12},
      {"deepseek2.feed_forward_length", 96},       {"deepseek2.expert_feed_forward_length", 32},
      {"deepseek2.expert_count", 8},               {"deepseek2.expert_shared_count", 1},
      {"deepseek2.expert_used_count", 3},          {"deepseek2.leading_dense_block_count", 1},
      {"deepseek2.expert_gating_func", 2},         {"deepseek2.expert_group_count", 4},
      {"deepseek2.expert_group_used_count", 2},    {"deepseek2.vocab_size", 256},
      {"deepseek2.rope.scaling.original_context_length", 4096}};
  b.header(tensors, ints.size() + 4 + (with_arch ? 1 : 0) + extra_keys);
  if (with_arch) b.key_str("general.architecture", "deepseek2");
  for (const auto& [k, v] : ints) b.key_u32(k, v);
  b.key_str("deepseek2.rope.scaling.type", "yarn").key_f32("deepseek2.rope.scaling.factor", 40.0f);
  b.key_f32("deepseek2.rope.scaling.yarn_log_multiplier", 0.1f).key_f32("deepseek2.expert_weights_scale", 2.5f);
  return b;
}

TEST_F(GgufTest, MetadataBecomesTheModelSpec) {
  const auto path = write(tiny_v3_metadata(0));
  const ModelSpec s = load_model_spec(path);
  EXPECT_EQ(s.model_type, ModelType::deepseek_v3);
  EXPECT_EQ(s.topk_method, TopkMethod::noaux_tc);
  EXPECT_EQ(s.qk_nope_head_dim, 16);
  EXPECT_EQ(s.qk_rope_head_dim, 16);
  EXPECT_EQ(s.v_head_dim, 12);
  EXPECT_EQ(s.q_lora_rank, 48);
  EXPECT_EQ(s.n_group, 4);
  EXPECT_EQ(s.topk_group, 2);
  EXPECT_DOUBLE_EQ(s.routed_scaling_factor, 2.5);
  ASSERT_TRUE(s.rope_scaling.has_value());
  EXPECT_DOUBLE_EQ(s.rope_scaling->factor, 40.0);
  EXPECT_NEAR(s.rope_scaling->mscale_all_dim, 1.0, 1e-6);
  EXPECT_EQ(s.source, path.string());
}

TEST_F(GgufTest, MetadataErrorsNameTheGgufKey) {
  const auto path = write(tiny_v3_metadata(0, false));
  EXPECT_FATHOM_ERROR(load_model_spec(path), ErrorCode::invalid_argument, "key 'general.architecture'", "missing");
  GgufBytes llama;
  llama.header(0, 1).key_str("general.architecture", "llama");
  EXPECT_FATHOM_ERROR(load_model_spec(write(llama)), ErrorCode::unsupported, "'llama' is not a DeepSeek model");
  GgufBytes no_heads;
  no_heads.header(0, 2).key_str("general.architecture", "deepseek2").key_u32("deepseek2.embedding_length", 64);
  EXPECT_FATHOM_ERROR(load_model_spec(write(no_heads)), ErrorCode::invalid_argument, "key 'deepseek2.block_count'",
                      "missing");
}

TEST_F(GgufTest, EmptyQuantisedKvBIsNoDivisionByZero) {
  GgufBytes b = tiny_v3_metadata(1);
  b.tensor("blk.0.attn_kv_b.weight", {0, 4}, 8, 0).align();
  const Checkpoint c = Checkpoint::open(write(b));
  EXPECT_EQ(c.get("model.layers.0.self_attn.kv_b_proj.weight").nbytes, 0u);
}

TEST_F(GgufTest, EmptyStacksAndHalvesAreBoundedNotLoopedOver) {
  // Tensors with no elements fit in any file whatever their other extents: 2^40 experts of
  // [0, 4], or k_b / v_b of 2^40 heads with no latent columns, must not be walked.
  GgufBytes experts = tiny_v3_metadata(1);
  experts.tensor("blk.1.ffn_up_exps.weight", {0, 4, 1ull << 40}, 0, 0).align();
  EXPECT_FATHOM_ERROR(Checkpoint::open(write(experts)), ErrorCode::invalid_argument, "stacks 1099511627776 experts");
  GgufBytes halves = tiny_v3_metadata(2);
  halves.tensor("blk.0.attn_k_b.weight", {1, 0, 1ull << 40}, 0, 0).tensor("blk.0.attn_v_b.weight", {0, 1, 1ull << 40}, 0, 0);
  halves.align();
  EXPECT_FATHOM_ERROR(Checkpoint::open(write(halves)), ErrorCode::invalid_argument, "no heads or no latent columns");
}

// Part `no` (from 0) of a model split into `count` parts as llama-gguf-split writes them: the
// split keys (the first part after the model's metadata), then `names`, each an F32 [4].
GgufBytes split_part(std::uint32_t no, std::uint32_t count, std::uint32_t total, const std::vector<std::string>& names) {
  GgufBytes b = no == 0 ? tiny_v3_metadata(names.size(), true, 3) : GgufBytes{};
  if (no != 0) b.header(names.size(), 3);
  b.key_u32("split.no", no).key_u32("split.count", count).key_u32("split.tensors.count", total);
  for (std::size_t i = 0; i < names.size(); ++i) b.tensor(names[i], {4}, 0, 32 * i);
  return b.align().zeros(32 * names.size());
}

class GgufSplitTest : public GgufTest {
 protected:
  std::filesystem::path part(std::uint32_t no, std::uint32_t count, const GgufBytes& b) {
    char name[64];
    std::snprintf(name, sizeof name, "V3-%05u-of-%05u.gguf", no + 1, count);
    b.write(dir_ / name);
    return dir_ / name;
  }
  // Three parts of one model; attn_k_b and attn_v_b in different parts.
  void write_three(std::uint32_t total = 4) {
    part(0, 3, split_part(0, 3, total, {"output_norm.weight"}));
    part(1, 3, split_part(1, 3, total, {"blk.0.attn_norm.weight"}));
    GgufBytes last;
    last.header(2, 3).key_u32("split.no", 2).key_u32("split.count", 3).key_u32("split.tensors.count", total);
    last.tensor("blk.1.attn_k_b.weight", {1, 2, 2}, 0, 0).tensor("blk.1.attn_v_b.weight", {2, 1, 2}, 0, 32).align().zeros(64);
    part(2, 3, last);
  }
};

TEST_F(GgufSplitTest, ASplitModelOpensFromAnyOfItsParts) {
  write_three();
  for (const char* given : {"V3-00001-of-00003.gguf", "V3-00003-of-00003.gguf"}) {
    SCOPED_TRACE(given);
    const Checkpoint c = Checkpoint::open(dir_ / given);
    ASSERT_EQ(c.gguf_parts().size(), 3u);
    EXPECT_EQ(c.gguf()->path().filename(), "V3-00001-of-00003.gguf");
    EXPECT_EQ(c.size(), 3u);
    EXPECT_EQ(c.get("model.layers.0.input_layernorm.weight").file->filename(), "V3-00002-of-00003.gguf");
    EXPECT_EQ(c.get("model.layers.1.self_attn.kv_b_proj.weight").shape, (std::vector<std::int64_t>{4, 2}));
    EXPECT_EQ(load_model_spec(dir_ / given).num_hidden_layers, 3);  // the metadata of part 1
  }
}

TEST_F(GgufSplitTest, MissingOrMismatchedPartsAreNamed) {
  write_three();
  std::filesystem::remove(dir_ / "V3-00003-of-00003.gguf");
  EXPECT_FATHOM_ERROR(Checkpoint::open(dir_ / "V3-00001-of-00003.gguf"), ErrorCode::not_found, "part 3 of 3",
                      "V3-00003-of-00003.gguf, which does not exist");

  write_three(5);
  EXPECT_FATHOM_ERROR(Checkpoint::open(dir_ / "V3-00002-of-00003.gguf"), ErrorCode::invalid_argument,
                      "key 'split.tensors.count'", "5 tensors, but the 3 parts hold 4");

  write_three();
  part(1, 3, split_part(1, 4, 4, {"blk.0.attn_norm.weight"}));  // says 4 parts
  EXPECT_FATHOM_ERROR(Checkpoint::open(dir_ / "V3-00001-of-00003.gguf"), ErrorCode::invalid_argument,
                      "V3-00002-of-00003.gguf: key 'split.count'", "belongs to a model of 3 parts");
  part(1, 3, split_part(2, 3, 4, {"blk.0.attn_norm.weight"}));  // says it is the third
  EXPECT_FATHOM_ERROR(Checkpoint::open(dir_ / "V3-00001-of-00003.gguf"), ErrorCode::invalid_argument,
                      "key 'split.no'", "says part 3 of 3, but its name makes it part 2 of 3");
  part(1, 3, split_part(1, 3, 4, {"output_norm.weight"}));  // a tensor of part 1 again
  EXPECT_FATHOM_ERROR(Checkpoint::open(dir_ / "V3-00001-of-00003.gguf"), ErrorCode::invalid_argument,
                      "tensor 'output_norm.weight' is also in", "V3-00001-of-00003.gguf");

  // A part renamed: the others cannot be found from it.
  const auto renamed = write(split_part(0, 3, 4, {"output_norm.weight"}));
  EXPECT_FATHOM_ERROR(Checkpoint::open(renamed), ErrorCode::invalid_argument, "part 1 of 3",
                      "does not end in '-00001-of-00003.gguf'");
  EXPECT_FATHOM_ERROR(load_model_spec(write(split_part(1, 3, 4, {}))), ErrorCode::invalid_argument,
                      "does not end in '-00002-of-00003.gguf'");
  EXPECT_FATHOM_ERROR(load_model_spec(write(split_part(3, 3, 4, {}))), ErrorCode::invalid_argument, "key 'split.no'",
                      "3 is not a part of 3");
}

TEST_F(GgufTest, TensorsTakeCheckpointNamesAndExpertsAreSplit) {
  GgufBytes b = tiny_v3_metadata(3);
  // [cols 4, rows 2, experts 3] F32 = 96 bytes; the norm 16 bytes; an unknown tensor last.
  b.tensor("blk.1.ffn_up_exps.weight", {4, 2, 3}, 0, 0).tensor("output_norm.weight", {4}, 0, 96);
  b.tensor("blk.0.attn_q_a.weight", {4, 2}, 0, 128).align().zeros(160);
  const Checkpoint c = Checkpoint::open(write(b));
  ASSERT_NE(c.gguf(), nullptr);
  EXPECT_EQ(c.size(), 5u);
  const TensorView& e2 = c.get("model.layers.1.mlp.experts.2.up_proj.weight");
  EXPECT_EQ(e2.shape, (std::vector<std::int64_t>{2, 4}));
  EXPECT_EQ(e2.nbytes, 32u);
  EXPECT_EQ(e2.data - c.get("model.layers.1.mlp.experts.0.up_proj.weight").data, 64);
  EXPECT_EQ(c.get("model.layers.0.self_attn.q_a_proj.weight").shape, (std::vector<std::int64_t>{2, 4}));
  EXPECT_EQ(c.get("model.norm.weight").dtype, DType::f32);
}

TEST_F(GgufTest, SplitKvBIsJoinedPerHead) {
  // 2 heads, latent C = 2, d_n = 1, d_v = 1: k_b [H, C, d_n], v_b [H, d_v, C] as the converter
  // writes them; kv_b_proj [H·(d_n + d_v), C] has, per head, the key row then the value row.
  GgufBytes b = tiny_v3_metadata(2);
  b.tensor("blk.0.attn_k_b.weight", {1, 2, 2}, 0, 0).tensor("blk.0.attn_v_b.weight", {2, 1, 2}, 0, 32).align();
  const float k[] = {1, 2, 3, 4}, v[] = {5, 6, 7, 8};
  b.raw(k, sizeof k).zeros(16).raw(v, sizeof v).zeros(16);
  const Checkpoint c = Checkpoint::open(write(b));
  const TensorView& kv = c.get("model.layers.0.self_attn.kv_b_proj.weight");
  ASSERT_EQ(kv.shape, (std::vector<std::int64_t>{4, 2}));
  EXPECT_TRUE(kv.in_memory);  // so release_resident_pages leaves it alone
  std::vector<float> got(8);
  std::memcpy(got.data(), kv.data, 32);
  EXPECT_EQ(got, (std::vector<float>{1, 2, 5, 6, 3, 4, 7, 8}));
}

TEST_F(GgufTest, UnknownOrUnpairedTensorsAreRefusedByName) {
  GgufBytes stray = tiny_v3_metadata(1);
  stray.tensor("blk.0.attn_sinks.weight", {4}, 0, 0).align().zeros(16);
  EXPECT_FATHOM_ERROR(Checkpoint::open(write(stray)), ErrorCode::invalid_argument, "tensor 'blk.0.attn_sinks.weight'",
                      "not part of a DeepSeek model");
  GgufBytes lonely = tiny_v3_metadata(1);
  lonely.tensor("blk.2.attn_k_b.weight", {1, 2, 2}, 0, 0).align().zeros(16);
  EXPECT_FATHOM_ERROR(Checkpoint::open(write(lonely)), ErrorCode::invalid_argument, "layer 2", "attn_v_b.weight");
}

// A Q8_0 block: scale d (f16 bits), then 32 codes.
void q8_block(GgufBytes& b, std::uint16_t d_bits, int first_code) {
  b.raw(&d_bits, 2);
  for (int j = 0; j < 32; ++j) {
    const auto code = static_cast<std::int8_t>(first_code + j);
    b.raw(&code, 1);
  }
}

TEST_F(GgufTest, QuantisedMatricesStayInTheirBlocks) {
  GgufBytes b = tiny_v3_metadata(1);
  b.tensor("output.weight", {32, 2}, 8, 0).align();
  q8_block(b, 0x3800, 0);  // d = 0.5
  q8_block(b, 0x3C00, -16);
  const Checkpoint c = Checkpoint::open(write(b));
  const TensorView& w = c.get("lm_head.weight");
  EXPECT_EQ(w.blocks, GgmlBlocks::q8_0);
  EXPECT_EQ(w.dtype, DType::u8);
  EXPECT_EQ(w.shape, (std::vector<std::int64_t>{2, 32}));  // the logical shape
  EXPECT_EQ(w.nbytes, 68u);
}

TEST_F(GgufTest, QuantisedKvBIsDequantisedWhenJoined) {
  // k_b in Q8_0 (d_n = 32 a block, C = 1, 1 head), v_b in F32 [1 head, d_v = 1, C = 1]: kv_b_proj
  // [33, 1] f32 is the 32 key values code · d, then the value.
  GgufBytes b = tiny_v3_metadata(2);
  b.tensor("blk.0.attn_k_b.weight", {32, 1, 1}, 8, 0).tensor("blk.0.attn_v_b.weight", {1, 1, 1}, 0, 64).align();
  q8_block(b, 0x3800, -5);
  b.zeros(30);
  const float v = 7.0f;
  b.raw(&v, 4).zeros(28);
  const Checkpoint c = Checkpoint::open(write(b));
  const TensorView& kv = c.get("model.layers.0.self_attn.kv_b_proj.weight");
  ASSERT_EQ(kv.shape, (std::vector<std::int64_t>{33, 1}));
  ASSERT_EQ(kv.dtype, DType::f32);
  std::vector<float> got(33);
  std::memcpy(got.data(), kv.data, 33 * 4);
  for (int r = 0; r < 32; ++r) EXPECT_EQ(got[static_cast<size_t>(r)], 0.5f * static_cast<float>(r - 5)) << r;
  EXPECT_EQ(got[32], 7.0f);
}

}  // namespace
}  // namespace fathom::model
