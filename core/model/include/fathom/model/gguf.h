// One GGUF file (llama.cpp's model format), mapped and validated.
//
// Format (little-endian): "GGUF", version (2 or 3), tensor count, metadata count; the metadata
// (key string, value type, value); the tensor descriptions (name, dimensions innermost first,
// ggml type, offset into the data section); then the data section, aligned to
// `general.alignment` (32 by default).
//
// Everything is checked before anything is handed out: every count and length against the bytes
// that remain, string lengths and array sizes bounded, keys and tensor names unique, each tensor's
// type known, its size computed with checked arithmetic, its offset aligned and its bytes inside
// the file, and no two tensors overlapping. Errors name the file, and the key or tensor at fault.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fathom/model/mapped_file.h"

namespace fathom::model {

// True when `path` is a regular file that starts with the GGUF magic.
bool is_gguf_file(const std::filesystem::path& path);

enum class GgufType : std::uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
  string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};
std::string_view gguf_type_name(GgufType t);

// A metadata value. Integers of every width land in `integer` (u64 values above INT64_MAX are
// refused by the typed accessors); strings view the mapping.
struct GgufValue {
  GgufType type = GgufType::u8;
  std::int64_t integer = 0;
  double number = 0;
  bool boolean = false;
  std::string_view string;
  GgufType element_type = GgufType::u8;  // arrays only
  std::vector<GgufValue> array;
  bool is_integer() const;
  bool is_number() const { return is_integer() || type == GgufType::f32 || type == GgufType::f64; }
};

// ggml tensor types Fathom reads. Others are refused naming the tensor and the type.
enum class GgmlType : std::uint32_t {
  f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q2_k = 10, q3_k = 11, q4_k = 12, q5_k = 13,
  q6_k = 14, iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23,
  iq1_m = 29, bf16 = 30
};
// The name llama.cpp gives a ggml type id ("Q4_K", "IQ2_XXS", ...), or "type N".
std::string ggml_type_name(std::uint32_t id);

struct GgufTensor {
  std::string name;
  GgmlType type = GgmlType::f32;
  std::vector<std::int64_t> dims;  // as stored: innermost (contiguous) first
  const std::byte* data = nullptr;
  std::size_t nbytes = 0;
};

class GgufFile {
 public:
  static constexpr std::uint64_t kMaxStringBytes = 64ull << 20;  // an embedded tokenizer.json fits
  static constexpr std::uint64_t kMaxArrayElements = 1ull << 24;
  static constexpr std::uint32_t kMaxDims = 4;

  // Maps and validates `path`. Throws fathom::Error naming the path: not_found / io for the file,
  // invalid_argument for a malformed file, unsupported for a version or tensor type Fathom does
  // not read.
  explicit GgufFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const noexcept { return map_->path(); }
  std::uint32_t version() const noexcept { return version_; }
  std::uint64_t alignment() const noexcept { return alignment_; }

  const GgufValue* find(std::string_view key) const;

  // Typed reads that name the file and the key when the value is missing or of another type.
  std::int64_t integer(std::string_view key) const;
  std::optional<std::int64_t> optional_integer(std::string_view key) const;
  std::optional<double> optional_number(std::string_view key) const;
  std::optional<bool> optional_bool(std::string_view key) const;
  std::optional<std::string_view> optional_string(std::string_view key) const;
  std::string_view string(std::string_view key) const;
  // An array whose elements all have `element`'s type; nullptr when the key is absent.
  const std::vector<GgufValue>* optional_array(std::string_view key, GgufType element) const;

  const std::vector<GgufTensor>& tensors() const noexcept { return tensors_; }  // in file order
  const GgufTensor* tensor(std::string_view name) const;

  // "<path>: key 'k'" for messages.
  std::string where(std::string_view key) const;

 private:
  std::unique_ptr<MappedFile> map_;
  std::uint32_t version_ = 0;
  std::uint64_t alignment_ = 32;
  std::unordered_map<std::string_view, GgufValue> metadata_;  // keys view the mapping
  std::vector<GgufTensor> tensors_;
  std::unordered_map<std::string_view, std::size_t> tensor_index_;  // keys view tensors_[i].name
};

}  // namespace fathom::model
