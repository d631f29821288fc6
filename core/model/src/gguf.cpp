#include "fathom/model/gguf.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <limits>

#include "checked_math.h"
#include "fathom/core/error.h"

namespace fathom::model {
namespace {

constexpr std::array<char, 4> kMagic{'G', 'G', 'U', 'F'};
// Arrays of arrays are legal GGUF; nothing a DeepSeek file holds nests deeper than that.
constexpr int kMaxArrayDepth = 2;
constexpr std::uint64_t kMaxAlignment = 1ull << 20;

// Sequential little-endian reads over the mapped bytes; every read checks what remains.
class Cursor {
 public:
  Cursor(std::span<const std::byte> bytes, std::string file) : bytes_(bytes), file_(std::move(file)) {}

  std::uint64_t position() const { return pos_; }
  std::uint64_t remaining() const { return bytes_.size() - pos_; }

  template <typename T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));  // the format is little-endian, as are our targets
    pos_ += sizeof(T);
    return v;
  }

  std::string_view read_string(std::string_view what) {
    const auto n = read<std::uint64_t>(what);
    if (n > GgufFile::kMaxStringBytes) {
      throw bad(std::string(what) + ": a string of " + std::to_string(n) + " bytes (at most " +
                std::to_string(GgufFile::kMaxStringBytes) + " are read)");
    }
    need(n, what);
    std::string_view s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }

  Error bad(const std::string& what) const {
    return invalid_argument(file_ + ": " + what + " (at byte " + std::to_string(pos_) + ")");
  }

 private:
  void need(std::uint64_t n, std::string_view what) const {
    if (n > remaining()) {
      throw invalid_argument(file_ + ": " + std::string(what) + " runs past the end of the file (byte " +
                             std::to_string(pos_) + " of " + std::to_string(bytes_.size()) +
                             "); the file is truncated or not GGUF");
    }
  }

  std::span<const std::byte> bytes_;
  std::string file_;
  std::uint64_t pos_ = 0;
};

bool known_value_type(std::uint32_t t) { return t <= static_cast<std::uint32_t>(GgufType::f64); }

// The fewest bytes one value of the type takes: bounds an array's element count before reserving.
std::uint64_t min_value_bytes(GgufType t) {
  switch (t) {
    case GgufType::u8: case GgufType::i8: case GgufType::boolean: return 1;
    case GgufType::u16: case GgufType::i16: return 2;
    case GgufType::u32: case GgufType::i32: case GgufType::f32: return 4;
    case GgufType::string: case GgufType::u64: case GgufType::i64: case GgufType::f64: return 8;
    case GgufType::array: return 12;
  }
  return 1;
}

GgufValue read_value(Cursor& in, GgufType type, const std::string& what, int depth) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufType::u8: v.integer = in.read<std::uint8_t>(what); break;
    case GgufType::i8: v.integer = in.read<std::int8_t>(what); break;
    case GgufType::u16: v.integer = in.read<std::uint16_t>(what); break;
    case GgufType::i16: v.integer = in.read<std::int16_t>(what); break;
    case GgufType::u32: v.integer = in.read<std::uint32_t>(what); break;
    case GgufType::i32: v.integer = in.read<std::int32_t>(what); break;
    case GgufType::i64: v.integer = in.read<std::int64_t>(what); break;
    case GgufType::u64: {
      const auto u = in.read<std::uint64_t>(what);
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        throw in.bad(what + ": u64 value " + std::to_string(u) + " is out of range");
      }
      v.integer = static_cast<std::int64_t>(u);
      break;
    }
    case GgufType::f32: v.number = in.read<float>(what); break;
    case GgufType::f64: v.number = in.read<double>(what); break;
    case GgufType::boolean: {
      const auto b = in.read<std::uint8_t>(what);
      if (b > 1) throw in.bad(what + ": a bool must be 0 or 1, got " + std::to_string(b));
      v.boolean = b == 1;
      break;
    }
    case GgufType::string: v.string = in.read_string(what); break;
    case GgufType::array: {
      if (depth >= kMaxArrayDepth) throw in.bad(what + ": arrays nested deeper than " + std::to_string(kMaxArrayDepth));
      const auto element = in.read<std::uint32_t>(what);
      if (!known_value_type(element)) throw in.bad(what + ": unknown array element type " + std::to_string(element));
      v.element_type = static_cast<GgufType>(element);
      const auto count = in.read<std::uint64_t>(what);
      if (count > GgufFile::kMaxArrayElements) {
        throw in.bad(what + ": an array of " + std::to_string(count) + " elements (at most " +
                     std::to_string(GgufFile::kMaxArrayElements) + " are read)");
      }
      if (count > in.remaining() / min_value_bytes(v.element_type)) {
        throw in.bad(what + ": an array of " + std::to_string(count) + " elements does not fit in the " +
                     std::to_string(in.remaining()) + " bytes left");
      }
      v.array.reserve(count);
      for (std::uint64_t i = 0; i < count; ++i) v.array.push_back(read_value(in, v.element_type, what, depth + 1));
      break;
    }
  }
  return v;
}

// Bytes per block and elements per block of the ggml types Fathom reads.
struct BlockLayout {
  std::uint64_t elements;
  std::uint64_t bytes;
};

std::optional<BlockLayout> block_layout(std::uint32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::f32: return BlockLayout{1, 4};
    case GgmlType::f16: return BlockLayout{1, 2};
    case GgmlType::bf16: return BlockLayout{1, 2};
    case GgmlType::q8_0: return BlockLayout{32, 34};  // f16 scale + 32 int8
    case GgmlType::q4_0: return BlockLayout{32, 18};  // f16 scale + 32 nibbles
    case GgmlType::q5_0: return BlockLayout{32, 22};  // f16 scale + 32 fifth bits + 32 nibbles
    case GgmlType::q4_1: return BlockLayout{32, 20};  // f16 scale and offset + 32 nibbles
    case GgmlType::q5_1: return BlockLayout{32, 24};  // f16 scale and offset + fifth bits + nibbles
    case GgmlType::iq4_nl: return BlockLayout{32, 18};  // f16 scale + 32 nibbles indexing a table
    case GgmlType::q2_k: return BlockLayout{256, 84};  // the K-quants: super-blocks of 256
    case GgmlType::q3_k: return BlockLayout{256, 110};
    case GgmlType::iq4_xs: return BlockLayout{256, 136};
    case GgmlType::q4_k: return BlockLayout{256, 144};
    case GgmlType::q5_k: return BlockLayout{256, 176};
    case GgmlType::q6_k: return BlockLayout{256, 210};
    case GgmlType::iq2_xxs: return BlockLayout{256, 66};  // the I-quants below 4 bits: table entries
    case GgmlType::iq2_xs: return BlockLayout{256, 74};
    case GgmlType::iq2_s: return BlockLayout{256, 82};
    case GgmlType::iq3_xxs: return BlockLayout{256, 98};
    case GgmlType::iq3_s: return BlockLayout{256, 110};
    case GgmlType::iq1_s: return BlockLayout{256, 50};
    case GgmlType::iq1_m: return BlockLayout{256, 56};
  }
  return std::nullopt;
}

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::u8: case GgufType::i8: case GgufType::u16: case GgufType::i16: case GgufType::u32:
    case GgufType::i32: case GgufType::u64: case GgufType::i64: return true;
    default: return false;
  }
}

std::string_view gguf_type_name(GgufType t) {
  static constexpr std::array<std::string_view, 13> names{"u8",  "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                          "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<std::uint32_t>(t);
  return i < names.size() ? names[i] : "unknown";
}

std::string ggml_type_name(std::uint32_t id) {
  static constexpr std::array<std::string_view, 40> names{
      "F32",  "F16",     "Q4_0",   "Q4_1",    "type 4", "type 5", "Q5_0",   "Q5_1",  "Q8_0",  "Q8_1",
      "Q2_K", "Q3_K",    "Q4_K",   "Q5_K",    "Q6_K",   "Q8_K",   "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S",
      "IQ4_NL", "IQ3_S", "IQ2_S",  "IQ4_XS",  "I8",     "I16",    "I32",    "I64",   "F64",   "IQ1_M",
      "BF16", "type 31", "type 32", "type 33", "TQ1_0", "TQ2_0", "type 36", "type 37", "type 38", "MXFP4"};
  return id < names.size() ? std::string(names[id]) : "type " + std::to_string(id);
}

bool is_gguf_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  std::array<char, 4> magic{};
  return in.read(magic.data(), magic.size()) && magic == kMagic;
}

GgufFile::GgufFile(const std::filesystem::path& path) : map_(std::make_unique<MappedFile>(path)) {
  const std::string file = path.string();
  Cursor in(map_->bytes(), file);
  const auto magic = in.read<std::array<char, 4>>("the magic");
  if (magic != kMagic) throw invalid_argument(file + ": not a GGUF file (it does not start with \"GGUF\")");
  version_ = in.read<std::uint32_t>("the version");
  if (version_ != 2 && version_ != 3) {
    throw unsupported(file + ": GGUF version " + std::to_string(version_) + " (Fathom reads versions 2 and 3)");
  }
  const auto tensor_count = in.read<std::uint64_t>("the tensor count");
  const auto kv_count = in.read<std::uint64_t>("the metadata count");
  // A key takes at least 12 bytes (length, type) and a tensor description at least 24.
  if (kv_count > in.remaining() / 12) throw in.bad(std::to_string(kv_count) + " metadata entries cannot fit in the file");

  for (std::uint64_t i = 0; i < kv_count; ++i) {
    const std::string_view key = in.read_string("metadata key " + std::to_string(i));
    const std::string what = "key " + in_quotes(key);
    const auto type = in.read<std::uint32_t>(what);
    if (!known_value_type(type)) throw in.bad(what + ": unknown value type " + std::to_string(type));
    GgufValue value = read_value(in, static_cast<GgufType>(type), what, 0);
    if (!metadata_.emplace(key, std::move(value)).second) throw in.bad(what + " appears twice");
  }

  if (const GgufValue* a = find("general.alignment")) {
    if (!a->is_integer() || a->integer <= 0 || static_cast<std::uint64_t>(a->integer) > kMaxAlignment ||
        (a->integer & (a->integer - 1)) != 0) {
      throw invalid_argument(where("general.alignment") + ": must be a power of two up to " +
                             std::to_string(kMaxAlignment));
    }
    alignment_ = static_cast<std::uint64_t>(a->integer);
  }

  if (tensor_count > in.remaining() / 24) throw in.bad(std::to_string(tensor_count) + " tensors cannot fit in the file");
  struct Info {
    std::uint64_t offset;
    std::uint64_t nbytes;
  };
  std::vector<Info> infos;
  tensors_.reserve(tensor_count);
  for (std::uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensor t;
    t.name = std::string(in.read_string("tensor name " + std::to_string(i)));
    const std::string what = "tensor " + in_quotes(t.name);
    const auto n_dims = in.read<std::uint32_t>(what);
    if (n_dims == 0 || n_dims > kMaxDims) {
      throw in.bad(what + ": " + std::to_string(n_dims) + " dimensions (1 to " + std::to_string(kMaxDims) + ")");
    }
    std::uint64_t elements = 1;
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      const auto dim = in.read<std::uint64_t>(what);
      const auto product = detail::checked_mul(elements, dim);
      if (!product || dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        throw in.bad(what + ": its dimensions overflow");
      }
      elements = *product;
      t.dims.push_back(static_cast<std::int64_t>(dim));
    }
    const auto type = in.read<std::uint32_t>(what);
    const auto layout = block_layout(type);
    if (!layout) {
      throw unsupported(file + ": " + what + " has type " + ggml_type_name(type) +
                        ", which Fathom does not read (it reads F32, F16, BF16, Q8_0, Q5_0, Q5_1, Q4_0, Q4_1, IQ4_NL, IQ4_XS, "
                        "Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ3_S, IQ3_XXS, IQ2_S, IQ2_XS, IQ2_XXS, IQ1_M and IQ1_S)");
    }
    t.type = static_cast<GgmlType>(type);
    if (static_cast<std::uint64_t>(t.dims[0]) % layout->elements != 0) {
      throw in.bad(what + ": its rows of " + std::to_string(t.dims[0]) + " are not whole " + ggml_type_name(type) +
                   " blocks of " + std::to_string(layout->elements));
    }
    const auto nbytes = detail::checked_mul(elements / layout->elements, layout->bytes);
    if (!nbytes) throw in.bad(what + ": its size overflows");
    const auto offset = in.read<std::uint64_t>(what);
    if (offset % alignment_ != 0) {
      throw in.bad(what + ": offset " + std::to_string(offset) + " is not a multiple of the alignment " +
                   std::to_string(alignment_));
    }
    infos.push_back({offset, *nbytes});
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  const std::uint64_t header_end = in.position();
  const std::uint64_t data_start = header_end + (alignment_ - header_end % alignment_) % alignment_;
  const std::uint64_t data_size = data_start <= map_->size() ? map_->size() - data_start : 0;
  std::vector<std::size_t> by_offset(tensors_.size());
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    const auto end = detail::checked_add(infos[i].offset, infos[i].nbytes);
    if (!end || *end > data_size) {
      throw invalid_argument(file + ": tensor " + in_quotes(tensors_[i].name) + ": its " + std::to_string(infos[i].nbytes) +
                             " bytes at offset " + std::to_string(infos[i].offset) + " run past the end of the data (" +
                             std::to_string(data_size) + " bytes); the file is truncated or the header is corrupt");
    }
    tensors_[i].data = map_->data() + data_start + infos[i].offset;
    tensors_[i].nbytes = static_cast<std::size_t>(infos[i].nbytes);
    by_offset[i] = i;
    if (!tensor_index_.emplace(tensors_[i].name, i).second) {
      throw invalid_argument(file + ": tensor " + in_quotes(tensors_[i].name) + " appears twice");
    }
  }
  std::sort(by_offset.begin(), by_offset.end(), [&](std::size_t a, std::size_t b) { return infos[a].offset < infos[b].offset; });
  for (std::size_t k = 1; k < by_offset.size(); ++k) {
    const Info& before = infos[by_offset[k - 1]];
    if (before.offset + before.nbytes > infos[by_offset[k]].offset) {
      throw invalid_argument(file + ": tensors " + in_quotes(tensors_[by_offset[k - 1]].name) + " and " +
                             in_quotes(tensors_[by_offset[k]].name) + " overlap");
    }
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  const auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

std::string GgufFile::where(std::string_view key) const { return path().string() + ": key " + in_quotes(key); }

std::optional<std::int64_t> GgufFile::optional_integer(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_integer()) throw invalid_argument(where(key) + ": must be an integer, got " + std::string(gguf_type_name(v->type)));
  return v->integer;
}

std::int64_t GgufFile::integer(std::string_view key) const {
  if (auto v = optional_integer(key)) return *v;
  throw invalid_argument(where(key) + ": missing");
}

std::optional<double> GgufFile::optional_number(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->is_integer()) return static_cast<double>(v->integer);
  if (!v->is_number()) throw invalid_argument(where(key) + ": must be a number, got " + std::string(gguf_type_name(v->type)));
  return v->number;
}

std::optional<bool> GgufFile::optional_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::boolean) throw invalid_argument(where(key) + ": must be a bool, got " + std::string(gguf_type_name(v->type)));
  return v->boolean;
}

std::optional<std::string_view> GgufFile::optional_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::string) throw invalid_argument(where(key) + ": must be a string, got " + std::string(gguf_type_name(v->type)));
  return v->string;
}

std::string_view GgufFile::string(std::string_view key) const {
  if (auto v = optional_string(key)) return *v;
  throw invalid_argument(where(key) + ": missing");
}

const std::vector<GgufValue>* GgufFile::optional_array(std::string_view key, GgufType element) const {
  const GgufValue* v = find(key);
  if (!v) return nullptr;
  if (v->type != GgufType::array || v->element_type != element) {
    const std::string got = v->type == GgufType::array ? "array of " + std::string(gguf_type_name(v->element_type))
                                                       : std::string(gguf_type_name(v->type));
    throw invalid_argument(where(key) + ": must be an array of " + std::string(gguf_type_name(element)) + ", got " + got);
  }
  return &v->array;
}

const GgufTensor* GgufFile::tensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace fathom::model
