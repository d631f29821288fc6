// The oracle's own check: each reference kernel on inputs small enough to compute by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "fathom/core/dtype.h"
#include "fathom/core/error.h"
#include "op_runner.h"
#include "plugin_fixture.h"

namespace fathom::test {
namespace {

std::vector<std::byte> bytes_of(const std::vector<float>& v) {
  std::vector<std::byte> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}
template <typename T>
std::vector<std::byte> raw(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}
std::vector<float> floats_of(const OpTensor& t) {
  std::vector<float> v(t.data.size() / 4);
  std::memcpy(v.data(), t.data.data(), t.data.size());
  return v;
}
OpTensor in(uint32_t dt, std::vector<int64_t> shape, std::vector<std::byte> data, uint32_t layout = FATHOM_LAYOUT_DENSE) {
  return OpTensor{make_desc(dt, std::move(shape), layout), false, std::move(data)};
}
OpTensor out(std::vector<int64_t> shape) { return OpTensor{make_desc(FATHOM_DTYPE_F32, std::move(shape)), false, {}}; }

std::vector<float> run(OpCall call) {
  run_op(reference_backend(), call);
  return floats_of(call.outputs[0]);
}

TEST(ReferenceKernels, Matmul) {
  OpCall c{FATHOM_OP_MATMUL,
           {in(FATHOM_DTYPE_F32, {2, 2}, bytes_of({1, 2, 3, 4})),
            in(FATHOM_DTYPE_F32, {3, 2}, bytes_of({1, 0, 0, 1, 1, 1}))},
           {out({2, 3})},
           {}};
  EXPECT_EQ(run(c), (std::vector<float>{1, 2, 3, 3, 4, 7}));
}

TEST(ReferenceKernels, MatmulBf16Weights) {
  OpCall c{FATHOM_OP_MATMUL,
           {in(FATHOM_DTYPE_F32, {1, 1}, bytes_of({3})), in(FATHOM_DTYPE_BF16, {1, 1}, raw<uint16_t>({0x3F00}))},
           {out({1, 1})},
           {}};
  EXPECT_EQ(run(c), (std::vector<float>{1.5f}));  // 0x3F00 is 0.5
}

TEST(ReferenceKernels, MatmulFp8BlockScaled) {
  // W [1, 130] all 1.0 (e4m3 code 0x38); K spans two scale blocks: 128 columns × 1, 2 columns × 2.
  std::vector<uint8_t> w(130, 0x38);
  OpCall c{FATHOM_OP_MATMUL,
           {in(FATHOM_DTYPE_F32, {1, 130}, bytes_of(std::vector<float>(130, 1.f))),
            in(FATHOM_DTYPE_F8_E4M3FN, {1, 130}, raw(w), FATHOM_LAYOUT_BLOCK_SCALED_128x128),
            in(FATHOM_DTYPE_F32, {1, 2}, bytes_of({1.f, 2.f}))},
           {out({1, 1})},
           {}};
  EXPECT_EQ(run(c), (std::vector<float>{132.f}));
}

TEST(ReferenceKernels, RmsNorm) {
  fathom_rms_norm_attrs a{0.f};
  std::vector<std::byte> attrs(sizeof a);
  std::memcpy(attrs.data(), &a, sizeof a);
  OpCall c{FATHOM_OP_RMS_NORM,
           {in(FATHOM_DTYPE_F32, {1, 2}, bytes_of({3, 4})), in(FATHOM_DTYPE_F32, {2}, bytes_of({1, 2}))},
           {out({1, 2})},
           attrs};
  auto y = run(c);  // rms = sqrt((9 + 16) / 2) = 3.5355339
  EXPECT_NEAR(y[0], 3 / 3.5355339, 1e-6);
  EXPECT_NEAR(y[1], 2 * 4 / 3.5355339, 1e-6);
}

TEST(ReferenceKernels, SiluMulAndAdd) {
  OpCall c{FATHOM_OP_SILU_MUL,
           {in(FATHOM_DTYPE_F32, {1, 2}, bytes_of({0, 1})), in(FATHOM_DTYPE_F32, {1, 2}, bytes_of({5, 2}))},
           {out({1, 2})},
           {}};
  auto y = run(c);
  EXPECT_EQ(y[0], 0.f);
  EXPECT_NEAR(y[1], 2 * 0.7310585786, 1e-6);  // silu(1) = 1 / (1 + e^-1)
  c.op = FATHOM_OP_ADD;
  EXPECT_EQ(run(c), (std::vector<float>{5, 3}));
}

TEST(ReferenceKernels, EmbeddingAndSlice) {
  OpCall e{FATHOM_OP_EMBEDDING,
           {in(FATHOM_DTYPE_I32, {2}, raw<int32_t>({2, 0})), in(FATHOM_DTYPE_F32, {3, 2}, bytes_of({1, 2, 3, 4, 5, 6}))},
           {out({2, 2})},
           {}};
  EXPECT_EQ(run(e), (std::vector<float>{5, 6, 1, 2}));

  fathom_slice_attrs a{1, 2};
  std::vector<std::byte> attrs(sizeof a);
  std::memcpy(attrs.data(), &a, sizeof a);
  OpCall s{FATHOM_OP_SLICE, {in(FATHOM_DTYPE_F32, {1, 4}, bytes_of({1, 2, 3, 4}))}, {out({1, 2})}, attrs};
  EXPECT_EQ(run(s), (std::vector<float>{2, 3}));
}

TEST(ReferenceKernels, BadTokenIdIsAnErrorNotACrash) {
  OpCall e{FATHOM_OP_EMBEDDING,
           {in(FATHOM_DTYPE_I32, {1}, raw<int32_t>({7})), in(FATHOM_DTYPE_F32, {3, 2}, bytes_of({1, 2, 3, 4, 5, 6}))},
           {out({1, 2})},
           {}};
  try {
    run(e);
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::out_of_range);
    EXPECT_NE(std::string(err.what()).find("token id 7"), std::string::npos) << err.what();
  }
}

}  // namespace
}  // namespace fathom::test
