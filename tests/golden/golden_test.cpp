// Golden model tests: the tiny checkpoints of tests/fixtures (written by
// tools/reference/make_fixtures.py with seeded random weights) must give the logits Hugging Face
// transformers computed for them in fp32: max |Δlogit| ≤ 1e-4 × max |logit| and the same argmax
// at every position — by prefill, by decode through the KV cache, and for the MTP head.
#include <numeric>

#include "fathom/core/error.h"
#include "golden_support.h"

namespace fathom::engine::golden {
namespace {

constexpr Tolerance kF32{1e-4, Argmax::every_position};

class Golden : public GoldenTest {
 protected:
  void SetUp() override { use_deployment("[runtime]\nbackends = [\"reference\"]\n"); }
};

TEST_P(Golden, PrefillMatchesTransformers) { expect_prefill_matches(*load(), kF32, "prefill"); }

TEST_P(Golden, DecodeThroughTheCacheMatchesTransformers) { expect_decode_matches(*load(), kF32, "decode"); }

// Logits of chosen rows only (what generation asks for: the prompt's last row). In the naive form
// the head then runs on those rows alone.
TEST_P(Golden, PrefillOfChosenRowsMatchesTransformers) {
  expect_chosen_rows_match(*load(), AttentionForm::naive, kF32, "prefill, chosen rows");
}

TEST_P(Golden, DecodeOfChosenRowsMatchesTransformers) {
  expect_chosen_rows_match(*load(), AttentionForm::absorbed, kF32, "decode, chosen rows");
}

TEST_P(Golden, LogitRowOutsideTheBatchIsRefused) {
  auto model = load();
  const Sequence s = load_golden(GetParam()).front();
  std::vector<int32_t> pos(s.ids.size()), slots(s.ids.size(), 0);
  std::iota(pos.begin(), pos.end(), 0);
  const std::vector<size_t> rows{s.ids.size()};
  try {
    model->forward({s.ids, pos, slots}, AttentionForm::naive, rows);
    FAIL() << "a logit row past the batch was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("logit row " + std::to_string(s.ids.size())), std::string::npos) << e.what();
  }
}

// Chunked prefill: the first part as one prefill, the rest continuing from the cache.
TEST_P(Golden, ChunkedPrefillMatchesTransformers) { expect_chunked_prefill_matches(*load(), kF32, "chunked prefill"); }

TEST_P(Golden, MtpMatchesTransformersModules) {
  if (load_golden(GetParam()).front().mtp_logits.empty()) GTEST_SKIP() << GetParam() << " has no MTP module";
  expect_mtp_matches(*load(true), kF32, "mtp");
}

TEST_P(Golden, MtpDecodeStepsMatchTransformersModules) {
  if (load_golden(GetParam()).front().mtp_logits.empty()) GTEST_SKIP() << GetParam() << " has no MTP module";
  expect_mtp_matches(*load(true), kF32, "mtp decode", AttentionForm::absorbed);
}

// The same model split over two backends (the template takes the element-wise ops): exercises
// segmenting and the copies between backends.
TEST_P(Golden, Bf16KvCacheStaysClose) {
  expect_bf16_cache_stays_close("[runtime]\nbackends = [\"reference\"]\n", "bf16 cache");
}

TEST_P(Golden, PrefillSplitOverTwoBackendsMatchesTransformers) {
  use_deployment("[runtime]\nbackends = [\"template\", \"reference\"]\n");
  auto model = load();
  EXPECT_GT(model->prefill_placement().backends.size(), 1u);
  const Sequence s = load_golden(GetParam()).front();
  EXPECT_TRUE(matches(prefill_logits(*model, s), s.logits, kF32, GetParam() + " split prefill"));
}

// The same fixtures on the cuda backend alone (`backends = ["cuda"]`). With
// matmul_precision = "f32" every op keeps f32 activations, so the tolerance is the one above.
// Without a usable GPU (or without the plugin in this build) these skip with the plugin's reason.
class GoldenCuda : public GoldenTest {
 protected:
  void SetUp() override {
    if (const std::string why = backend_unavailable("cuda"); !why.empty()) GTEST_SKIP() << why;
    use_precision("f32");
  }
  void use_precision(const std::string& precision) {
    use_deployment("[runtime]\nbackends = [\"cuda\"]\n[backend.cuda]\nmatmul_precision = \"" + precision + "\"\n");
  }
};

TEST_P(GoldenCuda, PrefillMatchesTransformers) { expect_prefill_matches(*load(), kF32, "cuda prefill"); }

TEST_P(GoldenCuda, DecodeThroughTheCacheMatchesTransformers) { expect_decode_matches(*load(), kF32, "cuda decode"); }

TEST_P(GoldenCuda, Bf16KvCacheStaysClose) {
  expect_bf16_cache_stays_close("[runtime]\nbackends = [\"cuda\"]\n[backend.cuda]\nmatmul_precision = \"f32\"\n",
                                "cuda bf16 cache");
}

TEST_P(GoldenCuda, PrefillOfChosenRowsMatchesTransformers) {
  expect_chosen_rows_match(*load(), AttentionForm::naive, kF32, "cuda prefill, chosen rows");
}

TEST_P(GoldenCuda, ChunkedPrefillMatchesTransformers) {
  expect_chunked_prefill_matches(*load(), kF32, "cuda chunked prefill");
}

TEST_P(GoldenCuda, MtpMatchesTransformersModules) {
  if (load_golden(GetParam()).front().mtp_logits.empty()) GTEST_SKIP() << GetParam() << " has no MTP module";
  expect_mtp_matches(*load(true), kF32, "cuda mtp");
}

TEST_P(GoldenCuda, MtpDecodeStepsMatchTransformersModules) {
  if (load_golden(GetParam()).front().mtp_logits.empty()) GTEST_SKIP() << GetParam() << " has no MTP module";
  expect_mtp_matches(*load(true), kF32, "cuda mtp decode", AttentionForm::absorbed);
}

// The default precision: prompts longer than gemv_max_tokens (16) run their products on tensor
// cores (bf16 weights with bf16-rounded activations through cuBLAS; FP8 weights with activations
// quantised per 1x128 block through cuBLASLt). That is not transformers' fp32 arithmetic, so the
// bound is loose — it catches wrong layouts and indexing (errors of the logits' own size), not
// rounding — and the argmax may differ where the tiny random models' top logits nearly tie.
// It bounds the median position: on the GPU simulator's cuBLAS (GoldenGpusim below) most
// positions are within 1 % (bf16) and 6 % (FP8), but a few reach 20-40 %, where the rounding
// flips a near-tie in the expert routing.
constexpr Tolerance kMixedPrecision{0.1, Argmax::not_checked, Over::median_position};

TEST_P(GoldenCuda, MixedPrecisionPrefillStaysClose) {
  use_precision("mixed");
  expect_prefill_matches(*load(), kMixedPrecision, "cuda mixed-precision prefill");
}

// The same fixtures on the hip backend alone. It has no BLAS: every product is the shared exact
// kernels (f32 accumulation), so the tolerance is the f32 one. Skips without an AMD GPU.
class GoldenHip : public GoldenTest {
 protected:
  void SetUp() override {
    if (const std::string why = backend_unavailable("hip"); !why.empty()) GTEST_SKIP() << why;
    use_deployment("[runtime]\nbackends = [\"hip\"]\n");
  }
};

TEST_P(GoldenHip, PrefillMatchesTransformers) { expect_prefill_matches(*load(), kF32, "hip prefill"); }

TEST_P(GoldenHip, DecodeThroughTheCacheMatchesTransformers) { expect_decode_matches(*load(), kF32, "hip decode"); }

TEST_P(GoldenHip, ChunkedPrefillMatchesTransformers) {
  expect_chunked_prefill_matches(*load(), kF32, "hip chunked prefill");
}

TEST_P(GoldenHip, MtpMatchesTransformersModules) {
  if (load_golden(GetParam()).front().mtp_logits.empty()) GTEST_SKIP() << GetParam() << " has no MTP module";
  expect_mtp_matches(*load(true), kF32, "hip mtp");
}

TEST_P(GoldenHip, MtpDecodeStepsMatchTransformersModules) {
  if (load_golden(GetParam()).front().mtp_logits.empty()) GTEST_SKIP() << GetParam() << " has no MTP module";
  expect_mtp_matches(*load(true), kF32, "hip mtp decode", AttentionForm::absorbed);
}

// The same fixtures on the GPU simulator (tests/gpusim): the GPU backend's kernels, ops and
// graph replay — the HIP file set, every product on the shared exact kernels — run on the host,
// at CUDA's warp width and at AMD's wavefront width. Not a GPU: no timing, no hardware math,
// no cuBLAS; what it checks is the code's indexing, reductions and synchronisation.
class GoldenGpusim : public GoldenTest {
 protected:
  void expect_all_match(const std::string& backend, const std::string& options = "") {
    use_deployment("[runtime]\nbackends = [\"" + backend + "\"]\n[backend." + backend + "]\n" + options);
    expect_prefill_matches(*load(), kF32, backend + " prefill");
    expect_decode_matches(*load(), kF32, backend + " decode");
    expect_chosen_rows_match(*load(), AttentionForm::naive, kF32, backend + " prefill, chosen rows");
    expect_chunked_prefill_matches(*load(), kF32, backend + " chunked prefill");
    if (load_golden(GetParam()).front().mtp_logits.empty()) return;
    expect_mtp_matches(*load(true), kF32, backend + " mtp");
    expect_mtp_matches(*load(true), kF32, backend + " mtp decode", AttentionForm::absorbed);
  }
};

// gpusim32 is the CUDA plugin's file set: at matmul_precision "f32" every product is exact.
TEST_P(GoldenGpusim, AtWarpWidth32MatchesTransformers) { expect_all_match("gpusim32", "matmul_precision = \"f32\"\n"); }

TEST_P(GoldenGpusim, AtWarpWidth64MatchesTransformers) { expect_all_match("gpusim64"); }

// Every product on the tiled GEMM (no weight-streaming kernel, even for one row) and every run
// eager (no graph capture): the paths the defaults leave out at these sizes.
TEST_P(GoldenGpusim, WithoutGemvOrGraphsMatchesTransformers) {
  expect_all_match("gpusim32", "matmul_precision = \"f32\"\ngemv_max_tokens = 0\ngraphs = false\n");
}

TEST_P(GoldenGpusim, Bf16KvCacheStaysClose) {
  expect_bf16_cache_stays_close("[runtime]\nbackends = [\"gpusim32\"]\n[backend.gpusim32]\nmatmul_precision = \"f32\"\n",
                                "gpusim32 bf16 cache");
}

// The cuda plugin's default precision on the simulated cuBLAS and cuBLASLt (tests/gpusim/blas):
// prompts longer than 16 tokens take bf16 products and, for FP8 block-scaled weights, the 1x128
// activation quantisation and the block-scaled FP8 matmul, with the scale layouts of the cuBLASLt
// documentation. The bound is GoldenCuda's mixed-precision one: it catches wrong layouts and
// indexing (errors of the logits' own size), not rounding.
TEST_P(GoldenGpusim, MixedPrecisionThroughTheSimulatedCublasStaysClose) {
  use_deployment("[runtime]\nbackends = [\"gpusim32\"]\n[backend.gpusim32]\nmatmul_precision = \"mixed\"\n");
  expect_prefill_matches(*load(), kMixedPrecision, "gpusim32 mixed-precision prefill");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Golden, ::testing::ValuesIn(kFixtures), fixture_test_name);
INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenCuda, ::testing::ValuesIn(kFixtures), fixture_test_name);
INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenHip, ::testing::ValuesIn(kFixtures), fixture_test_name);
INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenGpusim, ::testing::ValuesIn(kFixtures), fixture_test_name);

}  // namespace
}  // namespace fathom::engine::golden
