#include "fathom/model/safetensors.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "checked_math.h"
#include "fathom/core/error.h"
#include "json_input.h"

namespace fathom::model {
namespace {

using nlohmann::json;

// A safetensors header nests three levels (root, entry, shape array); anything deeper is hostile.
constexpr int kMaxHeaderDepth = 8;

std::uint64_t read_le_u64(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint64_t>(p[i]);
  return v;
}

std::optional<std::uint64_t> as_non_negative_integer(const json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(v.get<std::int64_t>());
  return std::nullopt;
}

// Header facts about one tensor, before it becomes a TensorView.
struct Entry {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin;
  std::uint64_t end;
};

class HeaderReader {
 public:
  HeaderReader(std::string file, std::uint64_t data_size) : file_(std::move(file)), data_size_(data_size) {}

  Entry read_entry(const std::string& name, const json& value) const {
    if (!value.is_object()) throw bad(name, "entry must be an object, got " + type_of(value));
    Entry e{name, DType::f32, {}, 0, 0};
    e.dtype = read_dtype(name, value);
    e.shape = read_shape(name, value);
    read_offsets(name, value, e.begin, e.end);
    check_extent(e);
    return e;
  }

  void read_metadata(const json& value, std::unordered_map<std::string, std::string>& out) const {
    if (!value.is_object()) throw invalid_argument(file_ + ": '__metadata__' must be an object, got " + type_of(value));
    for (const auto& [key, v] : value.items()) {
      if (!v.is_string()) {
        throw invalid_argument(file_ + ": '__metadata__' entry '" + key + "' must be a string, got " + type_of(v));
      }
      out.emplace(key, v.get<std::string>());
    }
  }

 private:
  Error bad(const std::string& tensor, const std::string& what) const {
    return invalid_argument(file_ + ": tensor '" + tensor + "': " + what);
  }
  static std::string type_of(const json& v) { return std::string(detail::json_type_name(v)); }

  const json& field(const std::string& tensor, const json& entry, const char* key) const {
    auto it = entry.find(key);
    if (it == entry.end()) throw bad(tensor, std::string("missing '") + key + "'");
    return *it;
  }

  DType read_dtype(const std::string& tensor, const json& entry) const {
    const json& v = field(tensor, entry, "dtype");
    if (!v.is_string()) throw bad(tensor, "'dtype' must be a string, got " + type_of(v));
    const auto text = v.get<std::string>();
    DType dtype{};
    if (!dtype_from_safetensors(text, dtype)) {
      throw unsupported(file_ + ": tensor '" + tensor + "' has dtype '" + text +
                        "', which Fathom does not support (supported: F32, F16, BF16, F8_E4M3, F8_E5M2, I32, I64, U8)");
    }
    return dtype;
  }

  std::vector<std::int64_t> read_shape(const std::string& tensor, const json& entry) const {
    const json& v = field(tensor, entry, "shape");
    if (!v.is_array()) throw bad(tensor, "'shape' must be an array, got " + type_of(v));
    std::vector<std::int64_t> shape;
    shape.reserve(v.size());
    for (const json& d : v) {
      auto n = as_non_negative_integer(d);
      if (!n || *n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        throw bad(tensor, "'shape' must hold non-negative integers, got " + detail::brief_dump(d));
      }
      shape.push_back(static_cast<std::int64_t>(*n));
    }
    return shape;
  }

  void read_offsets(const std::string& tensor, const json& entry, std::uint64_t& begin, std::uint64_t& end) const {
    const json& v = field(tensor, entry, "data_offsets");
    std::optional<std::uint64_t> b, e;
    if (v.is_array() && v.size() == 2) {
      b = as_non_negative_integer(v[0]);
      e = as_non_negative_integer(v[1]);
    }
    if (!b || !e) {
      throw bad(tensor, "'data_offsets' must be [begin, end] with non-negative integers, got " + detail::brief_dump(v));
    }
    begin = *b;
    end = *e;
  }

  // Offsets inside the data section, and a byte size that is exactly shape x element size.
  void check_extent(const Entry& e) const {
    const std::string offsets = "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
    if (e.begin > e.end) throw bad(e.name, offsets + " are reversed");
    if (e.end > data_size_) {
      throw bad(e.name, offsets + " run past the end of the data section (" + std::to_string(data_size_) +
                            " bytes); the file is truncated or the header is corrupt");
    }
    const auto count = detail::checked_element_count(e.shape);
    const auto bytes = count ? detail::checked_mul(*count, dtype_size(e.dtype)) : std::nullopt;
    const std::string described =
        "shape " + detail::format_shape(e.shape) + " of " + std::string(safetensors_dtype_name(e.dtype));
    if (!bytes) throw bad(e.name, described + " overflows a 64-bit byte count");
    if (e.end - e.begin != *bytes) {
      throw bad(e.name, offsets + " hold " + std::to_string(e.end - e.begin) + " bytes but " + described + " needs " +
                            std::to_string(*bytes));
    }
  }

  std::string file_;
  std::uint64_t data_size_;
};

// Two tensors may not share a byte. Empty tensors own no bytes and cannot collide.
void check_no_overlap(const std::string& file, std::vector<Entry>& entries) {
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  const Entry* furthest = nullptr;  // the non-empty tensor reaching furthest so far
  for (const Entry& e : entries) {
    if (e.begin == e.end) continue;
    if (furthest != nullptr && e.begin < furthest->end) {
      throw invalid_argument(file + ": tensor '" + e.name + "' (bytes " + std::to_string(e.begin) + ".." +
                             std::to_string(e.end) + ") overlaps tensor '" + furthest->name + "' (bytes " +
                             std::to_string(furthest->begin) + ".." + std::to_string(furthest->end) + ")");
    }
    if (furthest == nullptr || e.end > furthest->end) furthest = &e;
  }
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : map_(std::make_unique<MappedFile>(path)) {
  const std::string file = path.string();
  const std::uint64_t size = map_->size();
  if (size < 8) {
    throw invalid_argument(file + ": truncated: " + std::to_string(size) +
                           " bytes, but a safetensors file starts with an 8-byte header length");
  }
  const std::uint64_t header_len = read_le_u64(map_->data());
  if (header_len > kMaxHeaderBytes) {
    throw invalid_argument(file + ": header length " + std::to_string(header_len) + " exceeds the " +
                           std::to_string(kMaxHeaderBytes) + "-byte limit; the file is corrupt or not safetensors");
  }
  if (header_len > size - 8) {
    throw invalid_argument(file + ": header length " + std::to_string(header_len) + " runs past the end of the file (" +
                           std::to_string(size) + " bytes); the file is truncated or corrupt");
  }
  const auto* header_begin = reinterpret_cast<const char*>(map_->data() + 8);
  const std::byte* data_section = map_->data() + 8 + header_len;
  const std::uint64_t data_size = size - 8 - header_len;

  const json header =
      detail::parse_json_bounded(std::string_view(header_begin, header_len), file + ": header", kMaxHeaderDepth);
  if (!header.is_object()) {
    throw invalid_argument(file + ": header must be a JSON object, got " + std::string(detail::json_type_name(header)));
  }

  const HeaderReader reader(file, data_size);
  std::vector<Entry> entries;
  entries.reserve(header.size());
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      reader.read_metadata(value, metadata_);
    } else {
      entries.push_back(reader.read_entry(name, value));
    }
  }
  check_no_overlap(file, entries);

  tensors_.reserve(entries.size());
  for (Entry& e : entries) {
    TensorView view;
    view.name = std::move(e.name);
    view.dtype = e.dtype;
    view.shape = std::move(e.shape);
    view.data = data_section + e.begin;
    view.nbytes = static_cast<std::size_t>(e.end - e.begin);
    view.file = &map_->path();
    tensors_.push_back(std::move(view));
  }
  for (std::size_t i = 0; i < tensors_.size(); ++i) by_name_.emplace(tensors_[i].name, i);
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace fathom::model
