// SafetensorsFile: reading valid files in place, and a clear error for every kind of corruption.
#include "fathom/model/safetensors.h"

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "test_support.h"

namespace fathom::model {
namespace {

using testing::SafetensorsWriter;
using testing::TempDir;

class SafetensorsTest : public ::testing::Test {
 protected:
  std::filesystem::path file() const { return dir_ / "model.safetensors"; }
  std::string file_name() const { return file().string(); }
  // A well-formed two-tensor file to start corruptions from.
  SafetensorsWriter two_tensors() const {
    SafetensorsWriter w;
    w.add("a.weight", "BF16", {4, 8}).add("b.weight", "F32", {3});
    return w;
  }
  TempDir dir_;
};

TEST_F(SafetensorsTest, ReadsTensorsInPlace) {
  SafetensorsWriter w = two_tensors();
  w.add("c.weight", "F8_E4M3", {2, 2});
  w.header()["__metadata__"] = {{"format", "pt"}};
  w.write(file());

  const SafetensorsFile f(file());
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const TensorView* a = f.find("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::bf16);
  EXPECT_EQ(a->shape, (std::vector<std::int64_t>{4, 8}));
  EXPECT_EQ(a->nbytes, 64u);
  EXPECT_EQ(a->element_count(), 32u);
  EXPECT_EQ(*a->file, file());
  const TensorView* c = f.find("c.weight");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->dtype, DType::f8_e4m3fn);
  EXPECT_EQ(f.find("missing"), nullptr);

  // The bytes are the file's bytes (the writer fills byte i of the data section with 7i+1).
  const std::string raw = testing::read_text(file());
  const std::size_t data_start = raw.size() - (64 + 12 + 4);
  EXPECT_EQ(std::memcmp(a->data, raw.data() + data_start, a->nbytes), 0);
  EXPECT_EQ(static_cast<unsigned char>(a->data[1]), 8u);
}

// Resident set size of this process, from /proc/self/statm (pages).
std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

TEST_F(SafetensorsTest, ReleasedPagesLeaveTheProcessAndReadBackTheSame) {
  SafetensorsWriter w;
  w.add("big.weight", "F32", {16, 1 << 20});  // 64 MiB
  w.write(file());
  const SafetensorsFile f(file());
  const TensorView& big = *f.find("big.weight");
  const std::vector<std::byte> before(big.data, big.data + big.nbytes);  // pages the mapping in
  const std::size_t touched = resident_bytes();
  release_resident_pages(big);
  const std::size_t released = resident_bytes();
  EXPECT_GT(touched, released + big.nbytes / 2) << "touched " << touched << ", after release " << released;
  EXPECT_EQ(std::memcmp(before.data(), big.data, big.nbytes), 0);  // read again from the file
}

TEST_F(SafetensorsTest, ViewsSurviveMovingTheFile) {
  two_tensors().write(file());
  SafetensorsFile f(file());
  const std::byte* data = f.find("b.weight")->data;
  SafetensorsFile moved(std::move(f));
  ASSERT_NE(moved.find("b.weight"), nullptr);
  EXPECT_EQ(moved.find("b.weight")->data, data);
  EXPECT_EQ(*moved.find("b.weight")->file, file());
}

TEST_F(SafetensorsTest, AcceptsEmptyTensorsAndNoTensors) {
  SafetensorsWriter w;
  w.add("empty", "F32", {0, 5}).add("scalar", "F32", {});
  w.write(file());
  const SafetensorsFile f(file());
  EXPECT_EQ(f.find("empty")->nbytes, 0u);
  EXPECT_EQ(f.find("scalar")->nbytes, 4u);

  testing::write_raw_safetensors(dir_ / "none.safetensors", 2, "{}", 0);
  EXPECT_TRUE(SafetensorsFile(dir_ / "none.safetensors").tensors().empty());
}

TEST_F(SafetensorsTest, MissingFileNamesThePath) {
  EXPECT_FATHOM_ERROR(SafetensorsFile(dir_ / "nope.safetensors"), ErrorCode::not_found, "nope.safetensors",
                      "No such file");
  EXPECT_FATHOM_ERROR(SafetensorsFile(dir_.path()), ErrorCode::invalid_argument, "not a regular file");
}

TEST_F(SafetensorsTest, EmptyFileIsTruncated) {
  testing::write_text(file(), "");
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, file_name(), "truncated", "0 bytes");
}

TEST_F(SafetensorsTest, FileTruncatedInsideTheDataNamesTheTensor) {
  two_tensors().write(file());
  std::filesystem::resize_file(file(), std::filesystem::file_size(file()) - 4);
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, file_name(), "tensor 'b.weight'",
                      "run past the end of the data section", "truncated");
}

TEST_F(SafetensorsTest, FileTruncatedInsideTheHeader) {
  two_tensors().write(file());
  std::filesystem::resize_file(file(), 20);
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, file_name(), "header length",
                      "runs past the end of the file (20 bytes)");
}

TEST_F(SafetensorsTest, HeaderLengthPastTheEnd) {
  testing::write_raw_safetensors(file(), 1000, "{}", 0);
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, file_name(), "header length 1000",
                      "runs past the end");
  testing::write_raw_safetensors(file(), ~0ull, "{}", 0);
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, file_name(), "exceeds", "not safetensors");
}

TEST_F(SafetensorsTest, BadJson) {
  const std::string text = R"({"a": {"dtype": "F32", )";
  testing::write_raw_safetensors(file(), text.size(), text, 0);
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, file_name(), "header", "not valid JSON");
}

TEST_F(SafetensorsTest, HeaderMustBeAnObject) {
  testing::write_raw_safetensors(file(), 2, "[]", 0);
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, file_name(), "must be a JSON object");
}

TEST_F(SafetensorsTest, DeeplyNestedHeaderIsRefused) {
  const std::string text = std::string(100000, '[') + std::string(100000, ']');
  testing::write_raw_safetensors(file(), text.size(), text, 0);
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, file_name(), "nests deeper");
}

TEST_F(SafetensorsTest, OffsetsPastTheEnd) {
  SafetensorsWriter w = two_tensors();
  w.entry("b.weight")["data_offsets"] = {64, 1064};
  w.entry("b.weight")["shape"] = {250};
  w.write(file());
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, file_name(), "tensor 'b.weight'",
                      "data_offsets [64, 1064] run past the end of the data section (76 bytes)");
}

TEST_F(SafetensorsTest, ReversedOffsets) {
  SafetensorsWriter w = two_tensors();
  w.entry("b.weight")["data_offsets"] = {76, 64};
  w.write(file());
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, "tensor 'b.weight'", "reversed");
}

TEST_F(SafetensorsTest, OverlappingTensorsNameBoth) {
  SafetensorsWriter w = two_tensors();
  w.entry("b.weight")["data_offsets"] = {60, 72};
  w.write(file());
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, file_name(), "tensor 'b.weight'",
                      "overlaps tensor 'a.weight'");
}

TEST_F(SafetensorsTest, ByteSizeMustMatchShapeTimesDtype) {
  SafetensorsWriter w = two_tensors();
  w.entry("a.weight")["shape"] = {4, 9};
  w.write(file());
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, file_name(), "tensor 'a.weight'",
                      "hold 64 bytes but shape [4, 9] of BF16 needs 72");
}

TEST_F(SafetensorsTest, WrongDtypeForTheBytes) {
  SafetensorsWriter w = two_tensors();
  w.entry("a.weight")["dtype"] = "F32";  // 4x8 F32 would need 128 bytes, the file has 64
  w.write(file());
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, "tensor 'a.weight'", "of F32 needs 128");
}

TEST_F(SafetensorsTest, UnknownDtypeNamesTensorAndDtype) {
  SafetensorsWriter w = two_tensors();
  w.entry("b.weight")["dtype"] = "F64";
  w.write(file());
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::unsupported, file_name(), "tensor 'b.weight'", "dtype 'F64'");
}

TEST_F(SafetensorsTest, MalformedEntries) {
  auto expect_entry_error = [&](const char* field, nlohmann::json value, const char* message) {
    SafetensorsWriter w = two_tensors();
    if (value.is_null()) {
      w.entry("a.weight").erase(field);
    } else {
      w.entry("a.weight")[field] = value;
    }
    w.write(file());
    EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, file_name(), "tensor 'a.weight'",
                        message);
  };
  expect_entry_error("dtype", nullptr, "missing 'dtype'");
  expect_entry_error("dtype", 3, "'dtype' must be a string, got integer");
  expect_entry_error("shape", nullptr, "missing 'shape'");
  expect_entry_error("shape", "4x8", "'shape' must be an array");
  expect_entry_error("shape", {4, -8}, "non-negative integers, got -8");
  expect_entry_error("shape", {4, 8.0}, "non-negative integers, got 8.0");
  expect_entry_error("data_offsets", nullptr, "missing 'data_offsets'");
  expect_entry_error("data_offsets", {0}, "'data_offsets' must be [begin, end]");
  expect_entry_error("data_offsets", {0, -64}, "'data_offsets' must be [begin, end]");

  SafetensorsWriter w = two_tensors();
  w.header()["a.weight"] = "not an entry";
  w.write(file());
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, "tensor 'a.weight'",
                      "must be an object, got string");
}

TEST_F(SafetensorsTest, ShapeProductOverflowIsAnError) {
  SafetensorsWriter w = two_tensors();
  w.entry("a.weight")["shape"] = {std::int64_t{1} << 40, std::int64_t{1} << 40};
  w.write(file());
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, "tensor 'a.weight'", "overflows");

  w.entry("a.weight")["shape"] = {std::int64_t{1} << 62};  // fits in 64 bits, x4 bytes does not
  w.entry("a.weight")["dtype"] = "F32";
  w.write(file());
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, "tensor 'a.weight'", "overflows");
}

TEST_F(SafetensorsTest, MetadataMustHoldStrings) {
  SafetensorsWriter w = two_tensors();
  w.header()["__metadata__"] = {{"total", 5}};
  w.write(file());
  EXPECT_FATHOM_ERROR(SafetensorsFile(file()), ErrorCode::invalid_argument, file_name(),
                      "'__metadata__' entry 'total'");
}

// Hostile input never crashes: every mutation of a valid file either opens, with views that can
// be read end to end (a view outside the mapping would fault), or throws fathom::Error. Run
// under ASan/UBSan (FATHOM_SANITIZE) to catch the subtler kinds of undefined behaviour too.
TEST_F(SafetensorsTest, RandomCorruptionsOpenOrThrowCleanly) {
  SafetensorsWriter w = two_tensors();
  w.add("c.weight", "F8_E4M3", {3, 5});
  w.write(file());
  const std::string original = testing::read_text(file());
  std::mt19937 rng(1234);
  int opened = 0;
  int refused = 0;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    std::string bytes = original;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % bytes.size();
      switch (rng() % 4) {
        case 0: bytes[at] = static_cast<char>(rng()); break;                      // any byte
        case 1: bytes[at] = "0123456789[]{},:\"-"[rng() % 18]; break;             // JSON-ish byte
        case 2: bytes.resize(at); break;                                          // truncate
        case 3: bytes.insert(at, 1, static_cast<char>('0' + rng() % 10)); break;  // grow a number
      }
      if (bytes.empty()) break;
    }
    testing::write_text(file(), bytes);
    try {
      const SafetensorsFile f(file());
      for (const TensorView& t : f.tensors()) {
        volatile std::byte sink{};
        for (std::size_t i = 0; i < t.nbytes; ++i) sink = t.data[i];  // ASan: in bounds
        static_cast<void>(sink);
      }
      ++opened;
    } catch (const fathom::Error&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(opened, 0);
}

}  // namespace
}  // namespace fathom::model
